"""A daemon started by itself (:mod:`sdn.daemon.autostart`): a question answered in-process
leaves one behind when ``SDN_DAEMON`` says so (``always``; ``auto`` on a big state), the
next questions are answered by it with the same output, and none is left when the mode
is ``off``, ``SDN_NO_DAEMON`` is set, the question failed, or the state is small; a
daemon stops by itself once its state file is removed.

Every daemon a test causes is stopped by the fixture, whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdn.daemon import autostart, control, server, wire
from tests.support.cli_runs import sync_sample

ROOT = Path(__file__).resolve().parents[2]
QUESTION = ["show", "segment-ports", "-o", "json"]
#: How long a daemon may take to start and load a sample state (a loaded CI machine).
START_WAIT = 30.0


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A guestbook state of this test's own; any daemon on it is stopped at the end."""
    path = tmp_path / "state.db"
    sync_sample(path, "guestbook")
    try:
        yield path
    finally:
        _settle(path)
        control.stop(path)


def _settle(state: Path) -> None:
    """Wait while a daemon spawned on ``state`` (its log exists: the spawner made it) is
    still starting, so that a stop finds it listening."""
    if wire.log_path(state).exists():
        _running(state)


def _sdn(state: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The ``sdn`` console entry in a process of its own, ``SDN_DAEMON*`` as given only."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SDN_")}
    return subprocess.run([sys.executable, "-m", "sdn", "--state", str(state), *argv],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**base, "PYTHONPATH": str(ROOT), **env})


def _running(state: Path) -> dict[str, object] | None:
    """The daemon's status once it answers (None when none does within the wait: a
    spawned daemon takes its imports and load before it locks its pid file)."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        info = control.status(state)
        if info is not None:
            return info
        time.sleep(0.05)
    return None


def test_a_question_leaves_a_daemon_that_answers_the_next(state: Path) -> None:
    first = _sdn(state, *QUESTION, SDN_DAEMON="always")
    assert first.returncode == 0, first.stderr
    info = _running(state)
    assert info is not None, wire.log_path(state).read_text()
    assert info["idle_timeout_s"] == autostart.AUTO_IDLE_TIMEOUT
    second = _sdn(state, *QUESTION, SDN_DAEMON="always")
    assert (second.returncode, second.stdout, second.stderr) == \
        (first.returncode, first.stdout, first.stderr)
    after = control.status(state)
    assert after is not None and after["requests"] == 1 and after["pid"] == info["pid"]


@pytest.mark.parametrize(("env", "argv"), [
    pytest.param({"SDN_DAEMON": "off"}, QUESTION, id="mode-off"),
    pytest.param({"SDN_DAEMON": "always", "SDN_NO_DAEMON": "1"}, QUESTION, id="no-daemon"),
    pytest.param({}, QUESTION, id="auto-small-state"),
    pytest.param({"SDN_DAEMON": "always"}, ["profile", "list"], id="not-a-question"),
])
def test_no_daemon_is_left(state: Path, env: dict[str, str], argv: list[str]) -> None:
    done = _sdn(state, *argv, **env)
    assert done.returncode in (0, 2), done.stderr
    # the spawner makes the daemon's log before it starts it: none, so none was spawned
    assert not wire.log_path(state).exists()
    assert not control.alive(state)


@pytest.mark.parametrize(("mode", "size", "running", "expected"), [
    pytest.param("auto", autostart.AUTO_START_BYTES, False, True, id="auto-big"),
    pytest.param("auto", autostart.AUTO_START_BYTES - 1, False, False, id="auto-small"),
    pytest.param("always", 1, False, True, id="always-small"),
    pytest.param("off", autostart.AUTO_START_BYTES, False, False, id="off-big"),
    pytest.param("auto", autostart.AUTO_START_BYTES, True, False, id="one-runs"),
    pytest.param("bogus", autostart.AUTO_START_BYTES, False, True, id="unknown-is-auto"),
])
def test_when_a_daemon_is_wanted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str,
                                 size: int, running: bool, expected: bool) -> None:
    state = tmp_path / "state.db"
    with open(state, "wb") as f:
        f.truncate(size)  # sparse: the size is what counts
    monkeypatch.delenv("SDN_NO_DAEMON", raising=False)
    monkeypatch.setenv("SDN_DAEMON", mode)
    monkeypatch.setattr(control, "alive", lambda _state: running)
    assert autostart.wanted(state) is expected
    assert autostart.wanted(tmp_path / "missing.db") is False


def test_a_daemon_stops_when_its_state_file_is_removed(state: Path) -> None:
    control.start(state, 600.0)
    info = control.status(state)
    assert info is not None
    pid = int(str(info["pid"]))
    state.rename(state.with_name("moved.db"))
    deadline = time.monotonic() + server.STATE_WATCH_INTERVAL + START_WAIT
    while control.alive(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not control.alive(state)
    assert f"[{pid}] the state file is gone" in wire.log_path(state).read_text()
