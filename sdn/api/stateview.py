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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sdn.model import IpPool, PolicyResource, SecurityPolicy
from sdn.model.apishape import (
    ObjectMeta,
    api_object,
    child_paths,
    pool_allocations,
    pool_subnets,
)
from sdn.store import Store

T = TypeVar("T")

#: A member's sort key: ``(missing, rank, value)`` of one field, then its path.
SortKey = tuple[tuple[bool, int, Any], str]


def api_documents(obj: PolicyResource,
                  metas: Mapping[str, ObjectMeta]) -> Iterator[dict[str, Any]]:
    """The object's API JSON, then each child resource NSX serves at a path of its own
    (a security policy's rules, an IP pool's ``ip-subnets`` and ``ip-allocations``).

    The serializer is ``sdn show -o json``'s (:mod:`sdn.model.apishape`: the model's
    fields and NSX's system fields, from the store's stamps ``metas``), so the CLI and
    the API print the same objects.
    """
    doc = api_object(obj, metas)
    yield doc
    if isinstance(obj, SecurityPolicy):
        yield from doc["rules"]
    elif isinstance(obj, IpPool):
        yield from pool_subnets(obj, metas)
        yield from pool_allocations(obj, metas)


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


class Documents:
    """API documents by key, each serialized once and each listing sorted once."""

    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs
        self._bodies: dict[str, bytes] = {}
        self._orders: dict[tuple[str, str, bool], list[str]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.docs

    def body(self, key: str) -> bytes | None:
        """The JSON of the document ``key``, None when there is none."""
        found = self._bodies.get(key)
        if found is None:
            doc = self.docs.get(key)
            if doc is None:
                return None
            found = self._bodies[key] = encode(doc)
        return found

    def ordered(self, listing: str, keys: list[str], sort_by: str,
                ascending: bool) -> list[str]:
        """``keys`` (the members of ``listing``, which names them for the cache) by the
        field ``sort_by`` of their documents, ties by key."""
        cache = (listing, sort_by, ascending)
        found = self._orders.get(cache)
        if found is None:
            docs = self.docs
            keyed: Callable[[str], SortKey] = lambda k: (_rank(docs[k].get(sort_by)), k)  # noqa: E731
            found = self._orders[cache] = sorted(keys, key=keyed, reverse=not ascending)
        return found


@dataclass
class Snapshot:
    """One revision of the state: documents by Policy path, members by collection, and
    whatever else is derived from them (:meth:`derived`), kept for this revision."""

    revision: int
    documents: Documents
    members: dict[str, list[str]]
    _derived: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, objects: Iterable[PolicyResource], revision: int,
              metas: Mapping[str, ObjectMeta]) -> Snapshot:
        docs: dict[str, dict[str, Any]] = {}
        for obj in objects:
            for doc in api_documents(obj, metas):
                docs[doc["path"]] = doc
        members: dict[str, list[str]] = {}
        for path in sorted(docs):
            members.setdefault(path.rsplit("/", 1)[0], []).append(path)
        return cls(revision, Documents(docs), members)

    @property
    def docs(self) -> dict[str, dict[str, Any]]:
        return self.documents.docs

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        """Every document with this ``resource_type``, in path order."""
        return [d for p, d in sorted(self.docs.items()) if d.get("resource_type") == resource_type]

    def derived(self, name: str, build: Callable[[Snapshot], T]) -> T:
        """``build(self)``, computed once per revision under ``name`` (indexes other
        modules read: the Manager API's logical ports, a search index)."""
        if name not in self._derived:
            self._derived[name] = build(self)
        found: T = self._derived[name]
        return found


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
            metas = self._store.object_meta(
                p for o in inventory.values() for p in (o.path, *child_paths(o)))
            self._snapshot = Snapshot.build(inventory.values(), inventory.revision, metas)
        return self._snapshot

    def close(self) -> None:
        self._store.close()
