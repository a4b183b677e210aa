"""``sdn daemon``: questions answered through a state's daemon are the questions answered
in-process, byte for byte (stdout, stderr, exit status), never of a stale revision; the
daemon's life (start, status, stop, idle timeout, a crashed one's files replaced) and its
guards (the peer's uid, ``SDN_NO_DAEMON``, Ctrl-C, a client that goes away).

Every daemon a test starts is stopped by the fixture that started it, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sdn.cli
from sdn.daemon import client, control, wire
from sdn.query import sidecar
from tests.support.cli_runs import TOPOLOGIES, run_main, sync_sample

ROOT = Path(__file__).resolve().parents[2]
FLOW = ["--src", "default/frontend-0", "--dst", "default/redis-master-0", "--dport", "6379"]
MT_FLOW = ["--src", "shop/frontend-0", "--dst", "payments/api-0", "--dport", "8443"]

#: id -> (sample state, sdn argv after --state): every question command, tables and
#: structured outputs, answers with problems (exit 1) and coded errors (exit 2).
CASES: dict[str, tuple[str, list[str]]] = {
    "gb-show-ports": ("guestbook", ["show", "segment-ports"]),
    "gb-show-groups-json": ("guestbook", ["show", "groups", "-o", "json"]),
    "gb-show-tag-yaml": ("guestbook", ["show", "segments", "--tag", "ncp/project=default",
                                       "-o", "yaml"]),
    "gb-ipam": ("guestbook", ["ipam", "--now", "1700000000"]),
    "gb-ipam-check-json": ("guestbook", ["ipam", "check", "-o", "json"]),
    "gb-topology": ("guestbook", ["topology"]),
    "gb-topology-dot": ("guestbook", ["topology", "-o", "dot", "-n", "default"]),
    "gb-validate": ("guestbook", ["validate"]),
    "gb-reach": ("guestbook", ["reach", "--port", "6379"]),
    "gb-reach-dst-json": ("guestbook", ["reach", "--dst", "default/redis-master-0",
                                        "--port", "6379", "-o", "json"]),
    "gb-explain": ("guestbook", ["explain", *FLOW]),
    "gb-traceflow": ("guestbook", ["traceflow", *FLOW]),
    "gb-traceflow-json-drop": ("guestbook", ["traceflow", *FLOW, "--default-action", "DROP",
                                             "-o", "json"]),
    "gb-path": ("guestbook", ["path", *FLOW]),
    "gb-lint": ("guestbook", ["lint", "--fail-on", "never"]),
    "gb-lb": ("guestbook", ["lb"]),
    "gb-clusters-json": ("guestbook", ["clusters", "-o", "json"]),
    "gb-unknown-pod": ("guestbook", ["traceflow", "--src", "default/nope", "--dst",
                                     "default/frontend-0"]),
    "gb-unknown-namespace": ("guestbook", ["reach", "-n", "nope"]),
    "gb-bad-argument": ("guestbook", ["reach", "--port", "0"]),
    "mt-lint-fails": ("multi-tenant", ["lint", "--fail-on", "info"]),
    "mt-reach-ns": ("multi-tenant", ["reach", "-n", "shop", "--port", "8443"]),
    "mt-connectivity": ("multi-tenant", ["connectivity"]),
    "mt-connectivity-json": ("multi-tenant", ["connectivity", "-n", "payments", "--witness",
                                              "-o", "json"]),
    "mt-explain-json": ("multi-tenant", ["explain", *MT_FLOW, "-o", "json"]),
    "mt-traceflow-svc": ("multi-tenant", ["traceflow", "--src", "shop/frontend-1", "--dst",
                                          "svc:shop/catalog", "--all-backends"]),
    "mt-topology-cluster": ("multi-tenant", ["topology", "--collapse", "all"]),
    "lb-lb-json": ("lb-heavy", ["lb", "-o", "json"]),
    "lb-show-vs": ("lb-heavy", ["show", "lb-virtual-servers", "-n", "apps"]),
}


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One state per sample, each with its daemon running (stopped at the end)."""
    out: dict[str, Path] = {}
    try:
        for name in sorted({sample for sample, _ in CASES.values()}):
            out[name] = tmp_path_factory.mktemp(name) / "state.db"
            sync_sample(out[name], name)
            control.start(out[name], 120.0)
        yield out
    finally:
        for state in out.values():
            control.stop(state)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A guestbook state of this test's own, whose daemon (if the test starts one) is
    stopped at the end."""
    path = tmp_path / "state.db"
    sync_sample(path, "guestbook")
    try:
        yield path
    finally:
        control.stop(path)


def through_daemon(state: Path, *argv: object) -> tuple[int, str, str]:
    """``sdn ARGV`` handed to the state's daemon (it must take it), with its exit status,
    stdout and stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            open(os.devnull, "rb") as stdin:
        code = client.forward([str(a) for a in argv], state,
                              (stdin.fileno(), out.fileno(), err.fileno()))
        assert code is not None, "the daemon did not take the question"
        out.seek(0)
        err.seek(0)
        return code, out.read().decode(), err.read().decode()


