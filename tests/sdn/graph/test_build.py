"""The topology graph: its shape for the NCP topologies, and the revision cache."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import networkx as nx
import pytest

from sdn.graph import GRAPH_CACHE_SIZE, Relation, build_graph, clear_graph_cache, graph_for
from sdn.graph.build import graph_from_links, graph_links, provide_graph
from sdn.model import (
    Inventory,
    PolicyResource,
    PortAttachment,
    Tier0,
    port_path,
    segment_path,
    tier0_path,
    tier1_path,
)
from tests.support.builders import T0, port, segment, tier1

T1A, T1B, T1SHARED = tier1_path("ns-a"), tier1_path("ns-b"), tier1_path("cluster")
SEG_A, SEG_B, NODES, ISO = (segment_path(s) for s in ("seg-a", "seg-b", "nodes", "iso"))
A1, A2, B1 = port_path("seg-a", "a1"), port_path("seg-a", "a2"), port_path("seg-b", "b1")
NODE1, ISO1 = port_path("nodes", "node-1"), port_path("iso", "iso-1")
GHOST = port_path("ghost", "g1")





def two_tier(*, b_connected: bool = True) -> list[PolicyResource]:
    """NCP's two-tier topology: a Tier-1 per namespace, the node segment on the Tier-0."""
    return [
        Tier0(id="t0", path=T0),
        tier1("ns-a"),
        tier1("ns-b", connected=b_connected),
        segment("seg-a", T1A, "10.0.1.0/24"),
        segment("seg-b", T1B, "10.0.2.0/24", "10.0.3.0/24"),
        segment("nodes", T0, "192.168.0.0/24"),
        segment("iso", None, "10.9.0.0/24"),
        port(
            "nodes",
            "node-1",
            "192.168.0.10",
            attachment=PortAttachment(type="PARENT", id="vif-node-1"),
        ),
        port(
            "seg-a",
            "a1",
            "10.0.1.10",
            attachment=PortAttachment(
                type="CHILD", id="pod-a1", context_id="vif-node-1", traffic_tag=10
            ),
        ),
        port("seg-a", "a2", "10.0.1.11"),
        port("seg-b", "b1", "10.0.2.10", "10.0.3.10"),
        port("iso", "iso-1", "10.9.0.10"),
        port("ghost", "g1", "10.8.0.10"),  # its segment does not exist
    ]


def shared_tier1() -> list[PolicyResource]:
    """NCP's shared topology: one Tier-1 for the whole cluster."""
    return [
        Tier0(id="t0", path=T0),
        tier1("cluster"),
        segment("seg-a", T1SHARED, "10.0.1.0/24"),
        segment("seg-b", T1SHARED, "10.0.2.0/24"),
        port("seg-a", "a1", "10.0.1.10"),
        port("seg-b", "b1", "10.0.2.10"),
    ]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_graph_cache()
    yield
    clear_graph_cache()


# --- shape -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        pytest.param(T0, "Tier0", id="tier0"),
        pytest.param(T1A, "Tier1", id="tier1"),
        pytest.param(SEG_B, "Segment", id="segment"),
        pytest.param(ISO, "Segment", id="isolated-segment"),
        pytest.param(B1, "SegmentPort", id="port"),
    ],
)
def test_nodes_carry_their_kind_and_the_objects_stay_in_the_inventory(
        path: str, kind: str) -> None:
    inv = Inventory(two_tier())
    g = build_graph(inv)
    assert g.nodes[path]["kind"] == kind
    assert "obj" not in g.nodes[path]


def test_only_topology_kinds_and_ports_with_segments_are_nodes() -> None:
    g = build_graph(Inventory(two_tier()))
    assert sorted(g.nodes) == sorted(
        [T0, T1A, T1B, SEG_A, SEG_B, NODES, ISO, A1, A2, B1, NODE1, ISO1]
    )
    assert GHOST not in g


