"""The compiled firewall as keyed records in one file, read one record at a time.

Why: loading the whole compiled firewall (one pickle) cost more than half a second at
10,000 pods and ten times that at 100,000, while a question about one flow reads two
endpoints and a handful of rules. Here every endpoint and every rule is a record of its
own, fetched by its key (endpoint index, address, port path, rule order), so a question
reads what it evaluates and nothing else.

The file (``<state>.idx/dfw-<action>``, one per default action, a record file of
:mod:`sdn.store.records` whose header is :func:`~sdn.query.sidecar.identity`: format,
part, the state's :class:`~sdn.query.sidecar.Key`) holds:

* ``meta``: a :class:`FirewallMeta` (revision, default action, where the Application
  category starts, the rules applied everywhere);
* ``endpoints``: by index, the :class:`~sdn.policy.compiler.Endpoint` carrying the numbers
  of the member sets it belongs to (``classes``) and the orders of the rules applied at it;
* ``by_ip`` and ``by_path``: an endpoint's index by its address and by its port's path;
* ``rules``: by order, each a :class:`~sdn.policy.firewall.StoredRule` whose groups are
  :class:`~sdn.policy.firewall.SetRef`\\ s (set number and outside terms), so checking a
  group never loads its members.
* ``groups``: by path, every group's :class:`GroupSet` (its member set's number and
  outside terms), and ``sets``: by number, the paths of the groups sharing that member
  set; what ``sdn policies`` and ``sdn show groups --member/--members`` read
  (:mod:`sdn.query.groupindex`).

Why it cannot lie: the header must equal the one the reader expects (another state,
revision, format or part: the file is ignored); every record carries a digest of the
header, its table, its key and its payload, so a damaged record, or one copied from
another file, fails its check when read; payloads are read by the same restricted
unpickler as every index file (:func:`~sdn.query.sidecar.loads`), and what a record says
(its index, address, order) must match the key it was fetched by.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from sdn.gcpause import gc_paused
from sdn.policy.compiler import CompiledDfw, CompiledRule, Endpoint, GroupMembers, Service
from sdn.policy.firewall import SetRef, StoredRule
from sdn.query import sidecar
from sdn.query.sidecar import Key
from sdn.store import records as file_records
from sdn.store.records import RecordFile

_T = TypeVar("_T")


@dataclass(frozen=True)
class FirewallMeta:
    """What every question reads first."""

    revision: int
    default_action: str
    application_start: int
    #: Orders of the rules applied everywhere (applied-to ANY), sorted.
    rules_everywhere: tuple[int, ...]
    endpoint_count: int



class DamagedRecord(Exception):
    """A record that does not hold what its key says (or whose payload does not load)."""


#: What a firewall file's records cannot be besides damaged.
_DAMAGED = (DamagedRecord, file_records.DamagedRecord)


#: The tables a firewall file holds (a file of another layout is rebuilt, not misread).
LAYOUT = ("meta", "endpoints", "by_ip", "by_path", "rules", "groups", "sets")


def _header(part: str, key: Key) -> bytes:
    return json.dumps({**sidecar.identity(part, key, ALLOWED), "tables": list(LAYOUT)},
                      sort_keys=True).encode()


@dataclass(frozen=True)
class GroupSet:
    """A group as the ``groups`` table holds it: the number of its member set (what an
    endpoint's ``classes`` name) and its outside-address terms."""

    number: int
    outside_terms: tuple[tuple[tuple[IPv4Network, ...], ...], ...]


#: What a firewall file's payloads may hold.
ALLOWED = sidecar.allowed_names(FirewallMeta, Endpoint, StoredRule, SetRef, Service,
                                IPv4Address, IPv4Network, GroupSet)


def group_sets(dfw: CompiledDfw) -> dict[str, GroupSet]:
    """Every group of a compiled firewall by path, numbered as its endpoints' classes."""
    numbers = dfw.set_numbers()
    return {path: GroupSet(numbers[id(g.endpoints)], g.outside_terms)
            for path, g in dfw.groups.items()}


def holders(sets: dict[str, GroupSet]) -> dict[int, list[str]]:
    """The groups sharing each member set (equal expressions share one), sorted."""
    out: dict[int, list[str]] = {}
    for path in sorted(sets):
        out.setdefault(sets[path].number, []).append(path)
    return out


def _stored_rule(rule: CompiledRule, numbers: dict[int, int]) -> StoredRule:
    def refs(groups: tuple[GroupMembers, ...] | None) -> tuple[SetRef, ...] | None:
        if groups is None:
            return None
        return tuple(SetRef(g.path, numbers[id(g.endpoints)], g.outside_terms) for g in groups)

    return StoredRule(
        order=rule.order, category=rule.category, policy_path=rule.policy_path,
        path=rule.path, rule_id=rule.rule_id, action=rule.action, direction=rule.direction,
        sources=refs(rule.sources), destinations=refs(rule.destinations),
        sources_excluded=rule.sources_excluded,
        destinations_excluded=rule.destinations_excluded, services=rule.services,
        disabled=rule.disabled)


def _tables(dfw: CompiledDfw) -> dict[str, tuple[type, Iterable[tuple[Any, bytes]]]]:
    """Every record of ``dfw``, by table (see the module's doc), produced as written."""
    numbers = dfw.set_numbers()  # every group a rule names is among the groups
    classes = dfw.classes
    sets = group_sets(dfw)
    meta = FirewallMeta(
        revision=dfw.revision, default_action=dfw.default_action,
        application_start=dfw.application_start,
        rules_everywhere=tuple(dfw.rules_everywhere), endpoint_count=len(dfw.endpoints))
    return {
        "meta": (str, [("body", sidecar.dumps(meta))]),
        "endpoints": (int, ((i, sidecar.dumps((replace(ep, classes=classes[i]),
                                                tuple(dfw.rules_at[i]))))
                            for i, ep in enumerate(dfw.endpoints))),
        "by_ip": (int, ((int(ip), str(i).encode()) for ip, i in dfw.by_ip.items())),
        "by_path": (str, ((path, str(i).encode()) for path, i in
                          {ep.path: i for i, ep in enumerate(dfw.endpoints)}.items())),
        "rules": (int, ((r.order, sidecar.dumps(_stored_rule(r, numbers)))
                        for r in dfw.rules)),
        "groups": (str, ((path, sidecar.dumps(g)) for path, g in sets.items())),
        "sets": (int, ((number, sidecar.dumps(tuple(paths)))
                       for number, paths in holders(sets).items())),
    }


def save(folder: Path, part: str, key: Key, dfw: CompiledDfw) -> bool:
    """Write ``dfw``'s records as the part's file (atomically); False, and nothing
    raised, when the folder cannot be written. The collector is paused meanwhile: writing
    allocates hundreds of thousands of small objects and makes no cycles
    (:mod:`sdn.gcpause`)."""
    with gc_paused():
        return file_records.write(folder / part, _header(part, key), _tables(dfw))


def current(folder: Path, part: str, key: Key) -> bool:
    """Whether the part's file has this format and key in its header (its records are
    not checked: enough to tell a writer that nothing needs rebuilding, never enough to
    trust it)."""
    return file_records.header_of(folder / part) == _header(part, key)


def _load(body: bytes, what: str) -> object:
    try:
        return sidecar.loads(body, ALLOWED)
    except Exception as err:  # whatever a damaged pickle raises
        raise DamagedRecord(what) from err


class Records:
    """An open firewall file whose header and meta passed their checks, read record by
    record (:class:`DamagedRecord` or the store's when one fails its check)."""

    def __init__(self, file: RecordFile, meta: FirewallMeta) -> None:
        self._file = file
        self.meta = meta

    @classmethod
    def open(cls, folder: Path, part: str, key: Key) -> Records | None:
        """The file's records, or None when it is missing, foreign, for another key or
        format, or its meta is damaged."""
        file = RecordFile.open(folder / part, _header(part, key))
        if file is None:
            return None
        try:
            return cls._checked(file)
        except _DAMAGED:
            file.close()
            return None

    @classmethod
    def of(cls, dfw: CompiledDfw, part: str, key: Key) -> Records:
        """The records of ``dfw`` held in memory (when its file cannot be written)."""
        with gc_paused():
            file = RecordFile.in_memory(_header(part, key), _tables(dfw))
        return cls._checked(file)

    @classmethod
    def _checked(cls, file: RecordFile) -> Records:
        meta = _load(file.get("meta", ["body"]).get("body", b""), "meta")
        if not isinstance(meta, FirewallMeta):
            raise DamagedRecord("meta")
        return cls(file, meta)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def endpoints(self, indexes: Sequence[int]) -> dict[int, tuple[Endpoint, tuple[int, ...]]]:
        """Endpoints with their applied rule orders, by index (every one asked for)."""
        out: dict[int, tuple[Endpoint, tuple[int, ...]]] = {}
        for i, body in self._file.get("endpoints", indexes).items():
            found = _load(body, f"endpoint {i}")
            if not (isinstance(found, tuple) and len(found) == 2
                    and isinstance(found[0], Endpoint) and found[0].index == i):
                raise DamagedRecord(f"endpoint {i}")
            out[int(i)] = found
        if len(out) != len(set(indexes)):
            raise DamagedRecord("an endpoint is missing")
        return out

    def lookup(self, table: str, keys: Sequence[Any]) -> dict[Any, int]:
        """Endpoint indexes by address (``by_ip``) or by port path (``by_path``); keys
        without an endpoint are left out."""
        out: dict[Any, int] = {}
        for k, body in self._file.get(table, keys).items():
            i = int(body)
            if not 0 <= i < self.meta.endpoint_count:
                raise DamagedRecord(f"{table} {k}")
            out[k] = i
        return out

    def groups(self, paths: Sequence[str] | None = None) -> dict[str, GroupSet]:
        """Groups by path (those of ``paths`` that exist; None: every one)."""
        found = self._file.get("groups", paths) if paths is not None \
            else self._file.between("groups", "", "\U0010ffff")
        out: dict[str, GroupSet] = {}
        for path, body in found.items():
            loaded = _load(body, f"group {path}")
            if not isinstance(loaded, GroupSet):
                raise DamagedRecord(f"group {path}")
            out[str(path)] = loaded
        return out

    def holders(self, numbers: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """The paths of the groups whose member set is each of ``numbers``."""
        out: dict[int, tuple[str, ...]] = {}
        for number, body in self._file.get("sets", numbers).items():
            loaded = _load(body, f"set {number}")
            if not (isinstance(loaded, tuple) and all(isinstance(p, str) for p in loaded)):
                raise DamagedRecord(f"set {number}")
            out[int(number)] = loaded
        return out

    def rules(self, orders: Sequence[int]) -> dict[int, StoredRule]:
        """Rules by order (every one asked for)."""
        out: dict[int, StoredRule] = {}
        for o, body in self._file.get("rules", orders).items():
            found = _load(body, f"rule {o}")
            if not isinstance(found, StoredRule) or found.order != o:
                raise DamagedRecord(f"rule {o}")
            out[found.order] = found
        if len(out) != len(set(orders)):
            raise DamagedRecord("a rule is missing")
        return out


class _Closable(Protocol):
    def close(self) -> None: ...


_F = TypeVar("_F", bound=_Closable)


class Rebuilding(Generic[_F]):
    """An open file read record by record that, the first time a record fails its
    check, is closed and replaced by ``rebuild()`` (a sound file of the same revision:
    built again, saved, or held in memory), and the read done again on that."""

    def __init__(self, file: _F, rebuild: Callable[[], _F]) -> None:
        self._file = file
        self._rebuild = rebuild

    def read(self, fetch: Callable[[_F], _T]) -> _T:
        """``fetch(file)``, on a rebuilt file when the current one is damaged."""
        try:
            return fetch(self._file)
        except _DAMAGED:
            self._file.close()
            self._file = self._rebuild()
            return fetch(self._file)

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class StoredFirewall:
    """A :class:`~sdn.policy.firewall.Firewall` read record by record from the index.

    What it has read it keeps (endpoints, rules, candidates). A record that fails its
    check makes it ``rebuild`` the file (compile the firewall again, save it, or hold it
    in memory when the folder cannot be written) and read on from that: a rebuilt file of
    the same revision holds the same records, so what was read before stays right.
    """

    def __init__(self, records: Records, rebuild: Callable[[], Records]) -> None:
        self._records = Rebuilding(records, rebuild)
        meta = records.meta
        self.revision = meta.revision
        self.default_action = meta.default_action
        self.application_start = meta.application_start
        self.endpoint_count = meta.endpoint_count
        self._everywhere = meta.rules_everywhere
        self._endpoints: dict[int, Endpoint] = {}
        self._rules_at: dict[int, tuple[int, ...]] = {}
        self._rules: dict[int, StoredRule] = {}
        self._candidates: dict[tuple[int, str], list[StoredRule]] = {}

    def close(self) -> None:
        """Close the file."""
        self._records.close()

    def _read(self, fetch: Callable[[Records], Any]) -> Any:
        return self._records.read(fetch)

    def _fetch_endpoints(self, indexes: Iterable[int]) -> None:
        missing = sorted({i for i in indexes if i not in self._endpoints})
        if not missing:
            return
        found: dict[int, tuple[Endpoint, tuple[int, ...]]] = self._read(
            lambda r: r.endpoints(missing))
        for i, (ep, at) in found.items():
            self._endpoints[i] = ep
            self._rules_at[i] = at

    def endpoint(self, index: int) -> Endpoint:
        """The endpoint with this index."""
        if not 0 <= index < self.endpoint_count:
            raise IndexError(index)
        self._fetch_endpoints((index,))
        return self._endpoints[index]

    def _by_key(self, table: str, keys: Sequence[Any]) -> dict[Any, Endpoint]:
        """Endpoints by address or port path, each checked to be the one its key names."""

        def fetch(records: Records) -> dict[Any, Endpoint]:
            found = records.lookup(table, keys)
            read = records.endpoints(sorted(set(found.values())))
            out = {}
            for k, i in found.items():
                ep, at = read[i]
                if (int(ep.ip) if table == "by_ip" else ep.path) != k:
                    raise DamagedRecord(f"{table} {k}")
                self._endpoints[i] = ep
                self._rules_at[i] = at
                out[k] = ep
            return out

        result: dict[Any, Endpoint] = self._read(fetch)
        return result

    def endpoint_for_ip(self, ip: IPv4Address) -> Endpoint:
        """The port endpoint owning ``ip``, else an outside endpoint."""
        found = self._by_key("by_ip", [int(ip)])
        return found.get(int(ip)) or Endpoint(ip=ip)

    def endpoints_of(self, paths: Iterable[str]) -> dict[str, Endpoint]:
        """The endpoints of those port paths that have one, by path."""
        return self._by_key("by_path", sorted(set(paths)))

    def classes_of(self, index: int) -> frozenset[int]:
        """The numbers of the member sets endpoint ``index`` belongs to."""
        classes = self.endpoint(index).classes
        assert classes is not None  # every stored endpoint has them
        return classes

    def group_sets(self, paths: Sequence[str] | None = None) -> dict[str, GroupSet]:
        """Groups by path: their member set's number and outside terms (those of
        ``paths`` that exist; None: every one)."""
        found: dict[str, GroupSet] = self._read(lambda r: r.groups(paths))
        return found

    def holders(self, numbers: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """The paths of the groups whose member set is each of ``numbers``."""
        found: dict[int, tuple[str, ...]] = self._read(lambda r: r.holders(numbers))
        return found

    def every_endpoint(self) -> list[Endpoint]:
        """Every endpoint, by index (read in one pass: what a group's member list scans)."""
        self._fetch_endpoints(range(self.endpoint_count))
        return [self._endpoints[i] for i in range(self.endpoint_count)]

    def candidates(self, index: int, direction: str) -> list[StoredRule]:
        """The rules enforced at one endpoint in one direction, in evaluation order."""
        key = (index, direction)
        found = self._candidates.get(key)
        if found is None:
            self.endpoint(index)
            orders = list(heapq.merge(self._rules_at[index], self._everywhere))
            missing = [o for o in orders if o not in self._rules]
            if missing:
                self._rules.update(self._read(lambda r: r.rules(missing)))
            found = [r for r in (self._rules[o] for o in orders)
                     if r.direction == direction or r.direction == "IN_OUT"]
            self._candidates[key] = found
        return found

