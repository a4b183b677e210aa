"""Every command against every class of bad input: one coded line, the right exit, nothing
written.

Issue 10's sweep, as tables so that later commands join by adding rows:

* :data:`ARGUMENT_CASES`: a good state (the guestbook sample) and one bad argument each:
  missing, malformed, out of range, wrong type, an unknown reference, an unwritable output.
* :data:`STATE_CASES` x :data:`COMMANDS`: every command against a ``--state`` that is a
  folder, a text file, another program's SQLite database, missing, or empty.
* a read-only mount of a good state: every command that only reads still answers; every
  command that writes says ``STATE_READ_ONLY``.

Each case asserts the exit code, that stderr is exactly the expected ``error: CODE ...``
lines (no traceback, no usage block), and that the state is unchanged (every table's rows,
or the bytes of a file that is not a state).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ncp.cli
import sdn.cli
from tests.support.statefiles import snapshot

REPO = Path(__file__).resolve().parents[2]
GUESTBOOK = REPO / "topologies" / "guestbook"
ADMIN = REPO / "topologies" / "admin" / "guardrails.yaml"
PROFILE = REPO / "topologies" / "profiles" / "dedicated-t1.json"
FLOWS = REPO / "tests" / "data" / "flows" / "guestbook.csv"
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def invoke(argv: Sequence[object]) -> Outcome:
    """Run ``sdn ARGV`` or ``ncp ARGV`` in-process, as the console script would."""
    main = {"sdn": sdn.cli.main, "ncp": ncp.cli.main}[str(argv[0])]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in argv[1:]])
        except SystemExit as stop:  # argparse's own exits (--help, usage errors)
            code = int(stop.code or 0)
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_refused(res: Outcome, code: str, *, lines: int = 1) -> None:
    """Exit 2, and stderr exactly ``lines`` line(s), the first ``error: CODE ...``."""
    assert res.code == 2, (res.code, res.out, res.err)
    err = res.err.splitlines()
    assert "Traceback" not in res.err, res.err
    assert len(err) == lines, res.err
    assert err[0].startswith(f"error: {code}"), res.err


@pytest.fixture(scope="module")
def good_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state holding the guestbook sample (copied per test by :func:`state`)."""
    state = tmp_path_factory.mktemp("good") / "state.db"
    res = invoke(["ncp", "sync", "--cluster", GUESTBOOK, "--state", state, "--now", T0, "-q"])
    assert res.code == 0, res.err
    return state


