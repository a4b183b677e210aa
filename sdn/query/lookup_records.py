"""A revision's lookups (:class:`~sdn.traceflow.lookups.Lookups`) as keyed records, read
one name, address or prefix at a time.

Why: kept as one pickle, the lookups at 100,000 pods were 22 MB and loading them cost
~1.6 s of a later traceflow's ~1.9 s (the Tier-0's routing table alone holds 25,000
routes), while a walk asks for two ports by name, two addresses and a few routes. Here
each of those is a record of its own, fetched when asked for, behind the same mappings,
sets, sequences and prefix tables the walk reads (the walk and its answers unchanged).

The file (``<state>.idx/lookups``, a record file of :mod:`sdn.store.records` whose
header is :func:`~sdn.query.sidecar.identity`: format, part, the state's
:class:`~sdn.query.sidecar.Key`) holds:

* ``meta``: node addresses, clusters, and the prefix lengths present among the segment
  subnets (small: read whole when the file is opened);
* ``ports`` / ``segments``: every port's and segment's path (membership);
* ``by_name``: a port's paths by its display name; ``port_by_ip``: a port's path by its
  address; ``snat``: a gateway's SNAT rules as
  :data:`~sdn.traceflow.lookups.SnatEntry` (sources, sequence, path);
* ``subnets`` and ``routes``: one record per prefix, keyed by (owner, prefix length,
  network): a longest-prefix lookup probes only the lengths its owner has (``route_lens``
  per gateway; the segment subnets' in ``meta``), in one query;
* ``whole``: each collection's keys in their order (iteration, length) and the sequences
  read whole (``segment_scopes``, ``pods``: what ``reach`` and the namespace hints list).

Why it cannot lie: the header must equal the one the reader expects; every record carries
a digest of the header, its table, its key and its payload; payloads are read by the
index's restricted unpickler; what a record says (a route's gateway and prefix) must
match the key it was fetched by. A record failing its check makes the reader rebuild the
file from the inventory (as :class:`~sdn.query.records.StoredFirewall` does) and read on
from that: the same revision gives the same records, so what was read before stays right.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from sdn.graph.queries import PrefixLookup, Route, RoutingTables
from sdn.query import sidecar
from sdn.query.records import DamagedRecord, Rebuilding
from sdn.query.sidecar import Key
from sdn.store import records as file_records
from sdn.store.records import RecordFile
from sdn.traceflow.lookups import Lookups, SnatEntry

PART = "lookups"
#: What the lookups file's payloads may hold.
ALLOWED = sidecar.allowed_names(Route, IPv4Network, IPv4Address)
#: Membership probes one at a time before a set reads its whole key list (``reach``
#: asks for every pod's port: one query then, not one per pod).
_PROBES_BEFORE_WHOLE = 64
_MASKS = tuple((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in range(33))
_DAMAGED = (DamagedRecord, file_records.DamagedRecord)  # a meta read at opening

K = TypeVar("K", int, str)
V = TypeVar("V")
T = TypeVar("T")
Tables = dict[str, tuple[type, Iterable[tuple[Any, bytes]]]]


def _header(key: Key) -> bytes:
    return json.dumps(sidecar.identity(PART, key, ALLOWED), sort_keys=True).encode()


def _load(body: bytes, kind: type[T] | tuple[type, ...], what: str) -> T:
    """A payload that must load (restricted) into ``kind``, else the record is damaged."""
    try:
        found = sidecar.loads(body, ALLOWED)
    except Exception as err:  # whatever a damaged pickle raises
        raise DamagedRecord(what) from err
    if not isinstance(found, kind):
        raise DamagedRecord(what)
    return found  # type: ignore[return-value]


def _strings(body: bytes, what: str) -> tuple[str, ...]:
    found: tuple[Any, ...] = _load(body, tuple, what)
    if not all(isinstance(s, str) for s in found):
        raise DamagedRecord(what)
    return found


def _snat_entries(body: bytes, what: str) -> tuple[SnatEntry, ...]:
    found: tuple[Any, ...] = _load(body, tuple, what)
    if not all(_is_snat_entry(e) for e in found):
        raise DamagedRecord(what)
    return found


def _is_snat_entry(entry: object) -> bool:
    if not (isinstance(entry, tuple) and len(entry) == 3):
        return False
    sources, sequence, path = entry
    return isinstance(sequence, int) and isinstance(path, str) and (
        sources is None or (isinstance(sources, tuple) and all(
            isinstance(s, tuple) and len(s) == 2 and all(isinstance(n, int) for n in s)
            for s in sources)))


def _prefix_key(owner: str, length: int, network: int) -> str:
    """A prefix's record key: the owner's length first, so that no owner's keys lie
    inside another owner's range (:meth:`_StoredPrefixes.entries`)."""
    return f"{len(owner)}:{owner} {length:02d} {network}"


