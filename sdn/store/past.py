"""The state as it was at a kept revision, rebuilt from the history (never written).

``--at REV|TIME``, ``sdn diff`` and ``sdn blame`` name revisions; this module says which
revisions can be rebuilt and rebuilds their objects (:mod:`sdn.store.history` keeps what
each write changed).

Which revisions are known: the current one, and every earlier one whose later writes are
all kept (walking back needs each of them). The state before the oldest kept write is
therefore known too: its "before" texts are kept. A time (ISO 8601, UTC when it names no
zone) stands for the revision in effect then: the last write at or before it; a time
before the oldest kept write (unless that write made revision 1: before it the state
was empty, revision 0), or a revision outside the known ones, is
``HISTORY_UNKNOWN_REVISION``; text that is neither a number nor a time is
``HISTORY_BAD_REVISION``. Both are bad input (exit 2).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sdn.errors import NotFoundError, SdnError
from sdn.model import Inventory
from sdn.store import history
from sdn.store.codec import decode
from sdn.store.history import Overlay
from sdn.store.sqlite import Store

UNKNOWN = "HISTORY_UNKNOWN_REVISION"
BAD = "HISTORY_BAD_REVISION"


def oldest_known(store: Store) -> int:
    """The oldest revision that can be rebuilt (the current one when nothing is kept)."""
    current = store.revision
    kept = {r.revision for r in history.revisions(store.history())}
    oldest = current
    while oldest in kept:
        oldest -= 1
    return oldest


def resolve(store: Store, text: str, *, option: str = "--at") -> int:
    """The revision ``text`` names (a number, or an ISO 8601 time).

    Raises:
        SdnError: ``HISTORY_BAD_REVISION`` (neither), ``HISTORY_UNKNOWN_REVISION`` (not
            known: the message says which are).
    """
    current, oldest = store.revision, oldest_known(store)
    span = f"kept: revisions {oldest} to {current}" if oldest < current \
        else f"no history kept; the current revision is {current}"
    if text.strip().lstrip("-").isdigit():
        revision = int(text)
        if not oldest <= revision <= current:
            raise NotFoundError(f"revision {revision} is not kept ({span})", code=UNKNOWN,
                                obj=option)
        return revision
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SdnError(f"{text!r} is neither a revision number nor an ISO 8601 time",
                       code=BAD, obj=option) from None
    moment = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    writes = [r for r in history.revisions(store.history()) if r.revision > oldest]
    if writes and moment < writes[0].at and oldest > 0:
        raise NotFoundError(f"{text} is before the oldest kept write "
                            f"({iso(writes[0].at)}; {span})", code=UNKNOWN, obj=option)
    return max((r.revision for r in writes if r.at <= moment), default=oldest)


def iso(at: float) -> str:
    """An epoch time as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def inventory_at(store: Store, revision: int, current: Inventory | None = None) -> Inventory:
    """Every object as it was at ``revision`` (known: :func:`resolve`), parsed: the
    current inventory (``current``, else the store's) with what the later writes changed
    put back."""
    now = store.revision
    base = current if current is not None else store.inventory()
    if revision == now:
        return base
    overlay = history.overlay_back_to(store.history(), revision, now)
    return apply_overlay(store, base, overlay, revision)


def apply_overlay(store: Store, base: Inventory, overlay: Overlay, revision: int) -> Inventory:
    """``base`` with the overlay's rows put back (the inventory at ``revision``)."""
    rows = history.rows_with(store.history(), overlay, overlay.paths())
    inv = base.changed([decode(r) for r in rows.values() if r is not None],
                       [p for p, r in rows.items() if r is None])
    inv.revision = revision
    return inv
