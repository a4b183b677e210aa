"""TopologyIndex: address ownership, routing tables, and paths between ports."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.errors import NotFoundError, SdnError
from sdn.graph import UPLINK, Route, RouteKind, TopologyIndex
from sdn.model import (
    Inventory,
    PolicyResource,
    Segment,
    Tier0,
    port_path,
    segment_path,
    tier1_path,
)
from tests.support.builders import T0, port, segment, tier1

T1A, T1B, LONE = tier1_path("ns-a"), tier1_path("ns-b"), tier1_path("lone")
SEG_A, SEG_B, NODES, WIDE, ISO, LONE_SEG = (
    segment_path(s) for s in ("seg-a", "seg-b", "nodes", "wide", "iso", "lone-seg")
)
A1, A2, B1 = port_path("seg-a", "a1"), port_path("seg-a", "a2"), port_path("seg-b", "b1")
NODE1, ISO1 = port_path("nodes", "node-1"), port_path("iso", "iso-1")
GHOST = port_path("ghost", "g1")





def topology(*, b_connected: bool = True) -> list[PolicyResource]:
    """Two Tier-1s on a Tier-0, a node segment and a wide /16 on the Tier-0 itself, an
    isolated segment, a Tier-1 with no Tier-0, and a port whose segment is missing."""
    return [
        Tier0(id="t0", path=T0),
        tier1("ns-a"),
        tier1("ns-b", connected=b_connected),
        tier1("lone", t0=None),
        segment("seg-a", T1A, "10.0.1.0/24"),
        segment("seg-b", T1B, "10.0.2.0/24", "10.0.3.0/24"),
        segment("nodes", T0, "192.168.0.0/24"),
        segment("wide", T0, "10.0.0.0/16"),  # seg-a and seg-b nest inside it
        segment("iso", None, "10.9.0.0/24"),
        segment("lone-seg", LONE, "172.16.0.0/24"),
        port("nodes", "node-1", "192.168.0.10"),
        port("seg-a", "a1", "10.0.1.10"),
        port("seg-a", "a2", "10.0.1.11"),
        port("seg-b", "b1", "10.0.2.10", "10.0.3.10"),
        port("iso", "iso-1", "10.9.0.10"),
        port("ghost", "g1", "10.8.0.10"),
    ]


@pytest.fixture(scope="module")
def index() -> TopologyIndex:
    return TopologyIndex(Inventory(topology()))


def _route(prefix: str, next_hop: str, kind: RouteKind, gateway: str) -> Route:
    return Route(IPv4Network(prefix), next_hop, kind, gateway)


# --- who owns an address -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        pytest.param("10.0.1.10", SEG_A, id="pod-subnet"),
        pytest.param(IPv4Address("10.0.3.200"), SEG_B, id="second-subnet-address-object"),
        pytest.param("10.0.4.1", WIDE, id="nested-falls-back-to-wide"),
        pytest.param("10.0.1.0", SEG_A, id="network-address-longest-wins"),
        pytest.param("10.9.0.99", ISO, id="isolated-segment-still-owns-its-subnet"),
        pytest.param("10.1.0.1", None, id="no-match"),
        pytest.param("0.0.0.0", None, id="zero"),
    ],
)
def test_segment_for_ip(index: TopologyIndex, ip: str | IPv4Address, expected: str | None) -> None:
    seg = index.segment_for_ip(ip)
    assert (seg.path if seg else None) == expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        pytest.param("10.0.1.11", A2, id="bound"),
        pytest.param("10.0.3.10", B1, id="second-binding"),
        pytest.param("10.0.1.12", None, id="free-address"),
        pytest.param("10.8.0.10", None, id="port-without-segment"),
    ],
)
def test_port_for_ip(index: TopologyIndex, ip: str, expected: str | None) -> None:
    found = index.port_for_ip(ip)
    assert (found.path if found else None) == expected


@pytest.mark.parametrize("bad", ["10.0.0.300", "not-an-ip", "fe80::1"])
def test_unreadable_address_is_an_error(index: TopologyIndex, bad: str) -> None:
    with pytest.raises(SdnError) as err:
        index.segment_for_ip(bad)
    assert err.value.code == "INVALID_ADDRESS"


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gateway", "ip", "expected"),
    [
        pytest.param(T1A, "10.0.1.99", ("10.0.1.0/24", SEG_A, "connected"), id="t1-connected"),
        pytest.param(T1A, "10.0.2.5", ("0.0.0.0/0", T0, "default"), id="t1-other-t1-via-t0"),
        pytest.param(T1A, "8.8.8.8", ("0.0.0.0/0", T0, "default"), id="t1-default"),
        pytest.param(T1B, "10.0.3.5", ("10.0.3.0/24", SEG_B, "connected"), id="t1-2nd-subnet"),
        pytest.param(T0, "10.0.2.5", ("10.0.2.0/24", T1B, "tier1"), id="t0-sees-t1-prefix"),
        pytest.param(T0, "10.0.1.5", ("10.0.1.0/24", T1A, "tier1"), id="t0-t1-beats-wide"),
        pytest.param(T0, "10.0.7.5", ("10.0.0.0/16", WIDE, "connected"), id="t0-wide"),
        pytest.param(T0, "192.168.0.7", ("192.168.0.0/24", NODES, "connected"), id="t0-nodes"),
        pytest.param(T0, "8.8.8.8", ("0.0.0.0/0", UPLINK, "uplink"), id="t0-uplink"),
        pytest.param(T0, "10.9.0.10", ("0.0.0.0/0", UPLINK, "uplink"), id="t0-isolated-unknown"),
        pytest.param(T0, "172.16.0.5", ("0.0.0.0/0", UPLINK, "uplink"), id="t0-unlinked-t1"),
        pytest.param(LONE, "172.16.0.5", ("172.16.0.0/24", LONE_SEG, "connected"), id="lone"),
        pytest.param(LONE, "8.8.8.8", None, id="t1-without-t0-has-no-default"),
    ],
)
def test_route_longest_prefix_match(
    index: TopologyIndex, gateway: str, ip: str, expected: tuple[str, str, RouteKind] | None
) -> None:
    want = _route(*expected, gateway) if expected else None
    assert index.route(gateway, ip) == want


@pytest.mark.parametrize(
    ("ip", "connected", "expected"),
    [
        pytest.param("10.0.2.5", True, ("10.0.2.0/24", T1B, "tier1"), id="advertised"),
        pytest.param("10.0.2.5", False, ("10.0.0.0/16", WIDE, "connected"), id="withdrawn-wide"),
        pytest.param("10.0.1.5", False, ("10.0.1.0/24", T1A, "tier1"), id="other-t1-unaffected"),
    ],
)
def test_tier1_connected_advertisement_controls_tier0_view(
    ip: str, connected: bool, expected: tuple[str, str, RouteKind]
) -> None:
    index = TopologyIndex(Inventory(topology(b_connected=connected)))
    assert index.route(T0, ip) == _route(*expected, T0)
    # The Tier-1 itself still routes its own segments and defaults to the Tier-0.
    assert index.route(T1B, ip) is not None


def test_withdrawn_tier1_prefixes_leave_via_uplink() -> None:
    objs = [o for o in topology(b_connected=False) if o.path != WIDE]
    index = TopologyIndex(Inventory(objs))
    assert index.route(T0, "10.0.2.5") == _route("0.0.0.0/0", UPLINK, "uplink", T0)


def test_routes_tables_are_sorted(index: TopologyIndex) -> None:
    assert index.routes(T0) == [
        _route("10.0.1.0/24", T1A, "tier1", T0),
        _route("10.0.2.0/24", T1B, "tier1", T0),
        _route("10.0.3.0/24", T1B, "tier1", T0),
        _route("192.168.0.0/24", NODES, "connected", T0),
        _route("10.0.0.0/16", WIDE, "connected", T0),
        _route("0.0.0.0/0", UPLINK, "uplink", T0),
    ]
    assert index.routes(T1B) == [
        _route("10.0.2.0/24", SEG_B, "connected", T1B),
        _route("10.0.3.0/24", SEG_B, "connected", T1B),
        _route("0.0.0.0/0", T0, "default", T1B),
    ]
    assert index.routes(LONE) == [_route("172.16.0.0/24", LONE_SEG, "connected", LONE)]


def test_connected_route_wins_over_tier1_route_for_same_prefix() -> None:
    objs = [*topology(), segment("dup", T0, "10.0.1.0/24")]
    index = TopologyIndex(Inventory(objs))
    assert index.route(T0, "10.0.1.5") == _route(
        "10.0.1.0/24", segment_path("dup"), "connected", T0
    )


@pytest.mark.parametrize(
    "path",
    [pytest.param(tier1_path("nope"), id="missing"), pytest.param(SEG_A, id="not-a-gateway")],
)
def test_route_on_unknown_gateway_is_not_found(index: TopologyIndex, path: str) -> None:
    with pytest.raises(NotFoundError):
        index.route(path, "10.0.1.1")
    with pytest.raises(NotFoundError):
        index.routes(path)


# --- paths between ports -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst", "expected"),
    [
        pytest.param(A1, A2, [A1, SEG_A, A2], id="same-segment"),
        pytest.param(A1, B1, [A1, SEG_A, T1A, T0, T1B, SEG_B, B1], id="across-tier1s-via-tier0"),
        pytest.param(B1, NODE1, [B1, SEG_B, T1B, T0, NODES, NODE1], id="to-tier0-segment"),
        pytest.param(A1, A1, [A1], id="same-port"),
        pytest.param(A1, ISO1, [], id="isolated-segment"),
    ],
)
def test_port_path_between(index: TopologyIndex, src: str, dst: str, expected: list[str]) -> None:
    path = index.port_path_between(src, dst)
    assert path == expected
    graph = index.graph
    assert all(graph.has_edge(u, v) for u, v in pairwise(path))
    assert all(graph.nodes[p]["kind"] != "SegmentPort" for p in path[1:-1])


def test_port_path_is_symmetric(index: TopologyIndex) -> None:
    assert index.port_path_between(B1, A1) == index.port_path_between(A1, B1)[::-1]


@pytest.mark.parametrize(
    "unknown",
    [
        pytest.param(port_path("seg-a", "nope"), id="missing"),
        pytest.param(SEG_A, id="a-segment"),
        pytest.param(GHOST, id="port-without-segment"),
    ],
)
def test_port_path_unknown_port(index: TopologyIndex, unknown: str) -> None:
    with pytest.raises(NotFoundError):
        index.port_path_between(A1, unknown)
    with pytest.raises(NotFoundError):
        index.port_path_between(unknown, A1)


# --- property: LPM agrees with a naive scan ----------------------------------------------

_BASE = int(IPv4Address("10.0.0.0"))
_nets = st.builds(
    lambda offset, plen: IPv4Network((_BASE + offset, plen), strict=False),
    st.integers(0, 0xFFFF),
    st.integers(16, 30),
)
_ips = st.one_of(
    st.integers(_BASE - 256, _BASE + 0x10000 + 256),  # mostly near the subnets
    st.integers(0, 0xFFFFFFFF),
).map(IPv4Address)


def _oracle(segments: list[Segment], ip: IPv4Address) -> str | None:
    containing = [
        (s.subnets[0].network.prefixlen, s.path) for s in segments if ip in s.subnets[0].network
    ]
    return max(containing)[1] if containing else None


@settings(max_examples=100, deadline=None)
@given(nets=st.lists(_nets, max_size=25), nested=st.booleans(), ips=st.lists(_ips, max_size=30))
def test_segment_for_ip_matches_naive_scan(
    nets: list[IPv4Network], nested: bool, ips: list[IPv4Address]
) -> None:
    kept: list[IPv4Network] = []
    for net in nets:
        clash = (net in kept) if nested else any(net.overlaps(k) for k in kept)
        if not clash:
            kept.append(net)
    segments = [segment(f"s{i}", None, str(net)) for i, net in enumerate(kept)]
    index = TopologyIndex(Inventory(segments))
    for ip in [*ips, *(n.network_address for n in kept), *(n.broadcast_address for n in kept)]:
        found = index.segment_for_ip(ip)
        assert (found.path if found else None) == _oracle(segments, ip)