def _lens(networks: Iterable[IPv4Network]) -> tuple[int, ...]:
    return tuple(sorted({n.prefixlen for n in networks}, reverse=True))


def _tables(lookups: Lookups) -> Tables:
    """Every record of ``lookups`` (built by :meth:`Lookups.of`), by table."""
    routing = lookups.routing
    subnets = list(routing.segments.entries())
    routes = {gw: list(table.entries()) for gw, table in routing.routes.items()}
    meta = (dict(lookups.node_ips), tuple(lookups.clusters), _lens(p for p, _ in subnets))
    whole: dict[str, object] = {
        "ports": tuple(lookups.port_paths), "segments": tuple(lookups.segment_paths),
        "by_name": tuple(lookups.by_name), "snat": tuple(lookups.snat_rules),
        "port_by_ip": tuple(routing.ports), "route_lens": tuple(routes),
        "segment_scopes": tuple(lookups.segment_scopes), "pods": tuple(lookups.pods)}
    return {
        "meta": (str, [("body", sidecar.dumps(meta))]),
        "whole": (str, ((name, sidecar.dumps(v)) for name, v in whole.items())),
        "ports": (str, ((p, b"") for p in dict.fromkeys(lookups.port_paths))),
        "segments": (str, ((p, b"") for p in dict.fromkeys(lookups.segment_paths))),
        "by_name": (str, ((n, sidecar.dumps(tuple(p))) for n, p in lookups.by_name.items())),
        "snat": (str, ((gw, sidecar.dumps(tuple(e))) for gw, e in lookups.snat_rules.items())),
        "port_by_ip": (int, ((ip, path.encode()) for ip, path in routing.ports.items())),
        "subnets": (str, ((_prefix_key("", p.prefixlen, int(p.network_address)),
                           path.encode()) for p, path in subnets)),
        "route_lens": (str, ((gw, sidecar.dumps(_lens(p for p, _ in entries)))
                             for gw, entries in routes.items())),
        "routes": (str, ((_prefix_key(gw, p.prefixlen, int(p.network_address)),
                          sidecar.dumps(route))
                         for gw, entries in routes.items() for p, route in entries)),
    }


def save(folder: Path, key: Key, lookups: Lookups) -> bool:
    """Write ``lookups`` (as :meth:`Lookups.of` built them) as the part's file
    (atomically); False, and nothing raised, when the folder cannot be written."""
    return file_records.write(folder / PART, _header(key), _tables(lookups))


def current(folder: Path, key: Key) -> bool:
    """Whether the part's file has this format and key in its header (its records are
    not checked: enough to tell a writer that nothing needs rebuilding, never enough to
    trust it)."""
    return file_records.header_of(folder / PART) == _header(key)


def rebuilt(folder: Path, key: Key, lookups: Lookups) -> RecordFile:
    """``lookups``' records saved and opened again, or held in memory when the folder
    cannot be written (what a reader that met a damaged record reads on from)."""
    if save(folder, key, lookups):
        opened = RecordFile.open(folder / PART, _header(key))
        if opened is not None:
            return opened
    return RecordFile.in_memory(_header(key), _tables(lookups))