@pytest.fixture
def state(good_state: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "state" / "state.db"
    copy.parent.mkdir()
    shutil.copy(good_state, copy)
    return copy


def _broken_yaml(tmp: Path) -> Path:
    p = tmp / "broken.yaml"
    p.write_text("resource_type: Group\nid: g\nexpression: [\n")
    return p


def _broken_json(tmp: Path) -> Path:
    p = tmp / "broken.json"
    p.write_text("{\"name\": ")
    return p


#: id -> (argv after the command name, with "{state}" and "{tmp}" filled in; expected
#: error code). Every one exits 2 with that code on one line and writes nothing.
ARGUMENT_CASES: dict[str, tuple[list[object], str]] = {
    "show-unknown-kind": (["sdn", "show", "nothing"], "BAD_ARGUMENT"),
    "show-bad-output": (["sdn", "show", "tier-1s", "-o", "xml"], "BAD_ARGUMENT"),
    "show-tag-without-value": (["sdn", "show", "tier-1s", "--tag", "novalue"], "BAD_ARGUMENT"),
    "ipam-now-not-a-number": (["sdn", "ipam", "--now", "abc"], "BAD_ARGUMENT"),
    "topology-unknown-namespace": (["sdn", "topology", "-n", "nosuchns"], "UNKNOWN_NAMESPACE"),
    "topology-unknown-cluster": (["sdn", "topology", "--cluster", "nope"], "UNKNOWN_CLUSTER"),
    "topology-negative-max-ports": (["sdn", "topology", "--max-ports", "-1"], "BAD_ARGUMENT"),
    "topology-unwritable-out": (["sdn", "topology", "--out", "{tmp}/no/such/dir/t.txt"],
                                "OUTPUT_UNWRITABLE"),
    "lint-unknown-cluster": (["sdn", "lint", "--cluster", "nope"], "UNKNOWN_CLUSTER"),
    "lint-bad-fail-on": (["sdn", "lint", "--fail-on", "sometimes"], "BAD_ARGUMENT"),
    "lb-unknown-cluster": (["sdn", "lb", "--cluster", "nope"], "UNKNOWN_CLUSTER"),
    "replay-missing-flows": (["sdn", "replay", "--flows", "{tmp}/none.csv"], "FILE_NOT_FOUND"),
    "replay-bad-format": (["sdn", "replay", "--flows", FLOWS, "--format", "pcap"],
                          "BAD_ARGUMENT"),
    "replay-missing-candidate": (["sdn", "replay", "--flows", FLOWS, "--candidate",
                                  "{tmp}/none"], "FILE_NOT_FOUND"),
    "replay-malformed-candidate": (["sdn", "replay", "--flows", FLOWS, "--candidate",
                                    _broken_yaml], "MALFORMED_FILE"),
    "replay-unknown-default-action": (["sdn", "replay", "--flows", FLOWS,
                                       "--default-action", "REJECT"], "BAD_ARGUMENT"),
    "reach-port-not-a-number": (["sdn", "reach", "--port", "abc"], "BAD_ARGUMENT"),
    "reach-port-zero": (["sdn", "reach", "--port", "0"], "BAD_ARGUMENT"),
    "reach-port-too-high": (["sdn", "reach", "--port", "70000"], "BAD_ARGUMENT"),
    "reach-unknown-namespace": (["sdn", "reach", "-n", "nosuchns"], "UNKNOWN_NAMESPACE"),
    "reach-unknown-cluster": (["sdn", "reach", "--cluster", "nope"], "UNKNOWN_CLUSTER"),
    "explain-unknown-cluster": (["sdn", "explain", "--src", "default/frontend-0", "--dst",
                                 "default/redis-master-0", "--dport", "6379", "--cluster",
                                 "nope"], "UNKNOWN_CLUSTER"),
    "traceflow-sport-out-of-range": (["sdn", "traceflow", "--src", "default/frontend-0",
                                      "--dst", "default/redis-master-0", "--sport", "-5"],
                                     "BAD_ARGUMENT"),
    "explain-missing-dport": (["sdn", "explain", "--src", "default/frontend-0", "--dst",
                               "default/redis-master-0"], "BAD_ARGUMENT"),
    "explain-dport-zero": (["sdn", "explain", "--src", "default/frontend-0", "--dst",
                            "default/redis-master-0", "--dport", "0"], "BAD_ARGUMENT"),
    "explain-unknown-pod": (["sdn", "explain", "--src", "default/frontend-0", "--dst",
                             "default/nope", "--dport", "80"], "UNKNOWN_POD"),
    "traceflow-missing-dst": (["sdn", "traceflow", "--src", "default/frontend-0"],
                              "BAD_ARGUMENT"),
    "traceflow-unknown-pod": (["sdn", "traceflow", "--src", "default/nope", "--dst",
                               "default/frontend-0"], "UNKNOWN_POD"),
    "traceflow-bad-address": (["sdn", "traceflow", "--src", "default/frontend-0", "--dst",
                               "999.1.1.1"], "BAD_ARGUMENT"),
    "traceflow-unknown-service": (["sdn", "traceflow", "--src", "default/frontend-0",
                                   "--dst", "svc:default/nope"], "UNKNOWN_SERVICE"),
    "traceflow-ttl-out-of-range": (["sdn", "traceflow", "--src", "default/frontend-0",
                                    "--dst", "default/redis-master-0", "--ttl", "999"],
                                   "INVALID_PACKET"),
    "path-missing-src": (["sdn", "path", "--dst", "default/frontend-0"], "BAD_ARGUMENT"),
    "path-missing-dst": (["sdn", "path", "--src", "default/frontend-0"], "BAD_ARGUMENT"),
    "path-unknown-cluster": (["sdn", "path", "--src", "default/frontend-0", "--dst",
                              "default/redis-master-0", "--cluster", "nope"],
                             "UNKNOWN_CLUSTER"),
    "path-unknown-namespace": (["sdn", "path", "--src", "nosuchns/frontend-0", "--dst",
                                "default/redis-master-0"], "UNKNOWN_POD"),
    "path-unknown-src-pod": (["sdn", "path", "--src", "default/nope", "--dst",
                              "default/frontend-0"], "UNKNOWN_POD"),
    "path-unknown-dst-pod": (["sdn", "path", "--src", "default/frontend-0", "--dst",
                              "default/nope"], "UNKNOWN_POD"),
    "path-bad-address": (["sdn", "path", "--src", "default/frontend-0", "--dst",
                          "999.1.1.1"], "BAD_ARGUMENT"),
    "path-unknown-service": (["sdn", "path", "--src", "default/frontend-0", "--dst",
                              "svc:default/nope"], "UNKNOWN_SERVICE"),
    "path-unknown-service-port": (["sdn", "path", "--src", "default/frontend-0", "--dst",
                                   "svc:default/redis-master", "--dport", "80"],
                                  "UNKNOWN_SERVICE_PORT"),
    "path-dport-zero": (["sdn", "path", "--src", "default/frontend-0", "--dst",
                         "svc:default/redis-master", "--dport", "0"], "BAD_ARGUMENT"),
    "path-bad-output": (["sdn", "path", "--src", "default/frontend-0", "--dst", "8.8.8.8",
                         "-o", "svg"], "BAD_ARGUMENT"),
    "profile-show-unknown": (["sdn", "profile", "show", "nope"], "PROFILE_NOT_FOUND"),
    "profile-delete-unknown": (["sdn", "profile", "delete", "nope"], "PROFILE_NOT_FOUND"),
    "profile-create-missing-file": (["sdn", "profile", "create", "{tmp}/none.json"],
                                    "PROFILE_NOT_FOUND"),
    "profile-create-malformed": (["sdn", "profile", "create", _broken_json],
                                 "MALFORMED_PROFILE"),
    "apply-missing-file": (["sdn", "apply", "-f", "{tmp}/none.yaml"], "FILE_NOT_FOUND"),
    "apply-malformed-file": (["sdn", "apply", "-f", _broken_yaml], "MALFORMED_FILE"),
    "delete-missing-file": (["sdn", "delete", "-f", "{tmp}/none.yaml"], "FILE_NOT_FOUND"),
    "sync-missing-config": (["ncp", "sync", "--cluster", GUESTBOOK, "--config",
                             "{tmp}/none.yaml"], "CONFIG_NOT_FOUND"),
    "sync-malformed-config": (["ncp", "sync", "--cluster", GUESTBOOK, "--config",
                               _broken_yaml], "MALFORMED_CONFIG"),
    "sync-unknown-profile": (["ncp", "sync", "--cluster", GUESTBOOK, "--profile", "nope"],
                             "PROFILE_NOT_FOUND"),
    "sync-malformed-profile": (["ncp", "sync", "--cluster", GUESTBOOK, "--profile",
                                _broken_json], "MALFORMED_PROFILE"),
    "sync-now-not-a-number": (["ncp", "sync", "--cluster", GUESTBOOK, "--now", "abc"],
                              "BAD_ARGUMENT"),
    "sync-unknown-output": (["ncp", "sync", "--cluster", GUESTBOOK, "-o", "xml"],
                            "BAD_ARGUMENT"),
    "sync-missing-profile-file": (["ncp", "sync", "--cluster", GUESTBOOK, "--profile",
                                   "{tmp}/none.json"], "PROFILE_NOT_FOUND"),
    "sync-misspelt-path": (["ncp", "sync", "--cluster", "{tmp}/misspelt"], "PATH_NOT_FOUND"),
    "run-unknown-option": (["ncp", "run", "--no-such-option"], "BAD_ARGUMENT"),
    "run-missing-kubeconfig": (["ncp", "run", "--once", "--kubeconfig", "{tmp}/none"],
                               "KUBECONFIG_INVALID"),
    "run-malformed-kubeconfig": (["ncp", "run", "--once", "--kubeconfig", _broken_yaml],
                                 "KUBECONFIG_INVALID"),
    "run-metrics-port-out-of-range": (["ncp", "run", "--once", "--metrics-port", "99999",
                                       "--cluster", GUESTBOOK], "BAD_ARGUMENT"),
    "apply-malformed-json": (["sdn", "apply", "-f", _broken_json], "MALFORMED_FILE"),
}


def _fill(argv: Sequence[object], tmp: Path) -> list[object]:
    return [a(tmp) if callable(a) else str(a).replace("{tmp}", str(tmp)) for a in argv]


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in ARGUMENT_CASES])
def test_bad_argument_is_one_coded_line_and_writes_nothing(state: Path, tmp_path: Path,
                                                           case: str) -> None:
    argv, code = ARGUMENT_CASES[case]
    before = snapshot(state)
    res = invoke([*_fill(argv, tmp_path), "--state", state])
    assert_refused(res, code)
    assert snapshot(state) == before


