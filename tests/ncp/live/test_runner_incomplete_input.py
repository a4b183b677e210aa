"""``ncp run --cluster DIR`` never reconciles against what it failed to read.

Through the real runner: a file caught mid-write (unparseable), a document that cannot be
identified, a folder momentarily empty, a path that went away: the last whole read stays
(nothing is deleted), a warning names the code, and once the files are whole again the
runner reconciles with them. Before a first whole read it reconciles nothing at all.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ncp.cli
from ncp.config import load_config
from ncp.live.runner import Runner, RunOptions
from sdn.model import SegmentPort
from sdn.store import Store

SAMPLE = Path(__file__).resolve().parents[3] / "topologies" / "guestbook"
GUESTBOOK = {"default/frontend-0", "default/frontend-1", "default/frontend-2",
             "default/redis-master-0", "default/redis-slave-0", "default/redis-slave-1"}


def wait(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def pods(state: Path) -> set[str]:
    with Store.open_readonly(state) as store:
        return {p.display_name for p in store.inventory().of_type(SegmentPort)
                if p.tag("ncp/pod")}


class Watchdog:
    """Samples the state's pods on a thread for as long as it runs: the smallest set
    seen says whether any pass ever deleted what it should not have."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.smallest: set[str] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            now = pods(self.state)
        except Exception:  # the state is not created yet
            return
        if self.smallest is None or len(now) < len(self.smallest):
            self.smallest = now

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.01)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # the state as the test leaves it counts too


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    dest = tmp_path / "cluster"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture
def runner_for(tmp_path: Path) -> Iterator[Callable[..., Runner]]:
    made: list[Runner] = []

    def make(paths: list[Path], **overrides: object) -> Runner:
        runner = Runner(RunOptions(state=tmp_path / "state.db", config=load_config(None),
                                   debounce=0.02, poll_interval=0.05, **overrides),  # type: ignore[arg-type]
                        manifests=paths)
        made.append(runner)
        runner.start()
        return runner
    yield make
    for r in made:
        r.stop()


def _break(folder: Path) -> dict[str, Callable[[], None]]:
    """Case id -> how the input goes bad (each keeps the guestbook's objects unread)."""
    frontend = folder / "frontend.yaml"
    text = frontend.read_text()
    return {
        "truncated-mid-write": lambda: frontend.write_text(
            text[: text.index("spec:")] + "spec: {replicas: 3, selector: {matchLabels: {"),
        "unidentifiable-document": lambda: frontend.write_text("kind: Deployment\n"
                                                               "metadata: {}\n"),
        "folder-momentarily-empty": lambda: [f.unlink() for f in folder.glob("*.yaml")],
        "path-gone": lambda: shutil.rmtree(folder),
    }


CASES = ["truncated-mid-write", "unidentifiable-document", "folder-momentarily-empty",
         "path-gone"]
CODES = {"truncated-mid-write": "MALFORMED_MANIFEST",
         "unidentifiable-document": "INVALID_OBJECT",
         "folder-momentarily-empty": "EMPTY_INPUT", "path-gone": "PATH_NOT_FOUND"}


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_a_read_that_is_not_whole_deletes_nothing(folder: Path, tmp_path: Path,
                                                  runner_for: Callable[..., Runner],
                                                  caplog: pytest.LogCaptureFixture,
                                                  case: str) -> None:
    state = tmp_path / "state.db"
    saved = tmp_path / "saved"
    shutil.copytree(folder, saved)
    runner = runner_for([folder])
    wait(lambda: runner.reconciles >= 1)
    assert pods(state) == GUESTBOOK
    with Watchdog(state) as dog, caplog.at_level(logging.WARNING, logger="ncp.running"):
        _break(folder)[case]()
        wait(lambda: bool(runner.input_gaps))
        assert [p.code for p in runner.input_gaps] == [CODES[case]]
        # Whole again: the runner reads it and reconciles (a change, to see it happen).
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(saved, folder)
        (folder / "frontend.yaml").unlink()
        wait(lambda: "default/frontend-0" not in pods(state))
    assert dog.smallest == GUESTBOOK - {"default/frontend-0", "default/frontend-1",
                                        "default/frontend-2"}
    assert runner.input_gaps == []
    assert any(CODES[case] in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)


