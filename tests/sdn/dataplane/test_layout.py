"""The layout (where each object lives when realized) on every sample: names unique and
short enough for Linux, addresses exactly the state's, routes exactly the gateways'
routing tables, and the same layout every time."""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from sdn.dataplane.layout import (
    OUTSIDE_ADDRESS,
    ROUTER_MAC,
    Layout,
    netns_prefix,
    owner_tag,
)
from sdn.graph import TopologyIndex
from sdn.graph.transit import TRANSIT, transit_links
from sdn.model import Inventory, Segment, SegmentPort, Tier1


def _interfaces(layout: Layout) -> list[tuple[str, str]]:
    """Every (namespace, interface name) the layout makes."""
    found = [(p.netns, p.interface) for p in layout.ports.values()]
    found += [(p.host_netns, p.host_interface) for p in layout.ports.values()]
    found += [(b.netns, b.name) for b in layout.bridges.values()]
    found += [(link.a_netns, link.a_interface) for link in layout.links]
    found += [(link.b_netns, link.b_interface) for link in layout.links]
    found.append((layout.outside.netns, layout.outside.bridge))
    return found


def test_names_are_owned_unique_and_fit_linux(inventory: Inventory) -> None:
    layout = Layout.of(inventory, "t0ag01")
    assert all(ns.startswith(netns_prefix("t0ag01")) for ns in layout.namespaces)
    routers = [r.netns for r in layout.routers.values()]
    ports = [p.netns for p in layout.ports.values()]
    assert len(set(routers + ports)) == len(routers) + len(ports)
    interfaces = _interfaces(layout)
    assert all(1 <= len(name) <= 15 for _, name in interfaces)
    assert [i for i, n in Counter(interfaces).items() if n > 1] == []


def test_ports_carry_exactly_the_states_address_and_mac(inventory: Inventory) -> None:
    layout = Layout.of(inventory, "t0ag01")
    ports = {p.path: p for p in inventory.of_type(SegmentPort)}
    assert set(layout.ports) | set(layout.skipped) == set(ports)
    for path, port in layout.ports.items():
        binding = ports[path].address_bindings[0]
        segment = inventory[port.segment]
        assert isinstance(segment, Segment)
        assert port.ip.ip == binding.ip_address and port.mac == str(binding.mac_address)
        subnet = next(s for s in segment.subnets if binding.ip_address in s.network)
        assert port.ip.network == subnet.network
        assert port.gateway == subnet.gateway_address.ip
        bridge = layout.bridges[port.segment]
        assert (port.host_netns, port.bridge) == (bridge.netns, bridge.name)
        assert subnet.gateway_address in bridge.addresses and bridge.mac == ROUTER_MAC


def test_routes_are_the_gateways_routing_tables(inventory: Inventory) -> None:
    index = TopologyIndex(inventory)
    layout = Layout.of(inventory, "t0ag01", index=index)
    netns_of = {path: r.netns for path, r in layout.routers.items()}
    routes = {(r.netns, r.prefix, r.via) for r in layout.routes}
    transit_nets = [t.network for t in layout.transit.values()]
    assert all(t.network.prefixlen == 31 and t.network.subnet_of(TRANSIT)
               for t in layout.transit.values())
    assert len(set(transit_nets)) == len(transit_nets)
    for t1_path, t1_end in layout.transit.items():
        t0_end = IPv4Address(int(t1_end.ip) - 1)
        assert (netns_of[t1_path], IPv4Network("0.0.0.0/0"), t0_end) in routes
        t1 = inventory[t1_path]
        assert isinstance(t1, Tier1) and t1.tier0_path is not None
        for route in index.routes(t1.tier0_path):
            if route.kind == "tier1" and route.next_hop == t1_path:
                assert (netns_of[t1.tier0_path], route.prefix, t1_end.ip) in routes
                uplink = layout.uplinks[t1.tier0_path].ip
                assert (layout.outside.netns, route.prefix, uplink) in routes
    for t0_path in layout.uplinks:
        assert (netns_of[t0_path], IPv4Network("0.0.0.0/0"), OUTSIDE_ADDRESS.ip) in routes


def test_the_same_state_gives_the_same_layout(inventory: Inventory) -> None:
    assert Layout.of(inventory, "t0ag01") == Layout.of(inventory, "t0ag01")


def test_a_cluster_selection_keeps_only_its_ports(inventory: Inventory) -> None:
    assert Layout.of(inventory, "t0ag01", clusters=frozenset({"no-such"})).ports == {}
    clusters = {p.tag("ncp/cluster") for p in inventory.of_type(SegmentPort)} - {None}
    one = sorted(c for c in clusters if c is not None)[0]
    selected = Layout.of(inventory, "t0ag01", clusters=frozenset({one}))
    assert selected.ports and all(p.cluster == one for p in selected.ports.values())


def test_owner_tags_tell_states_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert owner_tag(tmp_path / "a.db") != owner_tag(tmp_path / "b.db")
    monkeypatch.chdir(tmp_path)
    assert owner_tag("a.db") == owner_tag(tmp_path / "a.db")


def test_a_port_without_an_address_or_segment_is_skipped_with_a_reason(
        inventory: Inventory) -> None:
    port = inventory.of_type(SegmentPort)[0]
    unbound = port.model_copy(update={"path": f"{port.parent_path}/ports/unbound",
                                      "address_bindings": ()})
    orphan = port.model_copy(update={"path": "/infra/segments/gone/ports/orphan",
                                     "parent_path": "/infra/segments/gone"})
    layout = Layout.of(Inventory([*inventory.values(), unbound, orphan]), "t0ag01")
    assert layout.skipped == {unbound.path: "it has no address binding",
                              orphan.path: "its segment is not in the state"}


def test_transit_addresses_are_the_shared_allocation(inventory: Inventory) -> None:
    """The simulator judges SNAT-automapped backends with the Tier-1's transit address
    (sdn.traceflow.outside): the layout must put exactly that address on the link."""
    shared = transit_links(inventory)
    layout = Layout.of(inventory, "t0ag01")
    assert layout.transit == {path: ends.tier1 for path, ends in shared.items()}
    links = {(link.a_address, link.b_address) for link in layout.links}
    assert {(ends.tier0, ends.tier1) for ends in shared.values()} <= links
