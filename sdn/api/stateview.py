"""The state as the API reads it: every object's NSX JSON by Policy path, each
collection's members, kept until the store's revision moves.

Why one view per revision: a client's GET by id must cost about a millisecond at 10,000
pods, which rules out parsing rows per request; and a concurrent ``ncp sync`` (or an API
write) must show on the next request, which rules out parsing once at start. Every
request asks the store its revision (one indexed read); only a new revision rebuilds.

What a path holds is the object's API JSON (:func:`api_documents`: the shapes of
:mod:`sdn.model.apishape`, which ``sdn show -o json`` prints too), or, for the children
NSX serves at their own paths (a security policy's ``rules``, an IP pool's
``ip-subnets`` and ``ip-allocations``), the child's JSON. A collection is the parent
path of its members (``/infra/segments``, ``/infra/tier-1s/T1/nat/USER/nat-rules``);
its order is given by :mod:`sdn.api.paging`.
Bodies are serialized once per revision, compactly, from dicts in the model's field
order: the same state gives byte-identical answers.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sdn.gcpause import gc_paused
from sdn.model import IpPool, PolicyResource, SecurityPolicy
from sdn.model.apishape import (
    ObjectMeta,
    api_object,
    child_paths,
    pool_allocations,
    pool_subnets,
)
from sdn.store import Store
from sdn.store.codec import parsed_row

T = TypeVar("T")

#: A member's sort key: ``(missing, rank, value)`` of one field, then its path.
SortKey = tuple[tuple[bool, int, Any], str]


def api_documents(obj: PolicyResource,
                  metas: Mapping[str, ObjectMeta]) -> Iterator[dict[str, Any]]:
    """The object's API JSON, then each child resource NSX serves at a path of its own
    (a security policy's rules, an IP pool's subnets and allocations), all as
    :mod:`sdn.model.apishape` shapes them for ``sdn show -o json`` too. ``metas`` holds
    the stamps of the object and its children."""
    doc = api_object(obj, metas)
    yield doc
    if isinstance(obj, SecurityPolicy):
        yield from doc.get("rules", [])
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

    def __init__(self, docs: dict[str, dict[str, Any]],
                 bodies: dict[str, bytes] | None = None) -> None:
        self.docs = docs
        self._bodies: dict[str, bytes] = bodies or {}
        self._orders: dict[tuple[str, str, bool], list[str]] = {}

    def carried_bodies(self, docs: dict[str, dict[str, Any]]) -> dict[str, bytes]:
        """The bodies already serialized here of the documents ``docs`` shares with this
        set (the same dict, not an equal one): what a next revision need not redo."""
        mine = self.docs
        return {k: b for k, b in self._bodies.items() if docs.get(k) is mine.get(k)}

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
    def of_documents(cls, docs: dict[str, dict[str, Any]], revision: int,
                     previous: Snapshot | None = None) -> Snapshot:
        """The snapshot of these documents by path (``previous``'s serialized bodies of
        the same documents carried over)."""
        members: dict[str, list[str]] = {}
        for path in sorted(docs):
            members.setdefault(path.rsplit("/", 1)[0], []).append(path)
        bodies = previous.documents.carried_bodies(docs) if previous is not None else None
        return cls(revision, Documents(docs, bodies), members)

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

    A rebuild reads every row (a fraction of a second at 10,000 pods) but parses and
    shapes only the rows whose text changed since the last one (each row's digest is
    kept): a sync that changes a namespace costs that namespace, not the state. (This
    relies on the store's stamps, ``_revision`` and the rest, changing only with the
    object's text, as :mod:`sdn.store` keeps them.) The
    snapshot's objects are then frozen out of the cyclic collector's sight
    (``gc.freeze``): they never form cycles, and a full collection walking hundreds of
    megabytes would stall requests. Rows that do not parse (a hand-edited state) are
    left out and named on stderr; ``sdn validate`` says what is wrong with them.

    Used from the server's one event loop thread only (see :mod:`sdn.api.app`), so the
    store's connection and the cache need no lock.
    """

    def __init__(self, state: Path) -> None:
        self.state = state
        self._store = Store.open_readonly(state)
        self._snapshot: Snapshot | None = None
        self._rows: dict[str, tuple[bytes, list[dict[str, Any]]]] = {}

    def current(self) -> Snapshot:
        revision = self._store.revision
        if self._snapshot is None or self._snapshot.revision != revision:
            with gc_paused():
                self._snapshot = self._rebuild(revision)
            gc.collect()
            gc.freeze()
        return self._snapshot

    def _rebuild(self, revision: int) -> Snapshot:
        rows: dict[str, tuple[bytes, list[dict[str, Any]]]] = {}
        changed: list[tuple[str, bytes, PolicyResource]] = []
        for row in self._store.rows():
            digest = hashlib.blake2b(row.body.encode(), digest_size=16).digest()
            known = self._rows.get(row.path)
            if known is not None and known[0] == digest:
                rows[row.path] = known
                continue
            obj, problems = parsed_row(row)
            for problem in problems:
                print(f"warning: left out of the API: {problem}", file=sys.stderr)
            if obj is None:
                rows[row.path] = (digest, [])
            else:
                changed.append((row.path, digest, obj))
        metas = self._store.object_meta(
            p for _, _, obj in changed for p in (obj.path, *child_paths(obj)))
        for path, digest, obj in changed:
            rows[path] = (digest, list(api_documents(obj, metas)))
        self._rows = rows
        docs = {d["path"]: d for _, listed in rows.values() for d in listed}
        return Snapshot.of_documents(docs, revision, self._snapshot)

    def close(self) -> None:
        self._store.close()
