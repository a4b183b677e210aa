"""The blueprint of every sample and its diff (pure, no root): every layout object has
its kernel objects, a diff applied to the old blueprint gives the new one, pods that stay
keep every object, and the counts are those of the objects that changed."""

from __future__ import annotations

import dataclasses
from collections import Counter
from ipaddress import IPv4Interface

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.dataplane.layout import Layout
from sdn.dataplane.plan import (
    BRIDGE_NF,
    ICMP_RATEMASK,
    IP_FORWARD,
    Address,
    Blueprint,
    Bridge,
    Diff,
    Namespace,
    Route,
    Sysctl,
    Veth,
    blueprint,
    diff,
    neighbours,
)
from sdn.dataplane.realize import select
from sdn.model import Inventory, Segment, SegmentPort


def _with_ports(layout: Layout, paths: set[str]) -> Layout:
    return dataclasses.replace(layout, ports={p: v for p, v in layout.ports.items()
                                              if p in paths})


def _applied(old: Blueprint, d: Diff) -> Blueprint:
    """An independent replay of a diff on a dict (the oracle for :func:`diff`)."""
    objects = dict(old.objects)
    for o in d.delete:
        del objects[o.key]
    for _, new in d.update:
        objects[new.key] = new
    for o in d.create:
        assert o.key not in objects
        objects[o.key] = o
    return Blueprint(objects)


def test_every_port_is_a_namespace_with_the_states_address_mac_and_gateway(
        inventory: Inventory) -> None:
    bp = blueprint(Layout.of(inventory, "ab12cd"))
    layout = Layout.of(inventory, "ab12cd")
    by_kind = Counter(type(o) for o in bp.objects.values())
    assert by_kind[Namespace] == len(layout.namespaces)
    for port in inventory.of_type(SegmentPort):
        realized = layout.ports.get(port.path)
        if realized is None:
            assert port.path in layout.skipped
            continue
        binding = port.address_bindings[0]
        veth = next(o for o in bp.objects.values() if isinstance(o, Veth)
                    and o.netns == realized.netns)
        assert (veth.name, veth.mac) == ("eth0", str(binding.mac_address))
        assert veth.peer_master == realized.bridge
        addresses = [o for o in bp.objects.values()
                     if isinstance(o, Address) and o.netns == realized.netns]
        assert [IPv4Interface(a.address).ip for a in addresses] == [binding.ip_address]
        seg = inventory[port.parent_path]
        assert isinstance(seg, Segment)
        gateways = [s.gateway_address.ip for s in seg.subnets
                    if binding.ip_address in s.network]
        routes = [o for o in bp.objects.values()
                  if isinstance(o, Route) and o.netns == realized.netns]
        assert [(r.prefix, r.via, r.dev) for r in routes] == \
            [("0.0.0.0/0", str(g), "eth0") for g in gateways]


def test_routers_forward_and_bridges_see_the_firewall(inventory: Inventory) -> None:
    layout = Layout.of(inventory, "ab12cd")
    bp = blueprint(layout)
    sysctls = {(o.netns, o.name): o.value for o in bp.objects.values()
               if isinstance(o, Sysctl)}
    for router in layout.routers.values():
        assert sysctls.get((router.netns, IP_FORWARD)) == \
            (None if router.kind == "isolated" else "1")
    for netns in [r.netns for r in layout.routers.values()] + [layout.outside.netns]:
        assert sysctls[(netns, ICMP_RATEMASK)] == "0"  # every probe gets its ICMP error
    for port in layout.ports.values():
        assert (port.netns, ICMP_RATEMASK) not in sysctls
    for bridge in layout.bridges.values():
        assert sysctls[(bridge.netns, BRIDGE_NF)] == "1"
        assert bp.objects[f"link {bridge.netns} {bridge.name}"] == \
            Bridge(bridge.netns, bridge.name, bridge.mac)


def test_every_route_of_the_layout_leaves_by_a_connected_interface(
        inventory: Inventory) -> None:
    layout = Layout.of(inventory, "ab12cd")
    bp = blueprint(layout)
    routes = {(o.netns, o.prefix): o for o in bp.objects.values() if isinstance(o, Route)}
    addresses = [o for o in bp.objects.values() if isinstance(o, Address)]
    for route in layout.routes:
        found = routes[(route.netns, str(route.prefix))]
        assert found.via == str(route.via)
        assert any(a.netns == found.netns and a.interface == found.dev
                   and route.via in IPv4Interface(a.address).network for a in addresses)


