"""``Runner(push=True)``: the caller feeds the cache (as ``bench/bench_replay.py`` does);
problems that time alone can clear are retried when the hold behind them ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ncp.live.runner import Runner, RunOptions
from sdn.errors import StateError
from sdn.model import SegmentPort
from sdn.store import Store
from tests.support.clusters import config, namespace, pod
from tests.support.live import wait


def ports(state: Path) -> set[str]:
    """The pods with a port; none while the worker is still creating the state."""
    try:
        with Store.open_readonly(state) as store:
            return {p.display_name for p in store.inventory().of_type(SegmentPort)
                    if p.tag("ncp/pod")}
    except StateError:
        return set()


def test_a_pod_waiting_for_a_held_address_gets_it_when_the_hold_ends(tmp_path: Path) -> None:
    # One /29 for pods: 5 addresses and no room to carve another subnet.
    cfg = config(container_ip_blocks=[{"id": "tiny", "cidr": "10.0.0.0/29"}],
                 subnet_prefix=29, ip_reallocation_time=1.5, no_snat_ip_blocks=[],
                 enable_snat=False, implicit_namespaces=[])
    state = tmp_path / "s.db"
    runner = Runner(RunOptions(state=state, config=cfg, debounce=0.01,
                               leader_election=False), push=True)
    rv = 0

    def put(body: dict[str, Any], event: str = "ADDED") -> None:
        nonlocal rv
        rv += 1
        body["metadata"]["resourceVersion"] = str(rv)
        runner.cache.apply(body["kind"], event, body)
    runner.start()
    try:
        put(namespace("shop"))
        for i in range(5):
            put(pod("shop", f"p-{i}", node="node-1"))
        wait(lambda: len(ports(state)) == 5, what="five pods")
        put(pod("shop", "p-0", node="node-1"), "DELETED")
        put(pod("shop", "late", node="node-1"))
        wait(lambda: runner.last_report is not None and any(
            p.obj == "Pod/shop/late" for p in runner.last_report.problems),
            what="the late pod waiting for an address")
        assert runner.worker.full_due_at is not None
        wait(lambda: "shop/late" in ports(state), what="the late pod realized")
    finally:
        runner.stop()
