"""What "the state is unchanged" means in tests: every row of every table, read without
writing (a state on a read-only mount included)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

SQLITE_HEADER = b"SQLite format 3\x00"


def _connect(path: Path, flag: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flag}", uri=True)
    try:
        conn.execute("SELECT 1 FROM sqlite_master").fetchall()  # fails here, not later
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def every_table(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the state, each table's rows sorted."""
    try:
        conn = _connect(state, "mode=ro")
    except sqlite3.OperationalError:  # a read-only folder: nothing can be writing it
        conn = _connect(state, "immutable=1")
    with closing(conn) as db:
        tables = [n for (n,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(db.execute(f"SELECT {_columns(t)} FROM {t}").fetchall(), key=repr)
                for t in tables}


def _columns(table: str) -> str:
    """The columns compared: all, but for the history's record of the command line
    (two states written alike by commands naming different ``--state`` paths are equal;
    a write never changes the command alone)."""
    return "revision, at, kinds, changes" if table == "history" else "*"


def snapshot(path: Path) -> Any:
    """What "unchanged" means for any ``--state`` a test passes: every table of a state,
    the bytes of any other file, the listing of a folder, or None when nothing is there."""
    if path.is_dir():
        return sorted(p.name for p in path.iterdir())
    if not path.exists():
        return None
    data = path.read_bytes()
    return every_table(path) if data.startswith(SQLITE_HEADER) else data


#: The database file and the journal files SQLite may keep beside it.
STATE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def state_files(state: Path) -> dict[str, bytes | None]:
    """The state's database and journal files, byte for byte (None: absent): what a
    read that promises to leave the state "byte-identical" must leave as it found."""
    return {suffix: (p.read_bytes() if (p := Path(f"{state}{suffix}")).exists() else None)
            for suffix in STATE_SUFFIXES}
