"""The in-memory memo of index parts (:mod:`sdn.query.memo`): off unless enabled, and
when on, a part is handed out only for the very key it was read or built for, so a write
makes it miss exactly as the index files do."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import sdn.cli
from sdn.query import QueryIndex, memo
from sdn.query.sidecar import FileStamp, Key, folder_of
from tests.support.cli_runs import TOPOLOGIES, run_main, sync_sample

KEY = Key("state-a", 3, FileStamp(10, 20), FileStamp(0, 0))


@pytest.fixture
def remembering() -> Iterator[None]:
    memo.enable()
    try:
        yield
    finally:
        memo.disable()


def test_off_unless_enabled(tmp_path: Path) -> None:
    memo.remember(tmp_path, "valid", KEY, True)
    assert memo.recall(tmp_path, "valid", KEY) is None


#: id -> the key a later reader computes; only the same key is answered.
OTHER_KEYS = {
    "another-state": Key("state-b", 3, FileStamp(10, 20), FileStamp(0, 0)),
    "another-revision": Key("state-a", 4, FileStamp(10, 20), FileStamp(0, 0)),
    "database-stamp-moved": Key("state-a", 3, FileStamp(10, 21), FileStamp(0, 0)),
    "wal-stamp-moved": Key("state-a", 3, FileStamp(10, 20), FileStamp(8, 1)),
}


@pytest.mark.parametrize("other", list(OTHER_KEYS))
def test_only_the_same_key_is_answered(remembering: None, tmp_path: Path, other: str) -> None:
    memo.remember(tmp_path, "lookups", KEY, ["parts"])
    assert memo.recall(tmp_path, "lookups", KEY) == ["parts"]
    assert memo.recall(tmp_path, "lookups", OTHER_KEYS[other]) is None
    assert memo.recall(tmp_path, "lint", KEY) is None
    assert memo.recall(tmp_path / "elsewhere", "lookups", KEY) is None


def test_a_newer_key_replaces_and_nothing_found_is_not_kept(remembering: None,
                                                             tmp_path: Path) -> None:
    newer = OTHER_KEYS["another-revision"]
    memo.remember(tmp_path, "valid", KEY, True)
    memo.remember(tmp_path, "valid", newer, None)
    assert memo.recall(tmp_path, "valid", KEY) is True
    memo.remember(tmp_path, "valid", newer, True)
    assert memo.recall(tmp_path, "valid", KEY) is None
    assert memo.recall(tmp_path, "valid", newer) is True


def test_a_relative_folder_is_the_same_folder(remembering: None, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    memo.remember(tmp_path / "s.db.idx", "valid", KEY, True)
    monkeypatch.chdir(tmp_path)
    assert memo.recall(Path("s.db.idx"), "valid", KEY) is True


def test_the_index_reads_through_the_memo_and_a_write_makes_it_miss(
        remembering: None, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    with QueryIndex.open(state) as index:
        index.trace_context()
        first = index.key
    shutil.rmtree(folder_of(state))  # from now on only the memo has the parts
    with QueryIndex.open(state) as index:
        index.trace_context()
        # the firewall and the lookups are record files read from disk (not
        # memoised): rebuilt here
        assert index.hits == ["valid"] and index.built == ["dfw-ALLOW", "lookups"]
    code, _, err = run_main(sdn.cli.main, "apply", "-f", TOPOLOGIES / "admin" /
                            "guardrails.yaml", "--state", state)
    assert code == 0, err
    with QueryIndex.open(state) as index:
        assert index.key != first
        index.trace_context()
        assert index.hits == [] and sorted(index.built) == ["dfw-ALLOW", "lookups", "valid"]
    assert sorted(os.listdir(folder_of(state))) == ["dfw-ALLOW", "lookups", "valid"]
