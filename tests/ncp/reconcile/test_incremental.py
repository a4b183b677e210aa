"""The incremental reconcile (``ncp.reconcile.incremental``) against the full one.

The oracle is ``sync_cluster`` itself: after any sequence of pod changes applied
incrementally (or, when declined, in full), a full reconcile of the same objects must find
nothing to change (objects, status, problems, holds in force), the address invariants must
hold, and the state must equal a fresh ``ncp sync`` of the final objects without their
addresses. The table tests pin what each kind of change writes and why each decline
happens.
"""

from __future__ import annotations

import copy
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncp.config import NcpConfig
from ncp.live.cache import ClusterCache
from ncp.reconcile.incremental import Applied, Declined, IncrementalReconciler
from ncp.reconcile.sync import sync_cluster
from ncp.sources.manifests import ManifestSet
from sdn.ipam import Hold
from sdn.model import IpPool, LBPool, NatRule, SegmentPort
from sdn.store import ChangeSet, Store
from tests.support.clusters import config, namespace, pod
from tests.support.state_checks import check_invariants, projection

NODES = ("node-1", "node-2", "node-3")
NAMESPACES = ("ns-a", "ns-b", "ns-c")
T0 = 1_000_000.0


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def service(ns: str, name: str, selector: dict[str, str], kind: str = "ClusterIP",
            target: int | str = "http") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": kind, "selector": selector,
                     "ports": [{"port": 80, "targetPort": target, "protocol": "TCP"}]}}


def named_port_policy(ns: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}}


class Harness:
    """A cache, a state and the reconciler, driven like ``ncp run``'s worker."""

    def __init__(self, tmp: Path, cfg: NcpConfig, objects: list[dict[str, Any]]) -> None:
        self.cfg = cfg
        self.cache = ClusterCache()
        self.rv = 0
        self.now = T0
        for o in objects:
            self.put(o)
        self.store = Store.open(tmp / "state.db")
        self.pods = IncrementalReconciler(self.store, cfg)
        self.outcomes: list[Applied | Declined] = []
        self.full()

    def put(self, body: dict[str, Any], event: str = "ADDED") -> None:
        self.rv += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.rv)
        self.cache.apply(body["kind"], event, body)

    def full(self) -> None:
        _changes, objects = self.cache.take_snapshot()
        sync_cluster(self.store, manifests=ManifestSet(tuple(objects), (), ()),
                     config=self.cfg, now=self.now)
        self.pods.prime(objects)

    def step(self) -> Applied | Declined:
        """One worker pass over the changes since the last."""
        self.now += 1.0
        changes = self.cache.take_changes()
        result = self.pods.apply(changes.objects, now=self.now)
        self.outcomes.append(result)
        if isinstance(result, Declined):
            self.full()
        return result

    def state(self) -> tuple[Any, ...]:
        s, c = self.store, self.cfg.cluster
        return (sorted((r.path, r.body) for r in s.rows()), s.status(c), s.problems(c),
                sorted(h for h in s.holds() if h.active(self.now)))

    def assert_fixed_point(self, tmp: Path, *, fresh: bool = True) -> None:
        """A full reconcile changes nothing; the state is sound and (``fresh``),
        addresses aside, what a fresh sync of the same objects makes."""
        before = self.state()
        _v, objects = self.cache.snapshot()
        mset = ManifestSet(tuple(objects), (), ())
        report = sync_cluster(self.store, manifests=mset, config=self.cfg, now=self.now,
                              full=True)
        assert not report.changed, (report.created, report.updated, report.deleted)
        assert self.state() == before
        self.pods.prime(objects)  # the full pass wrote the record: start again from it
        inv = self.store.inventory()
        check_invariants(inv)
        if not fresh:
            return
        fresh_path = tmp / f"fresh-{self.rv}.db"
        with Store.open(fresh_path) as fresh:
            sync_cluster(fresh, manifests=mset, config=self.cfg, now=self.now)
            assert projection(fresh.inventory()) == projection(inv)
            assert [p for _c, p in fresh.problems()] == [p for _c, p in self.store.problems()]


