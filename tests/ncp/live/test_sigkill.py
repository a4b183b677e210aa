"""``ncp run`` killed with SIGKILL in the middle of its work and started again: the state
is never half-written, and the restarted run ends where a fresh sync of the final objects
ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ncp.config import load_config
from sdn.store import Store
from tests.support.apiserver import running_apiserver
from tests.support.live import assert_equals_fresh_sync, converged, kubeconfig, ns, pod
from tests.support.state_checks import check_invariants


def ncp(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ncp.cli", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path.cwd())})


def test_sigkill_mid_sync_then_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with running_apiserver(bookmark_interval=0.2) as server:
        cfg = kubeconfig(tmp_path / "kubeconfig", server.url)
        for n in range(5):
            server.apply(ns(f"t{n}"))
        common = ["--kubeconfig", str(cfg), "--state", str(state), "--no-leader-election"]
        proc = ncp("run", *common)
        try:
            deadline = time.monotonic() + 30
            while not state.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            for i in range(400):
                server.apply(pod(f"t{i % 5}", f"p{i}", app=f"a{i % 3}"))
            time.sleep(0.4)  # somewhere in the middle of reconciling the burst
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        with Store.open_readonly(state) as store:  # whatever landed is consistent
            check_invariants(store.inventory())
        for i in range(0, 400, 7):
            server.delete("Pod", f"t{i % 5}", f"p{i}")
        again = ncp("run", "--once", *common)
        assert again.wait(120) in (0, 1)
        assert converged(server, state)
        assert_equals_fresh_sync(server, state, tmp_path)
        assert load_config(None).cluster == "k8s-cluster"