class _Source(Rebuilding[RecordFile]):
    """The open file every stored lookup reads from (replaced by a rebuilt one when a
    record fails its check)."""

    def whole(self, name: str, decode: Callable[[bytes, str], T]) -> T:
        """One of the ``whole`` records (a collection's keys, or a sequence)."""

        def fetch(file: RecordFile) -> T:
            body = file.get("whole", [name]).get(name)
            if body is None:
                raise DamagedRecord(f"whole {name} is missing")
            return decode(body, f"whole {name}")

        return self.read(fetch)


class _Records(Mapping[K, V]):
    """One table's records by key, each read when first asked for and kept."""

    def __init__(self, source: _Source, table: str, key_type: type[K],
                 decode: Callable[[K, bytes], V]) -> None:
        self._source = source
        self._table = table
        self._key_type: type[K] = key_type
        self._decode: Callable[[K, bytes], V] = decode
        self._read: dict[K, V | None] = {}
        self._keys: tuple[K, ...] | None = None

    def __getitem__(self, key: K) -> V:
        if type(key) is not self._key_type:
            raise KeyError(key)
        if key not in self._read:
            def fetch(file: RecordFile) -> V | None:
                body = file.get(self._table, [key]).get(key)
                return None if body is None else self._decode(key, body)

            self._read[key] = self._source.read(fetch)
        found = self._read[key]
        if found is None:
            raise KeyError(key)
        return found

    def _all_keys(self) -> tuple[K, ...]:
        if self._keys is None:
            keys: tuple[Any, ...] = self._source.whole(
                self._table, lambda body, what: _load(body, tuple, what))
            if not all(type(k) is self._key_type for k in keys):
                raise DamagedRecord(f"whole {self._table}")
            self._keys = keys
        return self._keys

    def __iter__(self) -> Iterator[K]:
        return iter(self._all_keys())

    def __len__(self) -> int:
        return len(self._all_keys())


class _PathSet(Set[str]):
    """Every port's (or segment's) path: a membership probe reads one record, until a
    question has probed many, which then reads the whole list once."""

    def __init__(self, source: _Source, table: str) -> None:
        self._source = source
        self._table = table
        self._probes = 0
        self._known: set[str] = set()
        self._all: tuple[str, ...] | None = None
        self._members: frozenset[str] | None = None

    def _whole(self) -> tuple[str, ...]:
        if self._all is None:
            self._all = self._source.whole(self._table, _strings)
        return self._all

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if self._members is not None:
            return path in self._members
        if path in self._known:
            return True
        self._probes += 1
        if self._probes > _PROBES_BEFORE_WHOLE:
            self._members = frozenset(self._whole())
            return path in self._members
        found = self._source.read(lambda file: path in file.get(self._table, [path]))
        if found:
            self._known.add(path)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())


class _WholeSequence(Sequence[T]):
    """A sequence kept as one record, read the first time it is looked at."""

    def __init__(self, source: _Source, name: str) -> None:
        self._source = source
        self._name = name
        self._items: tuple[T, ...] | None = None

    def _loaded(self) -> tuple[T, ...]:
        if self._items is None:
            self._items = self._source.whole(
                self._name, lambda body, what: _load(body, tuple, what))
        return self._items

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...

    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        return self._loaded()[i]

    def __len__(self) -> int:
        return len(self._loaded())


