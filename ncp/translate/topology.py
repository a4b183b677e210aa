"""The NSX objects that carry a cluster's pod and node networks: Tier-1 gateways, pool-backed
networks (an IP pool and the segment it feeds), and SNAT rules on the gateway they live on.

Pure builders of objects from decisions already made (a network plan, a SNAT IP). Why a
module of their own: the full provisioning (:mod:`ncp.translate.cluster`) and the
incremental reconcile (through :func:`ncp.translate.namespaces.namespace_network`) both
make these objects, and a full reconcile after an incremental one must find them equal, so
there is one way to make each.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Interface

from ncp.translate import naming
from ncp.translate.networks import NetworkPlan
from ncp.translate.settings import ClusterSettings
from sdn.model import (
    GATEWAY_SNAT_PRIORITY,
    IpPool,
    IpPoolBlockSubnet,
    NatRule,
    Segment,
    SegmentAdvancedConfig,
    SegmentDhcpV4Config,
    SegmentSubnet,
    Tag,
    Tier1,
    ip_block_path,
    ip_pool_path,
    nat_rule_path,
    segment_path,
    tier0_path,
    tier1_path,
)

#: What NCP's Tier-1 gateways advertise to the Tier-0.
ADVERTISED = ("TIER1_CONNECTED", "TIER1_NAT", "TIER1_LB_VIP", "TIER1_LB_SNAT")


def gateway_tier1(settings: ClusterSettings, t1_id: str, tags: tuple[Tag, ...], display: str,
                  extra: tuple[Tag, ...] = ()) -> Tier1:
    """A Tier-1 gateway on the cluster's Tier-0, advertising what NCP's advertise."""
    return Tier1(
        id=t1_id, display_name=display, path=tier1_path(t1_id), tags=tags + extra,
        tier0_path=tier0_path(settings.tier0), failover_mode=settings.failover_mode,
        route_advertisement_types=ADVERTISED,
    )


def snat_gateway(settings: ClusterSettings) -> str:
    """Where the SNAT rules live: the Tier-0 (two-tier) or the shared Tier-1."""
    if settings.single_tier:
        return tier1_path(naming.cluster_id("t1", settings.cluster))
    return tier0_path(settings.tier0)


def _segment_subnets(plan: NetworkPlan, dns: tuple[str, ...]) -> tuple[SegmentSubnet, ...]:
    """The gateway is the subnet's first address, as NCP configures it; ``nodes_dns`` from
    the network profile is handed out as the subnets' DNS servers."""
    dhcp = SegmentDhcpV4Config(dns_servers=dns) if dns else None
    return tuple(
        SegmentSubnet(gateway_address=IPv4Interface((int(sub.cidr.network_address) + 1,
                                                     sub.cidr.prefixlen)),
                      network=sub.cidr, dhcp_config=dhcp)
        for sub in plan.subnets
    )


def _pool_subnets(plan: NetworkPlan, pool_id: str) -> tuple[IpPoolBlockSubnet, ...]:
    return tuple(
        IpPoolBlockSubnet(id=f"{pool_id}-{i}", ip_block_path=ip_block_path(sub.block_id),
                          size=sub.cidr.num_addresses, cidr=sub.cidr)
        for i, sub in enumerate(plan.subnets)
    )


def network_objects(settings: ClusterSettings, *, pool_id: str, segment_id: str, gateway: str,
                    plan: NetworkPlan, tags: tuple[Tag, ...],
                    display: str) -> tuple[IpPool, Segment]:
    """A pool-backed network's IP pool (no allocations yet) and segment."""
    pool = ip_pool_path(pool_id)
    ownership = tuple(t for t in tags if t.scope.startswith(naming.NCP_SCOPE_PREFIX))
    return (IpPool(id=pool_id, display_name=display, path=pool, tags=ownership,
                   subnets=_pool_subnets(plan, pool_id)),
            Segment(id=segment_id, display_name=display, path=segment_path(segment_id),
                    tags=tags, connectivity_path=gateway,
                    subnets=_segment_subnets(plan, settings.nodes_dns),
                    advanced_config=SegmentAdvancedConfig(address_pool_paths=(pool,))))


def snat_rules(settings: ClusterSettings, *, rule_id: str, display: str, plan: NetworkPlan,
               address: IPv4Address, tags: Sequence[Tag]) -> list[NatRule]:
    """One SNAT rule per subnet of a network (``<rule_id>_<i>``), translating to
    ``address``, on :func:`snat_gateway`."""
    where = snat_gateway(settings)
    out = []
    for i, sub in enumerate(plan.subnets):
        rid = f"{rule_id}_{i}"
        out.append(NatRule(
            id=rid, display_name=f"{display}-{i}", path=nat_rule_path(where, rid),
            parent_path=f"{where}/nat/USER", tags=tuple(tags), action="SNAT",
            source_network=str(sub.cidr), translated_network=str(address),
            sequence_number=GATEWAY_SNAT_PRIORITY))
    return out
