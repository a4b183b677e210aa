"""The state's storage format as values: how objects become stored rows and text, and back.

Why a module of its own: writers outside the store build rows themselves. A sync decides
what changed by comparing an object's row text with the stored one (a no-op sync then
writes nothing), and ``ncp run``'s incremental reconcile writes a pool's allocations one
by one as :class:`PoolParts`. They must know the format, but not the database: this module
is pure (no ``sqlite3``, no I/O), so that they can import it without the store
(an import-linter contract keeps ``ncp``'s reconcile and translator to it), and
:mod:`sdn.store.sqlite` only moves these values in and out of its tables.

The format:

* every NSX object is its canonical JSON (``model_dump_json(exclude_none=True)``): the same
  object always gives the same text; a row's owner is the object's ``ncp/cluster`` tag;
* an IP pool whose allocations are in strictly increasing id order is stored *split*: its
  row holds the pool with an empty :data:`ALLOCATIONS_MARK`, and each allocation's text is
  a row of its own (:class:`PoolParts`); splicing them back gives exactly the canonical
  JSON of the whole pool;
* a kept Kubernetes object is its body as JSON with sorted keys, a network profile its
  JSON document with sorted keys;
* every object, and every child an object holds inline (a security policy's rules, an IP
  pool's subnets and allocations: NSX's child resources), has a :class:`MetaEntry`: its
  path, a digest of its own fields (children left out) and its owning cluster. The store
  keeps per entry the revision and create/modify stamps NSX shows
  (:class:`~sdn.model.apishape.ObjectMeta`), moved only when the digest changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from sdn.errors import Problem, StateError
from sdn.ipam import Hold
from sdn.model import (
    RESOURCE_ADAPTER,
    IpAllocation,
    IpPool,
    PolicyResource,
    ip_allocation_path,
    ip_subnet_path,
)
from sdn.model.reporting import validation_problems

#: What a split pool's ``objects`` row holds in place of its allocations.
ALLOCATIONS_MARK = '"allocations":[]'

#: The tag whose value owns a row (the cluster that wrote it; none: the admin's).
OWNER_SCOPE = "ncp/cluster"

#: The ``resource_type`` of IP pools (the rows that may be stored split).
POOL_TYPE = "IpAddressPool"
#: The ``resource_type`` of security policies (their rules are children).
POLICY_TYPE = "SecurityPolicy"
#: Where the children an object holds inline live, below its path, by its type.
CHILD_COLLECTIONS: dict[str, tuple[str, ...]] = {
    POOL_TYPE: ("ip-subnets", "ip-allocations"), POLICY_TYPE: ("rules",)}


def owner_of(obj: PolicyResource | IpPool) -> str | None:
    """The cluster that owns an object's row (its ``ncp/cluster`` tag), or None."""
    return obj.tag(OWNER_SCOPE)


def allocation_text(allocation: IpAllocation) -> str:
    """One allocation's stored text (its canonical JSON)."""
    return allocation.model_dump_json(exclude_none=True)


@dataclass(frozen=True)
class PoolParts:
    """An IP pool's text in parts: the pool without allocations (holding
    :data:`ALLOCATIONS_MARK` once) and each allocation's text by id, in id order.

    The whole text is the allocations' texts spliced into the mark's brackets, which is
    exactly the pool's canonical JSON (compact JSON nests a model's text unchanged;
    ``tests/sdn/store`` checks it on random pools). Pools whose allocations are not in id
    order are stored whole instead.
    """

    base: str
    allocations: tuple[tuple[str, str], ...]

    def text(self) -> str:
        """The pool's whole canonical JSON."""
        return splice(self.base, (t for _id, t in self.allocations))


def splice(base: str, allocation_texts: Iterable[str]) -> str:
    """A split pool's whole text: ``allocation_texts`` put into its empty allocations."""
    cut = base.index(ALLOCATIONS_MARK) + len(ALLOCATIONS_MARK) - 1
    return base[:cut] + ",".join(allocation_texts) + base[cut:]


def pool_parts(pool: IpPool) -> PoolParts | None:
    """The parts of a pool's text, or None when it is stored whole (allocations not in
    strictly increasing id order, or a text where the mark is not unique)."""
    ids = [a.id for a in pool.allocations]
    if any(a >= b for a, b in pairwise(ids)):
        return None
    base = pool.model_copy(update={"allocations": ()}).model_dump_json(exclude_none=True)
    if base.count(ALLOCATIONS_MARK) != 1:  # string values escape quotes: cannot happen
        return None
    return PoolParts(base, tuple((a.id, allocation_text(a)) for a in pool.allocations))


@dataclass(frozen=True)
class StoredObject:
    """One row of ``objects``: the canonical JSON and its owner (with, for a pool to be
    stored split, its parts; ``body`` is always the whole text)."""

    path: str
    resource_type: str
    cluster: str | None
    body: str
    parts: PoolParts | None = field(default=None, compare=False, repr=False)


