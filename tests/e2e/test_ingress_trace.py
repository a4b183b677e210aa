"""Tracing HTTP(S) to an Ingress VIP (issue 10, defect 5).

The old walk skipped L7 virtual servers (their ``pool_path`` is empty), so a trace from
outside to the Ingress address ended "no ready backend" although the Ingress rules point
at pools with members. Now the L7 virtual server's LB rules are evaluated in NSX's order
for ``--http-host``/``--http-path`` (sdn.traceflow.l7) and the ``LOAD_BALANCER``
observation names the matched rule and pool.

The table pins NSX's first-match order: with ``/`` listed before ``/api/cart`` the ``/``
rule takes ``/api/cart`` too (unlike Kubernetes' longest match); listed after, it does
not. A request no rule matches is answered by the load balancer itself (no default pool)
unless a rule without conditions on the host (an Ingress ``defaultBackend``) catches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

CLIENT = "203.0.113.7"
HOST = "shop.example.com"


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": name, "image": "nginx", "ports": [
                             {"name": "http", "containerPort": 8080}]}]}}}}


def _service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name,
                                                               "namespace": "shop"},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def _path(path: str, service: str) -> dict[str, Any]:
    return {"path": path, "pathType": "Prefix",
            "backend": {"service": {"name": service, "port": {"number": 80}}}}


def _ingress(paths: list[dict[str, Any]], default: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": [{"host": HOST, "http": {"paths": paths}}]}
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "shop",
                         "annotations": {"kubernetes.io/ingress.class": "nsx"}},
            "spec": spec}


LAYOUTS = {
    "root-first": lambda: _ingress([_path("/", "web"), _path("/api/cart", "cart")]),
    "cart-first": lambda: _ingress([_path("/api/cart", "cart"), _path("/", "web")]),
    "with-default": lambda: _ingress([_path("/api/cart", "cart")], default="web"),
}


@dataclass(frozen=True)
class Case:
    id: str
    layout: str
    host: str | None
    path: str
    rule: int | None  # the LB rule that decides; None: nothing serves it
    service: str | None


CASES = [
    Case("root-first-cart-goes-to-root", "root-first", HOST, "/api/cart/items", 1, "web"),
    Case("root-first-root", "root-first", HOST, "/", 1, "web"),
    Case("cart-first-cart", "cart-first", HOST, "/api/cart", 1, "cart"),
    Case("cart-first-other-path", "cart-first", HOST, "/about", 2, "web"),
    Case("host-is-case-insensitive", "cart-first", "SHOP.Example.com", "/api/cart", 1, "cart"),
    Case("other-host-no-match", "cart-first", "other.example.com", "/", None, None),
    Case("no-host-no-match", "cart-first", None, "/api/cart", None, None),
    Case("default-backend-catches-other-host", "with-default", "other.example.com", "/",
         2, "web"),
    Case("default-backend-after-the-rules", "with-default", HOST, "/api/cart", 1, "cart"),
]


def _synced(cli: Any, layout: str) -> str:
    """Sync the shop with the Ingress ``layout``; returns the Ingress VIP."""
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
            _deployment("web", 2), _deployment("cart", 2), _service("web"), _service("cart"),
            LAYOUTS[layout]()]
    cli.write_yaml(f"{layout}/shop.yaml", *docs)
    res = cli.sync(cli.tmp / layout)
    assert res.code == 0, res.out + res.err
    (vip,) = {vs["ip_address"] for vs in cli.show("lb-virtual-servers")
              if vs["id"].startswith("l7vs_")}
    return str(vip)


def _trace(cli: Any, vip: str, case: Case, *extra: str) -> Any:
    host = ["--http-host", case.host] if case.host else []
    res = cli.sdn("traceflow", "--state", cli.state, "--src", CLIENT, "--dst", vip,
                  "--dport", "80", *host, "--http-path", case.path, *extra, "-o", "json")
    assert res.code == 0, res.err
    return res.json()


def _lb_detail(cli: Any, vip: str, case: Case | None = None) -> str:
    """The load balancer's row of the trace's table: its DETAIL says which LB rule chose
    which pool (words NSX's observation JSON has no field for)."""
    host = ["--http-host", case.host] if case is not None and case.host else []
    path = ["--http-path", case.path] if case is not None else []
    res = cli.sdn("traceflow", "--state", cli.state, "--src", CLIENT, "--dst", vip,
                  *(["--dport", "80"] if case is not None else []), *host, *path)
    assert res.code == 0, res.err
    rows = [line for line in res.out.splitlines()
            if line[:1].isdigit() and " LOAD_BALANCER " in line]
    assert rows, res.out
    return "\n".join(rows)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_ingress_rules_in_nsx_order(cli: Any, case: Case) -> None:
    vip = _synced(cli, case.layout)
    data = _trace(cli, vip, case)
    (lb,) = [o for o in data["observations"] if o.get("component_type") == "LOAD_BALANCER"]
    detail = _lb_detail(cli, vip, case)
    if case.rule is None:
        assert data["disposition"] == "DROPPED"
        assert lb["reason"] == "LB" and "no LB rule matches" in detail
        assert "503" in data["summary"]
        return
    assert data["disposition"] == "DELIVERED", data["summary"]
    assert f"LB rule {case.rule} (" in detail
    assert f"selects pool shop/{case.service}:80" in detail
    assert data["observations"][-1]["lport_name"].startswith(f"shop/{case.service}-")
    assert data["packet"]["transport_header"]["tcp_header"]["dst_port"] == 80


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_every_backend_of_the_chosen_pool_and_explain_agree(cli: Any, case: Case) -> None:
    vip = _synced(cli, case.layout)
    branches = _trace(cli, vip, case, "--all-backends")
    host = ["--http-host", case.host] if case.host else []
    exp = cli.sdn("explain", "--state", cli.state, "--src", CLIENT, "--dst", vip, "--dport",
                  "80", *host, "--http-path", case.path, "-o", "json").json()
    assert exp["service"]["lb_rule"] == case.rule
    if case.rule is None:
        assert branches["disposition"] == "DROPPED" and exp["backends"] == []
        return
    ends = sorted(b["observations"][-1]["lport_name"] for b in branches["branches"])
    assert ends == [f"shop/{case.service}-0", f"shop/{case.service}-1"]
    assert sorted(b["name"] for b in exp["backends"]) == ends
    assert all(b["port"] == 8080 for b in exp["backends"])


def test_the_default_request_is_slash_without_a_host(cli: Any) -> None:
    """Without --http-host/--http-path the request is ``GET /`` with the VIP as Host."""
    vip = _synced(cli, "with-default")
    res = cli.sdn("traceflow", "--state", cli.state, "--src", CLIENT, "--dst", vip,
                  "-o", "json")
    lb = [o for o in res.json()["observations"] if o.get("component_type") == "LOAD_BALANCER"]
    assert lb and "LB rule 2 (" in _lb_detail(cli, vip)
