"""IP blocks and IP pools.

An IP block is a large range that subnets are carved from (pod and node blocks). An IP
pool hands out single addresses: NCP gives every namespace a pool whose subnet is a
``IpAddressPoolBlockSubnet`` carved from a pod block (the segment points at the pool with
``advanced_config.address_pool_paths``), and the admin's external (floating) pools hold
``IpAddressPoolStaticSubnet`` ranges that SNAT IPs and VIPs come from.

Modelling choice: NSX exposes a pool's subnets and allocations as child collections
(``/ip-subnets/<id>``, ``/ip-allocations/<id>``); here they are carried inline in the pool
(``subnets``, ``allocations``) so one pool is one object in the state, and the NSX API's
shapes (:mod:`sdn.model.apishape`) serve them as the children they are in NSX. The
realized CIDR of a block subnet, which NSX reports through realized-state, is its ``cidr``
field (left out of the subnet's NSX shape).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sdn.model.base import NsxModel, PolicyResource, Tag


class IpBlock(PolicyResource):
    """An IP block (``/infra/ip-blocks/<id>``) that subnets are carved from."""

    resource_type: Literal["IpAddressBlock"] = "IpAddressBlock"
    cidr: IPv4Network


class IpPoolBlockSubnet(NsxModel):
    """A pool subnet carved from a block; ``size`` is its number of addresses."""

    resource_type: Literal["IpAddressPoolBlockSubnet"] = "IpAddressPoolBlockSubnet"
    id: str
    ip_block_path: str
    size: int = Field(gt=0)
    cidr: IPv4Network

    @model_validator(mode="after")
    def _size_matches(self) -> IpPoolBlockSubnet:
        if self.size != self.cidr.num_addresses:
            raise ValueError(f"size {self.size} does not match {self.cidr}")
        return self


class AllocationRange(NsxModel):
    """An inclusive range of allocatable addresses."""

    start: IPv4Address
    end: IPv4Address

    @model_validator(mode="after")
    def _ordered(self) -> AllocationRange:
        if int(self.end) < int(self.start):
            raise ValueError(f"range end {self.end} is before start {self.start}")
        return self


class IpPoolStaticSubnet(NsxModel):
    """A pool subnet given by the admin: a CIDR and the ranges allocations come from."""

    resource_type: Literal["IpAddressPoolStaticSubnet"] = "IpAddressPoolStaticSubnet"
    id: str
    cidr: IPv4Network
    allocation_ranges: tuple[AllocationRange, ...] = ()
    gateway_ip: IPv4Address | None = None


IpPoolSubnet = Annotated[
    IpPoolBlockSubnet | IpPoolStaticSubnet, Field(discriminator="resource_type")
]


class IpAllocation(NsxModel):
    """One address handed out by a pool; its tags name the owner (NCP's identity)."""

    resource_type: Literal["IpAddressAllocation"] = "IpAddressAllocation"
    id: str
    allocation_ip: IPv4Address
    tags: tuple[Tag, ...] = ()

    def tag(self, scope: str) -> str | None:
        """The value of the first tag with ``scope``, or None."""
        for t in self.tags:
            if t.scope == scope:
                return t.tag
        return None


class IpPool(PolicyResource):
    """An IP pool (``/infra/ip-pools/<id>``) with its subnets and allocations inline."""

    resource_type: Literal["IpAddressPool"] = "IpAddressPool"
    subnets: tuple[IpPoolSubnet, ...] = ()
    allocations: tuple[IpAllocation, ...] = ()

    def references(self) -> dict[str, str]:
        return {
            f"subnets[{i}].ip_block_path": s.ip_block_path
            for i, s in enumerate(self.subnets)
            if isinstance(s, IpPoolBlockSubnet)
        }


def ip_block_path(block_id: str) -> str:
    """The Policy path of an IP block."""
    return f"/infra/ip-blocks/{block_id}"


def ip_pool_path(pool_id: str) -> str:
    """The Policy path of an IP pool."""
    return f"/infra/ip-pools/{pool_id}"


def ip_subnet_path(pool_path: str, subnet_id: str) -> str:
    """The Policy path of a pool's subnet (NSX's child resource)."""
    return f"{pool_path}/ip-subnets/{subnet_id}"


def ip_allocation_path(pool_path: str, allocation_id: str) -> str:
    """The Policy path of a pool's allocation (NSX's child resource)."""
    return f"{pool_path}/ip-allocations/{allocation_id}"
