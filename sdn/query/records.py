"""The compiled firewall as keyed records in one SQLite file, read one record at a time.

Why: loading the whole compiled firewall (one pickle) cost more than half a second at
10,000 pods and ten times that at 100,000, while a question about one flow reads two
endpoints and a handful of rules. Here every endpoint and every rule is a record of its
own, fetched by its key (endpoint index, address, port path, rule order), so a question
reads what it evaluates and nothing else.

The file (``<state>.idx/dfw-<action>``, one per default action) holds:

* ``meta``: the header (:func:`~sdn.query.sidecar.identity`: format, part, the state's
  :class:`~sdn.query.sidecar.Key`) and a :class:`FirewallMeta` (revision, default action,
  where the Application category starts, the rules applied everywhere);
* ``endpoints``: by index, the :class:`~sdn.policy.compiler.Endpoint` carrying the numbers
  of the member sets it belongs to (``classes``) and the orders of the rules applied at it;
* ``by_ip`` and ``by_path``: an endpoint's index by its address and by its port's path;
* ``rules``: by order, each a :class:`~sdn.policy.firewall.StoredRule` whose groups are
  :class:`~sdn.policy.firewall.SetRef`\\ s (set number and outside terms), so checking a
  group never loads its members.

Why it cannot lie: the header must equal the one the reader expects (another state,
revision, format or part: the file is ignored); every row carries a digest of the header,
its table, its key and its payload, so a damaged row, or a row copied from another file,
fails its check (:class:`DamagedRecord`); payloads are read by the same restricted
unpickler as every index file (:func:`~sdn.query.sidecar.loads`), and what a record says
(its index, address, order) must match the key it was fetched by.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from sdn.policy.compiler import CompiledDfw, CompiledRule, Endpoint, GroupMembers, Service
from sdn.policy.firewall import SetRef, StoredRule
from sdn.query import sidecar
from sdn.query.sidecar import Key


@dataclass(frozen=True)
class FirewallMeta:
    """What every question reads first."""

    revision: int
    default_action: str
    application_start: int
    #: Orders of the rules applied everywhere (applied-to ANY), sorted.
    rules_everywhere: tuple[int, ...]
    endpoint_count: int


#: What a firewall file's payloads may hold.
ALLOWED = sidecar.allowed_names(FirewallMeta, Endpoint, StoredRule, SetRef, Service,
                                IPv4Address, IPv4Network)

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE endpoints (idx INTEGER PRIMARY KEY, body BLOB NOT NULL, digest BLOB NOT NULL);
CREATE TABLE by_ip (ip INTEGER PRIMARY KEY, idx INTEGER NOT NULL, digest BLOB NOT NULL);
CREATE TABLE by_path (path TEXT PRIMARY KEY, idx INTEGER NOT NULL, digest BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE rules (ord INTEGER PRIMARY KEY, body BLOB NOT NULL, digest BLOB NOT NULL);
"""
#: Keys per ``IN (...)`` query (well under SQLite's limit on parameters).
_BATCH = 500


class DamagedRecord(Exception):
    """A record failed its check: the file is not to be trusted any further."""


def _header(part: str, key: Key) -> bytes:
    return json.dumps(sidecar.identity(part, key, ALLOWED), sort_keys=True).encode()


def _digest(header: bytes, table: str, key: object, body: bytes) -> bytes:
    """Binds a row to this file's header, its table and its key."""
    return hashlib.sha256(b"\0".join((header, table.encode(), str(key).encode(), body))
                          ).digest()[:16]


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


def _fill(db: sqlite3.Connection, header: bytes, dfw: CompiledDfw) -> None:
    """Write every record of ``dfw`` into an empty database."""
    db.executescript(_SCHEMA)
    numbers = dfw.set_numbers()  # every group a rule names is among the groups

    def endpoint_rows() -> Iterator[tuple[int, bytes, bytes]]:
        for i, (ep, classes) in enumerate(zip(dfw.endpoints, dfw.classes, strict=True)):
            body = sidecar.dumps((replace(ep, classes=classes), tuple(dfw.rules_at[i])))
            yield i, body, _digest(header, "endpoints", i, body)

    def index_rows(table: str, keys: dict[Any, int]) -> Iterator[tuple[Any, int, bytes]]:
        for k, i in keys.items():
            yield k, i, _digest(header, table, k, str(i).encode())

    def rule_rows() -> Iterator[tuple[int, bytes, bytes]]:
        for r in dfw.rules:
            body = sidecar.dumps(_stored_rule(r, numbers))
            yield r.order, body, _digest(header, "rules", r.order, body)

    db.executemany("INSERT INTO endpoints VALUES (?, ?, ?)", endpoint_rows())
    db.executemany("INSERT INTO by_ip VALUES (?, ?, ?)", index_rows(
        "by_ip", {int(ip): i for ip, i in dfw.by_ip.items()}))
    db.executemany("INSERT INTO by_path VALUES (?, ?, ?)", index_rows(
        "by_path", {ep.path: i for i, ep in enumerate(dfw.endpoints)}))
    db.executemany("INSERT INTO rules VALUES (?, ?, ?)", rule_rows())
    meta = sidecar.dumps(FirewallMeta(
        revision=dfw.revision, default_action=dfw.default_action,
        application_start=dfw.application_start,
        rules_everywhere=tuple(dfw.rules_everywhere), endpoint_count=len(dfw.endpoints)))
    db.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("header", header), ("body", meta), ("digest", _digest(header, "meta", "body", meta))])
    db.commit()