def served(state: Path) -> int:
    info = control.status(state)
    assert info is not None
    return int(info["requests"])


@pytest.mark.parametrize("case", list(CASES))
def test_the_daemon_answers_as_the_process_would(states: dict[str, Path], case: str) -> None:
    sample, argv = CASES[case]
    state = states[sample]
    before = served(state)
    answer = through_daemon(state, "--state", state, *argv)
    assert answer == run_main(sdn.cli.main, "--state", state, *argv)
    assert served(state) == before + 1


def _sdn(state: Path, *argv: str, env: dict[str, str] | None = None,
         importtime: bool = False) -> subprocess.CompletedProcess[str]:
    """The ``sdn`` entry point in a process of its own."""
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-m", "sdn", "--state", str(state), *argv],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_sdn_hands_questions_over_unless_told_not_to(states: dict[str, Path]) -> None:
    state = states["guestbook"]
    argv = ["show", "segment-ports", "-o", "json"]
    expected = run_main(sdn.cli.main, "--state", state, *argv)
    before = served(state)
    proc = _sdn(state, *argv, importtime=True)
    assert (proc.returncode, proc.stdout) == expected[:2]
    assert served(state) == before + 1
    # the client's path imports nothing of what answering needs
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert not {"pydantic", "networkx", "rich", "yaml", "sqlite3", "sdn.query",
                "sdn.store", "sdn.model"} & imported
    bypass = _sdn(state, *argv, env={"SDN_NO_DAEMON": "1"})
    assert (bypass.returncode, bypass.stdout, bypass.stderr) == expected
    assert served(state) == before + 1


def test_writers_and_in_process_calls_never_go_through_it(states: dict[str, Path]) -> None:
    state = states["guestbook"]
    before = served(state)
    assert run_main(sdn.cli.main, "--state", state, "clusters")[0] == 0
    proc = _sdn(state, "profile", "list")
    assert proc.returncode == 0, proc.stderr
    assert served(state) == before


def test_every_command_is_a_question_or_not(states: dict[str, Path]) -> None:
    """A new command must be classified: read-only questions go through the daemon."""
    from sdn.cli.main import QUESTIONS, _parser

    sub = next(a for a in _parser()._actions if a.dest == "command")
    assert isinstance(sub.choices, dict)
    assert set(sub.choices) == QUESTIONS | {"apply", "delete", "profile", "daemon", "realize",
                                            "verify", "serve"}