def to_stored(obj: PolicyResource) -> StoredObject:
    """The row for one object; its owner is its ``ncp/cluster`` tag."""
    parts = pool_parts(obj) if isinstance(obj, IpPool) else None
    body = parts.text() if parts is not None else obj.model_dump_json(exclude_none=True)
    return StoredObject(obj.path, obj.resource_type, owner_of(obj), body, parts)


def split_pool_row(path: str, cluster: str | None, parts: PoolParts) -> StoredObject:
    """The row of a pool given in parts (written split)."""
    return StoredObject(path, POOL_TYPE, cluster, parts.text(), parts)


def k8s_object_row(kind: str, namespace: str, name: str,
                   body: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """A kept Kubernetes object's row: (kind, namespace, name, body as sorted JSON; values
    JSON has no type for are written as their text)."""
    return kind, namespace, name, json.dumps(body, sort_keys=True, default=str)


def profile_row(name: str, document: Mapping[str, Any]) -> tuple[str, str]:
    """A network profile's row: (name, its JSON document with sorted keys)."""
    return name, json.dumps(document, sort_keys=True)


@dataclass(frozen=True)
class ClusterRecord:
    """One synced cluster."""

    name: str
    profile: str | None
    config: dict[str, Any]
    synced_at: float
    #: A digest of the inputs of the last sync that wrote, and the revision it wrote.
    fingerprint: str = ""
    revision: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChangeSet:
    """Everything one write changes; applied in one transaction by
    :meth:`sdn.store.Store.apply`."""

    upserts: list[StoredObject] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    holds: list[Hold] | None = None  # None: leave holds as they are
    cluster: ClusterRecord | None = None
    status: dict[tuple[str, str, str], dict[str, str]] | None = None
    k8s_objects: list[tuple[str, str, str, str]] | None = None  # kind, namespace, name, body
    problems: list[Problem] | None = None
    findings: list[Problem] | None = None
    profiles_added: list[tuple[str, str]] = field(default_factory=list)
    profiles_deleted: list[str] = field(default_factory=list)
    #: Allocations of split pools set (text) or removed (None): (pool path, id, text).
    #: The pools must be stored split already (:meth:`sdn.store.Store.split_pools`).
    allocation_updates: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: Partial updates of the cluster's rows (with ``cluster`` set), for an incremental
    #: write: status by object (None removes the row), and the problems of the objects
    #: named in ``problems_of`` replaced by ``problem_updates``. ``status`` and
    #: ``problems`` (whole replacements) win when both are given.
    status_updates: dict[tuple[str, str, str], dict[str, str] | None] = field(
        default_factory=dict)
    problems_of: set[str] = field(default_factory=set)
    problem_updates: list[Problem] = field(default_factory=list)
    new_holds: list[Hold] = field(default_factory=list)  # added; ``holds`` replaces all
    #: When the write happens (epoch seconds; None: the cluster record's ``synced_at``,
    #: else the clock) and who makes it (None: each object's writer by its owner, NCP's
    #: principal identity or the admin, :func:`~sdn.model.apishape.writer_of`): the
    #: create/modify stamps of the objects it changes.
    at: float | None = None
    user: str | None = None
    #: What made the write, as the history records it (None: this process's command
    #: line, :func:`~sdn.commandline.current_command`); the API names its request.
    command: str | None = None

    @property
    def touches_objects(self) -> bool:
        """Whether any NSX object changes."""
        return bool(self.upserts or self.deletes)


def decode(row: StoredObject) -> PolicyResource:
    """One stored row as its model.

    Raises:
        pydantic.ValidationError: the row is not a valid object.
    """
    obj: PolicyResource = RESOURCE_ADAPTER.validate_json(row.body)
    return obj


def parsed_row(row: StoredObject) -> tuple[PolicyResource | None, list[Problem]]:
    """One stored row as its model, or None with every problem of a row that does not
    parse as a valid object (an older version, or a hand with ``sqlite3``, wrote it)."""
    try:
        return decode(row), []
    except ValidationError as err:
        return None, validation_problems(err, row.path)


def stored_object_problems(row: StoredObject) -> list[Problem]:
    """Every problem of one stored row (empty when it parses as a valid object)."""
    return parsed_row(row)[1]


def invalid_objects_error(paths: Sequence[str]) -> StateError:
    """The one-line error of a command that cannot work on a state holding invalid objects."""
    what = "the stored object is invalid" if len(paths) == 1 else \
        f"{len(paths)} stored objects are invalid ({', '.join(paths[:5])}" \
        f"{', ...' if len(paths) > 5 else ''})"
    return StateError(f"{what}; `sdn validate` lists every problem",
                      code="INVALID_STATE_OBJECT", obj=paths[0])


def parse_stored(row: StoredObject) -> PolicyResource:
    """One stored row as its model; an invalid row is a coded :class:`StateError`."""
    try:
        return decode(row)
    except ValidationError:
        raise invalid_objects_error([row.path]) from None


def rows_by_path(rows: Iterable[StoredObject]) -> dict[str, StoredObject]:
    """Index rows by path."""
    return {r.path: r for r in rows}


@dataclass(frozen=True, slots=True)
class MetaEntry:
    """One object or inline child as the store stamps it: its path, a digest of its own
    fields (its children left out) and the cluster that owns it (None: the admin)."""

    path: str
    digest: str
    owner: str | None


#: The scheme of :attr:`MetaEntry.digest` (the store re-digests a state stamped under an
#: older one, moving no revision): 2 digests exact stored texts (:func:`meta_entries`).
DIGEST_SCHEME = "2"

_DECODER = json.JSONDecoder()


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _owner_in(data: Mapping[str, Any], default: str | None) -> str | None:
    """The ``ncp/cluster`` tag of a child's JSON, else its parent's owner."""
    for tag in data.get("tags") or ():
        if isinstance(tag, dict) and tag.get("scope") == OWNER_SCOPE and tag.get("tag"):
            return str(tag["tag"])
    return default


def _cut(text: str, key: str) -> tuple[str, list[tuple[str, Any]]]:
    """``text`` (an object's canonical JSON) with its array ``key`` emptied, and each item
    of that array as its exact text and its value (no key: ``text`` and no items).

    Why text and not a parse and a dump: at 100,000 pods a sync stamps 900,000 entries,
    and re-serialising every rule and allocation took a tenth of the sync. The canonical
    text is compact and its strings escape every quote, so ``"key":[`` only occurs where
    the key is; the children's own models hold no key of that name (``rules`` in a rule,
    ``subnets`` or ``allocations`` in a pool's child), so the first occurrence is the
    object's own. ``tests/sdn/store`` checks the items against a parse on random objects.
    """
    mark = f'"{key}":['
    at = text.find(mark)
    if at < 0:
        return text, []
    start = i = at + len(mark)
    items: list[tuple[str, Any]] = []
    while text[i] != "]":
        value, end = _DECODER.raw_decode(text, i)
        items.append((text[i:end], value))
        i = end + 1 if text[end] == "," else end
    return text[:start] + text[i:], items


#: How a canonical tag naming the owner starts (a tag's fields dump in model order).
_OWNER_TAG = '{"scope":"' + OWNER_SCOPE + '","tag":'


def _owner_in_text(text: str, default: str | None) -> str | None:
    """:func:`_owner_in` of a child's canonical text, reading only the tag's value."""
    at = text.find(_OWNER_TAG)
    if at < 0:
        return default if OWNER_SCOPE not in text else _owner_in(json.loads(text), default)
    value = _DECODER.raw_decode(text, at + len(_OWNER_TAG))[0]
    return str(value) if value else default


def allocation_entry(pool_path: str, text: str, owner: str | None,
                     allocation_id: str | None = None) -> MetaEntry:
    """The entry of one allocation of a pool, from its stored text (and its id, when the
    caller has it: no parse at all then)."""
    if allocation_id is None:
        allocation_id = str(json.loads(text).get("id", ""))
    return MetaEntry(ip_allocation_path(pool_path, allocation_id), _digest(text),
                     _owner_in_text(text, owner))


def meta_entries(row: StoredObject) -> list[MetaEntry]:
    """The entries of one row: the object, then each child it holds inline; each digest
    is of exact stored text, a parent's with its children's arrays emptied (a row whose
    text is not JSON is one entry, its text's digest)."""
    if row.resource_type not in CHILD_COLLECTIONS:
        return [MetaEntry(row.path, _digest(row.body), row.cluster)]
    try:
        return _entries_with_children(row)
    except (ValueError, IndexError):
        return [MetaEntry(row.path, _digest(row.body), row.cluster)]


def _entries_with_children(row: StoredObject) -> list[MetaEntry]:
    """:func:`meta_entries` of a security policy or an IP pool."""
    text = row.parts.base if row.parts else row.body
    children: list[MetaEntry] = []
    if row.resource_type == POLICY_TYPE:
        text, rules = _cut(text, "rules")
        children += [MetaEntry(str(rule.get("path", "")), _digest(item),
                               _owner_in(rule, row.cluster)) for item, rule in rules]
    else:
        text, subnets = _cut(text, "subnets")
        children += [MetaEntry(ip_subnet_path(row.path, str(subnet.get("id", ""))),
                               _digest(item), row.cluster) for item, subnet in subnets]
        text, allocations = _cut(text, "allocations")
        if row.parts:
            children += [allocation_entry(row.path, t, row.cluster, i)
                         for i, t in row.parts.allocations]
        else:
            children += [MetaEntry(ip_allocation_path(row.path, str(a.get("id", ""))),
                                   _digest(item), _owner_in(a, row.cluster))
                         for item, a in allocations]
    return [MetaEntry(row.path, _digest(text), row.cluster), *children]
