"""Small NSX objects for graph and model tests: gateways, segments with gateway .1, ports."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from sdn.model import (
    AddressBinding,
    PortAttachment,
    Segment,
    SegmentPort,
    SegmentSubnet,
    Tier1,
    port_path,
    segment_path,
    tier0_path,
    tier1_path,
)

T0 = tier0_path("t0")


def tier1(name: str, *, t0: str | None = T0, connected: bool = True) -> Tier1:
    """A Tier-1 on ``t0``; ``connected=False`` withdraws its TIER1_CONNECTED advertisement."""
    adv = ("TIER1_CONNECTED",) if connected else ("TIER1_NAT",)
    return Tier1(id=name, path=tier1_path(name), tier0_path=t0, route_advertisement_types=adv)


def segment(name: str, gateway: str | None, *cidrs: str) -> Segment:
    """A segment on ``gateway`` whose subnets have their first address as gateway."""
    subnets = []
    for cidr in cidrs:
        net = IPv4Network(cidr)
        gw = IPv4Interface((int(net.network_address) + 1, net.prefixlen))
        subnets.append(SegmentSubnet(gateway_address=gw, network=net))
    return Segment(
        id=name, path=segment_path(name), connectivity_path=gateway, subnets=tuple(subnets)
    )


def port(seg: str, name: str, *ips: str, attachment: PortAttachment | None = None) -> SegmentPort:
    """A port on segment ``seg`` bound to ``ips`` (MACs derived from the addresses)."""
    bindings = tuple(
        AddressBinding(ip_address=ip, mac_address="02:00:" + IPv4Address(ip).packed.hex(":"))
        for ip in ips
    )
    return SegmentPort(
        id=name,
        path=port_path(seg, name),
        parent_path=segment_path(seg),
        address_bindings=bindings,
        attachment=attachment,
    )