def test_nothing_is_reconciled_before_a_first_whole_read(folder: Path, tmp_path: Path,
                                                         runner_for: Callable[..., Runner],
                                                         capsys: pytest.CaptureFixture[str],
                                                         ) -> None:
    state = tmp_path / "state.db"
    assert ncp.cli.main(["sync", "--cluster", str(folder), "--state", str(state),
                         "--now", "1700000000", "-q"]) == 0
    assert pods(state) == GUESTBOOK
    (folder / "frontend.yaml").write_text("kind: Pod\nmetadata: {name: [\n")
    with Watchdog(state) as dog:
        runner = runner_for([folder])
        wait(lambda: bool(runner.input_gaps))
        (folder / "frontend.yaml").unlink()  # whole again (and a change)
        wait(lambda: "default/frontend-0" not in pods(state))
    assert dog.smallest == {"default/redis-master-0", "default/redis-slave-0",
                            "default/redis-slave-1"}
    assert runner.history[0].mode == "full"


def test_run_once_on_input_not_read_in_full_exits_2(folder: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    ) -> None:
    state = tmp_path / "state.db"
    assert ncp.cli.main(["sync", "--cluster", str(folder), "--state", str(state),
                         "--now", "1700000000", "-q"]) == 0
    capsys.readouterr()
    (folder / "frontend.yaml").write_text("kind: Pod\nmetadata: {name: [\n")
    code = ncp.cli.main(["run", "--once", "--cluster", str(folder), "--state", str(state)])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: MALFORMED_MANIFEST " in err and "frontend.yaml" in err
    assert pods(state) == GUESTBOOK


def test_allow_empty_lets_an_empty_folder_empty_the_cluster(
        folder: Path, tmp_path: Path, runner_for: Callable[..., Runner]) -> None:
    state = tmp_path / "state.db"
    runner = runner_for([folder], allow_empty=True)
    wait(lambda: runner.reconciles >= 1)
    assert pods(state) == GUESTBOOK
    for f in folder.glob("*.yaml"):
        f.unlink()
    wait(lambda: not pods(state))
    assert runner.input_gaps == []


def test_a_runner_waiting_for_a_whole_read_does_not_spin(folder: Path, tmp_path: Path,
                                                         runner_for: Callable[..., Runner],
                                                         ) -> None:
    """Until a first whole read the worker may not reconcile, and the cache has moved past
    what it reconciled: it must wait for the next change, not loop (a missing folder used
    to keep a core busy)."""
    import time

    (folder / "frontend.yaml").write_text("kind: Pod\nmetadata: {name: [\n")
    runner = Runner(RunOptions(state=tmp_path / "state.db", config=load_config(None),
                               debounce=0.02, poll_interval=0.05), manifests=[folder])
    asked = [0]
    ready = runner.worker.ready

    def counted() -> bool:
        asked[0] += 1
        return ready()

    runner.worker.ready = counted
    runner.start()
    try:
        wait(lambda: bool(runner.input_gaps))
        before = asked[0]
        time.sleep(1.5)
        # a turn asks twice and waits up to NOT_READY_WAIT (1 s) for a change
        assert asked[0] - before <= 8
        assert runner.reconciles == 0
    finally:
        runner.stop()


def test_run_refuses_a_missing_path_before_making_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.db"
    missing = tmp_path / "nope"
    code = ncp.cli.main(["run", "--cluster", str(missing), "--state", str(state)])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: PATH_NOT_FOUND {missing}: no such file or directory"]
    assert list(tmp_path.iterdir()) == []
