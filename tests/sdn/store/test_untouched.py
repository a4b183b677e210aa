"""``Store.open_readonly(untouched=True)``, what dry runs read through: a state closed
cleanly is read without creating, locking or changing any file beside it, and a writer
that came while it was read is caught rather than its half-read state answered for."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdn.errors import StateError
from sdn.model import Group
from sdn.store import ChangeSet, Store
from sdn.store.codec import to_stored


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _write_a_group(state: Path, ident: str) -> None:
    group = Group(id=ident, path=f"/infra/domains/default/groups/{ident}")
    with Store.open(state) as store:
        store.apply(ChangeSet(upserts=[to_stored(group)]))


def test_a_quiet_state_is_read_without_a_file_created_or_changed(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    _write_a_group(state, "g")
    before = _files(tmp_path)
    assert sorted(before) == ["state.db"]
    with Store.open_readonly(state, untouched=True) as store:
        assert "/infra/domains/default/groups/g" in store.inventory()
        assert _files(tmp_path) == before
    assert _files(tmp_path) == before


def test_a_writer_during_the_read_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    _write_a_group(state, "g")
    with pytest.raises(StateError) as err, Store.open_readonly(state, untouched=True) as store:
        store.inventory()
        _write_a_group(state, "h")
    assert err.value.code == "STATE_CHANGED_DURING_READ"


def test_a_state_with_a_live_journal_is_read_as_before(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    _write_a_group(state, "g")
    with Store.open(state) as writer:  # a writer holds it open: -wal and -shm exist
        assert writer.revision == 1
        with Store.open_readonly(state, untouched=True) as store:
            assert store.revision == 1
