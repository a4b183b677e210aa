"""The decisions the full and the incremental reconcile share (ncp.translate.namespaces,
vlans, snat), each pinned on its own. The property test of ``tests/ncp/reconcile`` checks
that the two reconciles agree; these say what they agree on."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from ncp.reconcile.sync import sync_cluster
from ncp.translate import naming
from ncp.translate.namespaces import static_snat_ip, subnet_blocks, wants_snat
from ncp.translate.settings import cluster_settings
from ncp.translate.snat import (
    OK,
    POOL_EXHAUSTED,
    SnatRequest,
    _request_order,
    dynamic_snat,
    keeps_snat,
)
from ncp.translate.vlans import VLAN_IDS, NodeVlans, kept_vlan, pod_vlan
from sdn.model import IpAllocation, IpPool, NatRule, PortAttachment, SegmentPort
from sdn.model.checks import validate_inventory
from sdn.store import Store
from tests.support.clusters import config, manifests, namespace, pod

SETTINGS = cluster_settings(config(), None)


@pytest.mark.parametrize("annotations, enable_snat, pod_routable, nat", [
    pytest.param({}, True, False, True, id="nat-by-default"),
    pytest.param({"ncp/no_snat": "true"}, True, False, False, id="no-snat"),
    pytest.param({"ncp/no_snat": "True"}, True, False, False, id="no-snat-any-case"),
    pytest.param({"ncp/no_snat": "false"}, True, False, True, id="no-snat-false"),
    pytest.param({}, False, False, False, id="cluster-without-snat"),
    pytest.param({}, True, True, False, id="routable-pods"),
])
def test_wants_snat(annotations: dict[str, str], enable_snat: bool, pod_routable: bool,
                    nat: bool) -> None:
    settings = replace(SETTINGS, enable_snat=enable_snat, pod_routable=pod_routable)
    assert wants_snat(settings, annotations) is nat


def test_routed_namespaces_take_the_no_snat_blocks_of_a_nat_cluster() -> None:
    assert subnet_blocks(SETTINGS, nat=False) == SETTINGS.no_snat_block_ids
    assert subnet_blocks(SETTINGS, nat=True) == SETTINGS.pod_block_ids
    routable = replace(SETTINGS, pod_routable=True)
    assert subnet_blocks(routable, nat=False) == SETTINGS.pod_block_ids


@pytest.mark.parametrize("value, asked", [
    (None, None), ("", None), (" 192.0.2.7 ", "192.0.2.7"), ("x", "x")])
def test_static_snat_ip(value: str | None, asked: str | None) -> None:
    annotations = {} if value is None else {naming.STATIC_SNAT_IP_ANNOTATION: value}
    assert static_snat_ip(annotations) == asked


def test_dynamic_snat_takes_the_first_pool_with_room_in_order() -> None:
    free = {"a": None, "b": IPv4Address("192.0.2.9"), "c": IPv4Address("192.0.2.1")}
    result = dynamic_snat(("a", "b", "c"), free.get)
    assert (result.address, result.pool_id, result.status, result.static) == (
        IPv4Address("192.0.2.9"), "b", OK, False)
    exhausted = dynamic_snat(("a",), free.get)
    assert (exhausted.address, exhausted.status) == (None, POOL_EXHAUSTED)


def test_a_namespace_keeps_its_snat_ip_unless_it_asks_for_another() -> None:
    held = IpAllocation(id="snat_k8s_ns", allocation_ip=IPv4Address("192.0.2.5"))
    assert keeps_snat(None, held)
    assert keeps_snat("192.0.2.5", held)
    assert not keeps_snat("192.0.2.6", held)


def test_vlans_lowest_free_first_and_freed_ones_reused() -> None:
    vlans = NodeVlans()
    vlans.reserve("n1", 1)
    vlans.reserve("n1", 3)
    assert [vlans.allocate("n1") for _ in range(3)] == [2, 4, 5]
    assert vlans.allocate("n2") == 1  # per node
    vlans.release("n1", 3)
    vlans.release("n1", 2)
    assert [vlans.allocate("n1"), vlans.allocate("n1"), vlans.allocate("n1")] == [2, 3, 6]


def test_a_node_out_of_vlans_gives_none() -> None:
    vlans = NodeVlans()
    for vlan in VLAN_IDS:
        vlans.reserve("n1", vlan)
    assert vlans.allocate("n1") is None
    vlans.release("n1", 7)
    assert vlans.allocate("n1") == 7


def _port(node: str, vlan: int) -> SegmentPort:
    return SegmentPort(id="p", display_name="p", path="/infra/segments/s/ports/p",
                       parent_path="/infra/segments/s", tags=(naming.tag(naming.SCOPE_NODE, node),),
                       attachment=PortAttachment(type="CHILD", id="a", traffic_tag=vlan))


def test_a_pod_keeps_its_vlan_only_on_its_node() -> None:
    vlans = NodeVlans()
    vlans.reserve("n1", 1)
    assert kept_vlan(_port("n1", 9), "n1") == 9
    assert pod_vlan(_port("n1", 9), "n1", vlans) == 9
    assert kept_vlan(_port("n1", 9), "n2") is None
    assert pod_vlan(_port("n1", 9), "n2", vlans) == 1  # moved: the lowest free of its node
    assert pod_vlan(None, "n1", vlans) == 2


@pytest.mark.parametrize("names, expected", [
    pytest.param(["payments", naming.NODE_SNAT_KEY, "monitoring"],
                 ["monitoring", naming.NODE_SNAT_KEY, "payments"], id="in-the-place-of-nodes"),
    pytest.param(["nodes", naming.NODE_SNAT_KEY], [naming.NODE_SNAT_KEY, "nodes"],
                 id="just-before-a-namespace-called-nodes"),
])
def test_the_node_networks_snat_request_is_served_where_nodes_sorts(
        names: list[str], expected: list[str]) -> None:
    requests = [SnatRequest(key=n, project=None, static=None) for n in names]
    assert [r.key for r in sorted(requests, key=_request_order)] == expected


def test_a_namespace_called_nodes_gets_a_snat_ip_of_its_own(tmp_path: Path) -> None:
    """It used to share the node network's: both requests were keyed ``nodes``."""
    docs = [namespace("nodes"), pod("nodes", "p"), pod("other", "q"), namespace("other"),
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]
    with Store.open(tmp_path / "state.db") as store:
        report = sync_cluster(store, manifests=manifests(*docs), config=config(), now=1)
        inv = store.inventory()
    cluster = SETTINGS.cluster
    rules = {r.id: r for r in inv.of_type(NatRule) if r.action == "SNAT"}
    node_ip = rules[naming.cluster_id("snat", cluster, naming.NODES) + "_0"].translated_network
    ns_ip = rules[naming.ns_id("snat", cluster, "nodes") + "_0"].translated_network
    assert node_ip != ns_ip
    assert report.annotations["nodes"]["ncp/snat_ip"] == str(ns_ip)
    allocated = [str(a.allocation_ip) for p in inv.of_type(IpPool) for a in p.allocations
                 if a.id.startswith("snat_")]
    assert sorted(allocated) == sorted(set(allocated))  # no address given twice
    assert {str(node_ip), str(ns_ip)} <= set(allocated)
    assert validate_inventory(inv) == []