def test_a_new_revision_is_answered_never_a_stale_one(state: Path) -> None:
    control.start(state, 60.0)
    argv = ["--state", state, "show", "groups", "-o", "json"]
    first = through_daemon(state, *argv)
    code, _, err = run_main(sdn.cli.main, "apply", "-f", TOPOLOGIES / "admin" /
                            "guardrails.yaml", "--state", state)
    assert code == 0, err
    applied = through_daemon(state, *argv)
    assert applied != first
    assert applied == run_main(sdn.cli.main, *argv)
    sync_sample(state, "multi-tenant", "--cluster-name", "other", now=1_700_000_100.0)
    synced = through_daemon(state, *argv)
    assert synced == run_main(sdn.cli.main, *argv)
    info = control.status(state)
    assert info is not None and info["revision"] == json.loads(
        run_main(sdn.cli.main, "--state", state, "clusters", "-o", "json")[1])[-1]["revision"]


def test_files_socket_mode_and_status(state: Path) -> None:
    info, started = control.start(state, 60.0)
    assert started and control.start(state, 60.0)[1] is False
    sock = wire.socket_path(state)
    assert sock.parent == sidecar.folder_of(state)
    assert sock.stat().st_mode & 0o777 == 0o600
    assert int(wire.pid_path(state).read_text()) == info["pid"]
    code, out, _ = run_main(sdn.cli.main, "daemon", "status", "--state", state, "-o", "json")
    shown = json.loads(out)
    assert code == 0 and shown["running"] and shown["pid"] == info["pid"]
    assert shown["revision"] == 1 and shown["requests"] == 0
    assert control.stop(state) == info["pid"]
    assert not sock.exists() and not wire.pid_path(state).exists()
    code, out, _ = run_main(sdn.cli.main, "daemon", "status", "--state", state, "-o", "json")
    assert (code, json.loads(out)) == (1, {"running": False, "state": str(state)})
    assert run_main(sdn.cli.main, "daemon", "stop", "--state", state)[0] == 0


