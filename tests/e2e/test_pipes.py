"""``ncp sync ... | head -1``: a reader that goes away is not an error. Nothing on
stderr, the exit code is the sync's own (0 all realized, 1 some objects rejected), and
the sync itself is unaffected (written whole, or, dry, not at all).

Real subprocesses and pipes, made deterministic two ways: a reader that is gone before
``ncp`` writes a byte (the read end closed first, as ``ncp sync | true`` would be), and
``head -1`` on an output larger than a pipe holds, so that ``ncp`` is still writing
when ``head`` has gone.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import sdn.cli
from topologies.generate import generate_cluster, write_cluster

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "bench" / "large-cluster.yaml"
PIPE_BUFFER = 65536


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pipes") / "cluster"
    write_cluster(generate_cluster(namespaces=500, pods=2500, seed=5, nodes=8), folder)
    return folder


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}


def _into_head(argv: list[str]) -> tuple[int, str, str]:
    """``argv | head -1``: ncp's exit code and stderr, and what head printed."""
    ncp = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    head = subprocess.Popen(["head", "-1"], stdin=ncp.stdout, stdout=subprocess.PIPE)
    assert ncp.stdout is not None and ncp.stderr is not None
    ncp.stdout.close()  # only head reads it now
    first, _ = head.communicate(timeout=120)
    err = ncp.stderr.read().decode()
    return ncp.wait(timeout=120), err, first.decode()


def _into_nobody(argv: list[str]) -> tuple[int, str, str]:
    """``argv`` writing into a pipe whose reader is already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, env=_env(),
                              check=False, timeout=120)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr.decode(), ""


#: id -> (reader, ncp sync options, config, exit code wanted).
CASES = {
    "table-reader-gone": (_into_nobody, [], CONFIG, 0),
    "json-reader-gone": (_into_nobody, ["-o", "json"], CONFIG, 0),
    "dry-run-reader-gone": (_into_nobody, ["--dry-run"], CONFIG, 0),
    "dry-run-table-head": (_into_head, ["--dry-run"], CONFIG, 0),
    "dry-run-json-head": (_into_head, ["--dry-run", "-o", "json"], CONFIG, 0),
    # The default blocks run out for 500 namespaces: objects rejected, a long table.
    "rejected-objects-head": (_into_head, [], None, 1),
}


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_a_closed_pipe_is_not_an_error(cluster: Path, tmp_path: Path, case: str) -> None:
    reader, options, config, wanted = CASES[case]
    state = tmp_path / "state.db"
    argv = [sys.executable, "-m", "ncp.cli", "sync", "--cluster", str(cluster), "--state",
            str(state), "--now", "1700000000", *options]
    if config is not None:
        argv += ["--config", str(config)]
    if reader is _into_head:  # the output must overflow the pipe, or head may read it all
        full = subprocess.run([*argv, "--state", str(tmp_path / "probe.db")],
                              capture_output=True, check=False, env=_env())
        assert len(full.stdout) > 2 * PIPE_BUFFER, len(full.stdout)
    code, err, first = reader(argv)
    assert err == ""
    assert code == wanted
    if reader is _into_head:
        assert first.strip()
    if "--dry-run" in options:
        assert not state.exists()
        return
    with sqlite3.connect(state) as db:
        revision = db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
    assert int(revision[0]) == 1  # written whole
    for check in (["validate"], ["ipam", "check"]):
        assert sdn.cli.main([*check, "--state", str(state)]) == 0, check


def test_a_table_into_a_closed_pipe_raises_broken_pipe() -> None:
    """The tables both commands print (rich) hand a closed pipe to the exit conventions
    as ``BrokenPipeError``; rich's own answer, ``SystemExit(1)``, made ``ncp sync |
    head -1`` exit 1, the code of "objects rejected"."""
    from sdn.render.output import print_table

    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as stream, pytest.raises(BrokenPipeError):
        print_table(["A", "B"], [["x" * 50, "y"]] * 2000, stream=stream)
        stream.flush()
