"""``ncp run --cluster DIR``: the same loop on manifests, reacting when files change, and
the metrics and health endpoints."""

from __future__ import annotations

import shutil
import time
import urllib.request
from pathlib import Path

from ncp.config import load_config
from ncp.live.runner import Runner, RunOptions
from sdn.model import SegmentPort
from sdn.store import Store

SAMPLE = Path(__file__).resolve().parents[3] / "topologies" / "guestbook"


def wait(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def pods(state: Path) -> set[str]:
    with Store.open_readonly(state) as store:
        return {p.display_name for p in store.inventory().of_type(SegmentPort)
                if p.tag("ncp/pod")}


def test_run_follows_manifest_changes(tmp_path: Path) -> None:
    folder = tmp_path / "cluster"
    shutil.copytree(SAMPLE, folder)
    state = tmp_path / "state.db"
    runner = Runner(RunOptions(state=state, config=load_config(None), debounce=0.05,
                               poll_interval=0.1, metrics_port=0), manifests=[folder])
    runner.start()
    try:
        wait(lambda: runner.reconciles >= 1)
        assert "default/frontend-2" in pods(state)
        (folder / "frontend.yaml").unlink()
        wait(lambda: "default/frontend-0" not in pods(state))
        assert pods(state) == {"default/redis-master-0", "default/redis-slave-0",
                               "default/redis-slave-1"}
        port = runner.metrics_server.server_address[1]
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        assert 'ncp_reconciles_total{mode="full",outcome="ok"}' in body
        assert "ncp_reconcile_seconds_bucket" in body
        assert 'ncp_realized{what="pods"} 3' in body
        assert 'ncp_ip_block_used_ratio{block="ip-block-pods"}' in body
        assert 'ncp_ip_pool_used_ratio{pool="ip-pool-snat"}' in body
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz")
        assert health.status == 200
    finally:
        runner.stop()
    assert not runner.worker.alive
