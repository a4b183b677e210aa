"""SQLite persistence of the manager's state.

Why SQLite: it is transactional, embedded and readable with any SQL tool, and a
reader (``sdn show``) never blocks the writer in WAL mode. Every object is stored as its
canonical JSON (``model_dump_json``): the same object always gives the same text, so a
sync compares text to decide what changed and a no-op run writes nothing. How objects
become rows and text is :mod:`sdn.store.codec` (pure), what may be opened as a state
:mod:`sdn.store.opening`; this module moves the rows in and out of the database.

The tables are :mod:`sdn.store.schema`'s.

Every write goes through :meth:`Store.apply` in one ``BEGIN IMMEDIATE`` transaction: it
lands whole or not at all.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sdn.commandline import note_write
from sdn.errors import ConflictError, Interrupted, NotFoundError, Problem, StateError
from sdn.ipam import Hold
from sdn.model import Inventory, PolicyResource
from sdn.model.apishape import ObjectMeta
from sdn.store import history, stamps
from sdn.store.codec import (
    ALLOCATIONS_MARK,
    POOL_TYPE,
    ChangeSet,
    ClusterRecord,
    StoredObject,
    decode,
    invalid_objects_error,
    parse_stored,
    parsed_row,
    splice,
    stored_object_problems,
)
from sdn.store.opening import (
    Stamp,
    check_quiet,
    check_state_file,
    connect_readonly,
    foreign_database,
    open_error,
    quiet_stamp,
    wal_pending,
)
from sdn.store.schema import SCHEMA, SCHEMA_VERSION
from sdn.store.stamps import Run

__all__ = ["Store"]


#: The condition "the row's ``tags`` hold one with scope ? and value ?", as the model
#: reads tags (a missing scope or value is the empty string). Each tag is read by its
#: path in the body (``t.fullkey``), so a hand-made row whose tags are not objects is a
#: row without the tag, not an error of the whole query.
_HAS_TAG = ("EXISTS (SELECT 1 FROM json_each(body, '$.tags') AS t WHERE "
            "coalesce(json_extract(body, t.fullkey || '.scope'), '')=? AND "
            "coalesce(json_extract(body, t.fullkey || '.tag'), '')=?)")


def _plain(text: str) -> bool:
    """Whether ``text`` is written in JSON as itself: printable ASCII, no quote or
    backslash. The stored text is the model's canonical JSON, which escapes nothing
    else, so ``"text"`` is in the text of every row that holds the string ``text``."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


@contextmanager
def _sigint_held() -> Iterator[list[int]]:
    """Hold SIGINT (on the main thread): the yielded list gets an item per interrupt that
    arrived meanwhile, and the previous handler is back afterwards. Off the main thread
    (``ncp run``'s worker) signals never arrive, so nothing is held."""
    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous)


