"""A file of keyed records that a reader fetches one by one, each checked when read.

Why here: only :mod:`sdn.store` touches SQLite. The query index (:mod:`sdn.query`) keeps
what is too large to load whole (the compiled firewall at 100,000 pods) as records of
such a file, beside the state; this module knows nothing of what the records mean.

A file has named tables, each mapping a key (an integer or a text) to a payload (bytes),
plus its ``header`` (bytes: what the file is and which content it belongs to, chosen by
the caller). Every record carries a digest of the header, its table, its key and its
payload: a record damaged, or copied from another file, fails its check when read
(:class:`DamagedRecord`), and so does the whole file when its header is not the one the
reader expects (:meth:`RecordFile.open` gives None). The file is written whole and then
moved in place (:func:`write`), so a reader sees the old file or the new one.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

#: A record's key: an endpoint index, a rule order, an address as a number, a path.
RecordKey = int | str
#: Keys per ``IN (...)`` query (well under SQLite's limit on parameters).
_BATCH = 500


class DamagedRecord(Exception):
    """A record failed its check: the file is not to be trusted any further."""


def _digest(header: bytes, table: str, key: RecordKey, body: bytes) -> bytes:
    """Binds a record to its file's header, its table and its key."""
    return hashlib.sha256(b"\0".join((header, table.encode(), str(key).encode(), body))
                          ).digest()[:16]


def _fill(db: sqlite3.Connection, header: bytes,
          tables: Mapping[str, tuple[type, Iterable[tuple[RecordKey, bytes]]]]) -> None:
    db.execute("CREATE TABLE file_header (value BLOB NOT NULL)")
    for table, (key_type, rows) in tables.items():
        if not table.isidentifier():
            raise ValueError(f"table name {table!r}")
        column = "INTEGER PRIMARY KEY" if key_type is int else "TEXT PRIMARY KEY"
        rowid = "" if key_type is int else " WITHOUT ROWID"
        db.execute(f"CREATE TABLE {table} (key {column}, body BLOB NOT NULL, "
                   f"digest BLOB NOT NULL){rowid}")
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)",
                       ((k, body, _digest(header, table, k, body)) for k, body in rows))
    db.execute("INSERT INTO file_header VALUES (?)", (header,))
    db.commit()


def write(path: Path, header: bytes,
          tables: Mapping[str, tuple[type, Iterable[tuple[RecordKey, bytes]]]]) -> bool:
    """Write a record file: ``tables`` maps each table's name to its key type (``int``
    or ``str``) and its ``(key, payload)`` rows. Atomic (a reader opens the old file or
    the new one, whole); False, and nothing raised, when it cannot be written."""
    try:
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError:
        return False
    try:
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            _fill(db, header, tables)
        finally:
            db.close()
        os.replace(tmp, path)
    except (OSError, sqlite3.Error):
        Path(tmp).unlink(missing_ok=True)
        return False
    return True


def _connect_readonly(path: Path) -> sqlite3.Connection | None:
    if not path.is_file():
        return None
    try:
        # immutable: the file is never changed in place, only replaced whole.
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                               check_same_thread=False)
    except sqlite3.Error:
        return None


def _header_in(db: sqlite3.Connection) -> bytes | None:
    try:
        rows = db.execute("SELECT value FROM file_header").fetchall()
    except sqlite3.Error:
        return None
    return rows[0][0] if len(rows) == 1 and isinstance(rows[0][0], bytes) else None


def header_of(path: Path) -> bytes | None:
    """The header a record file says it has (nothing checked beyond that), or None."""
    db = _connect_readonly(path)
    if db is None:
        return None
    try:
        return _header_in(db)
    finally:
        db.close()


class RecordFile:
    """An open record file whose header is the one expected; every record read is
    checked (see the module's doc)."""

    def __init__(self, db: sqlite3.Connection, header: bytes) -> None:
        self._db = db
        self._header = header

    @classmethod
    def open(cls, path: Path, header: bytes) -> RecordFile | None:
        """The file at ``path``, or None when it is missing, not a record file, or has
        another header."""
        db = _connect_readonly(path)
        if db is None:
            return None
        if _header_in(db) != header:
            db.close()
            return None
        return cls(db, header)

    @classmethod
    def in_memory(cls, header: bytes,
                  tables: Mapping[str, tuple[type, Iterable[tuple[RecordKey, bytes]]]]
                  ) -> RecordFile:
        """The same records held in memory (when the file cannot be written)."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        _fill(db, header, tables)
        return cls(db, header)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def get(self, table: str, keys: Sequence[RecordKey]) -> dict[RecordKey, bytes]:
        """The payloads of the records of ``table`` with these keys (keys without a
        record are left out), each checked."""
        out: dict[RecordKey, bytes] = {}
        try:
            for start in range(0, len(keys), _BATCH):
                chunk = keys[start:start + _BATCH]
                marks = ",".join("?" * len(chunk))
                out.update(self._checked(table, k, body, digest) for k, body, digest in
                           self._db.execute(f"SELECT key, body, digest FROM {table} "
                                            f"WHERE key IN ({marks})", chunk))
        except sqlite3.Error as err:
            raise DamagedRecord(f"{table}: {err}") from err
        return out

    def between(self, table: str, low: str, high: str) -> dict[RecordKey, bytes]:
        """The payloads of the records of ``table`` (text keys) with ``low <= key <
        high``, each checked: every record under one prefix of its keys."""
        try:
            return dict(self._checked(table, k, body, digest) for k, body, digest in
                        self._db.execute(f"SELECT key, body, digest FROM {table} "
                                         "WHERE key >= ? AND key < ?", (low, high)))
        except sqlite3.Error as err:
            raise DamagedRecord(f"{table}: {err}") from err

    def _checked(self, table: str, key: RecordKey, body: object,
                 digest: object) -> tuple[RecordKey, bytes]:
        if not isinstance(body, bytes) or digest != _digest(self._header, table, key, body):
            raise DamagedRecord(f"{table} {key}")
        return key, body