EDGES_TWO_TIER = [
    pytest.param(T1A, T0, Relation.UPLINK, id="tier1-uplink"),
    pytest.param(T0, T1A, Relation.DOWNLINK, id="tier0-downlink"),
    pytest.param(T1B, SEG_B, Relation.SEGMENT, id="tier1-segment"),
    pytest.param(SEG_B, T1B, Relation.GATEWAY, id="segment-gateway-tier1"),
    pytest.param(NODES, T0, Relation.GATEWAY, id="segment-gateway-tier0"),
    pytest.param(SEG_A, A1, Relation.PORT, id="segment-port"),
    pytest.param(A1, SEG_A, Relation.SEGMENT, id="port-segment"),
]


@pytest.mark.parametrize(("u", "v", "relation"), EDGES_TWO_TIER)
def test_two_tier_edges(u: str, v: str, relation: Relation) -> None:
    g = build_graph(Inventory(two_tier()))
    assert g.edges[u, v]["relation"] == relation


def test_two_tier_edge_count_is_every_link_both_ways() -> None:
    g = build_graph(Inventory(two_tier()))
    links = 2 + 3 + 5  # tier-1 uplinks, connected segments, ports on present segments
    assert g.number_of_edges() == 2 * links
    assert all(g.has_edge(v, u) for u, v in g.edges)


def test_segment_edge_carries_subnets_and_gateway_addresses() -> None:
    g = build_graph(Inventory(two_tier()))
    for u, v in [(T1B, SEG_B), (SEG_B, T1B)]:
        data = g.edges[u, v]
        assert data["subnets"] == (IPv4Network("10.0.2.0/24"), IPv4Network("10.0.3.0/24"))
        assert data["gateway_addresses"] == (
            IPv4Interface("10.0.2.1/24"),
            IPv4Interface("10.0.3.1/24"),
        )


def test_port_edge_carries_bound_ips() -> None:
    g = build_graph(Inventory(two_tier()))
    expected = (IPv4Address("10.0.2.10"), IPv4Address("10.0.3.10"))
    assert g.edges[SEG_B, B1]["ips"] == expected
    assert g.edges[B1, SEG_B]["ips"] == expected


@pytest.mark.parametrize(
    ("b_connected", "advertised"),
    [
        pytest.param(True, ("10.0.2.0/24", "10.0.3.0/24"), id="tier1-connected"),
        pytest.param(False, (), id="not-advertised"),
    ],
)
def test_tier1_link_carries_advertised_prefixes(
    b_connected: bool, advertised: tuple[str, ...]
) -> None:
    g = build_graph(Inventory(two_tier(b_connected=b_connected)))
    want = tuple(IPv4Network(p) for p in advertised)
    assert g.edges[T1B, T0]["advertised"] == want
    assert g.edges[T0, T1B]["advertised"] == want


def test_isolated_segment_has_its_ports_only() -> None:
    g = build_graph(Inventory(two_tier()))
    assert set(g.successors(ISO)) == {ISO1}
    assert set(g.predecessors(ISO)) == {ISO1}


@pytest.mark.parametrize(
    "tier0",
    [pytest.param(None, id="no-tier0"), pytest.param(tier0_path("missing"), id="dangling")],
)
def test_tier1_without_tier0_has_no_uplink(tier0: str | None) -> None:
    g = build_graph(Inventory([Tier0(id="t0", path=T0), tier1("lone", t0=tier0)]))
    assert g.degree(tier1_path("lone")) == 0


def test_segment_naming_a_missing_gateway_is_isolated() -> None:
    g = build_graph(Inventory([segment("s", tier1_path("missing"), "10.0.0.0/24")]))
    assert g.degree(segment_path("s")) == 0


def test_shared_tier1_topology() -> None:
    g = build_graph(Inventory(shared_tier1()))
    assert set(g.successors(T1SHARED)) == {T0, SEG_A, segment_path("seg-b")}
    assert g.edges[T1SHARED, T0]["advertised"] == (
        IPv4Network("10.0.1.0/24"),
        IPv4Network("10.0.2.0/24"),
    )
    assert g.number_of_edges() == 2 * (1 + 2 + 2)


# --- parent and child ports --------------------------------------------------------------


def test_child_port_records_parent_without_an_edge() -> None:
    g = build_graph(Inventory(two_tier()))
    assert g.nodes[A1]["parent_port"] == NODE1
    assert g.nodes[NODE1]["parent_port"] is None
    assert g.nodes[A2]["parent_port"] is None
    assert not g.has_edge(A1, NODE1)
    assert not g.has_edge(NODE1, A1)