def base_objects(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(node(n) for n in NODES), *(namespace(n) for n in NAMESPACES),
            pod("ns-a", "a-0", {"app": "web"}, "node-1"),
            pod("ns-a", "a-1", {"app": "db"}, "node-2"),
            pod("ns-b", "b-0", {"app": "web"}, "node-1"), *extra]


def port_of(store: Store, ns: str, name: str) -> SegmentPort | None:
    for p in store.inventory().of_type(SegmentPort):
        if p.tag("ncp/project") == ns and p.tag("ncp/pod") == name:
            return p
    return None


# --- what each change writes ---------------------------------------------------------------

def test_new_pod_gets_lowest_free_address_vlan_and_annotation(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(), base_objects())
    before = h.store.revision
    h.put(pod("ns-a", "a-2", {"app": "web"}, "node-1"))
    result = h.step()
    assert isinstance(result, Applied) and result.written
    assert h.store.revision == before + 1
    new = port_of(h.store, "ns-a", "a-2")
    a0 = port_of(h.store, "ns-a", "a-0")
    assert new is not None and a0 is not None and new.attachment and a0.attachment
    used = sorted(int(port_of(h.store, "ns-a", n).address_bindings[0].ip_address)  # type: ignore[union-attr]
                  for n in ("a-0", "a-1"))
    assert int(new.address_bindings[0].ip_address) == used[-1] + 1
    assert new.attachment.traffic_tag != a0.attachment.traffic_tag  # same node: another VLAN
    assert ("Pod", "ns-a", "a-2") in {(k, ns, n) for _c, k, ns, n, _a in h.store.status()}
    assert result.annotations[("ns-a", "a-2")]
    assert result.pods == 4
    h.assert_fixed_point(tmp_path)


def test_deleted_pod_frees_its_port_and_holds_its_address(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(ip_reallocation_time=30), base_objects())
    gone = port_of(h.store, "ns-a", "a-1")
    assert gone is not None
    h.put(pod("ns-a", "a-1", {"app": "db"}, "node-2"), "DELETED")
    result = h.step()
    assert isinstance(result, Applied) and result.annotations == {("ns-a", "a-1"): None}
    assert port_of(h.store, "ns-a", "a-1") is None
    ip = gone.address_bindings[0].ip_address
    assert any(hold.scope.endswith("ipp_" + "ns-a") or str(ip) in str(hold.cidr)
               for hold in h.store.holds() if hold.active(h.now))
    pools = [p for p in h.store.inventory().of_type(IpPool) if p.tag("ncp/project") == "ns-a"]
    assert [a.id for a in pools[0].allocations] == ["a-0"]
    # The held address is not handed out again to the next pod.
    h.put(pod("ns-a", "a-9", {}, "node-3"))
    h.step()
    assert port_of(h.store, "ns-a", "a-9").address_bindings[0].ip_address != ip  # type: ignore[union-attr]
    h.assert_fixed_point(tmp_path)


@pytest.mark.parametrize("change, check", [
    pytest.param({"metadata": {"labels": {"app": "web", "tier": "front"}}},
                 lambda p: p.tag("tier") == "front", id="relabel"),
    pytest.param({"spec": {"nodeName": "node-3"}},
                 lambda p: p.tag("ncp/node_name") == "node-3", id="move-node"),
])
def test_changed_pod_keeps_its_address(tmp_path: Path, change: dict[str, Any],
                                       check: Any) -> None:
    h = Harness(tmp_path, config(), base_objects())
    old = port_of(h.store, "ns-a", "a-0")
    body = pod("ns-a", "a-0", {"app": "web"}, "node-1")
    for key, value in change.items():
        body[key].update(value)
    h.put(body, "MODIFIED")
    assert isinstance(h.step(), Applied)
    new = port_of(h.store, "ns-a", "a-0")
    assert old is not None and new is not None and check(new)
    assert new.address_bindings == old.address_bindings
    h.assert_fixed_point(tmp_path)


