"""Paths through the topology graph (sdn.graph.paths): the hops, how they link, how a path
ends, and that traceflow walks exactly these hops on a topology with every odd corner."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from itertools import pairwise

import pytest

from sdn.graph import Relation, TopologyIndex
from sdn.graph.paths import Hop, PathEnd, PathStart, path_from_outside, path_from_port
from sdn.model import Inventory, PolicyResource, Tier0, port_path, segment_path, tier1_path
from sdn.traceflow import PacketSpec, TraceContext, trace
from tests.support.builders import T0, port, segment, tier1
from tests.support.trace_hops import assert_trace_follows_path

T1A, T1B, LONE = tier1_path("ns-a"), tier1_path("ns-b"), tier1_path("lone")
SEG_A, SEG_B, NODES, WIDE, ISO, LONE_SEG = (
    segment_path(s) for s in ("seg-a", "seg-b", "nodes", "wide", "iso", "lone-seg"))
A1, A2, B1 = port_path("seg-a", "a1"), port_path("seg-a", "a2"), port_path("seg-b", "b1")
NODE1, ISO1, L1 = port_path("nodes", "node-1"), port_path("iso", "iso-1"), port_path(
    "lone-seg", "l1")
GHOST = port_path("ghost", "g1")


def topology(*, b_connected: bool = True) -> list[PolicyResource]:
    """Two Tier-1s on a Tier-0, a node segment and a wide /16 on the Tier-0 itself (the
    Tier-1s' subnets nest in it), an isolated segment, a Tier-1 without a Tier-0, and a
    port whose segment is missing (as tests/sdn/graph/test_queries.py has it, plus a port
    on the lone Tier-1's segment)."""
    return [
        Tier0(id="t0", path=T0),
        tier1("ns-a"),
        tier1("ns-b", connected=b_connected),
        tier1("lone", t0=None),
        segment("seg-a", T1A, "10.0.1.0/24"),
        segment("seg-b", T1B, "10.0.2.0/24", "10.0.3.0/24"),
        segment("nodes", T0, "192.168.0.0/24"),
        segment("wide", T0, "10.0.0.0/16"),
        segment("iso", None, "10.9.0.0/24"),
        segment("lone-seg", LONE, "172.16.0.0/24"),
        port("nodes", "node-1", "192.168.0.10"),
        port("seg-a", "a1", "10.0.1.10"),
        port("seg-a", "a2", "10.0.1.11"),
        port("seg-b", "b1", "10.0.2.10", "10.0.3.10"),
        port("iso", "iso-1", "10.9.0.10"),
        port("lone-seg", "l1", "172.16.0.10"),
        port("ghost", "g1", "10.8.0.10"),
    ]


@pytest.fixture(scope="module")
def index() -> TopologyIndex:
    return TopologyIndex(Inventory(topology()))


UP_A = [A1, SEG_A, T1A, T0]  # from a1 up to the Tier-0

PORT_CASES = [
    pytest.param(A1, "10.0.1.11", [A1, SEG_A, A2], PathEnd.SEGMENT_PORT, id="same-segment"),
    pytest.param(A1, "10.0.2.10", [*UP_A, T1B, SEG_B, B1], PathEnd.SEGMENT_PORT,
                 id="across-tier1s"),
    pytest.param(A1, "10.0.3.10", [*UP_A, T1B, SEG_B, B1], PathEnd.SEGMENT_PORT,
                 id="second-subnet-second-binding"),
    pytest.param(A1, "192.168.0.10", [*UP_A, NODES, NODE1], PathEnd.SEGMENT_PORT,
                 id="segment-on-the-tier0"),
    pytest.param(NODE1, "10.0.1.10", [NODE1, NODES, T0, T1A, SEG_A, A1],
                 PathEnd.SEGMENT_PORT, id="from-a-tier0-segment"),
    pytest.param(A1, "8.8.8.8", UP_A, PathEnd.EXITS_NETWORK, id="outside"),
    pytest.param(A1, "10.0.1.99", [A1, SEG_A], PathEnd.ARP_FAIL, id="free-address"),
    pytest.param(A1, "10.0.1.1", [A1, SEG_A, T1A], PathEnd.GATEWAY_INTERFACE,
                 id="own-gateway"),
    pytest.param(A1, "10.0.2.1", [*UP_A, T1B, SEG_B, T1B], PathEnd.GATEWAY_INTERFACE,
                 id="other-gateway-as-traceflow-routes-it"),
    pytest.param(A1, "10.0.4.1", [*UP_A, WIDE], PathEnd.ARP_FAIL, id="wide-segment"),
    pytest.param(A1, "10.9.0.10", UP_A, PathEnd.EXITS_NETWORK, id="isolated-is-not-routed"),
    pytest.param(A1, "172.16.0.10", UP_A, PathEnd.EXITS_NETWORK, id="unlinked-tier1"),
    pytest.param(ISO1, "10.0.1.10", [ISO1, ISO], PathEnd.NO_ROUTE, id="segment-no-gateway"),
    pytest.param(ISO1, "10.9.0.10", [ISO1, ISO, ISO1], PathEnd.SEGMENT_PORT, id="to-itself"),
    pytest.param(L1, "8.8.8.8", [L1, LONE_SEG, LONE], PathEnd.NO_ROUTE, id="tier1-no-tier0"),
    pytest.param(GHOST, "10.0.1.10", [GHOST], PathEnd.NO_ROUTE, id="port-without-segment"),
]


@pytest.mark.parametrize(("src", "dst", "hops", "end"), PORT_CASES)
def test_path_from_port(index: TopologyIndex, src: str, dst: str, hops: list[str],
                        end: PathEnd) -> None:
    p = path_from_port(index, src, IPv4Address(dst))
    assert (p.nodes(), p.end, p.start) == (hops, end, PathStart.SEGMENT_PORT)
    graph = index.graph
    for hop, nxt in pairwise(p.hops):  # every hop is a link of the graph, as it says
        assert hop.relation is not None
        assert graph.edges[hop.path, nxt.path]["relation"] is hop.relation
        assert hop.kind == graph.nodes[hop.path]["kind"]


def test_hops_say_how_the_packet_goes_on(index: TopologyIndex) -> None:
    p = path_from_port(index, A1, IPv4Address("10.0.3.10"))
    net = IPv4Network
    assert p.hops == (
        Hop(A1, "SegmentPort", Relation.SEGMENT, None),
        Hop(SEG_A, "Segment", Relation.GATEWAY, None),
        Hop(T1A, "Tier1", Relation.UPLINK, net("0.0.0.0/0")),
        Hop(T0, "Tier0", Relation.DOWNLINK, net("10.0.3.0/24")),
        Hop(T1B, "Tier1", Relation.SEGMENT, net("10.0.3.0/24")),
        Hop(SEG_B, "Segment", Relation.PORT, net("10.0.3.0/24")),
        Hop(B1, "SegmentPort"),
    )
    out = path_from_port(index, A1, IPv4Address("8.8.8.8"))
    assert out.hops[-1] == Hop(T0, "Tier0", Relation.UPLINK, net("0.0.0.0/0"))


def test_tier1_that_does_not_advertise_is_not_routed_to() -> None:
    index = TopologyIndex(Inventory([o for o in topology(b_connected=False) if o.path != WIDE]))
    p = path_from_port(index, A1, IPv4Address("10.0.2.10"))
    assert (p.nodes(), p.end) == (UP_A, PathEnd.EXITS_NETWORK)


def test_port_to_port_paths_are_the_graph_paths_both_ways(index: TopologyIndex) -> None:
    ports = [A1, A2, B1, NODE1]
    for src in ports:
        for dst in ports:
            ip = index.inventory[dst].address_bindings[0].ip_address
            p = path_from_port(index, src, ip)
            assert p.end is PathEnd.SEGMENT_PORT
            if src != dst:
                assert p.nodes() == index.port_path_between(src, dst)
                back = path_from_port(
                    index, dst, index.inventory[src].address_bindings[0].ip_address)
                assert back.nodes() == p.nodes()[::-1]


OUTSIDE_CASES = [
    pytest.param("10.0.2.10", {}, [T0, T1B, SEG_B, B1], PathEnd.SEGMENT_PORT, id="to-a-pod"),
    pytest.param("192.168.0.10", {}, [T0, NODES, NODE1], PathEnd.SEGMENT_PORT,
                 id="to-a-tier0-segment"),
    pytest.param("10.0.1.99", {}, [T0, T1A, SEG_A], PathEnd.ARP_FAIL, id="free-address"),
    pytest.param("8.8.8.8", {}, [], PathEnd.NO_ROUTE, id="outside-to-outside"),
    pytest.param("10.9.0.10", {}, [], PathEnd.NO_ROUTE, id="isolated"),
    pytest.param("10.0.2.10", {"via_tier1": T1A, "vip": IPv4Address("198.51.100.7")},
                 [T0, T1A, T0, T1B, SEG_B, B1], PathEnd.SEGMENT_PORT,
                 id="vip-on-another-tier1"),
    pytest.param("10.0.1.10", {"via_tier1": T1A, "vip": IPv4Address("198.51.100.7")},
                 [T0, T1A, SEG_A, A1], PathEnd.SEGMENT_PORT, id="vip-on-the-backends-tier1"),
    pytest.param("172.16.0.10", {"via_tier1": LONE, "vip": IPv4Address("198.51.100.7")},
                 [LONE], PathEnd.NO_ROUTE, id="vip-on-a-tier1-without-tier0"),
]


@pytest.mark.parametrize(("dst", "via", "hops", "end"), OUTSIDE_CASES)
def test_path_from_outside(index: TopologyIndex, dst: str, via: dict[str, object],
                           hops: list[str], end: PathEnd) -> None:
    p = path_from_outside(index, IPv4Address(dst), **via)  # type: ignore[arg-type]
    assert (p.nodes(), p.end, p.start) == (hops, end, PathStart.UPLINK)
    if "vip" in via and hops[0] == T0:
        assert p.hops[0] == Hop(T0, "Tier0", Relation.DOWNLINK, IPv4Network("198.51.100.7/32"))


# --- traceflow walks these hops ----------------------------------------------------------

ADDRESSES = ["10.0.1.10", "10.0.1.11", "10.0.2.10", "10.0.3.10", "192.168.0.10", "8.8.8.8",
             "10.0.1.99", "10.0.1.1", "10.0.2.1", "10.0.4.1", "10.9.0.10", "172.16.0.10",
             "192.168.0.1", "10.0.0.1"]


@pytest.mark.parametrize("connected", [True, False])
@pytest.mark.parametrize("src", [A1, A2, B1, NODE1, ISO1, L1])
def test_traceflow_crosses_the_path_hops(src: str, connected: bool) -> None:
    inv = Inventory(topology(b_connected=connected))
    ctx = TraceContext.build(inv)
    src_ip = ctx.ports[src].address_bindings[0].ip_address
    for dst in ADDRESSES:
        t = trace(ctx, src, PacketSpec(src_ip=src_ip, dst_ip=IPv4Address(dst),
                                       protocol="ICMP"))
        assert_trace_follows_path(t, path_from_port(ctx.index, src, IPv4Address(dst)))
