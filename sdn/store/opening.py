"""Opening a state: what may be opened as one, and the coded error when it cannot.

Why apart from :mod:`sdn.store.sqlite`: a ``--state`` that is a folder, a text file,
another program's database or a read-only file must each get its own code and never be
overwritten (the bad-input table of the README); deciding that is one job, reading and
writing the state's tables another.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sdn.errors import StateError

#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


def check_state_file(path: Path, *, must_exist: bool) -> None:
    """Refuse, with a code of its own, a ``--state`` that cannot be a state: a folder
    (``STATE_IS_DIRECTORY``), a missing file where one must exist (``STATE_NOT_FOUND``),
    an empty file where one must exist (``STATE_EMPTY``: a writer takes an empty file
    as a new state, as SQLite does), or a file that is not a SQLite database
    (``STATE_NOT_A_DATABASE``: it is never overwritten).
    """
    if path.is_dir():
        raise StateError(f"{path} is a folder; --state takes the state file's path "
                         f"(e.g. {path / 'state.db'})", code="STATE_IS_DIRECTORY", obj=str(path))
    if not path.exists():
        if must_exist:
            raise StateError(f"no state at {path}: run `ncp sync` first, or pass --state",
                             code="STATE_NOT_FOUND", obj=str(path))
        return
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_HEADER))
    except OSError as err:
        raise StateError(f"cannot read state {path}: {err.strerror}",
                         code="STATE_UNREADABLE", obj=str(path)) from err
    if not head:
        if must_exist:
            raise StateError(f"{path} is an empty file, not a state yet: run `ncp sync` "
                             "first", code="STATE_EMPTY", obj=str(path))
        return
    if head != _SQLITE_HEADER:
        raise StateError(f"{path} is not a state (not a SQLite database); it is left as "
                         "it is", code="STATE_NOT_A_DATABASE", obj=str(path))


def connect_readonly(path: Path, *, immutable: bool) -> sqlite3.Connection:
    flag = "immutable=1" if immutable else "mode=ro"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flag}", uri=True,
                           isolation_level=None, timeout=30)
    try:
        if foreign_database(conn):
            raise StateError(f"{path} is a SQLite database of something else (it has no "
                             "state tables)", code="STATE_NOT_A_STATE", obj=str(path))
    except BaseException:
        conn.close()
        raise
    return conn


def foreign_database(conn: sqlite3.Connection) -> bool:
    """Whether the database has tables but no ``meta`` table (not a state, not empty)."""
    names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return bool(names) and "meta" not in names


def wal_pending(path: Path) -> bool:
    """Whether a write-ahead log with content lies beside the database."""
    wal = Path(str(path) + "-wal")
    return wal.exists() and wal.stat().st_size > 0


def open_error(path: Path, err: BaseException, *, writing: bool) -> StateError:
    """The coded error for a state SQLite (or the OS) would not open."""
    text = str(err)
    folder = path.parent if path.parent.exists() else Path(".")
    read_only = not os.access(folder, os.W_OK) or (path.exists()
                                                    and not os.access(path, os.W_OK))
    if writing and read_only:
        return StateError(f"cannot write state {path}: it or its folder is read-only "
                          "(commands that only read still work)",
                          code="STATE_READ_ONLY", obj=str(path))
    if "locked" in text or "busy" in text:
        return StateError(f"state {path} is locked by another writer: {text}",
                          code="STATE_LOCKED", obj=str(path))
    if "not a database" in text or "malformed" in text:
        return StateError(f"{path} is damaged or not a state: {text}",
                          code="STATE_CORRUPT", obj=str(path))
    verb = "open" if writing else "read"
    return StateError(f"cannot {verb} state {path}: {text}", code="STATE_UNREADABLE",
                      obj=str(path))


#: The files SQLite keeps beside a database while it is open or after a crash.
JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")

#: How a database file is recognised as unchanged: its size and modification time.
Stamp = tuple[int, int]


def quiet_stamp(path: Path) -> Stamp | None:
    """The database's stamp when no journal lies beside it (every writer closed cleanly
    and none has it open: a writer in WAL mode keeps ``-wal`` and ``-shm`` while open),
    else None.

    Why: SQLite's read-only mode creates ``-wal`` and ``-shm`` beside a database in WAL
    mode that has none, so a dry run, which promises to leave the state and its journal
    byte-identical, opens a quiet state as immutable instead (no file is created or
    locked) and checks the stamp again when done (:func:`check_quiet`)."""
    if any(Path(f"{path}{suffix}").exists() for suffix in JOURNAL_SUFFIXES):
        return None
    st = path.stat()
    return (st.st_size, st.st_mtime_ns)


def check_quiet(path: Path, stamp: Stamp) -> None:
    """Refuse what was read from a state opened as immutable when a writer came while it
    was read (``STATE_CHANGED_DURING_READ``: the answer may mix two revisions)."""
    if quiet_stamp(path) != stamp:
        raise StateError(f"another writer changed {path} while it was read; run the "
                         "command again", code="STATE_CHANGED_DURING_READ", obj=str(path))
