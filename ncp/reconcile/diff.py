"""The difference between the desired objects and the stored ones.

Objects are compared as canonical JSON text: an object whose text is unchanged is not
written, so a second identical sync writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sdn.model import Inventory, PolicyResource
from sdn.store.codec import StoredObject, to_stored


@dataclass
class ObjectDiff:
    """Rows to write and paths to delete, with counts per ``resource_type``."""

    upserts: list[StoredObject] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    #: ``(resource_type, path)`` behind each count (what ``ncp sync --dry-run`` lists).
    created_objects: list[tuple[str, str]] = field(default_factory=list)
    updated_objects: list[tuple[str, str]] = field(default_factory=list)
    deleted_objects: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to write."""
        return not self.upserts and not self.deletes


def diff_objects(
    desired: Iterable[PolicyResource],
    current: Mapping[str, StoredObject],
    *,
    deletable: Iterable[str],
) -> ObjectDiff:
    """Compare ``desired`` with ``current``; only paths in ``deletable`` may be deleted.

    ``deletable`` is what the caller owns (one cluster's objects): anything there that is
    not desired is deleted; objects of other owners are never touched.
    """
    out = ObjectDiff()
    wanted: set[str] = set()
    for obj in desired:
        wanted.add(obj.path)
        row = to_stored(obj)
        old = current.get(obj.path)
        if old is None:
            out.upserts.append(row)
            out.created[obj.resource_type] += 1
            out.created_objects.append((obj.resource_type, obj.path))
        elif old.body != row.body or old.cluster != row.cluster:
            out.upserts.append(row)
            out.updated[obj.resource_type] += 1
            out.updated_objects.append((obj.resource_type, obj.path))
    for path in sorted(set(deletable) - wanted):
        row_now = current.get(path)
        if row_now is not None:
            out.deletes.append(path)
            out.deleted[row_now.resource_type] += 1
            out.deleted_objects.append((row_now.resource_type, path))
    return out


def inventory_after(current: Inventory, desired: Iterable[PolicyResource],
                    deletes: Sequence[str], revision: int) -> Inventory:
    """The state's objects after writing a diff, from what the writer holds: ``current``
    (every object it read), less ``deletes``, with ``desired`` (each stored as its
    canonical text, so parsing the stored rows gives these same objects), in path order
    as the store gives them, at ``revision``."""
    objs = dict(current.items())
    for path in deletes:
        objs.pop(path, None)
    for obj in desired:
        objs[obj.path] = obj
    return Inventory([objs[p] for p in sorted(objs)], revision=revision)
