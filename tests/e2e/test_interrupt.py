"""Ctrl-C during a large ``ncp sync`` (issue 10, defect 6), in a real subprocess.

A generated cluster big enough that a sync takes a second or two is synced over a state
that holds a small one, and SIGINT is sent at several points: while Python imports, while
manifests are read, while the topology is provisioned, while the result is compared with
the state, and while the write transaction is under way. Every time: exit 130, one line
on stderr and no traceback, and the state either exactly as before (every table; the
file byte for byte) or exactly what the same sync writes uninterrupted, with
``sdn validate`` and ``sdn ipam check`` clean.

The points are found, not guessed: the status line ``ncp sync`` shows on a terminal
(forced with ``FORCE_COLOR``) names the step under way, and the write transaction is
under way once the state's write-ahead log grows, and the imports are under way once
pydantic's compiled core is mapped into the process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import sdn.cli
from tests.support.statefiles import every_table
from topologies.generate import generate_cluster, write_cluster

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "bench" / "large-cluster.yaml"
NOW = "1700000000"


def _argv(cluster: Path, state: Path, output: str) -> list[str]:
    return [sys.executable, "-m", "ncp.cli", "sync", "--cluster", str(cluster),
            "--config", str(CONFIG), "--state", str(state), "--now", NOW, "-o", output]


def _env(spinner: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    if spinner:
        env["FORCE_COLOR"] = "1"  # rich takes stderr for a terminal: the status line
    return env


@dataclass(frozen=True)
class World:
    cluster: Path
    before: Path  # a state holding the guestbook, under the same cluster name
    before_tables: dict[str, list[tuple[Any, ...]]]
    after_tables: dict[str, list[tuple[Any, ...]]]  # what the uninterrupted sync writes
    fresh_tables: dict[str, list[tuple[Any, ...]]]  # the same, into no state


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("interrupt")
    cluster = tmp / "cluster"
    write_cluster(generate_cluster(namespaces=1000, pods=4000, seed=7, nodes=40), cluster)
    before = tmp / "before" / "state.db"
    guestbook = REPO / "topologies" / "guestbook"
    done = subprocess.run(_argv(guestbook, before, "json"), env=_env(False),
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    after = tmp / "after" / "state.db"
    shutil.copytree(before.parent, after.parent)
    fresh = tmp / "fresh" / "state.db"
    for state in (after, fresh):
        done = subprocess.run(_argv(cluster, state, "json"), env=_env(False),
                              capture_output=True, check=False)
        assert done.returncode == 0, done.stderr
    return World(cluster, before, every_table(before), every_table(after), every_table(fresh))


class Child:
    """``ncp sync`` in a subprocess, its stderr collected as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self._err = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):  # type: ignore[union-attr]
            self._err += chunk

    @property
    def err(self) -> str:
        return self._err.decode(errors="replace")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code, self.err


def _until(child: Child, ready: Callable[[], bool]) -> None:
    """Wait for ``ready`` (polling fast), then send SIGINT; the child must still run."""
    deadline = time.monotonic() + 60
    while not ready():
        assert child.proc.poll() is None, f"finished before the point: {child.err[-500:]}"
        assert time.monotonic() < deadline, "the point never came"
        time.sleep(0.001)
    child.proc.send_signal(signal.SIGINT)


def _step(child: Child, text: str) -> Callable[[], bool]:
    return lambda: text in child.err


def _wal_grows(state: Path) -> Callable[[], bool]:
    wal = Path(f"{state}-wal")
    return lambda: wal.exists() and wal.stat().st_size > 0


def _started_importing(child: Child) -> Callable[[], bool]:
    """``ncp.cli`` is importing its dependencies: pydantic's compiled core is mapped (it
    comes after ``ncp.cli`` began, and long before the imports end)."""
    maps = Path(f"/proc/{child.proc.pid}/maps")

    def ready() -> bool:
        try:
            return "pydantic_core" in maps.read_text()
        except OSError:
            return False
    return ready


#: id -> (status line wanted on stderr, fresh state, how to find the point).
POINTS: dict[str, tuple[bool, bool, Callable[[Child, Path], Callable[[], bool]]]] = {
    "importing": (False, False, lambda c, s: _started_importing(c)),
    "reading-manifests": (True, False, lambda c, s: _step(c, "reading manifests")),
    "provisioning": (True, False, lambda c, s: _step(c, "provisioning")),
    "comparing": (True, False, lambda c, s: _step(c, "comparing with the state")),
    "writing": (False, False, lambda c, s: _wal_grows(s)),
    "fresh-state-provisioning": (True, True, lambda c, s: _step(c, "provisioning")),
}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _visible_lines(err: str) -> list[str]:
    """stderr as a terminal would leave it: escape codes out, each ``\\r`` rewriting its
    line, the status line (erased by rich at the end) gone."""
    lines: list[str] = []
    for raw in err.split("\n"):
        text = _ANSI.sub("", raw).split("\r")[-1]
        if text.strip():
            lines.append(text)
    return [ln for ln in lines if not re.match(r"^\S ", ln)]  # "⠋ provisioning"


