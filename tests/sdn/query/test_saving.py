"""Where the query index is saved after a sync (:mod:`sdn.query.saving`): before the
command returns (small states, ``NCP_INDEX_SAVE=wait``) or by a child process after it
(big states, ``background``). Either way the parts end up current for the revision and a
question then builds nothing; a fork that cannot be made saves before returning."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdn.model import Inventory
from sdn.query import QueryIndex, saving
from sdn.query.index import WARM_ACTIONS
from sdn.store import Store
from tests.support.cli_runs import TOPOLOGIES, sync_sample

ROOT = Path(__file__).resolve().parents[3]
PARTS = ["valid", "dfw-ALLOW", "lookups", "lint", "validate"]


def _current(state: Path) -> bool:
    with QueryIndex.open(state) as index:
        return index.current(WARM_ACTIONS)


@pytest.mark.parametrize(("value", "size", "expected"), [
    pytest.param("auto", saving.BACKGROUND_OBJECTS, True, id="auto-big"),
    pytest.param("auto", saving.BACKGROUND_OBJECTS - 1, False, id="auto-small"),
    pytest.param("wait", saving.BACKGROUND_OBJECTS, False, id="wait-big"),
    pytest.param("background", 1, True, id="background-small"),
    pytest.param(" Background ", 1, True, id="spaces-and-case"),
    pytest.param("bogus", saving.BACKGROUND_OBJECTS - 1, False, id="unknown-is-auto"),
])
def test_where_the_index_is_saved(monkeypatch: pytest.MonkeyPatch, value: str, size: int,
                                  expected: bool) -> None:
    class Sized:
        def __len__(self) -> int:
            return size

    monkeypatch.setenv("NCP_INDEX_SAVE", value)
    assert saving.in_background(Sized()) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["wait", "background", "fork-refused"])
def test_the_parts_end_up_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  mode: str) -> None:
    state = tmp_path / "state.db"
    monkeypatch.setenv("NCP_INDEX_SAVE", "wait")
    sync_sample(state, "multi-tenant")
    for part in tmp_path.joinpath("state.db.idx").iterdir():
        part.unlink()  # as if the sync had saved none
    assert not _current(state)
    with Store.open_readonly(state) as store:
        inventory = store.inventory()
    monkeypatch.setenv("NCP_INDEX_SAVE", "wait" if mode == "wait" else "background")
    if mode == "fork-refused":
        def refused() -> int:
            raise OSError("fork refused")
        monkeypatch.setattr(os, "fork", refused)
    pid = saving.save_index(state, inventory, force=True, validated=False)
    if mode == "background":
        assert pid is not None
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    else:
        assert pid is None
    with QueryIndex.open(state) as index:
        index.trace_context()
        index.lint_findings()
        index.validate_problems()
        assert sorted(index.hits) == sorted(PARTS) and not index.built


def test_a_sync_saving_in_the_background_returns_and_the_index_follows(
        tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NCP_INDEX_SAVE": "background"}
    done = subprocess.run([sys.executable, "-m", "ncp.cli", "sync", "--cluster",
                           str(TOPOLOGIES / "guestbook"), "--state", str(state), "-q"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 60
    while not _current(state):
        assert time.monotonic() < deadline, "the index was never saved"
        time.sleep(0.05)
    sdn = subprocess.run([sys.executable, "-m", "sdn", "--state", str(state), "validate"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert sdn.returncode == 0, sdn.stdout + sdn.stderr


def _synced_without_index(tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Inventory]:
    """A synced sample whose index parts are all removed, and its inventory."""
    state = tmp_path / "state.db"
    monkeypatch.setenv("NCP_INDEX_SAVE", "wait")
    sync_sample(state, "guestbook")
    for part in tmp_path.joinpath("state.db.idx").iterdir():
        part.unlink()
    with Store.open_readonly(state) as store:
        return state, store.inventory()


def test_a_question_during_a_background_save_waits_for_it(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The saver holds the lock from before the fork until it exits; a reader opened
    meanwhile waits, then finds every part saved (it builds nothing next to the saver).
    The child is slowed down by a second (its code is this process's, forked)."""
    state, inventory = _synced_without_index(tmp_path, monkeypatch)
    slow = saving.warm_index

    def slowly(*args: object, **kwargs: object) -> list[str]:
        time.sleep(1.0)
        return slow(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(saving, "warm_index", slowly)
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    started = time.monotonic()
    pid = saving.save_index(state, inventory, force=True, validated=True)
    assert pid is not None
    try:
        with QueryIndex.open(state) as index:
            waited = time.monotonic() - started
            index.trace_context()
            assert not index.built
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert waited >= 0.9
    with QueryIndex.open(state) as index:
        assert index.current(WARM_ACTIONS)


def test_the_saver_lets_questions_in_before_the_lint(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The saver lets the lock go once the parts most questions read are saved: a reader
    gets in while the child still lints (slowed down here by two seconds), loads the
    firewall and lookups it saved, and the lint follows."""
    state, inventory = _synced_without_index(tmp_path, monkeypatch)
    lint = QueryIndex.lint_findings

    def slow_lint(self: QueryIndex) -> object:
        time.sleep(2.0)
        return lint(self)

    monkeypatch.setattr(QueryIndex, "lint_findings", slow_lint)
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    pid = saving.save_index(state, inventory, force=True, validated=True)
    assert pid is not None
    try:
        with QueryIndex.open(state) as index:
            assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # the saver still runs
            assert not index.current(WARM_ACTIONS)  # its lint is not saved yet
            index.trace_context()
            assert not index.built
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with QueryIndex.open(state) as index:
        assert index.current(WARM_ACTIONS)
