"""The conventions every command keeps (``sdn.commandline``): ``--version``, ``--state`` on
either side of the subcommand, a closed pipe, ``NO_COLOR``, Ctrl-C during a write, and a
bug reported in one line.

Pipes, terminals and signals are only real in a real process: those tests run the
commands as subprocesses (``python -m sdn``) on a pipe or a pseudo-terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sdn.commandline import guarded, note_write
from sdn.errors import Interrupted
from sdn.store import ChangeSet, Store
from sdn.store.codec import StoredObject

REPO = Path(__file__).resolve().parents[2]
GUESTBOOK = REPO / "topologies" / "guestbook"
SDN = [sys.executable, "-m", "sdn"]
NCP = [sys.executable, "-m", "ncp"]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conv") / "state.db"
    subprocess.run([*NCP, "sync", "--cluster", str(GUESTBOOK), "--state", str(path),
                    "--now", "1700000000", "-q"], check=True, capture_output=True)
    return path


@pytest.mark.parametrize("command", ["sdn", "ncp"])
def test_version(cli: Any, command: str) -> None:
    res = getattr(cli, command)("--version")
    assert res.code == 0
    out = res.out
    assert out.startswith(f"{command} ") and out.strip().split()[1][0].isdigit()


@pytest.mark.parametrize("where", ["before", "after"])
def test_state_before_or_after_the_subcommand(cli: Any, state: Path, where: str) -> None:
    argv = ["--state", state, "show", "tier-1s", "-o", "json"] if where == "before" else \
        ["show", "tier-1s", "-o", "json", "--state", state]
    res = cli.sdn(*argv)
    assert res.code == 0, res.err
    assert len(res.json()) == 5
    sync = cli.ncp(*(["--state", state, "sync"] if where == "before" else ["sync"]),
                   "--cluster", GUESTBOOK, "--now", "1700000000", "-o", "json",
                   *(["--state", state] if where == "after" else []))
    assert sync.code == 0, sync.err
    assert sync.json()["realized"]["pods"] == 6


@pytest.mark.parametrize("argv", [
    pytest.param(["show", "segment-ports", "-o", "json"], id="show-json"),
    pytest.param(["topology"], id="topology"),
    pytest.param(["reach", "--port", "6379"], id="reach"),
    pytest.param(["path", "--src", "default/frontend-0", "--dst", "8.8.8.8"], id="path"),
])
def test_a_closed_pipe_is_not_an_error(state: Path, argv: list[str]) -> None:
    """``sdn ... | head -0``: the reader is gone before the first write."""
    proc = subprocess.Popen([*SDN, *argv, "--state", str(state)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


def _on_terminal(argv: list[str], env: dict[str, str]) -> bytes:
    """What ``argv`` prints on a pseudo-terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower,
                            env={**os.environ, **env})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0, out
    return out


@pytest.mark.parametrize(("env", "styled"), [
    pytest.param({}, True, id="terminal"),
    pytest.param({"NO_COLOR": "1"}, False, id="NO_COLOR"),
    pytest.param({"TERM": "dumb"}, False, id="dumb-terminal"),
])
def test_no_color(state: Path, env: dict[str, str], styled: bool) -> None:
    env = {"TERM": "xterm-256color", **env}
    out = _on_terminal([*SDN, "show", "tier-1s", "--state", str(state)], env)
    assert b"t1_k8s-cluster_default" in out
    assert (b"\x1b[" in out) is styled


class _InterruptingRows(list[StoredObject]):
    """Rows whose first reading, inside the write transaction, delivers a real SIGINT."""

    sent = False

    def __iter__(self) -> Any:
        if not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return super().__iter__()


def test_ctrl_c_during_a_write_rolls_it_back(state: Path, tmp_path: Path) -> None:
    copy = tmp_path / "state.db"
    copy.write_bytes(state.read_bytes())
    with Store.open(copy) as store:
        before = store.revision
        rows = list(store.rows())
        changed = _InterruptingRows([StoredObject(r.path, r.resource_type, r.cluster,
                                                  r.body.replace('"display_name":"',
                                                                 '"display_name":"x'))
                                     for r in rows[:3]])
        with pytest.raises(Interrupted) as stop:
            store.apply(ChangeSet(upserts=changed, deletes=[rows[-1].path]))
        assert changed.sent
        assert "rolled back" in stop.value.outcome
        assert store.revision == before
        assert [r.body for r in store.rows()] == [r.body for r in rows]
    # the handler is back: Ctrl-C outside a write is a KeyboardInterrupt again
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler raises before this ends


BEFORE = "prog: INTERRUPTED: stopped before writing anything (the state is as before)"


@pytest.mark.parametrize(("wrote", "raised", "code", "line"), [
    pytest.param(False, KeyboardInterrupt(), 130, BEFORE, id="ctrl-c"),
    pytest.param(False, Interrupted("the write was rolled back"), 130, BEFORE,
                 id="ctrl-c-during-a-write"),
    pytest.param(True, Interrupted("the write landed whole"), 130,
                 "prog: INTERRUPTED: stopped after the state was written whole (s.db)",
                 id="ctrl-c-during-the-commit"),
    pytest.param(True, KeyboardInterrupt(), 130,
                 "prog: INTERRUPTED: stopped after the state was written whole (s.db)",
                 id="ctrl-c-after-the-commit"),
    pytest.param(False, RuntimeError("boom\non two lines"), 70,
                 "error: INTERNAL_ERROR: RuntimeError: boom on two lines", id="bug"),
])
def test_guarded_ends_every_command_in_one_line(capsys: pytest.CaptureFixture[str],
                                                wrote: bool, raised: BaseException, code: int,
                                                line: str) -> None:
    def body() -> int:
        if wrote:
            note_write("s.db")
        raise raised

    assert guarded("prog", body) == code
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(line)


def _subcommands(parser: argparse.ArgumentParser, prefix: str) -> Any:
    """(name, parser) of every (sub)command under ``parser``."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, f"{prefix} {name}")


def _every_command() -> list[tuple[str, argparse.ArgumentParser]]:
    ncp_cli = importlib.import_module("ncp.cli")
    sdn_main = importlib.import_module("sdn.cli.main")  # sdn.cli.main is also the function
    return [*_subcommands(sdn_main._parser(), "sdn"), *_subcommands(ncp_cli._parser(), "ncp")]


@pytest.mark.parametrize(("name", "parser"), [pytest.param(n, p, id=n)
                                              for n, p in _every_command()])
def test_yaml_wherever_json(name: str, parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if "--output" in action.option_strings and action.choices and "json" in action.choices:
            assert "yaml" in action.choices, name


@pytest.mark.parametrize(("name", "parser"), [pytest.param(n, p, id=n)
                                              for n, p in _every_command()])
def test_state_is_accepted_by_every_command(name: str, parser: argparse.ArgumentParser) -> None:
    options = {o for a in parser._actions for o in a.option_strings}
    assert "--state" in options, name


def test_ctrl_c_while_sdn_starts_is_one_line(state: Path) -> None:
    """SIGINT while ``sdn`` still imports (pydantic's compiled core is mapped, long before
    the imports end): one line and 130, not Python's traceback."""
    proc = subprocess.Popen([*SDN, "topology", "--state", str(state)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 30
    found = False
    while not found and time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # the process may not be there yet
            found = "pydantic_core" in maps.read_text()
        time.sleep(0.001)
    assert found, "never saw the imports under way"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.splitlines() == [
        "sdn: INTERRUPTED: stopped before writing anything (the state is as before)"]
