"""``ncp sync`` of the guestbook sample, then the topology as ``sdn show -o json`` prints it.

Default (two-tier) topology: a Tier-1 per namespace plus one for the node network, each on
the Tier-0, namespace subnets carved from the pod block, SNAT on the Tier-0. With the
``shared-t1`` profile: one cluster Tier-1 that every segment and every SNAT rule hangs on.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_address, ip_network
from typing import Any

import pytest

CLUSTER = "k8s-cluster"
T0_PATH = "/infra/tier-0s/t0-gateway"
NAMESPACES = ("default", "kube-public", "kube-system")
POD_BLOCK = ip_network("172.16.0.0/16")
SNAT_POOL = ip_network("10.40.14.0/24")
NODES = ("worker-0", "worker-1", "worker-2")

#: The guestbook's pods and the labels each carries (README: "Labels follow the workshop").
PODS = {
    "frontend-0": {"app": "guestbook", "tier": "frontend"},
    "frontend-1": {"app": "guestbook", "tier": "frontend"},
    "frontend-2": {"app": "guestbook", "tier": "frontend"},
    "redis-master-0": {"app": "redis", "role": "master", "tier": "backend"},
    "redis-slave-0": {"app": "redis", "role": "slave", "tier": "backend"},
    "redis-slave-1": {"app": "redis", "role": "slave", "tier": "backend"},
}

KINDS = ("tier-0s", "tier-1s", "segments", "segment-ports", "ip-blocks", "ip-pools",
         "nat-rules", "groups", "security-policies", "lb-services", "lb-virtual-servers",
         "lb-pools")

SHARED_T1 = "shared-t1"


@pytest.fixture
def two_tier(synced: Any) -> Any:
    return synced("guestbook")


@pytest.fixture
def shared_t1(synced: Any, cli: Any) -> Any:
    return synced("guestbook", "--profile", cli.PROFILES / "shared-t1.json")


def by_project(objs: list[dict[str, Any]], tags: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for o in objs:
        project = tags(o).get("ncp/project")
        if project is not None:
            assert project not in out, f"two objects for namespace {project}"
            out[project] = o
    return out


# --- the sync itself --------------------------------------------------------------------


@pytest.mark.parametrize("profile", [
    pytest.param(None, id="two-tier"),
    pytest.param(SHARED_T1, id="shared-t1"),
])
def test_sync_realizes_everything(synced: Any, cli: Any, profile: str | None) -> None:
    extra = () if profile is None else ("--profile", cli.PROFILES / f"{profile}.json")
    run = synced("guestbook", *extra)
    assert run.code == 0
    assert run.report["cluster"] == CLUSTER
    assert run.report["problems"] == []
    assert run.report["realized"] == {"namespaces": 3, "pods": 6, "nodes": 3}
    assert sorted(run.report["namespaces"]) == list(NAMESPACES)
    for ns, ann in run.report["namespaces"].items():
        assert "ncp/error" not in ann, ns
        assert ip_network(ann["ncp/subnet-0"]).subnet_of(POD_BLOCK)
        assert ip_address(ann["ncp/snat_ip"]) in SNAT_POOL


@pytest.mark.parametrize("kind", [pytest.param(k, id=k) for k in KINDS])
@pytest.mark.parametrize("profile", [
    pytest.param(None, id="two-tier"),
    pytest.param(SHARED_T1, id="shared-t1"),
])
def test_every_object_has_the_policy_api_envelope(synced: Any, cli: Any, kind: str,
                                                  profile: str | None) -> None:
    extra = () if profile is None else ("--profile", cli.PROFILES / f"{profile}.json")
    objs = cli.show(kind, state=synced("guestbook", *extra).state)
    for obj in objs:
        for key in ("id", "display_name", "path", "resource_type", "tags"):
            assert key in obj, f"{kind} {obj.get('path')} lacks {key}"
        assert obj["path"].endswith("/" + obj["id"])
        assert isinstance(obj["tags"], list)
        for tag in obj["tags"]:
            assert set(tag) == {"scope", "tag"}
    paths = [o["path"] for o in objs]
    assert len(paths) == len(set(paths))


# --- two-tier (default) topology ----------------------------------------------------------


def test_two_tier_gateways(two_tier: Any, cli: Any, tags: Any) -> None:
    t0s = cli.show("tier-0s", state=two_tier.state)
    assert [t["path"] for t in t0s] == [T0_PATH]
    t1s = cli.show("tier-1s", state=two_tier.state)
    per_ns = by_project(t1s, tags)
    assert sorted(per_ns) == list(NAMESPACES)
    cluster_level = sorted(t["id"] for t in t1s if "ncp/project" not in tags(t))
    # One Tier-1 for the node network and, since the guestbook has a LoadBalancer
    # Service, one for the cluster's load balancer (TKGI's two-tier layout).
    assert cluster_level == [f"t1_{CLUSTER}-lb", f"t1_{CLUSTER}-nodes"]
    assert len(t1s) == len(NAMESPACES) + 2
    for t1 in t1s:
        assert t1["tier0_path"] == T0_PATH
        assert tags(t1)["ncp/cluster"] == CLUSTER
    # The report names each namespace's router.
    for ns, ann in two_tier.report["namespaces"].items():
        assert ann["ncp/router_id"] == per_ns[ns]["id"]


def test_two_tier_segments(two_tier: Any, cli: Any, tags: Any) -> None:
    t1s = cli.show("tier-1s", state=two_tier.state)
    t1_of = {ns: t["path"] for ns, t in by_project(t1s, tags).items()}
    node_t1 = next(t["path"] for t in t1s if t["id"].endswith("-nodes"))
    segments = cli.show("segments", state=two_tier.state)
    per_ns = by_project(segments, tags)
    assert sorted(per_ns) == list(NAMESPACES)
    subnets = []
    for ns, seg in per_ns.items():
        assert seg["connectivity_path"] == t1_of[ns]
        assert len(seg["subnets"]) == 1
        net = ip_network(seg["subnets"][0]["network"])
        assert net.prefixlen == 24
        assert net.subnet_of(POD_BLOCK)
        assert seg["subnets"][0]["gateway_address"] == f"{net.network_address + 1}/24"
        assert str(net) == two_tier.report["namespaces"][ns]["ncp/subnet-0"]
        subnets.append(net)
    assert all(not a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])
    node_segs = [s for s in segments if "ncp/project" not in tags(s)]
    assert len(node_segs) == 1
    assert node_segs[0]["connectivity_path"] == node_t1


def test_two_tier_pod_ports(two_tier: Any, cli: Any, tags: Any) -> None:
    segments = by_project(cli.show("segments", state=two_tier.state), tags)
    seg = segments["default"]
    subnet = ip_network(seg["subnets"][0]["network"])
    gateway = ip_address(seg["subnets"][0]["gateway_address"].split("/")[0])
    ports = cli.show("segment-ports", state=two_tier.state)
    pod_ports = [p for p in ports if p["parent_path"] == seg["path"]]
    assert sorted(p["id"] for p in pod_ports) == sorted(PODS)
    # Other namespaces have no pods in this sample.
    for ns in ("kube-public", "kube-system"):
        assert not [p for p in ports if p["parent_path"] == segments[ns]["path"]]

    node_ports = {tags(p)["ncp/node_name"]: p for p in ports
                  if p["attachment"]["type"] == "PARENT"}
    assert sorted(node_ports) == list(NODES)

    ips, macs = [], []
    vlans_per_node: Counter[tuple[str, int]] = Counter()
    for port in pod_ports:
        name = port["id"]
        assert len(port["address_bindings"]) == 1
        binding = port["address_bindings"][0]
        ip = ip_address(binding["ip_address"])
        assert ip in subnet
        assert ip not in (subnet.network_address, subnet.broadcast_address, gateway)
        ips.append(ip)
        macs.append(binding["mac_address"].lower())
        t = tags(port)
        assert t["ncp/cluster"] == CLUSTER
        assert t["ncp/project"] == "default"
        assert t["ncp/pod"] == name
        assert t["ncp/node_name"] in NODES
        for key, value in PODS[name].items():
            assert t.get(key) == value, f"{name}: label {key} not copied to a tag"
        att = port["attachment"]
        assert att["type"] == "CHILD"
        assert isinstance(att["traffic_tag"], int) and 0 < att["traffic_tag"] < 4095
        assert att["context_id"] == node_ports[t["ncp/node_name"]]["attachment"]["id"]
        vlans_per_node[(t["ncp/node_name"], att["traffic_tag"])] += 1
    assert len(set(ips)) == len(ips)
    assert len(set(macs)) == len(macs)
    assert max(vlans_per_node.values()) == 1, "a VLAN is used twice on one node's vNIC"


def test_two_tier_pool_allocations_match_ports(two_tier: Any, cli: Any, tags: Any) -> None:
    pools = by_project(cli.pools(state=two_tier.state), tags)
    ports = {p["id"]: p["address_bindings"][0]["ip_address"]
             for p in cli.show("segment-ports", "--namespace", "default",
                               state=two_tier.state)}
    allocs = {a["id"]: a["allocation_ip"] for a in pools["default"]["allocations"]}
    assert allocs == ports


def test_two_tier_snat_rules_on_the_tier0(two_tier: Any, cli: Any, tags: Any) -> None:
    segments = by_project(cli.show("segments", state=two_tier.state), tags)
    rules = cli.show("nat-rules", state=two_tier.state)
    prefix = f"{T0_PATH}/nat/USER/nat-rules/"
    assert rules, "no SNAT rules at all"
    for rule in rules:
        assert rule["path"].startswith(prefix), rule["path"]
    per_ns = by_project(rules, tags)
    assert sorted(per_ns) == list(NAMESPACES)
    snat_ips = []
    for ns, rule in per_ns.items():
        ann = two_tier.report["namespaces"][ns]
        assert rule["action"] == "SNAT"
        assert rule["source_network"] == segments[ns]["subnets"][0]["network"]
        assert rule["translated_network"] == ann["ncp/snat_ip"]
        assert ip_address(rule["translated_network"]) in SNAT_POOL
        snat_ips.append(rule["translated_network"])
    assert len(set(snat_ips)) == len(snat_ips)
    # Each SNAT IP is allocated in the external pool, to its namespace.
    snat_pool = next(p for p in cli.pools(state=two_tier.state)
                     if p["id"] == "ip-pool-snat")
    allocated = {tags(a).get("ncp/project"): a["allocation_ip"]
                 for a in snat_pool["allocations"]}
    for ns in NAMESPACES:
        assert allocated[ns] == per_ns[ns]["translated_network"]


# --- shared Tier-1 profile -----------------------------------------------------------------


def test_shared_t1_one_cluster_tier1(shared_t1: Any, cli: Any, tags: Any) -> None:
    t1s = cli.show("tier-1s", state=shared_t1.state)
    assert len(t1s) == 1
    (t1,) = t1s
    assert t1["tier0_path"] == T0_PATH
    assert tags(t1)["ncp/cluster"] == CLUSTER
    assert "ncp/project" not in tags(t1)
    segments = cli.show("segments", state=shared_t1.state)
    assert len(segments) == len(NAMESPACES) + 1
    for seg in segments:
        assert seg["connectivity_path"] == t1["path"], seg["id"]


def test_shared_t1_snat_rules_on_the_tier1(shared_t1: Any, cli: Any, tags: Any) -> None:
    (t1,) = cli.show("tier-1s", state=shared_t1.state)
    rules = cli.show("nat-rules", state=shared_t1.state)
    assert rules
    for rule in rules:
        assert rule["path"].startswith(f"{t1['path']}/nat/USER/nat-rules/"), rule["path"]
        assert not rule["path"].startswith(T0_PATH)
    per_ns = by_project(rules, tags)
    assert sorted(per_ns) == list(NAMESPACES)
    for ns, rule in per_ns.items():
        assert rule["translated_network"] == shared_t1.report["namespaces"][ns]["ncp/snat_ip"]


def test_shared_t1_pods_as_in_two_tier(shared_t1: Any, cli: Any, tags: Any) -> None:
    ports = cli.show("segment-ports", "--namespace", "default", state=shared_t1.state)
    assert sorted(p["id"] for p in ports) == sorted(PODS)
    assert all(p["attachment"]["type"] == "CHILD" for p in ports)


def test_profile_is_recorded(shared_t1: Any, cli: Any) -> None:
    res = cli.sdn("profile", "list", "-o", "json", "--state", shared_t1.state)
    assert res.code == 0
    assert [(p["name"], p["clusters"]) for p in res.json()] == [("shared-t1", [CLUSTER])]