def test_a_diff_with_itself_is_empty_and_json_reads_back(inventory: Inventory) -> None:
    bp = blueprint(Layout.of(inventory, "ab12cd"))
    assert diff(bp, bp).changes.to_json() == {"created": 0, "updated": 0, "deleted": 0}
    assert Blueprint.from_json(bp.to_json()) == bp
    cold = diff(Blueprint(), bp)
    assert cold.changes.created == len(bp) and not cold.update and not cold.delete
    assert [type(o) for o in cold.create] == sorted(
        (type(o) for o in cold.create),
        key=[Namespace, Sysctl, Bridge, Veth, Address, Route].index)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_diff_replayed_on_the_old_blueprint_gives_the_new(
        inventory: Inventory, data: st.DataObject) -> None:
    layout = Layout.of(inventory, "ab12cd")
    paths = sorted(layout.ports)
    before = set(data.draw(st.lists(st.sampled_from(paths), unique=True)))
    after = set(data.draw(st.lists(st.sampled_from(paths), unique=True)))
    old = blueprint(_with_ports(layout, before))
    new = blueprint(_with_ports(layout, after))
    d = diff(old, new)
    assert _applied(old, d) == new
    # a pod that stays keeps every object; one that goes or comes is 3 or 4 objects
    # (namespace, veth, address, and the default route when its subnet has a gateway)
    per_port = {p: 4 if layout.ports[p].gateway is not None else 3 for p in paths}
    assert not d.update
    assert d.changes.deleted == sum(per_port[p] for p in before - after)
    assert d.changes.created == sum(per_port[p] for p in after - before)


def test_without_a_namespace_drops_what_reached_into_it(inventory: Inventory) -> None:
    layout = Layout.of(inventory, "ab12cd")
    bp = blueprint(layout)
    router = next(r for r in layout.routers.values() if r.kind == "tier1"
                  and any(p.host_netns == r.netns for p in layout.ports.values()))
    kept = bp.without({router.netns})
    assert all(router.netns not in o.namespaces for o in kept.objects.values())
    for port in layout.ports.values():
        if port.host_netns == router.netns:
            assert f"netns {port.netns}" in kept.objects  # the pod's namespace stays
            assert not [o for o in kept.objects.values()
                        if isinstance(o, Address | Route) and o.netns == port.netns]


def test_a_port_that_changes_in_place_is_an_update(inventory: Inventory) -> None:
    layout = Layout.of(inventory, "ab12cd")
    path = sorted(layout.ports)[0]
    port = layout.ports[path]
    down = dataclasses.replace(layout, ports={**layout.ports,
                                              path: dataclasses.replace(port, up=False)})
    d = diff(blueprint(layout), blueprint(down))
    assert d.changes.to_json() == {"created": 0, "updated": 1, "deleted": 0}
    old, new = d.update[0]
    assert isinstance(new, Veth) and isinstance(old, Veth)
    assert (old.peer_up, new.peer_up) == (True, False)


def test_select_keeps_the_namespaces_pods_and_every_gateway(inventory: Inventory) -> None:
    layout = Layout.of(inventory, "ab12cd")
    namespace = sorted(p.pod.split("/")[0] for p in layout.ports.values() if "/" in p.pod)[0]
    chosen = select(layout, [namespace])
    assert chosen.ports and all(p.pod.startswith(f"{namespace}/")
                                for p in chosen.ports.values())
    assert chosen.routers == layout.routers and select(layout, []) is layout


@pytest.mark.parametrize(("per_segment", "expected"), [
    pytest.param([1], 1 + 1 + 8, id="one-pod"),
    pytest.param([10, 10], 2 * 110 + 8, id="two-segments"),
    pytest.param([100], 100 * 101 + 8, id="the-spike's-100"),
])
def test_neighbours_grow_with_the_square_of_a_segment(inventory: Inventory,
                                                      per_segment: list[int],
                                                      expected: int) -> None:
    layout = Layout.of(inventory, "ab12cd")
    template = next(iter(layout.ports.values()))
    ports = {f"{i}/{j}": dataclasses.replace(template, bridge=f"b{i}")
             for i, n in enumerate(per_segment) for j in range(n)}
    assert neighbours(dataclasses.replace(layout, ports=ports, links=())) == expected


def test_no_object_is_named_outside_the_owner(inventory: Inventory) -> None:
    bp = blueprint(Layout.of(inventory, "ab12cd"))
    assert all(ns.startswith("sdn-ab12cd-") for o in bp.objects.values()
               for ns in o.namespaces)