class Store:
    """An open state database. Use :meth:`open` (read-write) or :meth:`open_readonly`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._inventory: Inventory | None = None
        # This connection's own writes since the inventory was parsed, in order, and the
        # revision the last of them made (see :meth:`inventory`).
        self._pending: list[tuple[list[StoredObject], list[str], set[str]]] = []
        self._pending_revision: int | None = None
        self._quiet: Stamp | None = None  # opened as immutable: the file's stamp then

    # --- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, auto_checkpoint: bool = True) -> Store:
        """Open (creating if needed) a state for writing.

        ``auto_checkpoint=False``: commits never copy the write-ahead log back into the
        database (SQLite does that every ~1,000 pages, and the commit that does it takes
        several milliseconds longer); the owner calls :meth:`checkpoint` when it has time.
        ``ncp run`` does, so that a pod change is not the one that pays.

        Raises:
            StateError: the path is a folder, a file that is not a state, or not writable
                (each with its own code, see :func:`check_state_file`).
        """
        p = Path(path)
        check_state_file(p, must_exist=False)
        conn: sqlite3.Connection | None = None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(p, isolation_level=None, timeout=30)
            if foreign_database(conn):
                raise StateError(f"{p} is a SQLite database of something else (it has no "
                                 "state tables); pass the state's own path",
                                 code="STATE_NOT_A_STATE", obj=str(p))
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if not auto_checkpoint:
                conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.executescript(SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                         (SCHEMA_VERSION,))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('revision', '0')")
        except (OSError, sqlite3.Error, StateError) as err:
            if conn is not None:
                conn.close()
            if isinstance(err, StateError):
                raise
            raise open_error(p, err, writing=True) from err
        store = cls(conn, p, readonly=False)
        try:
            store._check_schema()
            store._stamp_unstamped()
        except BaseException:  # a refused schema, or Ctrl-C: leave no connection open
            store.close()
            raise
        return store

    def _stamp_unstamped(self) -> None:
        """Give every object of a state written before ``object_meta`` existed its rows
        (revision 0, stamped now), once: later writes then count from there; re-digest
        a state stamped under an older digest scheme."""
        if stamps.current(self._query):
            return
        stamp = stamps.redigest_all if stamps.done(self._query) else stamps.write_all
        with self._transaction(note=False) as db:
            stamp(db, list(self.rows()))

    @classmethod
    def open_readonly(cls, path: str | Path, *, untouched: bool = False) -> Store:
        """Open an existing state for reading only; it is never created or written.

        A state in a folder this process cannot write (a read-only mount, another user's
        folder) is still readable: SQLite's read-only mode wants to create the
        write-ahead log's index file beside the database, so when it cannot and no
        write-ahead log is pending (a writer closed cleanly, as every command does), the
        database is opened as immutable instead. ``untouched`` (dry runs): no file beside
        the state is created either (:func:`~sdn.store.opening.quiet_stamp`).
        """
        p = Path(path)
        check_state_file(p, must_exist=True)
        quiet = quiet_stamp(p) if untouched else None
        try:
            try:
                conn = connect_readonly(p, immutable=quiet is not None)
            except sqlite3.OperationalError:
                if not wal_pending(p) and not os.access(p.parent, os.W_OK):
                    conn = connect_readonly(p, immutable=True)
                else:
                    raise
        except sqlite3.Error as err:
            raise open_error(p, err, writing=False) from err
        store = cls(conn, p, readonly=True)
        store._quiet = quiet
        try:
            store._check_schema()
        except BaseException:  # a refused schema, or Ctrl-C: leave no connection open
            store.close()
            raise
        return store

    def _check_schema(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            raise StateError(f"state {self.path} has schema {row and row[0]}, "
                             f"this version reads {SCHEMA_VERSION}", obj=str(self.path))

    def _query(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run a read; a damaged or foreign database becomes a :class:`StateError`."""
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as err:
            raise StateError(f"cannot read state {self.path}: {err}", obj=str(self.path)) from err

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database now, without waiting for readers."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as err:
            raise StateError(f"cannot checkpoint state {self.path}: {err}",
                             obj=str(self.path)) from err

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close()
        if self._quiet is not None and exc_type is None:  # read as immutable: still so?
            check_quiet(self.path, self._quiet)

    # --- reading ---------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """Bumped by every write that changes anything."""
        row = self._query("SELECT value FROM meta WHERE key='revision'").fetchone()
        return int(row[0])

    @property
    def identity(self) -> str | None:
        """The state's random id, stored by its first write (None before: an empty new
        state, or one written before ids existed, until its next write). With
        :attr:`revision` it names one content of one state (caches key on both)."""
        row = self._query("SELECT value FROM meta WHERE key='state_id'").fetchone()
        return None if row is None else str(row[0])

    def pin(self) -> None:
        """Start a read transaction: every later read of this connection sees the state
        as it is now, whatever other processes commit meanwhile (SQLite's WAL snapshot),
        so a reader that reads in several steps reads one revision. Readers only."""
        if not self.readonly:
            raise StateError("pin() is for read-only stores", obj=str(self.path))
        if not self._conn.in_transaction:
            self._query("BEGIN")
        self._query("SELECT value FROM meta WHERE key='revision'").fetchone()

    def catalog(self) -> list[tuple[str, str]]:
        """``(path, resource_type)`` of every stored object, in path order (no bodies):
        what a reader that parses objects only when asked needs to know up front."""
        return [(p, t) for p, t in
                self._query("SELECT path, resource_type FROM objects ORDER BY path")]

    def rows(self, *, resource_type: str | None = None,
             paths: Iterable[str] | None = None) -> Iterator[StoredObject]:
        """Stored rows (split pools whole again), optionally of one type or of some
        paths only, in path order."""
        if paths is not None and not (paths := list(paths)):
            return
        where: list[str] = []
        args: list[object] = []
        if resource_type is not None:
            where, args = ["resource_type=?"], [resource_type]
        if paths is not None:
            wanted = sorted(set(paths))
            where.append(f"path IN ({','.join('?' * len(wanted))})")
            args += wanted
        yield from self._select(where, args)

    def rows_tagged(self, resource_type: str,
                    tags: Sequence[tuple[str, str]]) -> Iterator[StoredObject]:
        """The rows of one type that carry every ``(scope, tag)`` of ``tags``, in path
        order: what ``sdn show KIND --cluster/--namespace/--tag`` lists, selected by
        SQLite from the stored text, so that one namespace's row is found without
        parsing the ten thousand others.

        Rows whose text is not JSON are always returned: the caller parses them and
        names them as the invalid objects they are, as it would without the filter.
        """
        where, args = ["resource_type=?"], [resource_type]
        for scope, tag in tags:
            tagged = f"CASE WHEN json_valid(body) THEN {_HAS_TAG} ELSE 1 END"
            if _plain(tag):  # a cheap scan for the value's text before SQLite reads JSON
                where.append(f"CASE WHEN instr(body, ?) > 0 THEN {tagged} "
                             "ELSE NOT json_valid(body) END")
                args += [f'"{tag}"', scope, tag]
            else:
                where.append(tagged)
                args += [scope, tag]
        yield from self._select(where, args)

    def rows_referring(self, resource_type: str, field: str,
                       paths: Iterable[str]) -> Iterator[StoredObject]:
        """The rows of one type whose ``field`` (a path, such as a port's
        ``parent_path``) is one of ``paths``, in path order: the objects a table counts
        for the few rows it shows (rows whose text is not JSON included, as above)."""
        if not field.isidentifier():
            raise ValueError(field)
        wanted = sorted(set(paths))
        if not wanted:
            return
        yield from self._select(
            ["resource_type=?", f"CASE WHEN json_valid(body) THEN json_extract(body, "
                                f"'$.{field}') IN (SELECT value FROM json_each(?)) ELSE 1 END"],
            [resource_type, json.dumps(wanted)])

    def _select(self, where: Sequence[str], args: Sequence[object]) -> Iterator[StoredObject]:
        """The rows that meet every condition of ``where``, split pools whole again."""
        sql = "SELECT path, resource_type, cluster, body FROM objects"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._query(sql + " ORDER BY path", args).fetchall()
        split = [r[0] for r in rows if r[1] == POOL_TYPE and ALLOCATIONS_MARK in r[3]]
        texts: dict[str, list[str]] = {}
        # A state written before pools were split, opened read-only, has no allocations
        # table (its empty pools have the mark all the same).
        if split and self._query("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                 "name='allocations'").fetchone():
            many = len(split) > 500  # one scan beats a long IN list
            cur = self._query("SELECT pool, body FROM allocations ORDER BY pool, id") if many \
                else self._query("SELECT pool, body FROM allocations WHERE pool IN "
                                 f"({','.join('?' * len(split))}) ORDER BY pool, id", split)
            for pool, body in cur:
                texts.setdefault(pool, []).append(body)
        for path, rtype, cluster, body in rows:
            if path in texts or (rtype == POOL_TYPE and ALLOCATIONS_MARK in body):
                body = splice(body, texts.get(path, ()))
            yield StoredObject(path, rtype, cluster, body)

    def split_pools(self) -> set[str]:
        """Paths of the pools stored split (their allocations in ``allocations``)."""
        return {p for (p,) in self._query(
            "SELECT path FROM objects WHERE resource_type=? AND instr(body, ?) > 0",
            (POOL_TYPE, ALLOCATIONS_MARK))}

    def inventory(self) -> Inventory:
        """Every object, parsed and validated, as an :class:`Inventory`.

        Kept for as long as the revision does not move: a long-lived writer (``ncp run``)
        then parses the state once, and after its own writes only what it wrote (see
        :meth:`apply`); a write by anyone else moves the revision and forces a reload.
        """
        revision = self.revision
        if self._inventory is not None and self._inventory.revision == revision:
            return self._inventory
        if self._inventory is not None and self._pending \
                and self._pending_revision == revision:
            objs = dict(self._inventory.items())
            reread: set[str] = set()
            for upserts, deletes, pools in self._pending:
                for path in deletes:
                    objs.pop(path, None)
                    reread.discard(path)
                for row in upserts:
                    objs[row.path] = parse_stored(row)
                    reread.discard(row.path)
                reread |= pools
            for row in self.rows(paths=reread):
                objs[row.path] = parse_stored(row)
            self._inventory = Inventory(objs.values(), revision=revision)
        else:
            try:
                objs_list = [decode(r) for r in self.rows()]
            except ValidationError:
                # Only now look for every bad row: the valid case pays nothing for it.
                raise invalid_objects_error(
                    [r.path for r in self.rows() if stored_object_problems(r)]) from None
            self._inventory = Inventory(objs_list, revision=revision)
        self._pending, self._pending_revision = [], None
        return self._inventory

    def checked_inventory(self) -> tuple[Inventory, list[Problem]]:
        """The valid objects as an :class:`Inventory`, and every problem of the stored rows
        that do not parse (for ``sdn validate``, which reports them instead of failing)."""
        objs: list[PolicyResource] = []
        problems: list[Problem] = []
        for row in self.rows():
            obj, bad = parsed_row(row)
            if obj is not None:
                objs.append(obj)
            problems += bad
        return Inventory(objs, revision=self.revision), problems

    def object_meta(self, paths: Iterable[str]) -> dict[str, ObjectMeta]:
        """The stamps of these objects and children by path (paths without any are left
        out: a state not yet stamped, read-only, or a path that is no object)."""
        return stamps.read(self._query, paths)

    def history(self) -> Run:
        """A guarded read for :mod:`sdn.store.history`'s readers (the kept revisions)."""
        return self._query

    def revision_of(self, path: str) -> int | None:
        """The current ``_revision`` of an object or inline child (what a write's
        optimistic lock compares with): its stamped revision, 0 for an object of a state
        not yet stamped, None when nothing is at ``path``."""
        return stamps.revision_of(self._query, path)

    def holds(self) -> list[Hold]:
        """Every hold, active or not."""
        return [Hold(s, IPv4Network(c), u) for s, c, u in
                self._query("SELECT scope, cidr, until FROM holds ORDER BY scope, cidr")]

    def clusters(self) -> list[ClusterRecord]:
        """Every synced cluster."""
        return [ClusterRecord(n, p, json.loads(c), t, f, r, json.loads(m))
                for n, p, c, t, f, r, m in self._query(
                    "SELECT name, profile, config, synced_at, fingerprint, revision, summary "
                    "FROM clusters ORDER BY name")]

    def cluster(self, name: str) -> ClusterRecord | None:
        """One cluster, or None."""
        return next((c for c in self.clusters() if c.name == name), None)

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Every network profile, as its JSON document, by name."""
        return {n: json.loads(b) for n, b in
                self._query("SELECT name, body FROM profiles ORDER BY name")}

    def profile(self, name: str) -> dict[str, Any]:
        """One profile's JSON document."""
        row = self._query("SELECT body FROM profiles WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no network profile named {name!r}", code="PROFILE_NOT_FOUND",
                                obj=name)
        return dict(json.loads(row[0]))

    def status(self, cluster: str | None = None) -> list[tuple[str, str, str, str, dict[str, str]]]:
        """Annotations per object: (cluster, kind, namespace, name, annotations)."""
        sql = "SELECT cluster, kind, namespace, name, annotations FROM k8s_status"
        args: tuple[str, ...] = ()
        if cluster is not None:
            sql += " WHERE cluster=?"
            args = (cluster,)
        return [(c, k, ns, n, json.loads(a)) for c, k, ns, n, a in
                self._query(sql + " ORDER BY cluster, kind, namespace, name", args)]

    def namespaces(self) -> set[tuple[str, str]]:
        """``(cluster, namespace)`` of every namespace the clusters' syncs saw (each has
        its row of NCP annotations, realized or not)."""
        return {(c, n) for c, n in self._query(
            "SELECT cluster, name FROM k8s_status WHERE kind='Namespace'")}

    def problems(self, cluster: str | None = None, *,
                 table: str = "problems") -> list[tuple[str, Problem]]:
        """Problems (or, with ``table="findings"``, lint findings) of the last sync."""
        if table not in ("problems", "findings"):
            raise ValueError(table)
        sql = f"SELECT cluster, code, obj, message FROM {table}"
        args: tuple[str, ...] = ()
        if cluster is not None:
            sql += " WHERE cluster=?"
            args = (cluster,)
        return [(c, Problem(code, obj, msg)) for c, code, obj, msg in
                self._query(sql + " ORDER BY cluster, obj, code", args)]

    def k8s_objects(self, cluster: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Kubernetes objects kept from the cluster's last sync."""
        sql, args = "SELECT body FROM k8s_objects WHERE cluster=?", [cluster]
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        return [json.loads(b) for (b,) in
                self._query(sql + " ORDER BY kind, namespace, name", args)]

    def k8s_object_rows(self, cluster: str) -> list[tuple[str, str, str, str]]:
        """The kept objects as stored: (kind, namespace, name, body text), sorted."""
        return [tuple(r) for r in self._query(
            "SELECT kind, namespace, name, body FROM k8s_objects WHERE cluster=? "
            "ORDER BY kind, namespace, name", (cluster,))]

    # --- writing ---------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, note: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction that lands whole or not at all, Ctrl-C included.

        On the main thread SIGINT is held for the transaction's length: an interrupt that
        arrives before the commit rolls the transaction back; one that arrives during the
        commit lets it land. Either way :class:`~sdn.errors.Interrupted` says which.
        """
        if self.readonly:
            raise StateError("state opened read-only", obj=str(self.path))
        with _sigint_held() as pending:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                if pending:
                    raise Interrupted("the write was rolled back; the state is as before")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            if note:
                note_write(str(self.path))
        if pending:
            raise Interrupted("the write landed whole before the interrupt was taken")

    def apply(self, changes: ChangeSet, *, expect_revision: int | None = None) -> int:
        """Write ``changes`` in one transaction; returns the new revision.

        ``expect_revision``: write only if the state is still at that revision, checked
        inside the transaction (else :class:`~sdn.errors.ConflictError`
        ``STATE_CHANGED`` and nothing is written). A writer that planned on what it read
        (NSX Manager's API checks revisions and references) then never writes over
        another writer's change it did not see; it reads again and plans again.
        """
        with self._transaction() as db:
            before = int(db.execute("SELECT value FROM meta WHERE key='revision'")
                         .fetchone()[0])
            if expect_revision is not None and before != expect_revision:
                raise ConflictError(f"the state moved from revision {expect_revision} "
                                    f"to {before} meanwhile", code="STATE_CHANGED",
                                    obj=str(self.path))
            history.record(db, changes, before + 1)
            db.executemany(
                "INSERT INTO objects (path, resource_type, cluster, body) VALUES (?,?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET resource_type=excluded.resource_type, "
                "cluster=excluded.cluster, body=excluded.body",
                [(o.path, o.resource_type, o.cluster, o.parts.base if o.parts else o.body)
                 for o in changes.upserts])
            db.executemany("DELETE FROM objects WHERE path=?", [(p,) for p in changes.deletes])
            pools = [o for o in changes.upserts if o.resource_type == POOL_TYPE]
            db.executemany("DELETE FROM allocations WHERE pool=?",
                           [(p,) for p in [*(o.path for o in pools), *changes.deletes]])
            db.executemany("INSERT INTO allocations VALUES (?,?,?)",
                           [(o.path, i, t) for o in pools if o.parts
                            for i, t in o.parts.allocations])
            db.executemany("DELETE FROM allocations WHERE pool=? AND id=?",
                           [(p, i) for p, i, t in changes.allocation_updates if t is None])
            db.executemany("INSERT OR REPLACE INTO allocations VALUES (?,?,?)",
                           [(p, i, t) for p, i, t in changes.allocation_updates
                            if t is not None])
            stamps.write(db, changes)
            if changes.holds is not None:
                db.execute("DELETE FROM holds")
            db.executemany("INSERT OR REPLACE INTO holds VALUES (?,?,?)",
                           [(h.scope, str(h.cidr), h.until)
                            for h in [*(changes.holds or ()), *changes.new_holds]])
            db.executemany("INSERT INTO profiles VALUES (?,?,strftime('%s','now'))",
                           changes.profiles_added)
            db.executemany("DELETE FROM profiles WHERE name=?",
                           [(n,) for n in changes.profiles_deleted])
            db.execute("UPDATE meta SET value=CAST(value AS INTEGER)+1 WHERE key='revision'")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('state_id', ?)",
                       (secrets.token_hex(16),))
            rec = changes.cluster
            if rec is not None:
                revision = db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
                db.execute("INSERT OR REPLACE INTO clusters VALUES (?,?,?,?,?,?,?)",
                           (rec.name, rec.profile, json.dumps(rec.config, sort_keys=True),
                            rec.synced_at, rec.fingerprint, int(revision[0]),
                            json.dumps(rec.summary, sort_keys=True)))
                self._replace_cluster_rows(db, rec.name, changes)
        revision = before + 1
        known = self._pending_revision if self._pending else (
            self._inventory.revision if self._inventory is not None else None)
        if known == before:
            # Nobody else wrote since the inventory (and this connection's writes after
            # it): those plus this write are the state; only what they changed is parsed
            # when the inventory is next asked for.
            self._pending.append((list(changes.upserts), list(changes.deletes),
                                  {p for p, _i, _t in changes.allocation_updates}))
            self._pending_revision = revision
        else:
            self._inventory, self._pending, self._pending_revision = None, [], None
        return revision

    @staticmethod
    def _replace_cluster_rows(db: sqlite3.Connection, name: str, changes: ChangeSet) -> None:
        if changes.status is not None:
            db.execute("DELETE FROM k8s_status WHERE cluster=?", (name,))
            db.executemany("INSERT INTO k8s_status VALUES (?,?,?,?,?)", [
                (name, kind, ns, obj, json.dumps(ann, sort_keys=True))
                for (kind, ns, obj), ann in changes.status.items()])
        else:
            db.executemany(
                "DELETE FROM k8s_status WHERE cluster=? AND kind=? AND namespace=? AND name=?",
                [(name, *key) for key, ann in changes.status_updates.items() if ann is None])
            db.executemany("INSERT OR REPLACE INTO k8s_status VALUES (?,?,?,?,?)", [
                (name, *key, json.dumps(ann, sort_keys=True))
                for key, ann in changes.status_updates.items() if ann is not None])
        if changes.problems is None:
            db.executemany("DELETE FROM problems WHERE cluster=? AND obj=?",
                           [(name, obj) for obj in sorted(changes.problems_of)])
            db.executemany("INSERT INTO problems VALUES (?,?,?,?)",
                           [(name, p.code, p.obj, p.message) for p in changes.problem_updates])
        if changes.k8s_objects is not None:
            db.execute("DELETE FROM k8s_objects WHERE cluster=?", (name,))
            db.executemany("INSERT INTO k8s_objects VALUES (?,?,?,?,?)",
                           [(name, *row) for row in changes.k8s_objects])
        for table, rows in (("problems", changes.problems), ("findings", changes.findings)):
            if rows is not None:
                db.execute(f"DELETE FROM {table} WHERE cluster=?", (name,))
                db.executemany(f"INSERT INTO {table} VALUES (?,?,?,?)",
                               [(name, p.code, p.obj, p.message) for p in rows])

