"""Pydantic models of NSX-T Policy objects, with NSX's JSON field names and paths."""

from sdn.model.base import MAX_TAG_SCOPE, MAX_TAG_VALUE, MAX_TAGS, PolicyResource, Tag, tags_from
from sdn.model.inventory import KINDS, RESOURCE_ADAPTER, AnyResource, Inventory
from sdn.model.ipam import (
    AllocationRange,
    IpAllocation,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    IpPoolStaticSubnet,
    ip_block_path,
    ip_pool_path,
)
from sdn.model.nat import GATEWAY_SNAT_PRIORITY, NatRule, nat_rule_path
from sdn.model.routing import Tier0, Tier1, tier0_path, tier1_path
from sdn.model.segments import (
    AddressBinding,
    PortAttachment,
    Segment,
    SegmentAdvancedConfig,
    SegmentDhcpV4Config,
    SegmentPort,
    SegmentSubnet,
    port_path,
    segment_path,
)

__all__ = [
    "GATEWAY_SNAT_PRIORITY",
    "KINDS",
    "MAX_TAGS",
    "MAX_TAG_SCOPE",
    "MAX_TAG_VALUE",
    "RESOURCE_ADAPTER",
    "AddressBinding",
    "AllocationRange",
    "AnyResource",
    "Inventory",
    "IpAllocation",
    "IpBlock",
    "IpPool",
    "IpPoolBlockSubnet",
    "IpPoolStaticSubnet",
    "NatRule",
    "PolicyResource",
    "PortAttachment",
    "Segment",
    "SegmentAdvancedConfig",
    "SegmentDhcpV4Config",
    "SegmentPort",
    "SegmentSubnet",
    "Tag",
    "Tier0",
    "Tier1",
    "ip_block_path",
    "ip_pool_path",
    "nat_rule_path",
    "port_path",
    "segment_path",
    "tags_from",
    "tier0_path",
    "tier1_path",
]
