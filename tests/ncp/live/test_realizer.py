"""The realize thread of ``ncp run --realize`` (no root: the realize is a stand-in that
records its calls): one realize per revision a pass left, bursts coalesced, never two at
once, a failure logged with its code and retried after the next pass, the runner's stop
honoured, the worker telling it each pass's revision; and the CLI's preflight refusing a
host that is not root before anything is made."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import ncp.cli
from ncp.config import load_config
from ncp.live import runner as runner_module
from ncp.live.instruments import declare
from ncp.live.metrics import Metrics
from ncp.live.realizer import Apply, Realizer
from ncp.live.runner import Runner, RunOptions
from sdn.dataplane import kernel
from sdn.dataplane.layout import netns_prefix, owner_tag
from sdn.dataplane.plan import Changes
from sdn.errors import DataplaneError
from sdn.store import Store

SAMPLE = Path(__file__).resolve().parents[3] / "topologies" / "guestbook"


class FakeRealize:
    """Realizes ``revision`` (what the state holds now); can be held or made to fail."""

    def __init__(self) -> None:
        self.revision = 0
        self.calls: list[int] = []
        self.running = 0
        self.overlapped = False
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail: DataplaneError | None = None

    def __call__(self) -> tuple[int, Changes]:
        self.running += 1
        self.overlapped = self.overlapped or self.running > 1
        read = self.revision  # the state as the realize reads it
        self.calls.append(read)
        self.entered.set()
        try:
            self.gate.wait(10)
            if self.fail is not None:
                raise self.fail
            return read, Changes(created=2, updated=1)
        finally:
            self.running -= 1


@contextmanager
def running(fake: FakeRealize) -> Iterator[tuple[Realizer, Metrics]]:
    stop = threading.Event()
    metrics = Metrics()
    declare(metrics)  # the runner's families (ncp_errors_total)
    realizer = Realizer(fake, metrics, stop)
    thread = threading.Thread(target=realizer.run)
    thread.start()
    try:
        yield realizer, metrics
    finally:
        stop.set()
        realizer.wake()
        fake.gate.set()
        thread.join(10)
        assert not thread.is_alive()


def test_each_new_revision_is_realized_once_and_an_unchanged_one_not(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeRealize()
    caplog.set_level(logging.INFO, logger="ncp.running")
    with running(fake) as (realizer, metrics):
        fake.revision = 3
        realizer.owe(3)  # the first pass: realized even if it wrote nothing
        assert realizer.wait_settled(10)
        realizer.owe(3)  # a pass that wrote nothing
        assert realizer.wait_settled(10)
        fake.revision = 4
        realizer.owe(4)
        assert realizer.wait_settled(10)
    assert fake.calls == [3, 4]
    assert realizer.realized == 4 and realizer.realizes == 2
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("realized")]
    assert len(lines) == 2
    assert lines[0].startswith("realized state revision 3 in ")
    assert lines[0].endswith(": 2 created, 1 updated, 0 deleted (kernel objects)")
    body = metrics.render()
    assert 'ncp_realizes_total{outcome="ok"} 2' in body
    assert 'ncp_realize_changes_total{change="created"} 4' in body
    assert "ncp_realize_seconds_count 2" in body


def test_a_burst_during_a_realize_costs_one_more_never_two_at_once() -> None:
    fake = FakeRealize()
    with running(fake) as (realizer, _):
        fake.gate.clear()
        fake.revision = 1
        realizer.owe(1)
        assert fake.entered.wait(10)  # the first realize is under way, held
        for revision in range(2, 12):  # ten passes land meanwhile
            fake.revision = revision
            realizer.owe(revision)
        assert not realizer.wait_settled(0.05)
        fake.gate.set()
        assert realizer.wait_settled(10)
    assert fake.calls == [1, 11]
    assert not fake.overlapped


def test_a_failed_realize_is_logged_with_its_code_and_retried_after_the_next_pass(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeRealize()
    fake.fail = DataplaneError("nft said no", code="DATAPLANE_APPLY_FAILED")
    with running(fake) as (realizer, metrics):
        fake.revision = 5
        realizer.owe(5)
        assert realizer.wait_settled(10)
        assert fake.calls == [5]  # not retried in a loop on its own
        assert realizer.realized is None
        assert realizer.last_error == "DATAPLANE_APPLY_FAILED: nft said no"
        fake.fail = None
        realizer.owe(5)  # the next pass, even one that wrote nothing
        assert realizer.wait_settled(10)
    assert fake.calls == [5, 5]
    assert realizer.realized == 5 and realizer.last_error is None
    assert "realize failed (DATAPLANE_APPLY_FAILED): DATAPLANE_APPLY_FAILED: nft said no" in [
        r.getMessage() for r in caplog.records]
    body = metrics.render()
    assert 'ncp_realizes_total{outcome="error"} 1' in body
    assert 'ncp_errors_total{code="DATAPLANE_APPLY_FAILED"} 1' in body


def test_an_unexpected_exception_does_not_end_the_thread() -> None:
    fake = FakeRealize()
    fake.fail = OSError("no such device")  # type: ignore[assignment]
    with running(fake) as (realizer, metrics):
        fake.revision = 1
        realizer.owe(1)
        assert realizer.wait_settled(10)
        fake.fail = None
        realizer.owe(1)
        assert realizer.wait_settled(10)
    assert realizer.realized == 1
    assert 'ncp_errors_total{code="OSError"} 1' in metrics.render()


def test_stop_ends_the_thread_without_a_realize() -> None:
    fake = FakeRealize()
    with running(fake):
        pass
    assert fake.calls == []


def test_ncp_run_realize_refuses_a_host_that_is_not_root_before_anything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("SDN_RUN_DIR", str(tmp_path / "run"))
    state = tmp_path / "state.db"
    code = ncp.cli.main(["run", "--cluster", str(SAMPLE), "--state", str(state),
                         "--realize"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [err.splitlines()[0]] and "DATAPLANE_NOT_ROOT" in err
    assert not state.exists()
    assert not (tmp_path / "run").exists()
    assert kernel.owned_namespaces(netns_prefix(owner_tag(state))) == []


def test_help_says_the_data_plane_is_left_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert ncp.cli.main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--realize" in text
    assert "on exit the data plane is left as it is" in text
    assert "sdn realize --teardown" in text


def test_the_runner_realizes_after_the_first_pass_and_after_each_that_wrote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRealize()
    state = tmp_path / "state.db"

    def realize_now(path: Path) -> Apply:
        assert path == state

        def read_state() -> tuple[int, Changes]:
            with Store.open_readonly(state) as store:
                fake.revision = store.revision
            return fake()

        return read_state

    monkeypatch.setattr(runner_module, "realize_state", realize_now)
    folder = tmp_path / "cluster"
    shutil.copytree(SAMPLE, folder)
    runner = Runner(RunOptions(state=state, config=load_config(None), debounce=0.05,
                               poll_interval=0.1, realize=True), manifests=[folder])
    runner.start()
    try:
        assert _eventually(lambda: runner.reconciles >= 1 and runner.wait_realized(0.1))
        with Store.open_readonly(state) as store:
            first = store.revision
        assert fake.calls == [first]
        (folder / "frontend.yaml").unlink()
        assert _eventually(lambda: len(fake.calls) == 2 and runner.wait_realized(0.1))
        with Store.open_readonly(state) as store:
            assert fake.calls == [first, store.revision] and store.revision > first
    finally:
        runner.stop()
    assert not fake.overlapped


def _eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