#: Every command, as a user would type it against the guestbook, by id; ``writes`` says
#: whether it writes the state (then a missing or empty state file is a new state).
@dataclass(frozen=True)
class Command:
    argv: tuple[object, ...]
    writes: bool = False


COMMANDS: dict[str, Command] = {
    "show": Command(("sdn", "show", "segments")),
    "show-json": Command(("sdn", "show", "segment-ports", "-o", "json")),
    "ipam": Command(("sdn", "ipam")),
    "ipam-check": Command(("sdn", "ipam", "check")),
    "topology": Command(("sdn", "topology")),
    "validate": Command(("sdn", "validate")),
    "reach": Command(("sdn", "reach", "--port", "6379")),
    "explain": Command(("sdn", "explain", "--src", "default/frontend-0", "--dst",
                        "default/redis-master-0", "--dport", "6379")),
    "traceflow": Command(("sdn", "traceflow", "--src", "default/frontend-0", "--dst",
                          "default/redis-master-0", "--dport", "6379")),
    "path": Command(("sdn", "path", "--src", "default/frontend-0", "--dst",
                     "svc:default/redis-master")),
    "lint": Command(("sdn", "lint")),
    "replay": Command(("sdn", "replay", "--flows", FLOWS)),
    "replay-candidate": Command(("sdn", "replay", "--flows", FLOWS, "--candidate", ADMIN)),
    "lb": Command(("sdn", "lb")),
    "clusters": Command(("sdn", "clusters")),
    "profile-list": Command(("sdn", "profile", "list")),
    "apply": Command(("sdn", "apply", "-f", ADMIN), writes=True),
    "profile-create": Command(("sdn", "profile", "create", PROFILE), writes=True),
    "sync": Command(("ncp", "sync", "--cluster", GUESTBOOK, "--now", T0, "-q"), writes=True),
}


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO photos VALUES (1, 'cat.jpg')")