class Records:
    """An open firewall file whose header and meta passed their checks; every record
    fetched is checked too (:class:`DamagedRecord` when one fails)."""

    def __init__(self, db: sqlite3.Connection, header: bytes, meta: FirewallMeta) -> None:
        self._db = db
        self._header = header
        self.meta = meta

    @classmethod
    def open(cls, folder: Path, part: str, key: Key) -> Records | None:
        """The file's records, or None when it is missing, foreign, for another key or
        format, or its meta is damaged."""
        path = folder / part
        if not path.is_file():
            return None
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                 check_same_thread=False)
        except sqlite3.Error:
            return None
        try:
            return cls._checked(db, _header(part, key))
        except (sqlite3.Error, DamagedRecord):
            db.close()
            return None

    @classmethod
    def of(cls, dfw: CompiledDfw, part: str, key: Key) -> Records:
        """The records of ``dfw`` in memory (when its file cannot be written)."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        header = _header(part, key)
        _fill(db, header, dfw)
        return cls._checked(db, header)

    @classmethod
    def _checked(cls, db: sqlite3.Connection, header: bytes) -> Records:
        rows = dict(db.execute("SELECT name, value FROM meta").fetchall())
        if rows.get("header") != header:
            raise DamagedRecord("another file")
        meta = _load(header, "meta", "body", rows.get("body"), rows.get("digest"))
        if not isinstance(meta, FirewallMeta):
            raise DamagedRecord("meta")
        return cls(db, header, meta)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def _rows(self, sql: str, keys: Sequence[Any]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        try:
            for start in range(0, len(keys), _BATCH):
                chunk = keys[start:start + _BATCH]
                marks = ",".join("?" * len(chunk))
                out += self._db.execute(sql.format(marks), chunk).fetchall()
        except sqlite3.Error as err:
            raise DamagedRecord(str(err)) from err
        return out

    def endpoints(self, indexes: Sequence[int]) -> dict[int, tuple[Endpoint, tuple[int, ...]]]:
        """Endpoints with their applied rule orders, by index (every one asked for)."""
        out: dict[int, tuple[Endpoint, tuple[int, ...]]] = {}
        for i, body, digest in self._rows(
                "SELECT idx, body, digest FROM endpoints WHERE idx IN ({})", indexes):
            found = _load(self._header, "endpoints", i, body, digest)
            if not (isinstance(found, tuple) and len(found) == 2
                    and isinstance(found[0], Endpoint) and found[0].index == i):
                raise DamagedRecord(f"endpoint {i}")
            out[i] = found
        if len(out) != len(set(indexes)):
            raise DamagedRecord("an endpoint is missing")
        return out

    def lookup(self, table: str, keys: Sequence[Any]) -> dict[Any, int]:
        """Endpoint indexes by address (``by_ip``) or by port path (``by_path``); keys
        without an endpoint are left out."""
        column = "ip" if table == "by_ip" else "path"
        out: dict[Any, int] = {}
        for k, i, digest in self._rows(
                f"SELECT {column}, idx, digest FROM {table} WHERE {column} IN ({{}})", keys):
            if digest != _digest(self._header, table, k, str(i).encode()) \
                    or not 0 <= i < self.meta.endpoint_count:
                raise DamagedRecord(f"{table} {k}")
            out[k] = i
        return out

    def rules(self, orders: Sequence[int]) -> dict[int, StoredRule]:
        """Rules by order (every one asked for)."""
        out: dict[int, StoredRule] = {}
        for o, body, digest in self._rows(
                "SELECT ord, body, digest FROM rules WHERE ord IN ({})", orders):
            found = _load(self._header, "rules", o, body, digest)
            if not isinstance(found, StoredRule) or found.order != o:
                raise DamagedRecord(f"rule {o}")
            out[o] = found
        if len(out) != len(set(orders)):
            raise DamagedRecord("a rule is missing")
        return out


def _load(header: bytes, table: str, key: object, body: object, digest: object) -> object:
    if not isinstance(body, bytes) or digest != _digest(header, table, key, body):
        raise DamagedRecord(f"{table} {key}")
    try:
        return sidecar.loads(body, ALLOWED)
    except Exception as err:  # whatever a damaged pickle raises
        raise DamagedRecord(f"{table} {key}") from err


def save(folder: Path, part: str, key: Key, dfw: CompiledDfw) -> bool:
    """Write ``dfw``'s records as the part's file (atomically: a reader opens the old
    file or the new one, whole); False, and nothing raised, when the folder cannot be
    written."""
    try:
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{part}.", suffix=".tmp")
        os.close(fd)
    except OSError:
        return False
    try:
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            _fill(db, _header(part, key), dfw)
        finally:
            db.close()
        os.replace(tmp, folder / part)
    except (OSError, sqlite3.Error):
        Path(tmp).unlink(missing_ok=True)
        return False
    return True


def current(folder: Path, part: str, key: Key) -> bool:
    """Whether the part's file has this format and key in its header (its records are
    not checked: enough to tell a writer that nothing needs rebuilding, never enough to
    trust it)."""
    path = folder / part
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'header'").fetchone()
    except sqlite3.Error:
        return False
    finally:
        db.close()
    return row is not None and row[0] == _header(part, key)


class StoredFirewall:
    """A :class:`~sdn.policy.firewall.Firewall` read record by record from the index.

    What it has read it keeps (endpoints, rules, candidates). A record that fails its
    check makes it ``rebuild`` the file (compile the firewall again, save it, or hold it
    in memory when the folder cannot be written) and read on from that: a rebuilt file of
    the same revision holds the same records, so what was read before stays right.
    """

    def __init__(self, records: Records, rebuild: Callable[[], Records]) -> None:
        self._records = records
        self._rebuild = rebuild
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
        try:
            return fetch(self._records)
        except DamagedRecord:
            self._records.close()
            self._records = self._rebuild()
            return fetch(self._records)

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
