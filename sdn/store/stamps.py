"""The ``object_meta`` table: per object and per inline child (a policy's rules, a pool's
subnets and allocations) the revision and create/modify stamps NSX shows (``_revision``,
``_create_time``, ``_create_user``, ...), with a digest of its own fields
(:class:`~sdn.store.codec.MetaEntry`).

Why apart from :mod:`sdn.store.sqlite`: it is one decision (when an object's revision
moves) with its own SQL, and the store only calls it inside its transactions. A write
that leaves an entry's digest as it was moves nothing, so a no-op sync changes no
object's revision; deleting an object forgets its entries and its children's. States
written before the table existed get their entries at their first writable open
(:func:`write_all`, stamped then); read-only, such a state's objects read as revision 0.
A state stamped under an older digest scheme is re-digested at its first writable open
(:func:`redigest_all`), moving nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence

from sdn.model.apishape import ADMIN_USER, ObjectMeta, ncp_principal
from sdn.store.codec import (
    CHILD_COLLECTIONS,
    DIGEST_SCHEME,
    ChangeSet,
    MetaEntry,
    StoredObject,
    allocation_entry,
    meta_entries,
)

#: Something that runs one SQL statement (a connection's ``execute``, or the store's
#: guarded read).
Run = Callable[[str, Sequence[object]], sqlite3.Cursor]

#: Stamp an entry: a new path starts at revision 0; a known one moves (revision + 1, new
#: modify stamp) only when its digest changed.
_STAMP = ("INSERT INTO object_meta VALUES (?,?,0,?,?,?,?) ON CONFLICT(path) DO UPDATE SET "
          "digest=excluded.digest, revision=object_meta.revision+1, "
          "modified=excluded.modified, modified_by=excluded.modified_by "
          "WHERE object_meta.digest<>excluded.digest")
#: The ``meta`` key marking a state whose every object has its ``object_meta`` rows; its
#: value is the digest scheme they were made with (:data:`~sdn.store.codec.DIGEST_SCHEME`;
#: ``1``: digests of re-serialised JSON, before the scheme had a number).
_DONE = "object_meta"


def done(run: Run) -> bool:
    """Whether every object of the state has its entries (:func:`write_all` ran)."""
    return run("SELECT 1 FROM meta WHERE key=?", (_DONE,)).fetchone() is not None


def current(run: Run) -> bool:
    """Whether every object has its entries, digested under the current scheme."""
    row = run("SELECT value FROM meta WHERE key=?", (_DONE,)).fetchone()
    return row is not None and row[0] == DIGEST_SCHEME


def write_all(db: sqlite3.Connection, rows: Sequence[StoredObject]) -> None:
    """Stamp every object of a state written before the table existed, once, now."""
    _write(db, [e for r in rows for e in meta_entries(r)], int(time.time() * 1000), None)
    _mark_current(db)


def redigest_all(db: sqlite3.Connection, rows: Sequence[StoredObject]) -> None:
    """Re-digest the entries of a state stamped under an older digest scheme, in place:
    no revision or stamp moves (the objects did not change, only how they are hashed)."""
    db.executemany("UPDATE object_meta SET digest=? WHERE path=?",
                   [(e.digest, e.path) for r in rows for e in meta_entries(r)])
    _mark_current(db)


def _mark_current(db: sqlite3.Connection) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_DONE, DIGEST_SCHEME))


def write(db: sqlite3.Connection, changes: ChangeSet) -> None:
    """Keep the entries in step with the objects ``changes`` writes (module docs)."""
    at = changes.at if changes.at is not None else \
        changes.cluster.synced_at if changes.cluster is not None else time.time()
    gone = [*changes.deletes,
            *(f"{p}/ip-allocations/{i}" for p, i, t in changes.allocation_updates
              if t is None)]
    db.executemany("DELETE FROM object_meta WHERE path=?", [(p,) for p in gone])
    db.executemany("DELETE FROM object_meta WHERE path>=? AND path<?",
                   [(f"{p}/{c}/", f"{p}/{c}0") for p in changes.deletes
                    for c in ("rules", "ip-subnets", "ip-allocations")])
    entries: list[MetaEntry] = []
    for row in changes.upserts:
        mine = meta_entries(row)
        entries += mine
        _prune_children(db, row, {e.path for e in mine})
    owners = {o.path: o.cluster for o in changes.upserts}
    entries += [allocation_entry(p, t, owners.get(p, _owner_of_row(db, p)), i)
                for p, i, t in changes.allocation_updates if t is not None]
    _write(db, entries, int(at * 1000), changes.user)


def read(run: Run, paths: Iterable[str]) -> dict[str, ObjectMeta]:
    """The stamps of these objects and children by path (paths without any are left
    out: a state not yet stamped, read-only, or a path that is no object)."""
    wanted = sorted(set(paths))
    if not wanted or not _has_table(run):
        return {}
    return {p: ObjectMeta(r, c, cb, m, mb) for p, r, c, cb, m, mb in run(
        "SELECT path, revision, created, created_by, modified, modified_by FROM "
        "object_meta WHERE path IN (SELECT value FROM json_each(?))",
        (json.dumps(wanted),))}


def revision_of(run: Run, path: str) -> int | None:
    """The current ``_revision`` of an object or inline child: its stamped revision, 0
    for an object of a state not yet stamped, None when nothing is at ``path``."""
    if _has_table(run):
        row = run("SELECT revision FROM object_meta WHERE path=?", (path,)).fetchone()
        if row is not None:
            return int(row[0])
    found = run("SELECT 1 FROM objects WHERE path=?", (path,)).fetchone()
    return 0 if found is not None else None


def _has_table(run: Run) -> bool:
    """Whether the state has the table (a state written before it existed, opened
    read-only, has not)."""
    return run("SELECT 1 FROM sqlite_master WHERE type='table' AND name='object_meta'",
               ()).fetchone() is not None


def _write(db: sqlite3.Connection, entries: Sequence[MetaEntry], at_ms: int,
           user: str | None) -> None:
    """Stamp ``entries`` written at ``at_ms`` by ``user`` (None: each by its owner)."""
    def who(owner: str | None) -> str:
        return user if user is not None else ncp_principal(owner) if owner else ADMIN_USER

    db.executemany(_STAMP, [(e.path, e.digest, at_ms, who(e.owner), at_ms, who(e.owner))
                            for e in entries])


def _prune_children(db: sqlite3.Connection, row: StoredObject, kept: set[str]) -> None:
    """Forget the stamps of the children a rewritten object no longer holds."""
    for collection in CHILD_COLLECTIONS.get(row.resource_type, ()):
        low = f"{row.path}/{collection}/"
        stale = [p for (p,) in db.execute(
            "SELECT path FROM object_meta WHERE path>=? AND path<?",
            (low, low[:-1] + "0")) if p not in kept]
        db.executemany("DELETE FROM object_meta WHERE path=?", [(p,) for p in stale])


def _owner_of_row(db: sqlite3.Connection, path: str) -> str | None:
    found = db.execute("SELECT cluster FROM objects WHERE path=?", (path,)).fetchone()
    return None if found is None else found[0]
