"""``ncp run`` against the protocol-faithful test API server, through the real
``kubernetes`` client and the production code path.

Every scenario ends the same way: the state equals (without addresses) a fresh
``ncp sync`` of the API server's final objects, no address is allocated twice, and the
cross-object checks pass.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncp.config import load_config
from ncp.live.leader import LeaseSettings
from ncp.live.runner import Runner, RunOptions
from ncp.sources.kube import KubeClient
from tests.support.apiserver import ApiServer, client_configuration, running_apiserver
from tests.support.live import (
    assert_equals_fresh_sync,
    converged,
    ns,
    pod,
    realized_pods,
    wait,
)


@pytest.fixture
def server() -> Iterator[ApiServer]:
    with running_apiserver(bookmark_interval=0.2) as s:
        s.apply(ns("nsx-system"))  # where NCP runs and keeps its Lease
        yield s


def runner_for(server: ApiServer, state: Path, identity: str = "ncp-a",
               **overrides: Any) -> Runner:
    options = RunOptions(state=state, config=load_config(None), debounce=0.05,
                         watch_timeout=5, resync_period=3600,
                         lease=LeaseSettings(name="ncp-k8s-cluster", identity=identity,
                                             master_timeout=2.0, heartbeat_period=0.3),
                         **overrides)
    return Runner(options, client=KubeClient(client_configuration(server)))


def test_objects_become_topology_and_status_is_written_back(server: ApiServer,
                                                            tmp_path: Path) -> None:
    server.apply(ns("shop", team="a"))
    for i in range(3):
        server.apply(pod("shop", f"web-{i}", app="web"))
    runner = runner_for(server, tmp_path / "s.db")
    runner.start()
    try:
        wait(lambda: converged(server, tmp_path / "s.db"), what="first sync")
        wait(lambda: "ncp/subnet-0" in (server.get("Namespace", None, "shop")["metadata"]
                                        .get("annotations") or {}), what="annotations")
        ann = server.get("Namespace", None, "shop")["metadata"]["annotations"]
        assert ann["ncp/snat_ip"].startswith("10.40.14.")
        wait(lambda: all("ncp/network_config" in (p["metadata"].get("annotations") or {})
                         for p in server.objects("Pod", "shop")), what="pod annotations")
        server.apply(pod("shop", "web-3", app="web"))
        wait(lambda: converged(server, tmp_path / "s.db"), what="new pod")
        server.apply({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "front", "namespace": "shop"},
                      "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                               "ports": [{"port": 80, "protocol": "TCP"}]}})

        def ingress() -> list[Any]:
            svc = server.get("Service", "shop", "front") or {}
            return list(((svc.get("status") or {}).get("loadBalancer") or {})
                        .get("ingress") or [])
        wait(lambda: bool(ingress()), what="the Service's external IP")
        assert ingress()[0]["ip"].startswith("10.40.15.")  # from the LB pool
        for name, backend in (("shop", "front"), ("broken", "missing")):
            server.apply(_ingress("shop", name, backend))
        wait(lambda: bool(_lb_status(server.get("Ingress", "shop", "shop"))),
             what="the Ingress's address")
        shared_ip = _lb_status(server.get("Ingress", "shop", "shop"))[0]["ip"]
        assert shared_ip.startswith("10.40.15.") and shared_ip != ingress()[0]["ip"]
        wait(lambda: (server.get("Ingress", "shop", "broken")["metadata"].get("annotations")
                      or {}).get("ncp/error.loadbalancer") == "BACKEND_NOT_FOUND",
             what="the broken Ingress's error annotation")
        assert not _lb_status(server.get("Ingress", "shop", "broken"))  # no rule served
        server.apply(_ingress("shop", "other", "front", ingress_class="nginx"))
        wait(lambda: converged(server, tmp_path / "s.db"), what="foreign Ingress")
        assert not _lb_status(server.get("Ingress", "shop", "other"))  # not NCP's to serve
        server.delete("Namespace", None, "shop")
        wait(lambda: converged(server, tmp_path / "s.db"), what="namespace cascade")
        assert_equals_fresh_sync(server, tmp_path / "s.db", tmp_path)
    finally:
        runner.stop()


def _lb_status(obj: dict[str, Any]) -> list[Any]:
    return list(((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [])


def _ingress(namespace: str, name: str, backend: str,
             ingress_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": [{"host": f"{name}.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix",
         "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}]}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_410_relist_drops_objects_deleted_while_away(tmp_path: Path) -> None:
    # No bookmarks here: a bookmark would carry the watches past the events held back
    # below, and they would resume instead of relisting.
    with running_apiserver(bookmark_interval=60) as server:
        server.apply(ns("nsx-system"))
        server.apply(ns("a"))
        for i in range(5):
            server.apply(pod("a", f"p{i}"))
        runner = runner_for(server, tmp_path / "s.db")
        runner.start()
        try:
            wait(lambda: converged(server, tmp_path / "s.db"))
            relists = sum(s.relists_after_410 for s in runner.feed.stats.values())
            server.history_size = 1
            server.reorder_next_events(4)  # held back: the watches never see them
            for i in range(3):
                server.delete("Pod", "a", f"p{i}")
            server.apply(pod("a", "late"))
            server.compact()
            server.drop_watches()
            wait(lambda: runner.feed.stats["Pod"].relists_after_410 > 0, what="the pods relisted")
            assert sum(s.relists_after_410 for s in runner.feed.stats.values()) > relists
            wait(lambda: converged(server, tmp_path / "s.db"), what="converged after relist")
            assert_equals_fresh_sync(server, tmp_path / "s.db", tmp_path)
        finally:
            runner.stop(timeout=2)  # quiet watches (no bookmarks) are not waited for


def test_duplicated_and_reordered_events_do_not_change_the_end(server: ApiServer,
                                                               tmp_path: Path) -> None:
    server.apply(ns("a"))
    runner = runner_for(server, tmp_path / "s.db")
    runner.start()
    try:
        wait(lambda: converged(server, tmp_path / "s.db"))
        server.duplicate_next_events(20)
        server.reorder_next_events(20)
        for i in range(10):
            server.apply(pod("a", f"p{i}", v="1"))
        for i in range(0, 10, 2):
            server.apply(pod("a", f"p{i}", v="2"))
        for i in range(0, 10, 3):
            server.delete("Pod", "a", f"p{i}")
        server.release_held_events()
        wait(lambda: converged(server, tmp_path / "s.db"), what="convergence")
        assert_equals_fresh_sync(server, tmp_path / "s.db", tmp_path)
    finally:
        runner.stop()


def test_api_server_restart_and_dropped_connections(server: ApiServer, tmp_path: Path) -> None:
    server.apply(ns("a"))
    runner = runner_for(server, tmp_path / "s.db")
    runner.start()
    try:
        wait(lambda: converged(server, tmp_path / "s.db"))
        server.restart(keep_state=True, downtime=0.5)
        server.apply(pod("a", "after-restart"))
        wait(lambda: converged(server, tmp_path / "s.db"), what="after restart")
        server.drop_watches()
        server.apply(pod("a", "after-drop"))
        wait(lambda: converged(server, tmp_path / "s.db"), what="after drop")
        assert_equals_fresh_sync(server, tmp_path / "s.db", tmp_path)
    finally:
        runner.stop()


def test_standby_takes_over_when_the_leader_dies(server: ApiServer, tmp_path: Path) -> None:
    """A second replica stays a warm standby while the leader renews, and takes the Lease
    over once the dead leader's lease has expired, not before; then it reconciles."""
    server.apply(ns("a"))
    state = tmp_path / "s.db"
    a, b = runner_for(server, state, "ncp-a"), runner_for(server, state, "ncp-b")
    a.start()
    wait(lambda: a.is_leader and converged(server, state), what="a leads")
    b.start()
    try:
        # A warm standby: b has listed every kind, has asked for the Lease and found it
        # held, and its worker, with that whole input, has looked and stood down.
        wait(lambda: b.feed.listed()
             and b.metrics.values.get("ncp_is_leader", {}).get(()) == 0.0,
             what="b, listed and standby")
        looked(b)
        assert not b.is_leader and b.reconciles == 0 and not b.history
        assert _lease(server)["holderIdentity"] == "ncp-a"
        assert a.elector is not None
        a.elector.release = lambda: None  # type: ignore[method-assign]  # a crash: no release
        a.stop()
        last_renewal = a.elector.last_renew  # a renews no more
        server.apply(pod("a", "while-a-is-dead"))
        wait(lambda: b.is_leader, timeout=10, what="takeover within the lease timeout")
        lease = _lease(server)
        assert lease["holderIdentity"] == "ncp-b" and lease["leaseTransitions"] == 1
        # not while a's lease was valid: renewTime + leaseDurationSeconds had passed
        assert _seconds(lease["acquireTime"]) >= last_renewal + 2.0 - 1e-3
        wait(lambda: converged(server, state), what="b reconciles")
        assert b.reconciles >= 1
        assert_equals_fresh_sync(server, state, tmp_path)
    finally:
        b.stop()
    assert _lease(server)["holderIdentity"] == ""  # released on stop