#: id -> (make the bad --state at the given path, code for readers, code for writers;
#: None: not an error for that side).
STATE_CASES: dict[str, tuple[Callable[[Path], None], str | None, str | None]] = {
    "folder": (lambda p: p.mkdir(), "STATE_IS_DIRECTORY", "STATE_IS_DIRECTORY"),
    "text-file": (lambda p: p.write_text("these are my notes\n"), "STATE_NOT_A_DATABASE",
                  "STATE_NOT_A_DATABASE"),
    "other-sqlite-database": (_foreign_sqlite, "STATE_NOT_A_STATE", "STATE_NOT_A_STATE"),
    "missing": (lambda p: None, "STATE_NOT_FOUND", None),
    "empty-file": (lambda p: p.write_bytes(b""), "STATE_EMPTY", None),
}


@pytest.mark.parametrize("command", [pytest.param(c, id=c) for c in COMMANDS])
@pytest.mark.parametrize("bad", [pytest.param(c, id=c) for c in STATE_CASES])
def test_bad_state_file_is_one_coded_line_and_left_alone(tmp_path: Path, command: str,
                                                         bad: str) -> None:
    make, reader_code, writer_code = STATE_CASES[bad]
    cmd = COMMANDS[command]
    code = writer_code if cmd.writes else reader_code
    path = tmp_path / "state.db"
    make(path)
    before = snapshot(path)
    res = invoke([*cmd.argv, "--state", path])
    if code is None:  # a writer takes a missing or empty file as a new state
        assert res.code == 0, res.err
        return
    assert_refused(res, code)
    assert snapshot(path) == before


@pytest.fixture
def read_only_state(state: Path, tmp_path: Path) -> Any:
    """The guestbook state seen through a read-only bind mount (root only)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root and must test read-only mounts")
        pytest.skip("a read-only bind mount needs root")
    subprocess.run(["mount", "--bind", str(state.parent), str(mount)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        yield mount / state.name
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("command", [pytest.param(c, id=c) for c in COMMANDS])
def test_read_only_state_answers_reads_and_refuses_writes(read_only_state: Path,
                                                          command: str) -> None:
    cmd = COMMANDS[command]
    before = snapshot(read_only_state)
    res = invoke([*cmd.argv, "--state", read_only_state])
    if cmd.writes:
        assert_refused(res, "STATE_READ_ONLY")
    else:
        assert res.code in (0, 1), res.err  # 1: the answer is "problems found" (lint, ...)
        assert res.err == "", res.err
        assert res.out
    assert snapshot(read_only_state) == before


@pytest.mark.parametrize("command", [pytest.param(c, id=c) for c in COMMANDS])
def test_ctrl_c_mid_command_is_one_line_and_writes_nothing(
        state: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """A real SIGINT as the command opens the state (every command does, writers before
    they write): exit 130, one line, the state as before."""
    from sdn.store.sqlite import Store

    opening = Store._check_schema

    def interrupted(self: Store) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        opening(self)

    monkeypatch.setattr(Store, "_check_schema", interrupted)
    before = snapshot(state)
    res = invoke([*COMMANDS[command].argv, "--state", state])
    assert res.code == 130, (res.out, res.err)
    prog = str(COMMANDS[command].argv[0])
    assert res.err.splitlines() == [
        f"{prog}: INTERRUPTED: stopped before writing anything (the state is as before)"]
    assert snapshot(state) == before
