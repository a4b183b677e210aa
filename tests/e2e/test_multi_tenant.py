"""``ncp sync`` of the multi-tenant sample: NAT, static SNAT and routed namespaces side by side.

What the sample's README promises: ``payments`` egresses as 10.40.14.200 (static, inside
``ip-pool-snat``, status ``IP_ALLOCATED_SUCCESSFULLY``); ``analytics`` is routed
(``ncp/no_snat``): its subnet comes from the no-SNAT block and it has no SNAT rule;
the ``node-exporter`` DaemonSet runs one pod per node (4); 21 pods in all.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_address, ip_network
from typing import Any

import pytest

CLUSTER = "k8s-cluster"
POD_BLOCK = ip_network("172.16.0.0/16")
NO_SNAT_BLOCK = ip_network("172.20.0.0/16")
SNAT_POOL = ip_network("10.40.14.0/24")
NODES = ("node-a", "node-b", "node-c", "node-d")
NAT_NAMESPACES = ("default", "kube-public", "kube-system", "monitoring", "payments", "shop")

#: Pods per namespace (README table). ``kube-public`` is not in the sample: it is one of
#: the namespaces every cluster has (config ``implicit_namespaces``), realized empty.
PODS_PER_NAMESPACE = {"shop": 6, "payments": 3, "analytics": 5, "monitoring": 5,
                      "default": 0, "kube-system": 2, "kube-public": 0}


@pytest.fixture
def mt(synced: Any) -> Any:
    return synced("multi-tenant")


def by_project(objs: list[dict[str, Any]], tags: Any) -> dict[str, dict[str, Any]]:
    return {tags(o)["ncp/project"]: o for o in objs if "ncp/project" in tags(o)}


def test_summary_counts(mt: Any) -> None:
    assert mt.code == 0
    assert mt.report["problems"] == []
    assert mt.report["realized"] == {"namespaces": 7, "pods": 21, "nodes": 4}
    assert sorted(mt.report["namespaces"]) == sorted(PODS_PER_NAMESPACE)
    # The first sync creates everything and changes nothing else.
    assert mt.report["updated"] == {} and mt.report["deleted"] == {}
    assert mt.report["created"]["SegmentPort"] == 21 + len(NODES)
    assert mt.report["created"]["Segment"] == len(PODS_PER_NAMESPACE) + 1
    # Per namespace, plus the node network's and the load balancer's (shop/frontend is a
    # LoadBalancer Service).
    assert mt.report["created"]["Tier1"] == len(PODS_PER_NAMESPACE) + 2


def test_pods_per_namespace(mt: Any, cli: Any, tags: Any) -> None:
    ports = cli.show("segment-ports", state=mt.state)
    counts = Counter(tags(p)["ncp/project"] for p in ports if "ncp/project" in tags(p))
    assert {ns: counts.get(ns, 0) for ns in PODS_PER_NAMESPACE} == PODS_PER_NAMESPACE


def test_payments_static_snat_ip(mt: Any, cli: Any, tags: Any) -> None:
    ann = mt.report["namespaces"]["payments"]
    assert ann["ncp/snat_ip"] == "10.40.14.200"
    assert ann["ncp/snat_ip_status"] == "IP_ALLOCATED_SUCCESSFULLY"
    assert "ncp/error" not in ann
    rules = [r for r in cli.show("nat-rules", state=mt.state)
             if tags(r).get("ncp/project") == "payments"]
    assert rules and all(r["translated_network"] == "10.40.14.200" for r in rules)
    assert {r["source_network"] for r in rules} == {ann["ncp/subnet-0"]}
    pool = next(p for p in cli.pools(state=mt.state) if p["id"] == "ip-pool-snat")
    mine = [a["allocation_ip"] for a in pool["allocations"]
            if tags(a).get("ncp/project") == "payments"]
    assert mine == ["10.40.14.200"]
    t1 = by_project(cli.show("tier-1s", state=mt.state), tags)["payments"]
    assert tags(t1)["ncp/snat_ip"] == "10.40.14.200"


def test_dynamic_snat_ips_are_distinct_and_skip_the_static_one(mt: Any) -> None:
    ips = {ns: mt.report["namespaces"][ns]["ncp/snat_ip"] for ns in NAT_NAMESPACES}
    assert len(set(ips.values())) == len(ips)
    assert all(ip_address(ip) in SNAT_POOL for ip in ips.values())
    for ns in NAT_NAMESPACES:
        if ns != "payments":
            assert ips[ns] != "10.40.14.200"
            assert "ncp/snat_ip_status" not in mt.report["namespaces"][ns]


def test_analytics_is_routed(mt: Any, cli: Any, tags: Any) -> None:
    ann = mt.report["namespaces"]["analytics"]
    assert "ncp/snat_ip" not in ann
    assert "ncp/error" not in ann
    subnet = ip_network(ann["ncp/subnet-0"])
    assert subnet.subnet_of(NO_SNAT_BLOCK)
    seg = by_project(cli.show("segments", state=mt.state), tags)["analytics"]
    assert seg["subnets"][0]["network"] == str(subnet)
    rules = cli.show("nat-rules", state=mt.state)
    assert "analytics" not in by_project(rules, tags)
    assert not [r for r in rules if ip_network(r["source_network"]).overlaps(subnet)]
    t1 = by_project(cli.show("tier-1s", state=mt.state), tags)["analytics"]
    assert "ncp/snat_ip" not in tags(t1)
    pool = next(p for p in cli.pools(state=mt.state) if p["id"] == "ip-pool-snat")
    assert not [a for a in pool["allocations"] if tags(a).get("ncp/project") == "analytics"]
    for port in cli.show("segment-ports", "--namespace", "analytics", state=mt.state):
        assert ip_address(port["address_bindings"][0]["ip_address"]) in subnet


@pytest.mark.parametrize("ns", [pytest.param(ns, id=ns) for ns in NAT_NAMESPACES])
def test_nat_namespaces_use_the_pod_block(mt: Any, cli: Any, tags: Any, ns: str) -> None:
    ann = mt.report["namespaces"][ns]
    assert ip_network(ann["ncp/subnet-0"]).subnet_of(POD_BLOCK)
    rule = by_project(cli.show("nat-rules", state=mt.state), tags)[ns]
    assert rule["source_network"] == ann["ncp/subnet-0"]
    assert rule["translated_network"] == ann["ncp/snat_ip"]


def test_daemonset_one_pod_per_node(mt: Any, cli: Any, tags: Any) -> None:
    ports = cli.show("segment-ports", "--namespace", "monitoring", state=mt.state)
    exporters = {p["id"]: tags(p)["ncp/node_name"] for p in ports
                 if tags(p).get("app") == "node-exporter"}
    assert exporters == {f"node-exporter-{n}": n for n in NODES}


def test_job_runs_parallelism_pods(mt: Any, cli: Any, tags: Any) -> None:
    ports = cli.show("segment-ports", "--tag", "app=report", state=mt.state)
    assert sorted(p["id"] for p in ports) == ["nightly-report-0", "nightly-report-1"]
    assert all(tags(p)["ncp/project"] == "analytics" for p in ports)


def test_no_pod_uses_the_host_network_in_the_sample(mt: Any) -> None:
    # No workload of the sample sets hostNetwork, so every pod gets a port.
    assert not [n for n in mt.report["notes"] if "host network" in n]


def test_namespace_labels_become_segment_tags(mt: Any, cli: Any, tags: Any) -> None:
    segments = by_project(cli.show("segments", state=mt.state), tags)
    expected = {"shop": ("storefront", "prod"), "payments": ("payments", "prod"),
                "analytics": ("data", "staging"), "monitoring": ("platform", "prod"),
                "default": ("platform", "dev"), "kube-system": ("platform", "prod")}
    for ns, (team, env) in expected.items():
        t = tags(segments[ns])
        assert (t.get("team"), t.get("env")) == (team, env), ns
        assert t["kubernetes.io/metadata.name"] == ns


def test_all_addresses_unique(mt: Any, cli: Any) -> None:
    ports = cli.show("segment-ports", state=mt.state)
    ips = [b["ip_address"] for p in ports for b in p["address_bindings"]]
    macs = [b["mac_address"] for p in ports for b in p["address_bindings"]]
    assert len(ips) == 25 and len(set(ips)) == 25
    assert len(set(macs)) == 25


def test_host_network_daemonset_gets_no_ports(cli: Any) -> None:
    """A hostNetwork DaemonSet (e.g. a CNI agent) shares the node's address: no port."""
    folder = cli.copy_sample(cli.MULTI_TENANT)
    cli.write_yaml(folder / "agent.yaml", {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"hostNetwork": True,
                                       "containers": [{"name": "a", "image": "agent:1"}]}}},
    })
    res = cli.sync(folder)
    assert res.code == 0, res.out
    report = res.json()
    assert report["realized"]["pods"] == 21
    notes = [n for n in report["notes"] if "host network" in n]
    assert len(notes) == len(NODES)
    assert not cli.show("segment-ports", "--tag", "app=agent")
