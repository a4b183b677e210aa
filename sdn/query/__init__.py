"""The query index: what questions need, computed once per state revision and kept beside
the state (``<state>.idx/``), so a question loads only the parts it needs instead of
parsing the whole state and compiling the whole firewall again.

:class:`~sdn.query.index.QueryIndex` opens a state read-only at one revision and hands out
its inventory (parsed lazily, :mod:`sdn.query.lazy`) and its compiled firewall;
:mod:`sdn.query.sidecar` is the index's file format (keyed, checksummed, never trusted).
It sits between the CLI and the store: it reads the state only through
:class:`~sdn.store.Store`, and never writes it.
"""

from sdn.query.index import QueryIndex, warm_index

__all__ = ["QueryIndex", "warm_index"]
