"""Checks on a whole state shared by the property and watcher tests: the address
invariants, and a projection that compares two states without their addresses (which
depend on history by design: survivors keep theirs)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sdn.ipam import find_orphans
from sdn.model import (
    Inventory,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    NatRule,
    Segment,
    SegmentPort,
)
from sdn.model.checks import validate_inventory


def check_invariants(inv: Inventory) -> None:
    """No cross-object problem, no address twice, nothing leaked (every allocation used
    and every used address allocated), no VLAN twice on a node, pod addresses inside
    their namespace's subnets."""
    assert validate_inventory(inv) == []
    assert find_orphans(inv) == []
    seen: set[Any] = set()
    for pool in inv.of_type(IpPool):
        for alloc in pool.allocations:
            assert alloc.allocation_ip not in seen, f"{alloc.allocation_ip} allocated twice"
            seen.add(alloc.allocation_ip)
    vlans: set[tuple[str | None, str | None, int]] = set()
    for port in inv.of_type(SegmentPort):
        att = port.attachment
        if att is not None and att.type == "CHILD" and att.traffic_tag is not None:
            key = (port.tag("ncp/cluster"), port.tag("ncp/node_name"), att.traffic_tag)
            assert key not in vlans, f"VLAN {key[2]} twice on node {key[1]} of {key[0]}"
            vlans.add(key)
    segments = {s.path: s for s in inv.of_type(Segment)}
    blocks = inv.of_type(IpBlock)
    for port in inv.of_type(SegmentPort):
        seg = segments[port.parent_path]
        for b in port.address_bindings:
            assert any(b.ip_address in sub.network for sub in seg.subnets)
            assert b.ip_address not in {sub.gateway_address.ip for sub in seg.subnets}
            assert port.tag("ncp/project") == seg.tag("ncp/project")
    for pool in inv.of_type(IpPool):
        for sub in pool.subnets:
            if isinstance(sub, IpPoolBlockSubnet):
                assert any(sub.cidr.subnet_of(b.cidr) for b in blocks)


def projection(inv: Inventory) -> dict[str, Any]:
    objs: dict[str, Any] = {}
    snat: dict[str, set[str]] = defaultdict(set)
    for obj in inv.values():
        if isinstance(obj, NatRule):
            snat[obj.gateway_path].add(obj.tag("ncp/project") or "(nodes)")
            continue
        data = obj.model_dump(mode="json")
        for key in ("subnets", "allocations", "address_bindings"):
            data.pop(key, None)
        data["tags"] = sorted((t["scope"], t["tag"]) for t in data["tags"]
                              if t["scope"] not in ("ncp/snat_ip", "ncp/extpoolid"))
        if data.get("attachment"):
            data["attachment"].pop("traffic_tag", None)
        if data.get("members"):  # load balancer members: pods, with their addresses
            data["members"] = sorted((m["display_name"], m.get("port")) for m in data["members"])
        objs[obj.path] = data
    return {"objects": objs, "snat": {k: sorted(v) for k, v in snat.items()}}