@pytest.mark.parametrize("point", [pytest.param(p, id=p) for p in POINTS])
def test_ctrl_c_leaves_the_state_before_or_after(world: World, tmp_path: Path,
                                                 point: str) -> None:
    spinner, fresh, find = POINTS[point]
    state = tmp_path / "state" / "state.db"
    if not fresh:
        shutil.copytree(world.before.parent, state.parent)
    before_bytes = None if fresh else state.read_bytes()
    child = Child(_argv(world.cluster, state, "table" if spinner else "json"), _env(spinner))
    _until(child, find(child, state))
    code, err = child.finish()
    assert "Traceback" not in err, err
    assert code == 130, err
    lines = _visible_lines(err) if spinner else err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ncp: INTERRUPTED: "), lines
    if fresh and not state.exists():
        assert "before writing anything" in lines[0]
        return  # fully before: no state, and none left behind
    tables = every_table(state)
    if "written whole" in lines[0]:
        assert tables == (world.fresh_tables if fresh else world.after_tables)
    else:
        assert not fresh, "a fresh state left behind unwritten"
        assert tables == world.before_tables
        assert state.read_bytes() == before_bytes
    for check in (["validate"], ["ipam", "check"]):
        assert sdn.cli.main([*check, "--state", str(state)]) == 0, check


# --- an interrupt that a library swallows or disguises -------------------------------------


def _swallowing(real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, after a Ctrl-C that a library on the way swallows whole."""
    def step(*args: Any, **kwargs: Any) -> Any:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here
        except BaseException:  # the fault being injected: swallow it whole
            pass
        return real(*args, **kwargs)
    return step


def _disguising(real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, after a Ctrl-C that arrives inside a pydantic serializer, which turns it
    into a ``PydanticSerializationError`` (a ``ValueError``)."""
    from pydantic import BaseModel, field_serializer

    class Probe(BaseModel):
        value: int = 0

        @field_serializer("value")
        def _ser(self, value: int) -> int:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            return value

    def step(*args: Any, **kwargs: Any) -> Any:
        Probe().model_dump_json()  # raises PydanticSerializationError, not KeyboardInterrupt
        return real(*args, **kwargs)
    return step


@pytest.mark.parametrize("fault", [pytest.param(_swallowing, id="swallowed"),
                                   pytest.param(_disguising, id="disguised-as-ValueError")])
def test_an_interrupt_swallowed_on_the_way_still_stops_the_sync(
        cli: Any, monkeypatch: pytest.MonkeyPatch, fault: Callable[..., Any]) -> None:
    import ncp.reconcile.sync as sync

    assert cli.sync(cli.GUESTBOOK).code == 0
    before = every_table(cli.state)
    folder = cli.copy_sample(cli.GUESTBOOK)
    (folder / "frontend.yaml").unlink()  # a sync that would delete, if it went on
    monkeypatch.setattr(sync, "expand_workloads", fault(sync.expand_workloads))
    res = cli.sync(folder, now=cli.T0 + 120)
    assert res.code == 130, (res.out, res.err)
    assert res.out == ""
    assert res.err.splitlines() == [
        "ncp: INTERRUPTED: stopped before writing anything (the state is as before)"]
    assert every_table(cli.state) == before


@pytest.mark.parametrize("output", ["json", "table"])
def test_ctrl_c_after_the_write_says_the_state_was_written(
        cli: Any, monkeypatch: pytest.MonkeyPatch, output: str) -> None:
    """Ctrl-C while the report prints: the sync has landed whole; the line must say so
    (it said "stopped before writing anything")."""
    import ncp.cli as command

    assert cli.sync(cli.GUESTBOOK).code == 0
    folder = cli.copy_sample(cli.GUESTBOOK)
    (folder / "frontend.yaml").unlink()
    reference = cli.tmp / "reference" / "state.db"
    shutil.copytree(cli.state.parent, reference.parent)
    assert cli.sync(folder, now=cli.T0 + 120, state=reference).code == 0

    def interrupted(*_args: Any, **_kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)

    monkeypatch.setattr(command, "print_data" if output == "json" else "_summary",
                        interrupted)
    res = cli.sync(folder, now=cli.T0 + 120, output=output)
    assert res.code == 130
    assert res.err.splitlines() == [
        f"ncp: INTERRUPTED: stopped after the state was written whole ({cli.state})"]
    assert every_table(cli.state) == every_table(reference)
