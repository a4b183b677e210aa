"""Segments (logical switches) and their ports.

A segment's ``connectivity_path`` names the gateway it is a downlink of; each subnet's
``gateway_address`` is that gateway's interface on the segment (``10.0.0.1/24``).
A segment port is where a workload attaches: a node VM's port (attachment ``PARENT``) or a
pod's port (``CHILD``, with ``context_id`` naming the node port and ``traffic_tag`` the VLAN
that separates pods on the node's vNIC, as NCP does).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sdn.model.base import NsxModel, PolicyResource

#: Lower-case, colon-separated, as NSX prints MACs (checked in pydantic-core for speed).
MacAddress = Annotated[str, Field(pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")]


class SegmentDhcpV4Config(NsxModel):
    """The DHCP settings of a segment subnet; NCP's use is the DNS servers it hands out."""

    resource_type: Literal["SegmentDhcpV4Config"] = "SegmentDhcpV4Config"
    dns_servers: tuple[IPv4Address, ...] = ()


class SegmentSubnet(NsxModel):
    """One subnet of a segment: the gateway interface and (read-only in NSX) its network."""

    gateway_address: IPv4Interface
    network: IPv4Network
    dhcp_ranges: tuple[str, ...] = ()
    dhcp_config: SegmentDhcpV4Config | None = None

    @model_validator(mode="after")
    def _gateway_inside(self) -> SegmentSubnet:
        if self.gateway_address.network != self.network:
            raise ValueError(
                f"gateway {self.gateway_address} is not an address of network {self.network}"
            )
        return self


class SegmentAdvancedConfig(NsxModel):
    """The part of ``advanced_config`` NCP sets: which IP pools feed the segment."""

    address_pool_paths: tuple[str, ...] = ()


class Segment(PolicyResource):
    """A segment: one per namespace, plus the cluster's node segment."""

    resource_type: Literal["Segment"] = "Segment"
    connectivity_path: str | None = None
    transport_zone_path: str | None = None
    type: Literal["ROUTED", "EXTENDED", "ROUTED_AND_EXTENDED", "DISCONNECTED"] = "ROUTED"
    subnets: tuple[SegmentSubnet, ...] = ()
    advanced_config: SegmentAdvancedConfig = SegmentAdvancedConfig()

    def references(self) -> dict[str, str]:
        refs = {"connectivity_path": self.connectivity_path} if self.connectivity_path else {}
        for i, pool in enumerate(self.advanced_config.address_pool_paths):
            refs[f"advanced_config.address_pool_paths[{i}]"] = pool
        return refs


class PortAttachment(NsxModel):
    """How a workload attaches to its port."""

    type: Literal["PARENT", "CHILD", "INDEPENDENT"]
    id: str
    context_id: str | None = None
    traffic_tag: int | None = Field(default=None, ge=0, le=4094)
    app_id: str | None = None


class AddressBinding(NsxModel):
    """An IP and MAC bound to a port (what SpoofGuard and Traceflow use)."""

    ip_address: IPv4Address
    mac_address: MacAddress


class SegmentPort(PolicyResource):
    """A port on a segment; ``parent_path`` is the segment's path."""

    resource_type: Literal["SegmentPort"] = "SegmentPort"
    attachment: PortAttachment | None = None
    address_bindings: tuple[AddressBinding, ...] = ()
    admin_state: Literal["UP", "DOWN"] = "UP"

    def references(self) -> dict[str, str]:
        return {"parent_path": self.parent_path}


def segment_path(segment_id: str) -> str:
    """The Policy path of a segment."""
    return f"/infra/segments/{segment_id}"


def port_path(segment_id: str, port_id: str) -> str:
    """The Policy path of a segment port."""
    return f"/infra/segments/{segment_id}/ports/{port_id}"