@pytest.mark.parametrize("body, code", [
    pytest.param(pod("ns-a", "x", {}, "node-9"), "NODE_NOT_FOUND", id="unknown-node"),
    pytest.param(pod("ns-z", "x", {}, "node-1"), "NAMESPACE_NOT_FOUND", id="no-namespace"),
    pytest.param(pod("ns-a", "x", {"k": "v" * 300}, "node-1"), "TAG_VALUE_TOO_LONG",
                 id="label-too-long"),
])
def test_bad_pod_is_reported_and_the_rest_flows(tmp_path: Path, body: dict[str, Any],
                                                code: str) -> None:
    h = Harness(tmp_path, config(), base_objects())
    h.put(body)
    h.put(pod("ns-b", "fine", {}, "node-2"))
    result = h.step()
    assert isinstance(result, Applied)
    where = f"Pod/{body['metadata']['namespace']}/x"
    assert [p.code for p in result.problems if p.obj == where] == [code]
    assert [p.code for _c, p in h.store.problems() if p.obj == where] == [code]
    assert port_of(h.store, "ns-b", "fine") is not None
    # Fixing the pod clears its problem.
    fixed = pod("ns-a", "x", {}, "node-1")
    h.put(fixed, "MODIFIED" if body["metadata"]["namespace"] == "ns-a" else "ADDED")
    if body["metadata"]["namespace"] != "ns-a":
        h.put(body, "DELETED")
    assert isinstance(h.step(), Applied)
    assert not [p for _c, p in h.store.problems() if p.obj == where]
    h.assert_fixed_point(tmp_path)


def test_host_network_and_ended_pods_lose_their_port(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(), base_objects())
    host = pod("ns-a", "a-0", {"app": "web"}, "node-1")
    host["spec"]["hostNetwork"] = True
    ended = pod("ns-a", "a-1", {"app": "db"}, "node-2")
    ended["status"] = {"phase": "Succeeded"}
    h.put(host, "MODIFIED")
    h.put(ended, "MODIFIED")
    assert isinstance(h.step(), Applied)
    assert port_of(h.store, "ns-a", "a-0") is None and port_of(h.store, "ns-a", "a-1") is None
    h.assert_fixed_point(tmp_path)


def test_an_annotation_only_change_writes_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(), base_objects())
    before = h.store.revision
    body = pod("ns-a", "a-0", {"app": "web"}, "node-1")
    body["metadata"]["annotations"] = {"ncp/network_config": "{}"}
    h.put(body, "MODIFIED")
    result = h.step()
    assert isinstance(result, Applied) and not result.written
    assert h.store.revision == before


# --- when it declines ----------------------------------------------------------------------

def _decline_cases() -> list[Any]:
    web = pod("ns-a", "a-2", {"app": "web"}, "node-1")
    return [
        pytest.param([service("ns-a", "web", {"app": "web"}, "LoadBalancer")], [web],
                     "SERVICE_MEMBER", id="load-balancer-selects-new-pod"),
        pytest.param([service("ns-a", "web", {"app": "web"}, "LoadBalancer")],
                     [pod("ns-a", "a-0", {"app": "other"}, "node-1")], "SERVICE_MEMBER",
                     id="load-balancer-selected-old-labels"),
        pytest.param([named_port_policy("ns-c")], [web], "NAMED_PORTS", id="named-ports"),
        pytest.param([], [namespace("ns-a", labels={"team": "x"})], "OTHER_KIND",
                     id="namespace-relabelled"),
        pytest.param([], [namespace("ns-d", annotations={"ncp/static_snat_ip": "192.0.2.9"})],
                     "STATIC_SNAT", id="namespace-static-snat"),
        pytest.param([service("ns-d", "s", {"x": "y"})], [namespace("ns-d")],
                     "NAMESPACE_INPUTS", id="namespace-with-a-service"),
        pytest.param([], [service("ns-b", "s", {"x": "y"})], "OTHER_KIND", id="service-added"),
    ]


@pytest.mark.parametrize("extra, changes, code", _decline_cases())
def test_declines_what_it_cannot_decide_alone(tmp_path: Path, extra: list[dict[str, Any]],
                                              changes: list[dict[str, Any]], code: str) -> None:
    h = Harness(tmp_path, config(), base_objects(*extra))
    before = h.store.revision
    for body in changes:
        h.put(body, "MODIFIED")
    changes_now = h.cache.take_changes()
    result = h.pods.apply(changes_now.objects, now=h.now + 1)
    assert isinstance(result, Declined) and result.code == code, result
    assert h.store.revision == before


