"""``ncp run`` against the test API server: a list or a discovery that fails is never
taken as "no objects of that kind".

Through the real ``kubernetes`` client and the production runner, with the server's
fault injection. Each scenario starts from a state that holds the cluster (a first
runner converged), starts a new runner while some request fails, and checks, with a
thread sampling the state all along, that nothing the failing kind realized was ever
deleted, and that the runner converges once the API answers again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ncp.config import load_config
from ncp.live.leader import LeaseSettings
from ncp.live.runner import Runner, RunOptions
from ncp.sources.kube import KubeClient
from sdn.model import SecurityPolicy, SegmentPort
from sdn.store import Store
from tests.support.apiserver import POLICY_GROUP, ApiServer, client_configuration, running_apiserver
from tests.support.live import converged, ns, pod, wait

ANP = {"apiVersion": f"{POLICY_GROUP}/v1alpha1", "kind": "AdminNetworkPolicy",
       "metadata": {"name": "deny-shop"},
       "spec": {"priority": 10, "subject": {"namespaces": {"matchLabels": {"team": "a"}}},
                "ingress": [{"name": "no-one", "action": "Deny",
                             "from": [{"namespaces": {}}]}]}}


def realized(state: Path) -> tuple[set[str], set[str]]:
    """(pods with ports, security policy ids) in the state."""
    with Store.open_readonly(state) as store:
        inv = store.inventory()
        return ({p.display_name for p in inv.of_type(SegmentPort) if p.tag("ncp/pod")},
                {p.id for p in inv.of_type(SecurityPolicy)})


class Sampler:
    """Samples :func:`realized` on a thread; ``lost`` collects anything from ``wanted``
    that some sample lacked."""

    def __init__(self, state: Path, pods: set[str], policies: set[str]) -> None:
        self.state, self.pods, self.policies = state, pods, policies
        self.lost: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pods, policies = realized(self.state)
            self.lost |= (self.pods - pods) | (self.policies - policies)
            self.samples += 1
            self._stop.wait(0.01)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def server() -> Iterator[ApiServer]:
    with running_apiserver(bookmark_interval=0.2) as s:
        s.apply(ns("nsx-system"))
        s.apply(ns("shop", team="a"))
        for i in range(3):
            s.apply(pod("shop", f"web-{i}", app="web"))
        s.apply(ANP)
        yield s


def make_runner(server: ApiServer, state: Path) -> Runner:
    options = RunOptions(state=state, config=load_config(None), debounce=0.05,
                         watch_timeout=5, resync_period=3600, leader_election=False,
                         lease=LeaseSettings(name="ncp-k8s-cluster", identity="ncp-a"))
    return Runner(options, client=KubeClient(client_configuration(server)))


def first_run(server: ApiServer, state: Path) -> tuple[set[str], set[str]]:
    runner = make_runner(server, state)
    runner.start()
    try:
        wait(lambda: converged(server, state) and runner.reconciles >= 1, what="first sync")
    finally:
        runner.stop()
    pods, policies = realized(state)
    assert any(p.startswith("anp_") for p in policies), policies
    return pods, policies


FAULTS: dict[str, Callable[[ApiServer], Any]] = {
    # The admin-policy group's discovery (and list) fail: the kind must be waited for,
    # not dropped (dropping it deleted the ANP's firewall sections).
    "discovery-fails": lambda s: s.fail_next(
        4, 500, path_contains=f"/apis/{POLICY_GROUP}/v1alpha1"),
    # The pod list fails: no reconcile may take "no pods".
    "pod-list-fails": lambda s: s.fail_next(4, 500, path_contains="/api/v1/pods"),
    # Both the namespaces and the pods lists fail a few times.
    "lists-fail": lambda s: (s.fail_next(3, 503, path_contains="/api/v1/namespaces"),
                             s.fail_next(3, 500, path_contains="/api/v1/pods")),
}


@pytest.mark.parametrize("fault", [pytest.param(f, id=f) for f in FAULTS])
def test_a_failing_request_never_reads_as_no_objects(server: ApiServer, tmp_path: Path,
                                                     fault: str) -> None:
    state = tmp_path / "s.db"
    pods, policies = first_run(server, state)
    server.clear_requests()
    FAULTS[fault](server)
    runner = make_runner(server, state)
    with Sampler(state, pods, policies) as sampler:
        runner.start()
        try:
            wait(lambda: runner.reconciles >= 1 and not runner.cache.version - runner.applied,
                 what="a reconcile after the faults")
            errors = sum(s.errors for s in runner.feed.stats.values())
        finally:
            runner.stop()
    assert sampler.samples > 0
    assert sampler.lost == set()
    assert realized(state) == (pods, policies)
    assert errors >= 1, "the fault was not hit"  # the test exercised what it claims
