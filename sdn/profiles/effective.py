"""The settings that shape a cluster's topology: defaults overlaid with a network profile.

A profile only says what it changes; everything it leaves out comes from the installation's
defaults (the TKGI tile, or NCP's ``ncp.ini``). The topology builder (``ncp.translate``)
should not have to walk the nested profile JSON and merge it with defaults itself, so
:func:`topology_settings` flattens the two into one :class:`TopologySettings` value: flat,
frozen, hashable, and free of "not set" states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from sdn.profiles.model import NetworkProfile, split_regex_list
from sdn.profiles.updates import field_value


@dataclass(frozen=True, slots=True, kw_only=True)
class TopologySettings:
    """The values a cluster's NSX topology is built from.

    The defaults are those of a TKGI installation: a shared Tier-1 per cluster, /24
    namespace subnets, a small LB, NAT (not routable) pods and nodes, and the ids of the
    sample topologies' IP blocks and pools.

    Attributes:
        pod_ip_block_ids: Pod IP blocks, used in order (the next when one is exhausted).
        pod_subnet_prefix: Prefix length of each namespace subnet.
        pod_routable: Pods are routed without SNAT.
        fip_pool_ids: Floating IP pools for SNAT IPs and LB VIPs, used in order.
        t0_router_id: The Tier-0 gateway the cluster attaches to.
        single_tier_topology: One shared Tier-1 per cluster (else one per namespace).
        lb_size: Size of the cluster's LB service: small, medium or large.
        nodes_dns: DNS servers for nodes and pods.
        node_ip_block_ids: Node network IP blocks.
        node_subnet_prefix: Prefix length of the node subnet.
        node_routable: The node network is routed without SNAT.
        label_filtering_regex_list: Label keys matching any of these are not copied to
            NSX tags.
        top_firewall_section_marker: DFW section NCP's sections go below (MP mode).
        bottom_firewall_section_marker: DFW section NCP's sections go above (MP mode).
        nsx_lb: Services of type LoadBalancer get NSX virtual servers.
        failover_mode: Failover mode of the cluster's Tier-1: PREEMPTIVE or NON_PREEMPTIVE.
    """

    pod_ip_block_ids: tuple[str, ...] = ("ip-block-pods",)
    pod_subnet_prefix: int = 24
    pod_routable: bool = False
    fip_pool_ids: tuple[str, ...] = ("ip-pool-snat",)
    t0_router_id: str = "t0-gateway"
    single_tier_topology: bool = True
    lb_size: str = "small"
    nodes_dns: tuple[str, ...] = ()
    node_ip_block_ids: tuple[str, ...] = ("ip-block-nodes",)
    node_subnet_prefix: int = 24
    node_routable: bool = False
    label_filtering_regex_list: tuple[str, ...] = ()
    top_firewall_section_marker: str | None = None
    bottom_firewall_section_marker: str | None = None
    nsx_lb: bool = True
    failover_mode: str = "PREEMPTIVE"


#: The defaults of a TKGI installation, for callers without their own.
DEFAULT_TOPOLOGY = TopologySettings()


def _identity(value: Any) -> Any:
    return value


_EXT_K8S = "cni_configurations.parameters.extensions.ncp.k8s."
_CNI = "cni_configurations.parameters."

#: Where each setting comes from in a profile (dotted path under ``parameters``), and how
#: the profile's value becomes the setting's value.
SETTING_SOURCES: Mapping[str, tuple[str, Callable[[Any], Any]]] = MappingProxyType(
    {
        "pod_ip_block_ids": ("pod_ip_block_ids", _identity),
        "pod_subnet_prefix": ("pod_subnet_prefix", _identity),
        "pod_routable": ("pod_routable", _identity),
        "fip_pool_ids": ("fip_pool_ids", _identity),
        "t0_router_id": ("t0_router_id", _identity),
        "single_tier_topology": ("single_tier_topology", _identity),
        "lb_size": ("lb_size", _identity),
        "nodes_dns": ("nodes_dns", _identity),
        "node_ip_block_ids": ("node_ip_block_ids", _identity),
        "node_subnet_prefix": ("node_subnet_prefix", _identity),
        "node_routable": ("node_routable", _identity),
        "label_filtering_regex_list": (
            _EXT_K8S + "label_filtering_regex_list",
            split_regex_list,
        ),
        "top_firewall_section_marker": (_CNI + "top_firewall_section_marker", _identity),
        "bottom_firewall_section_marker": (_CNI + "bottom_firewall_section_marker", _identity),
        "nsx_lb": (_CNI + "nsx_lb", _identity),
        "failover_mode": ("failover_mode", _identity),
    }
)


def topology_settings(
    profile: NetworkProfile | None, defaults: TopologySettings = DEFAULT_TOPOLOGY
) -> TopologySettings:
    """The topology settings of a cluster: ``defaults`` overlaid with ``profile``.

    Args:
        profile: The cluster's network profile, or None for a cluster without one.
        defaults: The installation's settings, used for everything the profile leaves out.

    Returns:
        The effective settings.

    >>> from sdn.profiles.loading import parse_profile
    >>> np = parse_profile({"name": "np", "parameters": {"pod_subnet_prefix": 27}})
    >>> s = topology_settings(np, TopologySettings(lb_size="medium"))
    >>> s.pod_subnet_prefix, s.lb_size
    (27, 'medium')
    """
    if profile is None:
        return defaults
    changes: dict[str, Any] = {}
    for setting, (path, convert) in SETTING_SOURCES.items():
        value = field_value(profile.parameters, path)
        if value is not None:
            changes[setting] = convert(value)
    return replace(defaults, **changes)
