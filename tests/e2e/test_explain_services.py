"""``sdn explain`` through a service follows traceflow's translation (issue 10, defect 3).

A cluster IP, a LoadBalancer VIP and ``svc:NS/NAME`` go to the backends of the pool, with
the service port mapped to the target port; each backend is explained, and the rule named
is the one ``traceflow`` names. On the old code ``explain`` to a cluster IP said ALLOWED
("not enforced, an address outside the inventory") where traceflow dropped by a rule.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def mt(cli: Any) -> Any:
    assert cli.sync(cli.MULTI_TENANT).code == 0
    return cli


def _cluster_ip(cli: Any, ns: str, name: str) -> str:
    (ip,) = {vs["ip_address"] for vs in cli.show("lb-virtual-servers")
             if vs["id"].startswith("vs_") and
             {"scope": "ncp/project", "tag": ns} in vs["tags"] and
             {"scope": "ncp/service", "tag": name} in vs["tags"]}
    return str(ip)


def _explain(cli: Any, *argv: object) -> Any:
    return cli.sdn("explain", "--state", cli.state, *argv)


def test_explain_to_a_cluster_ip_names_the_rule_traceflow_names(mt: Any) -> None:
    vip = _cluster_ip(mt, "payments", "api")
    res = _explain(mt, "--src", "analytics/worker-0", "--dst", vip, "--dport", "8443",
                   "-o", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["allowed"] is False and data["disposition"] == "DROPPED"
    assert data["service"]["ip"] == vip
    names = sorted(b["name"] for b in data["backends"])
    assert names == ["payments/api-0", "payments/api-1"]
    tf = mt.sdn("traceflow", "--state", mt.state, "--src", "analytics/worker-0", "--dst", vip,
                "--dport", "8443", "--all-backends", "-o", "json").json()
    traced = {}
    for branch in tf["branches"]:
        obs = branch["observations"]
        (lb,) = [o for o in obs if o.get("component_type") == "LOAD_BALANCER"]
        traced[lb["translated_dst_ip"]] = obs[-1]["acl_rule_path"]
    explained = {b["ip"]: b["deciding"]["path"] for b in data["backends"]}
    assert traced == explained
    assert all(b["deciding"]["point"] == "egress" and
               b["deciding"]["path"].endswith("worker-egress_isolation/rules/egress-isolation")
               for b in data["backends"])


def test_the_service_port_maps_to_the_target_port(mt: Any) -> None:
    """shop/catalog listens on 8080 behind service port 8080; kube-dns on 53: the legs
    carry the member's port, as the LOAD_BALANCER observation does."""
    data = _explain(mt, "--src", "shop/frontend-0", "--dst", "svc:shop/catalog",
                    "-o", "json").json()
    tf = mt.sdn("traceflow", "--state", mt.state, "--src", "shop/frontend-0", "--dst",
                "svc:shop/catalog", "--all-backends", "-o", "json").json()
    ports = {b["packet"]["transport_header"]["tcp_header"]["dst_port"] for b in tf["branches"]}
    assert ports == {data["port"]}
    table = mt.sdn("traceflow", "--state", mt.state, "--src", "shop/frontend-0", "--dst",
                   "svc:shop/catalog", "--all-backends").out
    # the LB's choice in words is in the table's DETAIL (NSX's JSON has no field for it)
    members = {line.split(" port ")[-1].split(";")[0].strip() for line in table.splitlines()
               if line[:1].isdigit() and " LOAD_BALANCER " in line}
    assert len(members) == 1 and len(tf["branches"]) > 1
    assert {str(b["port"]) for b in data["backends"]} == members


@pytest.mark.parametrize("dst", [pytest.param("svc:payments/api", id="svc"),
                                 pytest.param("@vip", id="cluster-ip")])
def test_svc_and_cluster_ip_are_the_same_question(mt: Any, dst: str) -> None:
    target = _cluster_ip(mt, "payments", "api") if dst == "@vip" else dst
    data = _explain(mt, "--src", "shop/frontend-0", "--dst", target, "--dport", "8443",
                    "-o", "json").json()
    assert data["allowed"] is True
    assert [b["deciding"]["path"].rsplit("/", 3)[-3] for b in data["backends"]] == \
        ["np_k8s-cluster_payments_allow-shop-frontend-to-api_allow"] * 2


def test_svc_needs_no_dport_when_the_service_has_one_port(mt: Any) -> None:
    res = _explain(mt, "--src", "shop/frontend-0", "--dst", "svc:payments/api")
    assert res.code == 0, res.err
    assert "backend 1 of 2: payments/api-0:8443" in res.out
    assert res.out.strip().splitlines()[-1] == "ALLOWED: 2 of 2 backends allowed"


def test_outside_client_to_a_loadbalancer_vip_is_explained_at_each_backend(cli: Any) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    data = _explain(cli, "--src", "203.0.113.7", "--dst", "svc:default/frontend",
                    "-o", "json").json()
    assert data["service"]["name"].startswith("default/frontend")
    assert len(data["backends"]) == 3
    assert all(b["egress"] is None and b["deciding"]["point"] == "ingress"
               for b in data["backends"])


def test_service_without_backends_is_dropped_by_the_load_balancer(cli: Any, k8s: Any) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "empty",
                                                               "namespace": "default"},
           "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}}
    folder = cli.tmp / "c"
    cli.write_yaml("c/all.yaml", k8s.namespace("default"), k8s.pod("a"), svc)
    assert cli.sync(folder).code == 0
    res = _explain(cli, "--src", "default/a", "--dst", "svc:default/empty", "-o", "json")
    data = res.json()
    assert (data["allowed"], data["backends"]) == (False, [])
    assert "no ready backend" in data["service"]["dropped_by_lb"]
    text = _explain(cli, "--src", "default/a", "--dst", "svc:default/empty")
    assert "by the load balancer" in text.out.strip().splitlines()[-1]
