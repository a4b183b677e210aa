"""Index parts kept in memory, for a process that answers many questions (the daemon,
:mod:`sdn.daemon.server`): what :class:`~sdn.query.index.QueryIndex` loaded or built is
remembered, so the next reader of the same content skips reading and unpickling it.

Why it cannot answer stale: a part is remembered with the :class:`~sdn.query.sidecar.Key`
it was read or computed for, and handed out only to a reader whose own key (computed as
every reader computes it: the state's identity and revision and the files' stamps) is
equal. A write by anyone moves the key, so the memo misses exactly when the part's file
would. One key per part is kept: a newer one replaces the older, so memory holds one
revision at most.

Off unless :func:`enable`\\ d: a one-question process gains nothing from it, and values
handed out twice must not be changed by their first user (the daemon forks a child per
question, so whatever a question does to them dies with it).
"""

from __future__ import annotations

import os
from pathlib import Path

from sdn.query.sidecar import Key

_enabled: list[bool] = [False]
#: (index folder, part) -> (the key the value belongs to, the value).
_parts: dict[tuple[str, str], tuple[Key, object]] = {}


def enable() -> None:
    """Remember parts from now on (for this process and the children it forks)."""
    _enabled[0] = True


def disable() -> None:
    """Forget every part and remember none from now on."""
    _enabled[0] = False
    forget()


def forget() -> None:
    """Forget every part remembered so far."""
    _parts.clear()


def _slot(folder: Path, part: str) -> tuple[str, str]:
    # absolute: a reader may name the state relative to another working folder
    return os.path.abspath(folder), part


def recall(folder: Path, part: str, key: Key) -> object | None:
    """The part remembered for exactly ``key``, else None."""
    found = _parts.get(_slot(folder, part)) if _enabled[0] else None
    if found is None or found[0] != key:
        return None
    return found[1]


def remember(folder: Path, part: str, key: Key, value: object) -> None:
    """Keep ``value`` as the part for ``key`` (replacing any other key's); None, what a
    reader gets for a part not saved, is not kept."""
    if _enabled[0] and value is not None:
        _parts[_slot(folder, part)] = (key, value)