def test_a_per_namespace_baseline_sends_new_namespaces_to_the_full_reconcile(
        tmp_path: Path) -> None:
    h = Harness(tmp_path, config(baseline_policy_type="allow_namespace"), base_objects())
    h.put(namespace("ns-d"))
    result = h.step()
    assert isinstance(result, Declined) and result.code == "NAMESPACE_LIST"
    h.assert_fixed_point(tmp_path)


@pytest.mark.parametrize("ns_body, snat", [
    pytest.param(namespace("ns-d", labels={"team": "d"}), True, id="nat"),
    pytest.param(namespace("ns-d", annotations={"ncp/no_snat": "true"}), False, id="no-snat"),
])
def test_a_new_namespace_gets_its_network_and_its_pods_in_one_batch(
        tmp_path: Path, ns_body: dict[str, Any], snat: bool) -> None:
    h = Harness(tmp_path, config(), base_objects())
    h.put(ns_body)
    h.put(pod("ns-d", "d-0", {}, "node-2"))
    result = h.step()
    assert isinstance(result, Applied) and result.written
    ann = result.namespace_annotations["ns-d"]
    assert ann["ncp/subnet-0"] and ann["ncp/router_id"] == "t1_k8s-cluster_ns-d"
    assert ("ncp/snat_ip" in ann) is snat
    assert port_of(h.store, "ns-d", "d-0") is not None
    status = {(k, n): a for _c, k, _ns, n, a in h.store.status()}
    assert status[("Namespace", "ns-d")] == ann
    # ns-d sorts last, so a fresh sync carves its subnet and picks its SNAT IP last too:
    # the lowest free ones, as the incremental pass did.
    _v, objects = h.cache.snapshot()
    with Store.open(tmp_path / "fresh.db") as fresh:
        sync_cluster(fresh, manifests=ManifestSet(tuple(objects), (), ()), config=h.cfg,
                     now=h.now)
        assert {(k, n): a for _c, k, _ns, n, a in fresh.status()}[("Namespace", "ns-d")] == ann
    h.put(pod("ns-d", "d-1", {}, "node-3"))
    assert isinstance(h.step(), Applied)
    h.assert_fixed_point(tmp_path)


def test_a_namespace_whose_labels_nsx_cannot_carry_is_reported(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(), base_objects())
    h.put(namespace("ns-d", labels={"k": "v" * 300}))
    result = h.step()
    assert isinstance(result, Applied)
    assert [p.code for p in result.problems] == ["TAG_VALUE_TOO_LONG"]
    h.put(pod("ns-d", "d-0", {}, "node-1"))
    result = h.step()
    assert isinstance(result, Applied)
    assert [p.code for p in result.problems] == ["NAMESPACE_NOT_REALIZED"]
    h.assert_fixed_point(tmp_path)


def test_ncps_own_namespace_annotations_change_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(), base_objects())
    before = h.store.revision
    h.put(namespace("ns-a", annotations={"ncp/subnet-0": "10.0.0.0/24"}), "MODIFIED")
    result = h.step()
    assert isinstance(result, Applied) and not result.written
    assert h.store.revision == before


