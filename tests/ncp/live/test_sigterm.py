"""``ncp run`` as a process: SIGTERM stops it gracefully (exit 0, the Lease released, JSON
logs when asked), and problems become Kubernetes Events on their objects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.apiserver import running_apiserver
from tests.support.live import converged, kubeconfig, ns, pod, realized_pods, wait


def test_sigterm_releases_the_lease_and_events_report_problems(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with running_apiserver(bookmark_interval=0.2) as server:
        server.apply(ns("nsx-system"))
        server.apply(ns("shop"))
        labels = {f"label-{i}": "x" for i in range(30)}  # beyond NSX's tag limit
        server.apply(pod("shop", "too-many-labels", **labels))
        server.apply(pod("shop", "fine"))
        cfg = kubeconfig(tmp_path / "kubeconfig", server.url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ncp.cli", "run", "--kubeconfig", str(cfg), "--state",
             str(state), "--identity", "replica-1", "--log-format", "json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(Path.cwd())})
        try:
            wait(lambda: "shop/fine" in realized_pods(state), what="realized")
            wait(lambda: any(e.get("reason") == "TAG_LIMIT_EXCEEDED"
                             for e in server.objects("Event", "shop")), what="event")
            lease = server.get("Lease", "nsx-system", "ncp-k8s-cluster")
            assert lease is not None and lease["spec"]["holderIdentity"] == "replica-1"
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(20)
            logs = proc.stderr.read() if proc.stderr else ""
        assert code == 0
        lease = server.get("Lease", "nsx-system", "ncp-k8s-cluster")
        assert lease is not None and lease["spec"]["holderIdentity"] == ""
        records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        assert records and {"time", "level", "logger", "message"} <= set(records[0])
        (event,) = [e for e in server.objects("Event", "shop")
                    if e.get("reason") == "TAG_LIMIT_EXCEEDED"]
        assert event["involvedObject"]["name"] == "too-many-labels"
        assert event["type"] == "Warning"
        assert not converged(server, state)  # the bad pod is rightly not realized
