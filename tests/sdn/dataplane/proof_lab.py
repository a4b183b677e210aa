"""What the issue-13 proofs share: ``sdn`` run as its own process (so several run at
once), the records of those runs under the test's own ``SDN_RUN_DIR``, and forgetting a
realization's connection tracking between two experiments on it.

Why processes: the truth-table proof probes many states at the same time (a probe that
is dropped costs a whole timeout, so one after the other is slow), and the in-process
runner swaps the process's stdout, which only one command at a time can do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sdn.dataplane.kernel import inside

#: The repository (``python -m tests.support...`` runs from here).
ROOT = Path(__file__).resolve().parents[3]
#: Seconds any one command may take before the test fails rather than hangs.
COMMAND_TIMEOUT = 120


def environment(run_dir: Path) -> dict[str, str]:
    """This process's environment, with the records in ``run_dir`` and this checkout
    first on the import path."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "SDN_RUN_DIR": str(run_dir), "PYTHONPATH": path}


def sdn_process(run_dir: Path, *argv: object) -> subprocess.Popen[str]:
    """``sdn ARGV`` started as a process of its own (stdout and stderr piped)."""
    return subprocess.Popen([sys.executable, "-m", "sdn", *map(str, argv)], cwd=ROOT,
                            env=environment(run_dir), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[str], *codes: int) -> str:
    """Wait for ``process``; its stdout, after checking its exit code is one of ``codes``
    (default 0)."""
    out, err = process.communicate(timeout=COMMAND_TIMEOUT)
    assert process.returncode in (codes or (0,)), f"{process.args}: {err}"
    return out


def sdn_json(run_dir: Path, *argv: object) -> Any:
    """``sdn ARGV -o json`` in its own process, exit 0, its answer."""
    return json.loads(finish(sdn_process(run_dir, *argv, "-o", "json")))


class SpiedVerify:
    """``sdn verify ... -o json`` running in its own process, with every probe's kernel
    outcome recorded (:mod:`tests.support.verify_spy`)."""

    def __init__(self, run_dir: Path, state: Path, *argv: object) -> None:
        handle, name = tempfile.mkstemp(suffix=".json", dir=run_dir)
        os.close(handle)
        self.outcomes_file = Path(name)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.verify_spy", name, "verify", "--state",
             str(state), *map(str, argv), "-o", "json"], cwd=ROOT, env=environment(run_dir),
            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def result(self) -> tuple[dict[str, Any], list[list[Any]]]:
        """verify's answer (exit 0 or 1) and the outcomes: ``[netns, dst, protocol,
        port, outcome]`` per probe."""
        answer: dict[str, Any] = json.loads(finish(self.process, 0, 1))
        outcomes: list[list[Any]] = json.loads(self.outcomes_file.read_text())
        self.outcomes_file.unlink()
        return answer, outcomes


def forget_flows(namespaces: Iterable[str]) -> None:
    """Empty the connection tracking of ``namespaces``: a UDP flow a past experiment
    allowed stays established for 30 s, and a probe of the next one that happens to
    pick the same source port would pass as part of it (the DFW is stateful, as NSX's
    is: a rule change does not cut established flows)."""
    from pyroute2 import NFCTSocket

    for netns in namespaces:
        with inside(netns):
            tracker = NFCTSocket()
        try:
            tracker.flush()
        finally:
            tracker.close()


def realized_namespaces(answer: dict[str, Any]) -> list[str]:
    """Every namespace a ``sdn realize -o json`` answer names."""
    return sorted({*(p["netns"] for p in answer["ports"]),
                   *(g["netns"] for g in answer["gateways"]), answer["outside"]["netns"]})