def test_heartbeats_and_status_pass_along_with_pod_changes(tmp_path: Path) -> None:
    """A node's status and a Service's status change nothing NCP reads; in the same batch
    as a pod they are neither declined nor mistaken for pods."""
    svc = service("ns-b", "s", {"app": "none"})
    h = Harness(tmp_path, config(), base_objects(svc))
    beat = node("node-1")
    beat["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}
    h.put(beat, "MODIFIED")
    h.put(svc, "MODIFIED")
    h.put(pod("ns-a", "a-2", {}, "node-1"))
    result = h.step()
    assert isinstance(result, Applied) and list(result.annotations) == [("ns-a", "a-2")]
    h.assert_fixed_point(tmp_path)


def test_a_cluster_ip_service_follows_its_pods(tmp_path: Path) -> None:
    """Pods a ClusterIP Service selects come and go incrementally: the service's pool is
    recomputed from the namespace's pods (named target ports resolved per pod)."""
    h = Harness(tmp_path, config(), base_objects(service("ns-a", "web", {"app": "web"})))

    def members() -> list[tuple[str, str]]:
        (pool,) = [o for o in h.store.inventory().of_type(LBPool)
                   if o.tag("ncp/service") == "web"]
        return sorted((m.display_name or "", m.port) for m in pool.members)
    assert members() == []  # a-0 has no port named http
    web = pod("ns-a", "a-2", {"app": "web"}, "node-1")
    web["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    h.put(web)
    assert isinstance(h.step(), Applied)
    assert members() == [("ns-a/a-2", "8080")]
    h.put(pod("ns-a", "a-2", {"app": "other"}, "node-1"), "MODIFIED")
    assert isinstance(h.step(), Applied)
    assert members() == []
    h.assert_fixed_point(tmp_path)


def endpoint_slice(ns: str, service_name: str, ready: dict[str, bool]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service_name}-abcde", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "endpoints": [{"targetRef": {"kind": "Pod", "name": n},
                           "conditions": {"ready": r}} for n, r in sorted(ready.items())]}


@pytest.mark.parametrize("kind, applied", [
    pytest.param("ClusterIP", True, id="cluster-ip"),
    pytest.param("LoadBalancer", False, id="load-balancer"),
])
def test_endpoint_slices_move_their_service_members(tmp_path: Path, kind: str,
                                                    applied: bool) -> None:
    svc = service("ns-a", "web", {"app": "web"}, kind, target=8080)
    h = Harness(tmp_path, config(), base_objects(
        svc, endpoint_slice("ns-a", "web", {"a-0": True, "a-1": True})))

    def members() -> list[str]:
        pools = [o for o in h.store.inventory().of_type(LBPool)
                 if o.tag("ncp/service") == "web" and o.id.startswith("pool_k8s-cluster_")]
        return sorted(m.display_name or "" for p in pools for m in p.members)
    before = members()
    assert "ns-a/a-1" in before
    h.put(endpoint_slice("ns-a", "web", {"a-0": True, "a-1": False}), "MODIFIED")
    result = h.step()
    assert isinstance(result, Applied) is applied, result
    assert "ns-a/a-1" not in members()
    h.put(pod("ns-a", "a-0", {"app": "web"}, "node-1"), "DELETED")
    result = h.step()
    assert isinstance(result, Applied) is applied, result
    assert "ns-a/a-0" not in members()
    h.assert_fixed_point(tmp_path)


def test_a_pod_with_no_service_match_in_a_service_namespace_is_applied(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(), base_objects(service("ns-a", "web", {"app": "web"})))
    h.put(pod("ns-a", "batch", {"app": "batch"}, "node-3"))
    assert isinstance(h.step(), Applied)
    h.assert_fixed_point(tmp_path)


def test_a_full_namespace_gets_another_subnet_until_the_blocks_are_full(
        tmp_path: Path) -> None:
    # A /27 of pods gives four /29s: three namespaces take one each, one is left. A /29
    # gives pods 5 addresses (network, gateway and broadcast are reserved).
    h = Harness(tmp_path, config(subnet_prefix=29, implicit_namespaces=[],
                                 container_ip_blocks=[{"id": "b", "cidr": "10.0.0.0/27"}]),
                base_objects())
    for i in range(6):
        h.put(pod("ns-c", f"c-{i}", {}, "node-1"))
    result = h.step()
    assert isinstance(result, Applied), result
    ann = result.namespace_annotations["ns-c"]
    assert ann["ncp/subnet-1"] and ann["ncp/snat_ip"]
    assert port_of(h.store, "ns-c", "c-5") is not None
    nat = [r for r in h.store.inventory().of_type(NatRule) if r.tag("ncp/project") == "ns-c"]
    assert len(nat) == 2  # one SNAT rule per subnet
    h.assert_fixed_point(tmp_path)
    for i in range(6, 11):
        h.put(pod("ns-c", f"c-{i}", {}, "node-2"))
    result = h.step()  # ten fit, the eleventh would need a fifth /29
    assert isinstance(result, Declined) and result.code == "SUBNET_FULL"
    waiting = [p for _c, p in h.store.problems() if p.obj.startswith("Pod/ns-c/")]
    assert [p.code for p in waiting] == ["NAMESPACE_SUBNETS_EXHAUSTED"]
    h.assert_fixed_point(tmp_path)


