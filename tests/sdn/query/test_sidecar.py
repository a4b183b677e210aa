"""The query index's files are never trusted: every way a file can be wrong (missing,
empty, cut short, altered, another program's, another state's or revision's, another
format version, a payload building anything but the part's own classes) reads as "no
index" (None), so the caller rebuilds; an unwritable folder only means nothing is saved."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from sdn.query import sidecar
from sdn.query.sidecar import FileStamp, Key

KEY = Key("a" * 32, 7, FileStamp(1000, 5), FileStamp(0, 0))
ALLOWED = sidecar.allowed_names(FileStamp)
VALUE = {"answer": [1, 2, {3}], "stamp": FileStamp(1, 2)}


def _rewrite_header(path: Path, **changes: object) -> None:
    data = path.read_bytes()
    end = data.index(b"\n")
    head = json.loads(data[:end])
    head.update(changes)
    path.write_bytes(json.dumps(head, sort_keys=True).encode() + data[end:])


def _forge(path: Path, payload: bytes) -> None:
    """A file with a perfectly valid header for ``payload`` (checksum included)."""
    head = {"magic": sidecar.MAGIC, "version": sidecar.VERSION,
            "shape": sidecar._shape(ALLOWED), "part": "p",
            "key": KEY.as_json(), "length": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest()}
    path.write_bytes(json.dumps(head, sort_keys=True).encode() + b"\n" + payload)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned > /dev/null",))


#: Each case damages a freshly written part file ``p`` in one way.
CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "missing": lambda p: p.unlink(),
    "empty": lambda p: p.write_bytes(b""),
    "truncated-payload": lambda p: p.write_bytes(p.read_bytes()[:-5]),
    "truncated-header": lambda p: p.write_bytes(p.read_bytes()[:20]),
    "payload-byte-flipped": lambda p: p.write_bytes(
        p.read_bytes()[:-3] + bytes([p.read_bytes()[-3] ^ 0xFF]) + p.read_bytes()[-2:]),
    "extra-bytes": lambda p: p.write_bytes(p.read_bytes() + b"x"),
    "foreign-text": lambda p: p.write_text("hello, I am a README\n"),
    "foreign-binary": lambda p: p.write_bytes(os.urandom(512)),
    "foreign-pickle-no-header": lambda p: p.write_bytes(pickle.dumps(VALUE)),
    "no-newline-in-header": lambda p: p.write_bytes(b"{" * 5000),
    "other-magic": lambda p: _rewrite_header(p, magic="something-else"),
    "other-version": lambda p: _rewrite_header(p, version=sidecar.VERSION + 1),
    "other-class-shape": lambda p: _rewrite_header(p, shape="0" * 16),
    "other-part": lambda p: _rewrite_header(p, part="dfw-DROP"),
    "other-state": lambda p: _rewrite_header(p, key={**KEY.as_json(), "state_id": "b" * 32}),
    "older-revision": lambda p: _rewrite_header(p, key={**KEY.as_json(), "revision": 6}),
    "state-without-id": lambda p: _rewrite_header(p, key={**KEY.as_json(), "state_id": None}),
    "database-stamp-moved": lambda p: _rewrite_header(
        p, key={**KEY.as_json(), "database": {"size": 1000, "mtime_ns": 6}}),
    "wal-stamp-moved": lambda p: _rewrite_header(
        p, key={**KEY.as_json(), "wal": {"size": 32, "mtime_ns": 9}}),
    "length-lies": lambda p: _rewrite_header(p, length=3),
    "checksum-lies": lambda p: _rewrite_header(p, sha256="0" * 64),
    "valid-header-forbidden-global": lambda p: _forge(p, pickle.dumps(_Evil())),
    "valid-header-function": lambda p: _forge(p, pickle.dumps(len)),
    "valid-header-other-class": lambda p: _forge(p, pickle.dumps(Path("/etc"))),
    "valid-header-garbage-payload": lambda p: _forge(p, b"\x80\x05not a pickle"),
}


def test_a_written_part_reads_back(tmp_path: Path) -> None:
    assert sidecar.write(tmp_path, "p", KEY, VALUE, ALLOWED)
    assert sidecar.read(tmp_path, "p", KEY, ALLOWED) == VALUE


@pytest.mark.parametrize("damage", [pytest.param(f, id=name)
                                    for name, f in CORRUPTIONS.items()])
def test_a_damaged_or_foreign_part_is_never_trusted(tmp_path: Path,
                                                    damage: Callable[[Path], None]) -> None:
    assert sidecar.write(tmp_path, "p", KEY, VALUE, ALLOWED)
    damage(tmp_path / "p")
    assert sidecar.read(tmp_path, "p", KEY, ALLOWED) is None
    # ... and the caller's rebuild replaces it.
    assert sidecar.write(tmp_path, "p", KEY, VALUE, ALLOWED)
    assert sidecar.read(tmp_path, "p", KEY, ALLOWED) == VALUE


def test_a_class_the_part_does_not_declare_is_refused(tmp_path: Path) -> None:
    assert sidecar.write(tmp_path, "p", KEY, VALUE, frozenset())
    assert sidecar.read(tmp_path, "p", KEY, frozenset()) is None


def test_networks_read_back_equal(tmp_path: Path) -> None:
    """Networks are stored as numbers, not text (:func:`sidecar._network`); every prefix
    length comes back equal, hashing equal, with the same hosts."""
    nets = [IPv4Network("0.0.0.0/0"), IPv4Network("10.0.0.0/8"), IPv4Network("10.1.2.0/24"),
            IPv4Network("10.1.2.4/30"), IPv4Network("1.2.3.4/31"), IPv4Network("1.2.3.4/32")]
    allowed = sidecar.allowed_names(IPv4Network, IPv4Address)
    assert sidecar.write(tmp_path, "p", KEY, nets, allowed)
    back = sidecar.read(tmp_path, "p", KEY, allowed)
    assert back == nets and [hash(n) for n in back] == [hash(n) for n in nets]
    assert [str(n) for n in back] == [str(n) for n in nets]
    assert [list(n.hosts()) for n in back[3:]] == [list(n.hosts()) for n in nets[3:]]
    assert IPv4Address("10.1.2.9") in back[2] and back[2].broadcast_address == \
        IPv4Address("10.1.2.255")


@dataclass(frozen=True, slots=True)
class _Slotted:
    a: int
    b: str = "x"
    c: tuple[int, ...] = field(default=(), compare=True)


def test_slotted_dataclasses_read_back_equal_and_only_when_declared(tmp_path: Path) -> None:
    """A frozen slotted dataclass (a route) is stored as a call of its class with its
    fields (:class:`sidecar._Pickler`): it reads back equal, and is refused like any
    class the part does not declare."""
    value = [_Slotted(1), _Slotted(2, "y", (3, 4)), FileStamp(5, 6)]
    allowed = sidecar.allowed_names(_Slotted, FileStamp)
    assert sidecar.write(tmp_path, "p", KEY, value, allowed)
    assert sidecar.read(tmp_path, "p", KEY, allowed) == value
    assert sidecar.write(tmp_path, "q", KEY, value, ALLOWED)
    assert sidecar.read(tmp_path, "q", KEY, ALLOWED) is None


def test_an_unwritable_location_saves_nothing_and_raises_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "state.db.idx"
    blocker.write_text("a file where the index folder would be")
    assert sidecar.write(blocker, "p", KEY, VALUE, ALLOWED) is False
    assert sidecar.read(blocker, "p", KEY, ALLOWED) is None


def test_a_part_is_replaced_whole(tmp_path: Path) -> None:
    """No temporary files are left, and a second write replaces the first."""
    other = Key(KEY.state_id, 8, KEY.database, KEY.wal)
    sidecar.write(tmp_path, "p", KEY, VALUE, ALLOWED)
    sidecar.write(tmp_path, "p", other, [1], ALLOWED)
    assert sorted(os.listdir(tmp_path)) == ["p"]
    assert sidecar.read(tmp_path, "p", KEY, ALLOWED) is None
    assert sidecar.read(tmp_path, "p", other, ALLOWED) == [1]


def test_the_index_lives_beside_the_state() -> None:
    assert sidecar.folder_of(Path(".sdn/state.db")) == Path(".sdn/state.db.idx")


def test_an_empty_write_ahead_log_is_stamped_as_a_missing_one(tmp_path: Path) -> None:
    """The writer's last close deletes the log and the first reader creates it empty:
    both see the same content, so both must key it the same way."""
    state = tmp_path / "state.db"
    state.write_bytes(b"db")
    missing = sidecar.stamps(state)
    Path(str(state) + "-wal").write_bytes(b"")
    assert sidecar.stamps(state) == missing
    Path(str(state) + "-wal").write_bytes(b"frames")
    assert sidecar.stamps(state)[1] != missing[1]


def test_current_reads_the_header_only(tmp_path: Path) -> None:
    key = sidecar.Key("id", 3, sidecar.FileStamp(1, 2), sidecar.FileStamp(0, 0))
    other = sidecar.Key("id", 4, sidecar.FileStamp(1, 2), sidecar.FileStamp(0, 0))
    allowed = sidecar.allowed_names()
    assert not sidecar.current(tmp_path, "valid", key, allowed)  # no file
    assert sidecar.write(tmp_path, "valid", key, True, allowed)
    assert sidecar.current(tmp_path, "valid", key, allowed)
    assert not sidecar.current(tmp_path, "valid", other, allowed)
    (tmp_path / "valid").write_text("not an index\n")
    assert not sidecar.current(tmp_path, "valid", key, allowed)
