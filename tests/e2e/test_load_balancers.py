"""Load balancers through the CLI: the guestbook's frontend and a cluster with more
LoadBalancer services than a SMALL load balancer holds, plus Ingresses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LB_HEAVY = ROOT / "topologies" / "lb-heavy"


def test_guestbook_frontend_gets_a_vip_and_traces_through_it(cli: Any) -> None:
    res = cli.sync(cli.GUESTBOOK)
    assert res.code == 0
    assert res.json()["load_balancers"] == {"default/frontend": "10.40.15.10"}
    vss = [v for v in cli.show("lb-virtual-servers") if v["id"].startswith("l4vs_")]
    assert [(v["ip_address"], v["ports"]) for v in vss] == [("10.40.15.10", ["80"])]
    pool = next(p for p in cli.show("lb-pools") if p["path"] == vss[0]["pool_path"])
    assert sorted(m["display_name"] for m in pool["members"]) == [
        "default/frontend-0", "default/frontend-1", "default/frontend-2"]
    t = cli.sdn("traceflow", "--state", cli.state, "--src", "default/redis-slave-0",
                "--dst", "10.40.15.10", "--dport", "80", "-o", "json").json()
    lb = [o for o in t["observations"] if o.get("component_type") == "LOAD_BALANCER"]
    assert lb and lb[0]["translated_dst_ip"].startswith("172.16.")
    assert t["observations"][-1]["lport_name"].startswith("default/frontend-")


def test_more_services_than_a_small_lb_holds(cli: Any) -> None:
    res = cli.sync(LB_HEAVY)
    assert res.code == 0, res.out
    usage = {u["path"].rsplit("/", 1)[-1]: u for u in
             cli.sdn("lb", "--state", cli.state, "-o", "json").json()}
    assert usage["lb_k8s-cluster"]["virtual_servers"] == 20  # 18 L4 + the 2 Ingress ones
    assert usage["lb_k8s-cluster-1"]["virtual_servers"] == 6
    assert usage["lb_k8s-cluster"]["limits"]["virtual_servers"] == 20
    l7 = {v["ports"][0]: v for v in cli.show("lb-virtual-servers") if v["id"].startswith("l7vs")}
    assert l7["80"]["ip_address"] == l7["443"]["ip_address"]
    assert [r["display_name"] for r in l7["80"]["rules"]] == [
        "apps/site shop.example.com/", "apps/site shop.example.com/api"]
    assert len(l7["443"]["rules"]) == 1
    vips = {v["ip_address"] for v in cli.show("lb-virtual-servers") if v["id"].startswith("l4vs")}
    assert len(vips) == 24
    assert res.json()["ingresses"] == {"apps/secure": l7["80"]["ip_address"],
                                       "apps/site": l7["80"]["ip_address"]}
    again = cli.sync(LB_HEAVY).json()  # the no-op path reports the same status
    assert (again["ingresses"], again["load_balancers"]) == (
        res.json()["ingresses"], res.json()["load_balancers"])
    assert cli.sdn("ipam", "check", "--state", cli.state).code == 0


def test_max_l4_lb_service_leaves_the_rest_unrealized(cli: Any, tmp_path: Path) -> None:
    profile = tmp_path / "capped.json"
    profile.write_text(json.dumps({"name": "capped", "parameters": {"cni_configurations": {
        "type": "nsxt", "parameters": {"max_l4_lb_service": 20}}}}))
    res = cli.sync(LB_HEAVY, extra=["--profile", profile])
    assert res.code == 1
    problems = res.json()["problems"]
    assert [p["code"] for p in problems] == ["SERVICE_LOADBALANCER_UNREALIZED"] * 4
    assert [p["object"] for p in problems] == [f"Service/apps/public-{i}" for i in range(20, 24)]
