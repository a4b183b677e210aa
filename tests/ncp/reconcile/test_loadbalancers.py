"""LoadBalancer services through ``sync_cluster``: VIPs, capacity, auto-scaling, errors,
and that nothing leaks when services go."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncp.reconcile.sync import sync_cluster
from sdn.model import Inventory, IpPool, LBPool, LBService, LBVirtualServer, SegmentPort
from sdn.profiles import parse_profile
from sdn.store import Store
from tests.support.clusters import config, manifests, namespace, pod
from tests.support.state_checks import check_invariants

LB_POOL = {"id": "ip-pool-lb", "cidr": "198.51.100.0/24",
           "ranges": ["198.51.100.10-198.51.100.20"]}


def lb_service(ns: str, name: str, *ports: int, ip: str | None = None,
               app: str = "web") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "LoadBalancer", "selector": {"app": app},
                            "ports": [{"port": p, "protocol": "TCP"} for p in ports]}
    if ip is not None:
        spec["loadBalancerIP"] = ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def sync(tmp: Path, docs: list[dict[str, Any]], *, now: float = 1.0, profile: Any = None,
         **cfg: Any) -> tuple[Any, Inventory]:
    store = Store.open(tmp / "lb.db")
    cfg.setdefault("external_ip_pools_lb", [LB_POOL])
    report = sync_cluster(store, manifests=manifests(*docs), profile=profile,
                          config=config(**cfg), now=now)
    inv = store.inventory()
    store.close()
    return report, inv


def l4(inv: Inventory) -> list[LBVirtualServer]:
    return [v for v in inv.of_type(LBVirtualServer) if v.id.startswith("l4vs_")]


BASE = [namespace("shop"), *(pod("shop", f"web-{i}", {"app": "web"}) for i in range(3))]


def test_vip_from_the_lb_pool_and_members_are_the_ready_pods(tmp_path: Path) -> None:
    report, inv = sync(tmp_path, [*BASE, lb_service("shop", "front", 80, 443)])
    assert report.problems == []
    assert report.lb_vips == {"shop/front": "198.51.100.10"}
    vss = l4(inv)
    assert {v.ports for v in vss} == {("80",), ("443",)}
    assert {str(v.ip_address) for v in vss} == {"198.51.100.10"}
    (lb,) = [s for s in inv.of_type(LBService) if s.size != "DLB"]
    assert lb.size == "SMALL" and lb.connectivity_path == "/infra/tier-1s/t1_k8s-cluster-lb"
    for v in vss:
        pool = inv[v.pool_path]
        assert isinstance(pool, LBPool)
        assert {m.display_name for m in pool.members} == {"shop/web-0", "shop/web-1",
                                                          "shop/web-2"}
    check_invariants(inv)


def test_capacity_auto_scales_and_max_l4_lb_service_caps(tmp_path: Path) -> None:
    services = [lb_service("shop", f"s{i:02d}", 80) for i in range(8)]
    big_pool = {"id": "ip-pool-lb", "cidr": "198.51.100.0/24"}
    store = Store.open(tmp_path / "cap.db")
    report = sync_cluster(store, manifests=manifests(*BASE, *services),
                          config=config(external_ip_pools_lb=[big_pool]), now=1)
    assert report.problems == []
    inv = store.inventory()
    on = {v.lb_service_path.rsplit("/", 1)[-1] for v in l4(inv)}
    assert on == {"lb_k8s-cluster"}  # 8 fit in SMALL's 20
    more = [lb_service("shop", f"t{i:02d}", 80) for i in range(15)]
    report = sync_cluster(store, manifests=manifests(*BASE, *services, *more),
                          config=config(external_ip_pools_lb=[big_pool]), now=2)
    assert report.problems == []
    inv = store.inventory()
    counts: dict[str, int] = {}
    for v in l4(inv):
        lb = v.lb_service_path.rsplit("/", 1)[-1]
        counts[lb] = counts.get(lb, 0) + 1
    assert counts == {"lb_k8s-cluster": 20, "lb_k8s-cluster-1": 3}
    capped = parse_profile({"name": "capped", "parameters": {"cni_configurations": {
        "type": "nsxt", "parameters": {"max_l4_lb_service": 21}}}})
    report = sync_cluster(store, manifests=manifests(*BASE, *services, *more), profile=capped,
                          config=config(external_ip_pools_lb=[big_pool]), now=3)
    codes = {p.obj: p.code for p in report.problems}
    assert list(codes.values()) == ["SERVICE_LOADBALANCER_UNREALIZED"] * 2
    assert {k: a for k, a in report.service_annotations.items()} == {
        ("shop", name.split("/")[-1]): {"ncp/error.loadbalancer":
                                        "SERVICE_LOADBALANCER_UNREALIZED"}
        for name in codes}
    check_invariants(store.inventory())
    store.close()


@pytest.mark.parametrize(("ip", "code", "vip"), [
    pytest.param("198.51.100.15", None, "198.51.100.15", id="pinned-address"),
    pytest.param("ip-pool-owned", None, "203.0.113.", id="named-pool"),
    pytest.param("ip-pool-snat", "IP_POOL_NOT_FOUND", None, id="pool-not-owned"),
    pytest.param("203.0.114.9", "IP_POOL_NOT_FOUND", None, id="address-in-no-pool"),
    pytest.param("no-such-pool", "IP_POOL_NOT_FOUND", None, id="unknown-pool"),
])
def test_load_balancer_ip(tmp_path: Path, ip: str, code: str | None, vip: str | None) -> None:
    owned = {"id": "ip-pool-owned", "cidr": "203.0.113.0/28", "owner": "cluster:k8s-cluster"}
    report, inv = sync(tmp_path, [*BASE, lb_service("shop", "front", 80, ip=ip)],
                       external_ip_pools_lb=[LB_POOL, owned])
    if code is None:
        assert report.problems == []
        assert vip is not None and report.lb_vips["shop/front"].startswith(vip)
    else:
        assert [(p.code, p.obj) for p in report.problems] == [(code, "Service/shop/front")]
        assert report.service_annotations == {("shop", "front"):
                                              {"ncp/error.loadbalancer": code}}
        assert l4(inv) == []
    check_invariants(inv)


def test_a_taken_address_and_an_exhausted_pool(tmp_path: Path) -> None:
    docs = [*BASE, lb_service("shop", "a", 80, ip="198.51.100.12"),
            lb_service("shop", "b", 80, ip="198.51.100.12")]
    report, _inv = sync(tmp_path / "taken", docs)
    assert [(p.code, p.obj) for p in report.problems] == [
        ("IP_ALREADY_ALLOCATED", "Service/shop/b")]
    # One LB address, then the floating pool's two (.1 and .2), then nothing.
    tiny = {"id": "ip-pool-lb", "cidr": "198.51.100.0/24", "ranges": ["198.51.100.10"]}
    small_fip = {"id": "ip-pool-snat", "cidr": "192.0.2.0/30"}
    store = Store.open(tmp_path / "exhausted.db")
    report = sync_cluster(store, manifests=manifests(
        namespace("shop"), *(lb_service("shop", n, 80) for n in "abcd")),
        config=config(external_ip_pools_lb=[tiny], external_ip_pools=[small_fip],
                      implicit_namespaces=[], enable_snat=False), now=1)
    assert [(p.code, p.obj) for p in report.problems] == [
        ("IP_POOL_EXHAUSTED", "Service/shop/d")]
    assert report.lb_vips == {"shop/a": "198.51.100.10", "shop/b": "192.0.2.1",
                              "shop/c": "192.0.2.2"}
    store.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=1,
                      max_size=6, unique=True),
       keep=st.integers(min_value=0, max_value=6))
def test_vips_unique_inside_pools_and_all_returned(tmp_path_factory: Any, names: list[str],
                                                   keep: int) -> None:
    tmp = tmp_path_factory.mktemp("lbprop")
    store = Store.open(tmp / "p.db")
    cfg = config(external_ip_pools_lb=[LB_POOL], ip_reallocation_time=60)
    services = [lb_service("shop", n, 80, 8080) for n in names]
    sync_cluster(store, manifests=manifests(*BASE, *services), config=cfg, now=1)
    inv = store.inventory()
    check_invariants(inv)
    vips = [v.ip_address for v in l4(inv)]
    assert len(set(vips)) == len(names)  # one VIP per service, shared by its ports
    pools = [p for p in inv.of_type(IpPool) if p.id in ("ip-pool-lb", "ip-pool-snat")]
    assert all(any(ip in s.cidr for p in pools for s in p.subnets) for ip in vips)
    # Keep a prefix, delete the rest: their VIPs are held, nothing else remains of them.
    kept = services[:keep]
    report = sync_cluster(store, manifests=manifests(*BASE, *kept), config=cfg, now=2)
    inv = store.inventory()
    check_invariants(inv)
    assert len(l4(inv)) == 2 * len(kept)
    held = {h.cidr for h in store.holds() if h.scope.endswith("ip-pool-lb")}
    gone = set(vips) - {v.ip_address for v in l4(inv)}
    assert {IPv4Network(ip) for ip in gone} <= held
    if not kept:
        assert not [s for s in inv.of_type(LBService) if s.size != "DLB"]
    assert set(report.lb_vips) == {f"shop/{n}" for n in names[:keep]}
    store.close()


def test_profile_l4_settings_reach_the_pools(tmp_path: Path) -> None:
    profile = parse_profile({"name": "l4", "parameters": {"lb_size": "medium",
                             "cni_configurations": {"type": "nsxt", "parameters": {
                                 "l4_lb_algorithm": "least_connection",
                                 "l4_persistence_type": "source_ip"}}}})
    _report, inv = sync(tmp_path, [*BASE, lb_service("shop", "front", 80)], profile=profile)
    (vs,) = l4(inv)
    pool = inv[vs.pool_path]
    assert isinstance(pool, LBPool) and pool.algorithm == "LEAST_CONNECTION"
    assert pool.snat_translation.type == "LBSnatAutoMap"
    assert vs.lb_persistence_profile_path is not None
    (lb,) = [s for s in inv.of_type(LBService) if s.size != "DLB"]
    assert lb.size == "MEDIUM"


_POD_STATE = st.tuples(st.sampled_from(["web", "api"]),  # app label
                       st.sampled_from([None, True, False]))  # in the slice: ready?


def _slice(states: list[tuple[str, bool | None]]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "front-abc", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": "front"}},
            "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["0.0.0.0"], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": f"p{i}"}}
                          for i, (_app, ready) in enumerate(states) if ready is not None]}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(st.tuples(st.lists(_POD_STATE, min_size=0, max_size=6), st.booleans()),
                       min_size=1, max_size=3))
def test_members_always_equal_the_ready_endpoints(tmp_path_factory: Any,
                                                  rounds: list[Any]) -> None:
    """Through successive syncs, every pool of the LoadBalancer service holds exactly its
    ready endpoints: the pods its EndpointSlice marks ready (or, with no slice, the pods
    its selector matches), at their own addresses."""
    store = Store.open(tmp_path_factory.mktemp("members") / "m.db")
    cfg = config(external_ip_pools_lb=[LB_POOL])
    for states, with_slice in rounds:
        docs = [namespace("shop"),
                *(pod("shop", f"p{i}", {"app": app}) for i, (app, _r) in enumerate(states)),
                lb_service("shop", "front", 80, 443)]
        if with_slice:
            docs.append(_slice(states))
        sync_cluster(store, manifests=manifests(*docs), config=cfg, now=1)
        inv = store.inventory()
        if with_slice:
            expected = {f"shop/p{i}" for i, (_a, ready) in enumerate(states) if ready}
        else:
            expected = {f"shop/p{i}" for i, (app, _r) in enumerate(states) if app == "web"}
        ips = {p.display_name: p.address_bindings[0].ip_address
               for p in inv.of_type(SegmentPort) if p.address_bindings}
        for vs in l4(inv):
            pool = inv[vs.pool_path or ""]
            assert isinstance(pool, LBPool)
            assert {m.display_name for m in pool.members} == expected
            assert all(m.ip_address == ips[m.display_name] for m in pool.members)
        check_invariants(inv)
    store.close()
