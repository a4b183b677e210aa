"""The state as the API reads it: every object's NSX JSON by Policy path, each
collection's members, kept until the store's revision moves.

Why one view per revision: a client's GET by id must cost about a millisecond at 10,000
pods, which rules out parsing rows per request; and a concurrent ``ncp sync`` (or an API
write) must show on the next request, which rules out parsing once at start. Every
request asks the store its revision (one indexed read); only a new revision rebuilds.

What a path holds is the object's API JSON (:func:`api_documents`, the serializer
``sdn show -o json`` uses), or, for the children NSX serves at their own paths (a
security policy's ``rules``, an IP pool's ``ip-subnets`` and ``ip-allocations``), the
child's JSON. A collection is the parent path of its members (``/infra/segments``,
``/infra/tier-1s/T1/nat/USER/nat-rules``); its order is given by :mod:`sdn.api.paging`.
Bodies are serialized once per revision, compactly, from dicts in the model's field
order: the same state gives byte-identical answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdn.model import IpPool, PolicyResource, SecurityPolicy
from sdn.store import Store

#: A member's sort key: ``(missing, rank, value)`` of one field, then its path.
SortKey = tuple[tuple[bool, int, Any], str]


def api_documents(obj: PolicyResource) -> Iterator[dict[str, Any]]:
    """The object's API JSON, then each child resource NSX serves at a path of its own.

    The object itself is :meth:`PolicyResource.to_api`, exactly what ``sdn show -o json``
    prints. (Plug-in point for NSX's system fields and for pools whose subnets and
    allocations become child resources: the serializer changes, this follows.)
    """
    yield obj.to_api()
    if isinstance(obj, SecurityPolicy):
        for rule in obj.rules:
            yield rule.to_api()
    elif isinstance(obj, IpPool):
        yield from pool_children(obj)


def pool_children(pool: IpPool) -> Iterator[dict[str, Any]]:
    """A pool's subnets and allocations as NSX's child resources (``ip-subnets/<id>``,
    ``ip-allocations/<id>``), each with its path and its pool as parent."""
    for kind, items in (("ip-subnets", pool.subnets), ("ip-allocations", pool.allocations)):
        for item in items:
            doc = item.model_dump(mode="json", exclude_none=True)
            doc.setdefault("display_name", item.id)
            doc["path"] = f"{pool.path}/{kind}/{item.id}"
            doc["parent_path"] = pool.path
            yield doc


def encode(doc: Any) -> bytes:
    """The compact JSON every answer is made of (key order as given)."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _rank(value: Any) -> tuple[bool, int, Any]:
    """A field's value as a sort key that compares across JSON types (missing last)."""
    if value is None:
        return (True, 0, "")
    if isinstance(value, bool | int | float):
        return (False, 0, float(value))
    if isinstance(value, str):
        return (False, 1, value)
    return (False, 2, json.dumps(value, sort_keys=True))


@dataclass
class Snapshot:
    """One revision of the state, as documents by path and members by collection."""

    revision: int
    docs: dict[str, dict[str, Any]]
    members: dict[str, list[str]]
    _bodies: dict[str, bytes] = field(default_factory=dict)
    _orders: dict[tuple[str, str, bool], list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, objects: Iterable[PolicyResource], revision: int) -> Snapshot:
        docs: dict[str, dict[str, Any]] = {}
        for obj in objects:
            for doc in api_documents(obj):
                docs[doc["path"]] = doc
        members: dict[str, list[str]] = {}
        for path in sorted(docs):
            members.setdefault(path.rsplit("/", 1)[0], []).append(path)
        return cls(revision, docs, members)

    def body(self, path: str) -> bytes | None:
        """The JSON of the object at ``path``, None when there is none."""
        found = self._bodies.get(path)
        if found is None:
            doc = self.docs.get(path)
            if doc is None:
                return None
            found = self._bodies[path] = encode(doc)
        return found

    def ordered(self, collection: str, sort_by: str, ascending: bool) -> list[str]:
        """The member paths of ``collection`` by ``sort_by`` (ties by path)."""
        key = (collection, sort_by, ascending)
        found = self._orders.get(key)
        if found is None:
            paths = self.members.get(collection, [])
            docs = self.docs
            keyed: Callable[[str], SortKey] = lambda p: (_rank(docs[p].get(sort_by)), p)  # noqa: E731
            found = self._orders[key] = sorted(paths, key=keyed, reverse=not ascending)
        return found

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        """Every document with this ``resource_type``, in path order."""
        return [d for p, d in sorted(self.docs.items()) if d.get("resource_type") == resource_type]


class StateView:
    """The current :class:`Snapshot` of one state file, rebuilt when its revision moves.

    Used from the server's one event loop thread only (see :mod:`sdn.api.app`), so the
    store's connection and the cache need no lock.
    """

    def __init__(self, state: Path) -> None:
        self.state = state
        self._store = Store.open_readonly(state)
        self._snapshot: Snapshot | None = None

    def current(self) -> Snapshot:
        revision = self._store.revision
        if self._snapshot is None or self._snapshot.revision != revision:
            inventory = self._store.inventory()
            self._snapshot = Snapshot.build(inventory.values(), inventory.revision)
        return self._snapshot

    def close(self) -> None:
        self._store.close()