class _StoredPrefixes(Generic[V]):
    """One owner's prefix table (the segment subnets, or a gateway's routes): a lookup
    probes the lengths the owner has, longest first, in one query."""

    def __init__(self, source: _Source, table: str, owner: str, lens: tuple[int, ...],
                 decode: Callable[[str, IPv4Network, bytes], V]) -> None:
        self._source = source
        self._table = table
        self._owner = owner
        self._lens = lens
        self._decode = decode

    def lookup(self, address: int) -> V | None:
        """The value of the longest prefix containing ``address``, or None."""
        probes = [(length, _prefix_key(self._owner, length, address & _MASKS[length]))
                  for length in self._lens]

        def fetch(file: RecordFile) -> V | None:
            found = file.get(self._table, [k for _, k in probes])
            for length, k in probes:
                body = found.get(k)
                if body is not None:
                    prefix = IPv4Network((address & _MASKS[length], length))
                    return self._decode(k, prefix, body)
            return None

        return self._source.read(fetch)

    def entries(self) -> Iterator[tuple[IPv4Network, V]]:
        """Every stored prefix with its value, in no particular order."""
        start = f"{len(self._owner)}:{self._owner} "

        def fetch(file: RecordFile) -> list[tuple[IPv4Network, V]]:
            out = []
            for k, body in file.between(self._table, start, start[:-1] + "!").items():
                length, _, network = str(k)[len(start):].partition(" ")
                try:
                    prefix = IPv4Network((int(network), int(length)))
                except ValueError as err:
                    raise DamagedRecord(f"{self._table} {k}") from err
                out.append((prefix, self._decode(str(k), prefix, body)))
            return out

        return iter(self._source.read(fetch))

    def values(self) -> Iterator[V]:
        """Every stored value, in no particular order."""
        for _, value in self.entries():
            yield value


def _segment_path(key: str, prefix: IPv4Network, body: bytes) -> str:
    return body.decode()


def _route(key: str, prefix: IPv4Network, body: bytes) -> Route:
    route: Route = _load(body, Route, f"route {key}")
    if route.prefix != prefix or not key.startswith(f"{len(route.gateway)}:{route.gateway} "):
        raise DamagedRecord(f"route {key}")
    return route


class StoredLookups:
    """An open lookups file: :attr:`lookups` reads its records as a walk asks."""

    def __init__(self, source: _Source, meta: tuple[Any, ...]) -> None:
        self._source = source
        node_ips, clusters, subnet_lens = meta

        def route_table(gateway: str, body: bytes) -> PrefixLookup[Route]:
            lens: tuple[int, ...] = _load(body, tuple, f"route_lens {gateway}")
            return _StoredPrefixes(source, "routes", gateway, lens, _route)

        routing = RoutingTables(
            segments=_StoredPrefixes(source, "subnets", "", subnet_lens, _segment_path),
            ports=_Records(source, "port_by_ip", int, lambda ip, body: body.decode()),
            routes=_Records(source, "route_lens", str, route_table))
        self.lookups = Lookups(
            port_paths=_PathSet(source, "ports"), segment_paths=_PathSet(source, "segments"),
            by_name=_Records(source, "by_name", str,
                             lambda name, body: _strings(body, f"by_name {name}")),
            node_ips=node_ips, clusters=clusters,
            segment_scopes=_WholeSequence(source, "segment_scopes"), routing=routing,
            snat_rules=_Records(source, "snat", str,
                                lambda gw, body: _snat_entries(body, f"snat {gw}")),
            pods=_WholeSequence(source, "pods"))

    @classmethod
    def open(cls, folder: Path, key: Key,
             rebuild: Callable[[], RecordFile]) -> StoredLookups | None:
        """The part's records, or None when the file is missing, foreign, for another
        key or format, or its meta is damaged. ``rebuild`` gives a sound file (built from
        the inventory) when a record read later fails its check."""
        file = RecordFile.open(folder / PART, _header(key))
        if file is None:
            return None
        try:
            meta = _meta(file)
        except _DAMAGED:
            file.close()
            return None
        return cls(_Source(file, rebuild), meta)

    def close(self) -> None:
        """Close the file."""
        self._source.close()


def _meta(file: RecordFile) -> tuple[Any, ...]:
    body = file.get("meta", ["body"]).get("body", b"")
    meta: tuple[Any, ...] = _load(body, tuple, "meta")
    if not (len(meta) == 3 and isinstance(meta[0], dict) and isinstance(meta[1], tuple)
            and isinstance(meta[2], tuple)
            and all(isinstance(n, int) and 0 <= n <= 32 for n in meta[2])):
        raise DamagedRecord("meta")
    return meta


__all__ = ["ALLOWED", "PART", "StoredLookups", "current", "rebuilt", "save"]
