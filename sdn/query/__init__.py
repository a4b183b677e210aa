"""The query index: what questions need, computed once per state revision and kept beside
the state (``<state>.idx/``), so a question loads only the parts it needs instead of
parsing the whole state and compiling the whole firewall again.

:class:`~sdn.query.index.QueryIndex` opens a state read-only at one revision and hands out
its inventory (parsed lazily, :mod:`sdn.query.lazy`) and its compiled firewall;
:mod:`sdn.query.sidecar` is the index's file format (keyed, checksummed, never trusted);
the parts too large to load whole (the compiled firewall, the lookups) are keyed record
files read one record at a time (:mod:`sdn.query.records`,
:mod:`sdn.query.lookup_records`).
It sits between the CLI and the store: it reads the state only through
:class:`~sdn.store.Store`, and never writes it.

Its names are imported when first used (:func:`__getattr__`): a command that needs only a
light part of the package (``sdn validate``: :mod:`sdn.query.checked`) does not load the
compiler, graph and traceflow modules the index imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdn.query.index import QueryIndex, warm_index

__all__ = ["QueryIndex", "warm_index"]


def __getattr__(name: str) -> object:
    """``QueryIndex`` and ``warm_index``, from :mod:`sdn.query.index` when first asked."""
    if name in __all__:
        from sdn.query import index

        return getattr(index, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
