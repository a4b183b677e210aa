"""Record files (:mod:`sdn.store.records`): written whole, read record by record, each
record checked against its file's header, table and key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdn.store.records import DamagedRecord, RecordFile, header_of, write

TABLES = {"numbers": (int, [(1, b"one"), (2, b"two")]),
          "names": (str, [("a", b"alpha"), ("b", b"beta")])}


def _written(tmp_path: Path) -> Path:
    path = tmp_path / "f"
    assert write(path, b"head-1", TABLES)
    return path


def test_records_read_back_by_key(tmp_path: Path) -> None:
    path = _written(tmp_path)
    assert header_of(path) == b"head-1"
    file = RecordFile.open(path, b"head-1")
    assert file is not None
    assert file.get("numbers", [2, 3]) == {2: b"two"}
    assert file.get("names", ["a", "b"]) == {"a": b"alpha", "b": b"beta"}
    memory = RecordFile.in_memory(b"head-1", TABLES)
    assert memory.get("numbers", [1]) == {1: b"one"}


def test_another_header_is_another_file(tmp_path: Path) -> None:
    assert RecordFile.open(_written(tmp_path), b"head-2") is None
    (tmp_path / "g").write_bytes(b"not a database")
    assert RecordFile.open(tmp_path / "g", b"head-1") is None
    assert header_of(tmp_path / "g") is None
    assert RecordFile.open(tmp_path / "missing", b"head-1") is None


@pytest.mark.parametrize("statement", [
    "UPDATE numbers SET body = CAST('ONE' AS BLOB) WHERE key = 1",
    "UPDATE numbers SET key = 3 WHERE key = 2",  # a record moved to another key
    "UPDATE names SET digest = (SELECT digest FROM numbers WHERE key = 1)",
], ids=["payload", "key", "digest"])
def test_a_damaged_record_fails_its_check(tmp_path: Path, statement: str) -> None:
    path = _written(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute(statement)
    db.close()
    file = RecordFile.open(path, b"head-1")
    assert file is not None
    with pytest.raises(DamagedRecord):
        file.get("numbers", [1, 2, 3])
        file.get("names", ["a"])


def test_an_unwritable_location_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the folder would go")
    assert not write(tmp_path / "blocker" / "f", b"h", TABLES)