def test_a_state_that_does_not_open_is_refused_before_any_daemon(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    code, out, err = run_main(sdn.cli.main, "daemon", "start", "--state", missing)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: STATE_NOT_FOUND {missing}: ")
    assert not wire.index_folder(missing).exists()


def test_it_stops_when_idle(state: Path) -> None:
    control.start(state, 1.0)
    deadline = time.monotonic() + 20
    while control.alive(state) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not control.alive(state)
    assert not wire.socket_path(state).exists() and not wire.pid_path(state).exists()
    assert "idle timeout" in wire.log_path(state).read_text()


def test_a_killed_daemon_falls_back_and_is_replaced(state: Path) -> None:
    info, _ = control.start(state, 60.0)
    os.kill(info["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while control.alive(state) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wire.socket_path(state).exists()  # what a crash leaves
    argv = ["--state", str(state), "show", "segment-ports"]
    assert client.forward(argv, state) is None  # answered in-process instead
    proc = _sdn(state, "show", "segment-ports")
    assert (proc.returncode, proc.stdout, proc.stderr) == run_main(sdn.cli.main, *argv)
    again, started = control.start(state, 60.0)
    assert started and again["pid"] != info["pid"]
    assert through_daemon(state, *argv) == run_main(sdn.cli.main, *argv)


def test_a_daemon_refuses_another_state_and_another_code(states: dict[str, Path],
                                                         tmp_path: Path) -> None:
    state = states["guestbook"]
    with wire.connect(wire.socket_path(state), 2.0) as sock:
        hello, _ = wire.receive(sock)
        assert hello is not None and hello["code"] == wire.code_identity()
        with open(os.devnull, "rb") as null:
            wire.send(sock, {"op": "ask", "argv": ["clusters"], "cwd": "/", "env": {},
                             "umask": 0o22, "state": str(tmp_path / "other.db")},
                      [null.fileno()] * 3)
        reply, _ = wire.receive(sock)
    assert reply is not None and "refused" in reply


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another uid")
def test_a_peer_of_another_uid_is_refused(state: Path) -> None:
    control.start(state, 60.0)
    sock = wire.socket_path(state)
    os.chmod(sock, 0o666)  # as if the socket's mode were wrong: the uid check still holds
    os.chmod(sock.parent, 0o755)
    folder = os.open(sock.parent, os.O_RDONLY | os.O_DIRECTORY)  # past the 0700 test folders
    probe = ("import os, socket\nos.setuid(65534)\ns = socket.socket(socket.AF_UNIX)\n"
             f"s.connect('/proc/self/fd/{folder}/{sock.name}')\nprint(repr(s.recv(100)))\n")
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=20, pass_fds=[folder])
    finally:
        os.close(folder)
    assert proc.stdout.strip() == "b''", proc.stderr
    assert "refused a peer of uid 65534" in wire.log_path(state).read_text()


def _blocked_question(state: Path) -> tuple[subprocess.Popen[str], int]:
    """A question (in a process of its own) whose answer is stuck writing to a full pipe,
    and the pipe's read end: its output (over 8 KiB, one write) cannot go anywhere."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write, b"x" * 65536)
    os.set_blocking(write, True)
    proc = subprocess.Popen([sys.executable, "-m", "sdn", "--state", str(state), "show",
                             "segment-ports", "-o", "json"], stdout=write,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(write)
    deadline = time.monotonic() + 20
    while (control.status(state) or {}).get("answering") != 1:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    return proc, read


def _wait_for_log(state: Path, text: str) -> None:
    deadline = time.monotonic() + 20
    while text not in wire.log_path(state).read_text():
        assert time.monotonic() < deadline, wire.log_path(state).read_text()
        time.sleep(0.05)


def _drain(read: int) -> None:
    with open(read, "rb") as pipe:
        pipe.read()


def test_ctrl_c_interrupts_the_answer_and_others_are_answered_meanwhile(state: Path) -> None:
    control.start(state, 60.0)
    proc, read = _blocked_question(state)
    argv = ["--state", str(state), "clusters"]
    assert through_daemon(state, *argv) == run_main(sdn.cli.main, *argv)  # concurrently
    proc.send_signal(signal.SIGINT)
    # only once the daemon has passed the Ctrl-C on: a pipe drained earlier lets the
    # answer finish (exit 0) before the interrupt reaches it
    _wait_for_log(state, "interrupted (Ctrl-C)")
    _drain(read)  # what the interrupted answer had buffered can go now
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert err == ("sdn: INTERRUPTED: stopped before writing anything (the state is as "
                   "before)\n")


def test_a_client_that_goes_away_ends_its_answer(state: Path) -> None:
    control.start(state, 60.0)
    proc, read = _blocked_question(state)
    proc.kill()
    proc.communicate(timeout=20)
    deadline = time.monotonic() + 20
    while (control.status(state) or {}).get("answering") != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.close(read)
    log = wire.log_path(state).read_text()
    assert "its client went away" in log and "exit 137" in log


def test_a_socket_path_longer_than_an_address_holds(tmp_path: Path) -> None:
    state = tmp_path / ("x" * 60) / ("y" * 60) / "state.db"
    state.parent.mkdir(parents=True)
    sync_sample(state, "guestbook")
    assert len(str(wire.socket_path(state))) > 108
    try:
        control.start(state, 60.0)
        argv = ["--state", str(state), "validate"]
        assert through_daemon(state, *argv) == run_main(sdn.cli.main, *argv)
    finally:
        control.stop(state)
    assert not control.alive(state)


def test_a_daemon_killed_mid_answer_is_reported_and_takes_its_child(state: Path) -> None:
    info, _ = control.start(state, 60.0)
    proc, read = _blocked_question(state)
    os.kill(info["pid"], signal.SIGKILL)
    _, err = proc.communicate(timeout=20)
    assert (proc.returncode, err) == (client.EXIT_LOST, client.LOST + "\n")
    assert _writers_gone(read)  # the child died with the daemon


def _writers_gone(read: int, timeout: float = 20.0) -> bool:
    """Whether the pipe reaches its end (every writer closed) within ``timeout``."""
    deadline = time.monotonic() + timeout
    with open(read, "rb", buffering=0) as pipe:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([pipe], [], [], 0.1)
            if ready and pipe.read(65536) == b"":
                return True
    return False
