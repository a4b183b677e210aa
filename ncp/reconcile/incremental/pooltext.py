"""An IP pool's allocations kept as stored text, for the incremental reconcile."""

from __future__ import annotations

from sdn.model import IpAllocation, IpPool
from sdn.store.codec import (
    ChangeSet,
    PoolParts,
    allocation_text,
    owner_of,
    pool_parts,
    split_pool_row,
)


class PoolText:
    """An IP pool's allocations as stored, kept current allocation by allocation.

    Why: serializing a pool of 1,000 allocations takes about 7 ms, and rewriting its row
    about as long, more than a whole change may. The state stores pools split
    (:class:`~sdn.store.codec.PoolParts`): a change writes only the allocations it
    touched, each serialized once. A pool still stored whole is written split the first
    time it changes.
    """

    def __init__(self, pool: IpPool, *, split: bool) -> None:
        parts = pool_parts(pool)
        if parts is None:
            raise ValueError(f"{pool.path}: allocations not in id order")
        self.path, self.cluster, self.base = pool.path, owner_of(pool), parts.base
        self.split = split
        self.items = {a.id: a for a in pool.allocations}
        #: The allocated addresses, as integers (kept with ``items``).
        self.addresses = {int(a.allocation_ip) for a in pool.allocations}
        self._texts = dict(parts.allocations)
        self._dirty: dict[str, str | None] = {}

    def rebase(self, pool: IpPool) -> None:
        """The pool's own fields changed (a subnet was added): its whole row is written
        next time."""
        parts = pool_parts(pool.model_copy(update={"allocations": ()}))
        if parts is None:  # no allocations: always in order
            raise ValueError(f"{pool.path}: cannot split")
        self.base, self.split = parts.base, False

    def put(self, allocation: IpAllocation) -> bool:
        """Set one allocation; whether that changed anything."""
        old = self.items.get(allocation.id)
        if old == allocation:
            return False
        if old is not None:
            self.addresses.discard(int(old.allocation_ip))
        self.addresses.add(int(allocation.allocation_ip))
        self.items[allocation.id] = allocation
        self._texts[allocation.id] = self._dirty[allocation.id] = allocation_text(allocation)
        return True

    def remove(self, allocation_id: str) -> bool:
        """Drop one allocation; whether it was there."""
        self._texts.pop(allocation_id, None)
        self._dirty[allocation_id] = None
        old = self.items.pop(allocation_id, None)
        if old is not None:
            self.addresses.discard(int(old.allocation_ip))
        return old is not None

    def write(self, changes: ChangeSet) -> None:
        """Add what changed since the last write to ``changes``."""
        if self.split:
            changes.allocation_updates += [(self.path, i, t) for i, t in self._dirty.items()]
        else:
            parts = PoolParts(self.base, tuple(sorted(self._texts.items())))
            changes.upserts.append(split_pool_row(self.path, self.cluster, parts))
            self.split = True
        self._dirty = {}
