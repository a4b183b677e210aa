"""Ingresses on the cluster's shared HTTP/HTTPS virtual servers: one IP, rules in creation
order, pools of ready endpoints, and the documented errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ncp.reconcile.sync import sync_cluster
from sdn.model import (
    LBCookiePersistenceProfile,
    LBHttpProfile,
    LBPool,
    LBService,
    LBVirtualServer,
)
from sdn.profiles import parse_profile
from sdn.store import Store
from tests.support.clusters import config, manifests, namespace, pod
from tests.support.state_checks import check_invariants

LB_POOL = {"id": "ip-pool-lb", "cidr": "198.51.100.0/24", "ranges": ["198.51.100.10-198.51.100.20"]}


def svc(name: str, app: str, port: int = 80, target: int = 8080) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {"app": app},
                     "ports": [{"name": "http", "port": port, "targetPort": target}]}}


def ingress(name: str, stamp: str, rules: list[tuple[str | None, str, str, int]],
            tls: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": [
        {**({"host": host} if host else {}), "http": {"paths": [
            {"path": path, "pathType": "Prefix",
             "backend": {"service": {"name": backend, "port": {"number": port}}}}]}}
        for host, path, backend, port in rules]}
    if tls:
        spec["tls"] = [{"hosts": [r[0] for r in rules if r[0]], "secretName": "cert"}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "shop", "creationTimestamp": stamp},
            "spec": spec}


BASE = [namespace("shop"), *(pod("shop", f"web-{i}", {"app": "web"}) for i in range(2)),
        pod("shop", "api-0", {"app": "api"}), svc("web", "web"), svc("api", "api")]


def run(tmp: Path, *docs: dict[str, Any], profile: Any = None) -> tuple[Any, Any]:
    store = Store.open(tmp / "s.db")
    report = sync_cluster(store, manifests=manifests(*BASE, *docs), profile=profile, now=1,
                          config=config(external_ip_pools_lb=[LB_POOL]))
    inv = store.inventory()
    store.close()
    return report, inv


def l7(inv: Any) -> dict[str, LBVirtualServer]:
    return {v.ports[0]: v for v in inv.of_type(LBVirtualServer) if v.id.startswith("l7vs_")}


def test_shared_ip_rules_and_pools(tmp_path: Path) -> None:
    report, inv = run(tmp_path,
                      ingress("site", "2024-01-01T00:00:00Z",
                              [("shop.example.com", "/", "web", 80),
                               ("shop.example.com", "/api", "api", 80)]),
                      ingress("secure", "2024-01-02T00:00:00Z",
                              [("pay.example.com", "/", "api", 80)], tls=True))
    assert report.problems == []
    check_invariants(inv)
    vss = l7(inv)
    assert set(vss) == {"80", "443"}
    assert vss["80"].ip_address == vss["443"].ip_address  # one IP for every Ingress
    assert str(vss["80"].ip_address).startswith("198.51.100.")
    assert [r.display_name for r in vss["80"].rules] == [
        "shop/site shop.example.com/", "shop/site shop.example.com/api"]
    assert [r.display_name for r in vss["443"].rules] == ["shop/secure pay.example.com/"]
    web_pool = inv[vss["80"].rules[0].actions[0].pool_id]
    assert isinstance(web_pool, LBPool)
    assert {(m.display_name, m.port) for m in web_pool.members} == {
        ("shop/web-0", "8080"), ("shop/web-1", "8080")}
    assert [s.id for s in inv.of_type(LBService) if s.size != "DLB"] == ["lb_k8s-cluster"]


def test_first_created_wins_and_missing_backends_are_errors(tmp_path: Path) -> None:
    report, inv = run(tmp_path,
                      ingress("late", "2024-02-01T00:00:00Z", [(None, "/", "api", 80)]),
                      ingress("early", "2024-01-01T00:00:00Z", [(None, "/", "web", 80)]),
                      ingress("broken", "2024-03-01T00:00:00Z",
                              [("x.example.com", "/", "nope", 80),
                               ("y.example.com", "/", "web", 81)]))
    problems = sorted((p.code, p.obj) for p in report.problems)
    assert problems == [("BACKEND_NOT_FOUND", "Ingress/shop/broken"),
                        ("BACKEND_NOT_FOUND", "Ingress/shop/broken"),
                        ("DUPLICATE_HOST_PATH", "Ingress/shop/late")]
    (rule,) = l7(inv)["80"].rules
    assert rule.display_name == "shop/early */"
    assert report.ingress_annotations == {
        ("shop", "broken"): {"ncp/error.loadbalancer": "BACKEND_NOT_FOUND"},
        ("shop", "late"): {"ncp/error.loadbalancer": "DUPLICATE_HOST_PATH"}}
    vip = str(l7(inv)["80"].ip_address)
    # neither "late" nor "broken" (web has no port 81) has a rule left: no address
    assert report.ingress_vips == {"shop/early": vip}
    check_invariants(inv)


def test_profile_ingress_ip(tmp_path: Path) -> None:
    profile = parse_profile({"name": "ing", "parameters": {"cni_configurations": {
        "type": "nsxt", "parameters": {"ingress_ip": "198.51.100.15"}}}})
    report, inv = run(tmp_path, ingress("site", "", [(None, "/", "web", 80)]),
                      profile=profile)
    assert report.problems == []
    assert {str(v.ip_address) for v in l7(inv).values()} == {"198.51.100.15"}


def _l7_profile(name: str, **params: Any) -> Any:
    return parse_profile({"name": name, "parameters": {"cni_configurations": {
        "type": "nsxt", "parameters": params}}})


@pytest.mark.parametrize(("params", "http", "persistence"), [
    pytest.param({}, None, None, id="defaults"),
    pytest.param({"x_forwarded_for": "insert"}, ("INSERT", 1024, 60), None, id="xff-insert"),
    pytest.param({"x_forwarded_for": "none", "lb_http_request_header_size": 2048,
                  "lb_http_response_timeout": 120}, (None, 2048, 120), None, id="sizes"),
    pytest.param({"ingress_persistence_settings": {"persistence_type": "cookie",
                                                   "persistence_timeout": 600}},
                 None, ("LBCookiePersistenceProfile", 600), id="cookie"),
    pytest.param({"x_forwarded_for": "replace",
                  "ingress_persistence_settings": {"persistence_type": "source_ip"}},
                 ("REPLACE", 1024, 60), ("LBSourceIpPersistenceProfile", 300), id="xff-srcip"),
    pytest.param({"ingress_persistence_settings": {"persistence_type": "none"}},
                 None, None, id="persistence-none"),
])
def test_l7_profile_settings(tmp_path: Path, params: dict[str, Any],
                             http: tuple[Any, ...] | None,
                             persistence: tuple[str, int] | None) -> None:
    profile = _l7_profile("l7", **params) if params else None
    report, inv = run(tmp_path, ingress("site", "", [(None, "/", "web", 80)]), profile=profile)
    assert report.problems == []
    for vs in l7(inv).values():
        app = inv.get(vs.application_profile_path)
        if http is None:
            assert app is None
            assert vs.application_profile_path.endswith("default-http-lb-app-profile")
        else:
            assert isinstance(app, LBHttpProfile)
            assert (app.x_forwarded_for, app.request_header_size, app.response_timeout) == http
        sticky = inv.get(vs.lb_persistence_profile_path or "")
        if persistence is None:
            assert vs.lb_persistence_profile_path is None
        else:
            assert sticky is not None and sticky.resource_type == persistence[0]
            timeout = (sticky.cookie_time.cookie_max_idle
                       if isinstance(sticky, LBCookiePersistenceProfile) else
                       getattr(sticky, "timeout", None))
            assert timeout == persistence[1]
    check_invariants(inv)


def test_l7_profiles_follow_profile_updates_and_go_with_the_ingresses(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    cfg = config(external_ip_pools_lb=[LB_POOL])
    site = ingress("site", "", [(None, "/", "web", 80)])
    sync_cluster(store, manifests=manifests(*BASE, site), now=1, config=cfg)
    sticky = _l7_profile("sticky", x_forwarded_for="insert",
                         ingress_persistence_settings={"persistence_type": "cookie"})
    sync_cluster(store, manifests=manifests(*BASE, site), profile=sticky, now=2, config=cfg)
    kinds = {o.resource_type for o in store.inventory().values()}
    assert {"LBHttpProfile", "LBCookiePersistenceProfile"} <= kinds
    sync_cluster(store, manifests=manifests(*BASE), now=3, config=cfg)  # Ingress gone
    inv = store.inventory()
    store.close()
    assert not {o.resource_type for o in inv.values()} & {
        "LBHttpProfile", "LBCookiePersistenceProfile"}
    assert not [v for v in inv.of_type(LBVirtualServer) if v.id.startswith("l7vs_")]
    check_invariants(inv)
