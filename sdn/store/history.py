"""The state's history: per write, what it changed, so that any kept revision can be rebuilt.

Why only the texts *before* each write: the current state is always at hand, so walking
back from it and putting each write's "before" back rebuilds every kept revision; what a
write put (its "after") is the next write's "before", or the current text. A cold sync
of a large cluster, the biggest write there is, then records only the paths it created
(nothing existed before), one compressed list, not a second copy of every object.

One row per write (:meth:`sdn.store.Store.apply`), recorded inside its transaction: the
revision it made (what ``ncp sync -o json`` reports as ``revision``), when (UTC epoch
seconds), the command that made it, the kinds of object it touched (so that a reader can
skip the rows that cannot matter to it without opening them) and its changes, zlib-
compressed JSON ``{"created": [path...], "before": [[path, kind, cluster, text]...],
"alloc": [[pool, id, text|null]...]}``: the paths created, each changed or deleted
object's row as it was, and each changed allocation of a split pool as it was (null: it
did not exist).

Retention: the last :data:`DEFAULT_KEEP` revisions, or ``$SDN_HISTORY_KEEP`` (0 records
nothing). The oldest rows beyond it are deleted by the write that passes it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sdn.commandline import current_command
from sdn.store.codec import ALLOCATIONS_MARK, POOL_TYPE, ChangeSet, StoredObject, splice

#: Something that runs one SQL statement (the store's guarded read).
Run = Callable[[str, Sequence[object]], sqlite3.Cursor]

#: Revisions kept by default: enough for ``sdn blame`` to look back over a working day
#: of ``ncp run`` batches or a hundred syncs, while a write never carries more than a
#: hundred small rows (the cold sync's list of paths aside).
DEFAULT_KEEP = 100
#: The environment variable that sets how many revisions are kept.
KEEP_ENV = "SDN_HISTORY_KEEP"
#: The kind recorded for an allocation of a split pool (its own row in the state).
ALLOCATION_KIND = "IpAddressAllocation"


def keep() -> int:
    """How many revisions to keep (``$SDN_HISTORY_KEEP``, else :data:`DEFAULT_KEEP`)."""
    text = os.environ.get(KEEP_ENV, "").strip()
    return max(0, int(text)) if text.isdigit() else DEFAULT_KEEP


@dataclass(frozen=True)
class Revision:
    """One kept write: its revision, time (epoch seconds), command and kinds touched."""

    revision: int
    at: float
    command: str
    kinds: frozenset[str]


@dataclass
class Changes:
    """What one write changed (the module docstring's format)."""

    created: list[str] = field(default_factory=list)
    before: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    alloc: list[tuple[str, str, str | None]] = field(default_factory=list)

    def paths(self) -> set[str]:
        """Every object path the write touched (a pool for each of its allocations)."""
        return {*self.created, *(b[0] for b in self.before), *(a[0] for a in self.alloc)}


def record(db: sqlite3.Connection, changes: ChangeSet, revision: int) -> None:
    """Record the write ``changes`` that makes ``revision``, before it touches any row
    (inside its transaction), and forget the revisions beyond retention."""
    kept = keep()
    if kept == 0:
        return
    found = _changes(db, changes)
    kinds = {o.resource_type for o in changes.upserts} | {b[1] for b in found.before}
    if found.alloc:
        kinds.add(ALLOCATION_KIND)
    blob = zlib.compress(json.dumps(
        {"created": found.created, "before": found.before, "alloc": found.alloc},
        separators=(",", ":")).encode(), 1)
    at = changes.at if changes.at is not None else \
        changes.cluster.synced_at if changes.cluster is not None else time.time()
    db.execute("INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?)",
               (revision, at, changes.command or current_command(),
                ",".join(sorted(kinds)), blob))
    db.execute("DELETE FROM history WHERE revision<=?", (revision - kept,))


def _changes(db: sqlite3.Connection, changes: ChangeSet) -> Changes:
    """The rows ``changes`` is about to change, as they are (a cold write into an empty
    state reads nothing: everything it writes is created)."""
    out = Changes()
    wanted = [o.path for o in changes.upserts] + list(changes.deletes)
    empty = db.execute("SELECT 1 FROM objects LIMIT 1").fetchone() is None
    old: dict[str, tuple[str, str | None, str]] = {} if empty else {
        p: (t, c, b) for p, t, c, b in db.execute(
            "SELECT path, resource_type, cluster, body FROM objects WHERE path IN "
            "(SELECT value FROM json_each(?))", (json.dumps(wanted),))}
    for o in changes.upserts:
        was = old.get(o.path)
        text = o.parts.base if o.parts else o.body
        if was is None:
            out.created.append(o.path)
        elif was != (o.resource_type, o.cluster, text):
            out.before.append((o.path, *was))
    out.before += [(p, *old[p]) for p in changes.deletes if p in old]
    if not empty:
        _allocation_changes(db, changes, out)
    return out


def _allocation_changes(db: sqlite3.Connection, changes: ChangeSet, out: Changes) -> None:
    """The allocations of split pools this write changes, as they were."""
    rewritten = {o.path: dict(o.parts.allocations) if o.parts else {}
                 for o in changes.upserts if o.resource_type == POOL_TYPE}
    rewritten.update((p, {}) for p in changes.deletes)
    for pool, new in rewritten.items():
        was = dict(db.execute("SELECT id, body FROM allocations WHERE pool=?", (pool,)))
        out.alloc += [(pool, i, t) for i, t in was.items() if new.get(i) != t]
        out.alloc += [(pool, i, None) for i in new if i not in was]
    for pool, i, text in changes.allocation_updates:
        row = db.execute("SELECT body FROM allocations WHERE pool=? AND id=?",
                         (pool, i)).fetchone()
        if (None if row is None else row[0]) != text:
            out.alloc.append((pool, i, None if row is None else row[0]))


# --- reading -----------------------------------------------------------------------------

def has_table(run: Run) -> bool:
    """Whether the state has a history (one written before it existed, opened read-only,
    has none)."""
    return run("SELECT 1 FROM sqlite_master WHERE type='table' AND name='history'",
               ()).fetchone() is not None


def revisions(run: Run) -> list[Revision]:
    """Every kept revision, oldest first."""
    if not has_table(run):
        return []
    return [Revision(r, a, c, frozenset(k.split(",")) - {""}) for r, a, c, k in run(
        "SELECT revision, at, command, kinds FROM history ORDER BY revision", ())]


def changes_of(run: Run, revision: int) -> Changes:
    """What the write that made ``revision`` changed (empty when it is not kept)."""
    row = run("SELECT changes FROM history WHERE revision=?", (revision,)).fetchone()
    if row is None:
        return Changes()
    doc = json.loads(zlib.decompress(row[0]))
    return Changes(list(doc["created"]), [tuple(b) for b in doc["before"]],
                   [tuple(a) for a in doc["alloc"]])


@dataclass
class Overlay:
    """The rows some writes changed, as they were before the oldest of them: by path its
    ``(kind, cluster, text)`` or None (it did not exist), and by ``(pool, id)`` each
    allocation's text or None."""

    objects: dict[str, tuple[str, str | None, str] | None] = field(default_factory=dict)
    allocations: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def undo(self, changes: Changes) -> None:
        """Step back over one more (older) write."""
        self.objects.update((p, None) for p in changes.created)
        self.objects.update((p, (k, c, t)) for p, k, c, t in changes.before)
        self.allocations.update(((p, i), t) for p, i, t in changes.alloc)

    def paths(self) -> set[str]:
        """Every object whose text the overlay may change (pools of allocations too)."""
        return set(self.objects) | {p for p, _i in self.allocations}


def overlay_back_to(run: Run, revision: int, current: int) -> Overlay:
    """The rows the writes after ``revision`` (up to ``current``) changed, as they were at
    ``revision``."""
    out = Overlay()
    for rev in range(current, revision, -1):
        out.undo(changes_of(run, rev))
    return out


def rows_with(run: Run, overlay: Overlay, paths: Iterable[str]) -> dict[str, StoredObject | None]:
    """The rows at ``paths`` as the overlay says they were (else as they are now), pools
    whole (None: no object there)."""
    wanted = sorted(set(paths))
    now = {p: (t, c, b) for p, t, c, b in run(
        "SELECT path, resource_type, cluster, body FROM objects WHERE path IN "
        "(SELECT value FROM json_each(?))", (json.dumps(wanted),))}
    out: dict[str, StoredObject | None] = {}
    for path in wanted:
        row = overlay.objects[path] if path in overlay.objects else now.get(path)
        if row is None:
            out[path] = None
            continue
        kind, cluster, text = row
        if kind == POOL_TYPE and ALLOCATIONS_MARK in text:
            text = splice(text, _allocations(run, overlay, path))
        out[path] = StoredObject(path, kind, cluster, text)
    return out


def _allocations(run: Run, overlay: Overlay, pool: str) -> list[str]:
    """A split pool's allocation texts as the overlay says they were, in id order."""
    texts = dict(run("SELECT id, body FROM allocations WHERE pool=?", (pool,)))
    for (p, i), text in overlay.allocations.items():
        if p != pool:
            continue
        if text is None:
            texts.pop(i, None)
        else:
            texts[i] = text
    return [texts[i] for i in sorted(texts)]