@pytest.mark.parametrize(
    ("context_id", "parent"),
    [
        pytest.param(NODE1, NODE1, id="by-path"),
        pytest.param("vif-node-1", NODE1, id="by-attachment-id"),
        pytest.param("node-1", NODE1, id="by-port-id"),
        pytest.param("vif-unknown", None, id="unresolved"),
    ],
)
def test_child_context_id_resolution(context_id: str, parent: str | None) -> None:
    objs = [
        segment("nodes", None, "192.168.0.0/24"),
        segment("seg-a", None, "10.0.1.0/24"),
        port(
            "nodes",
            "node-1",
            "192.168.0.10",
            attachment=PortAttachment(type="PARENT", id="vif-node-1"),
        ),
        port(
            "seg-a",
            "a1",
            "10.0.1.10",
            attachment=PortAttachment(type="CHILD", id="pod", context_id=context_id),
        ),
    ]
    assert build_graph(Inventory(objs)).nodes[A1]["parent_port"] == parent


# --- cache -------------------------------------------------------------------------------


def test_cache_returns_same_graph_for_same_revision() -> None:
    inv = Inventory(two_tier(), revision=3)
    first = graph_for(inv)
    assert graph_for(inv) is first
    assert nx.is_frozen(first)


def test_cache_rebuilds_after_revision_changes() -> None:
    inv = Inventory(two_tier(), revision=3)
    first = graph_for(inv)
    inv.revision = 4
    second = graph_for(inv)
    assert second is not first
    assert graph_for(inv) is second


def test_equal_inventories_do_not_share_a_graph() -> None:
    a, b = Inventory(two_tier()), Inventory(shared_tier1())
    assert graph_for(a) is not graph_for(b)
    assert T1SHARED in graph_for(b)
    assert T1SHARED not in graph_for(a)


def test_cache_is_bounded_least_recently_used_first() -> None:
    invs = [Inventory(shared_tier1()) for _ in range(GRAPH_CACHE_SIZE + 1)]
    graphs = [graph_for(inv) for inv in invs[:GRAPH_CACHE_SIZE]]
    assert graph_for(invs[0]) is graphs[0]  # touch: invs[1] is now the oldest
    graph_for(invs[GRAPH_CACHE_SIZE])  # evicts invs[1]
    assert graph_for(invs[0]) is graphs[0]
    assert graph_for(invs[1]) is not graphs[1]


def test_cache_holds_the_inventory_until_cleared() -> None:
    inv = Inventory(shared_tier1())
    graph_for(inv)
    ref = weakref.ref(inv)
    del inv
    gc.collect()
    assert ref() is not None  # still cached, so its id cannot be reused
    clear_graph_cache()
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("objects", [two_tier, shared_tier1], ids=["two-tier", "shared"])
def test_a_graph_rebuilt_from_its_links_is_the_same_graph(
        objects: Callable[[], list[PolicyResource]]) -> None:
    """What the query index saves (:func:`graph_links`) builds the same nodes, edges,
    attributes and order (pictures and paths read the order)."""
    g = build_graph(Inventory(objects()))
    again = graph_from_links(graph_links(g))
    assert list(again.nodes(data=True)) == list(g.nodes(data=True))
    assert list(again.edges(data=True)) == list(g.edges(data=True))
    assert [list(again.adj[n]) for n in again] == [list(g.adj[n]) for n in g]


def test_a_provided_graph_is_used_once_for_its_inventory_and_revision() -> None:
    inv = Inventory(two_tier())
    calls: list[int] = []

    def provider() -> nx.DiGraph:
        calls.append(1)
        return graph_from_links(graph_links(build_graph(inv)))

    provide_graph(inv, provider)
    first = graph_for(inv)
    assert graph_for(inv) is first and calls == [1] and nx.is_frozen(first)
    assert list(first.edges(data=True)) == list(build_graph(inv).edges(data=True))
    other = Inventory(two_tier())  # another inventory: built, not provided
    assert graph_for(other) is not first and calls == [1]
    inv.revision += 1  # a new revision: built again, not provided
    graph_for(inv)
    assert calls == [1]