def looked(runner: Runner) -> None:
    """Wait until the runner's worker has looked at the cache twice more: the second look
    began after this call, so it saw what the cache holds now."""
    for _ in range(2):
        runner.idle.clear()
        wait(runner.idle.is_set, what="the worker looking")


def _lease(server: ApiServer) -> dict[str, Any]:
    lease = server.get("Lease", "nsx-system", "ncp-k8s-cluster")
    assert lease is not None
    return dict(lease["spec"])


def _seconds(text: str) -> float:
    """A Kubernetes MicroTime in seconds since the epoch."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_burst_of_pods(server: ApiServer, tmp_path: Path) -> None:
    for n in range(10):
        server.apply(ns(f"ns{n}"))
    runner = runner_for(server, tmp_path / "s.db")
    runner.start()
    try:
        wait(lambda: converged(server, tmp_path / "s.db"))
        for i in range(1000):
            server.apply(pod(f"ns{i % 10}", f"p{i}", app=f"a{i % 7}"))
        wait(lambda: converged(server, tmp_path / "s.db"), timeout=120, what="burst")
        assert_equals_fresh_sync(server, tmp_path / "s.db", tmp_path)
    finally:
        runner.stop()


def test_stop_with_quiet_watch_streams_finishes_the_worker_and_frees_the_lease(
        tmp_path: Path) -> None:
    """Without bookmarks for a long time (a real API server sends one about a minute
    apart), watch threads stay blocked on their streams; stop() still returns with the
    worker finished and the Lease released, leaving the blocked daemons behind. (That it
    takes one timeout in all, not one per thread, is a duration: not asserted here.)"""
    with running_apiserver(bookmark_interval=3600) as s:
        s.apply(ns("nsx-system"))
        s.apply(ns("shop"))
        runner = runner_for(s, tmp_path / "s.db")
        runner.start()
        wait(lambda: ((s.get("Lease", "nsx-system", "ncp-k8s-cluster") or {}).get("spec")
                      or {}).get("holderIdentity") == "ncp-a", what="leadership")
        wait(lambda: "ncp/subnet-0" in (s.get("Namespace", None, "shop")["metadata"]
                                        .get("annotations") or {}), what="first sync")
        runner.stop(timeout=1.0)
        watchers = [t for t in runner.threads if t.name.startswith("ncp-watch-")]
        others = [t for t in runner.threads if not t.name.startswith("ncp-watch-")]
        assert watchers and any(t.is_alive() for t in watchers)  # not waited for
        assert not any(t.is_alive() for t in others)
        lease = s.get("Lease", "nsx-system", "ncp-k8s-cluster")
        assert lease is not None and lease["spec"]["holderIdentity"] == ""


def test_pod_changes_take_the_incremental_path_and_are_written_back(
        server: ApiServer, tmp_path: Path) -> None:
    """After the first full pass, pod changes are applied incrementally: each one lands in
    the state, gets its annotation on the server, and a bad pod an Event; a Service
    change goes to the full reconcile; the end equals a fresh sync."""
    state = tmp_path / "s.db"
    server.apply(ns("shop"))
    server.apply(pod("shop", "web-0", app="web"))
    runner = runner_for(server, state)
    runner.start()
    try:
        wait(lambda: converged(server, state), what="first sync")
        wait(lambda: runner.idle.is_set(), what="idle")
        full_passes = sum(1 for h in runner.history if h.mode == "full")

        def annotated(name: str) -> bool:
            p = server.get("Pod", "shop", name) or {}
            return "ncp/network_config" in (p["metadata"].get("annotations") or {})
        server.apply(pod("shop", "web-1", app="web"))
        wait(lambda: annotated("web-1"), what="the new pod's annotation")
        bad = pod("shop", "bad", app="web")
        bad["spec"]["nodeName"] = "no-such-node"
        server.apply(bad)
        wait(lambda: any(e.get("reason") == "NODE_NOT_FOUND"
                         and e["involvedObject"]["name"] == "bad"
                         for e in server.objects("Event", "shop")), what="the bad pod's event")
        server.delete("Pod", "shop", "web-0")
        wait(lambda: "shop/web-0" not in realized_pods(state), what="the deleted pod's port gone")
        assert sum(1 for h in runner.history if h.mode == "full") == full_passes
        assert sum(1 for h in runner.history if h.mode == "incremental") >= 3
        server.apply({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "web", "namespace": "shop"},
                      "spec": {"selector": {"app": "web"},
                               "ports": [{"port": 80, "protocol": "TCP"}]}})
        wait(lambda: sum(1 for h in runner.history if h.mode == "full") > full_passes,
             what="a full pass for the Service")
        server.delete("Pod", "shop", "bad")
        wait(lambda: converged(server, state), what="the end state")
        metrics = runner.metrics.render()
        assert 'ncp_event_apply_seconds_count{mode="incremental"}' in metrics
    finally:
        runner.stop()
    assert_equals_fresh_sync(server, state, tmp_path)


def test_a_failed_status_write_is_retried(server: ApiServer, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """A pod annotation whose patch the API refused is written again in a quiet time: one
    refused patch, then the retry, and the annotation that lands is what the state wants."""
    state = tmp_path / "s.db"
    server.apply(ns("shop"))
    runner = runner_for(server, state)
    runner.start()
    try:
        wait(lambda: converged(server, state), what="first sync")
        wait(lambda: runner.idle.is_set(), what="idle")
        server.fail_next(1, 500, method="PATCH", path_contains="/pods/web-0")
        with caplog.at_level(logging.INFO, logger="ncp.running"):
            server.apply(pod("shop", "web-0", app="web"))
            wait(lambda: "ncp/network_config" in _annotations(server, "web-0"),
                 what="the annotation, written again")
        patches = [r.status for r in server.requests
                   if r.method == "PATCH" and r.path.endswith("/pods/web-0")]
        assert patches[0] == 500 and patches.count(500) == 1 and patches[-1] == 200
        assert runner.metrics.values["ncp_errors_total"][(("code", "STATUS_WRITE_FAILED"),)] == 1
        assert any(r.getMessage() == "retrying the status writes that failed"
                   for r in caplog.records if r.name == "ncp.running")
        report = runner.last_report
        assert report is not None
        assert _annotations(server, "web-0")["ncp/network_config"] == \
            report.pod_annotations[("shop", "web-0")]["ncp/network_config"]
    finally:
        runner.stop()


def _annotations(server: ApiServer, pod_name: str) -> dict[str, str]:
    obj = server.get("Pod", "shop", pod_name) or {"metadata": {}}
    return dict(obj["metadata"].get("annotations") or {})