def test_a_foreign_write_sends_the_next_batch_to_the_full_reconcile(tmp_path: Path) -> None:
    h = Harness(tmp_path, config(), base_objects())
    with Store.open(tmp_path / "state.db") as other:
        other.apply(ChangeSet(new_holds=[Hold("/infra/x", IPv4Network("10.9.9.9/32"), T0 + 99)]))
    h.put(pod("ns-a", "a-2", {}, "node-1"))
    result = h.step()
    assert isinstance(result, Declined) and result.code == "STATE_MOVED"


# --- the property ----------------------------------------------------------------------------

_label = st.sampled_from([{}, {"app": "web"}, {"app": "db"}, {"tier": "x"}, {"k": "v" * 300}])
_op = st.one_of(
    st.tuples(st.just("namespace"), st.sampled_from(["ns-x", "ns-y", "ns-z"]),
              st.sampled_from(["", "true"])),
    st.tuples(st.just("add"), st.sampled_from([*NAMESPACES, "ns-y", "ns-z"]),
              st.integers(0, 7), _label, st.sampled_from([*NODES, "node-9", ""])),
    st.tuples(st.just("delete"), st.sampled_from(NAMESPACES), st.integers(0, 7)),
    st.tuples(st.just("host"), st.sampled_from(NAMESPACES), st.integers(0, 7)),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_op, min_size=1, max_size=4), min_size=1, max_size=6),
       with_service=st.booleans(), prefix=st.sampled_from([28, 29]))
def test_incremental_passes_are_what_a_full_reconcile_keeps(
        tmp_path_factory: pytest.TempPathFactory, batches: list[list[tuple[Any, ...]]],
        with_service: bool, prefix: int) -> None:
    tmp = tmp_path_factory.mktemp("inc")
    extra = [service("ns-b", "web", {"app": "web"}, target=8080)] if with_service else []
    h = Harness(tmp, config(subnet_prefix=prefix, ip_reallocation_time=5), base_objects(*extra))
    live: dict[tuple[str, str], dict[str, Any]] = {}
    declared: set[str] = set()
    for batch in batches:
        for op in batch:
            kind, ns, i = op[0], op[1], op[2]
            name = f"p-{i}"
            if kind == "namespace":
                if ns not in declared:
                    declared.add(ns)
                    h.put(namespace(ns, annotations={"ncp/no_snat": i} if i else None))
            elif kind == "add":
                body = pod(ns, name, op[3], op[4] or None)
                h.put(body, "MODIFIED" if (ns, name) in live else "ADDED")
                live[(ns, name)] = body
            elif kind == "delete" and (ns, name) in live:
                h.put(live.pop((ns, name)), "DELETED")
            elif kind == "host" and (ns, name) in live:
                body = copy.deepcopy(live[(ns, name)])
                body["spec"]["hostNetwork"] = True
                h.put(body, "MODIFIED")
                live[(ns, name)] = body
        h.step()
        h.assert_fixed_point(tmp, fresh=False)  # after every batch: a later full pass
    h.assert_fixed_point(tmp)                   # would otherwise hide a wrong one


def test_the_property_exercises_the_incremental_path(tmp_path: Path) -> None:
    """Not vacuous: a plain run of the property's kind of changes is mostly applied."""
    h = Harness(tmp_path, config(subnet_prefix=28), base_objects())
    for i in range(8):
        h.put(pod(NAMESPACES[i % 3], f"p-{i}", {"app": "db"}, NODES[i % 3]))
        h.step()
    for i in range(0, 8, 2):
        h.put(pod(NAMESPACES[i % 3], f"p-{i}", {}, NODES[i % 3]), "DELETED")
        h.step()
    assert all(isinstance(o, Applied) for o in h.outcomes), h.outcomes
    h.assert_fixed_point(tmp_path)
