"""The settings one provisioning run works with: the cluster config with the network
profile laid over it. Computed once per run; everything downstream reads only this."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

from ncp.config import NcpConfig
from ncp.translate.baseline import BaselineType
from ncp.translate.tags import compile_filters
from sdn.profiles import TopologySettings, topology_settings
from sdn.profiles.model import NetworkProfile

DEFAULT_SERVICE_CIDR = IPv4Network("10.100.200.0/24")


@dataclass(frozen=True)
class ClusterSettings:
    """What shapes one cluster's topology."""

    cluster: str
    tier0: str
    pod_block_ids: tuple[str, ...]
    no_snat_block_ids: tuple[str, ...]
    node_block_ids: tuple[str, ...]
    fip_pool_ids: tuple[str, ...]
    pod_subnet_prefix: int
    node_subnet_prefix: int
    pod_routable: bool
    node_routable: bool
    enable_snat: bool
    single_tier: bool
    ip_reallocation_time: float
    default_nodes: tuple[str, ...]
    implicit_namespaces: tuple[str, ...]
    label_filters: tuple[re.Pattern[str], ...]
    nodes_dns: tuple[str, ...]
    lb_size: str
    failover_mode: str
    np_allow_sequence: int = 2010
    np_isolation_sequence: int = 2090
    baseline_policy_type: BaselineType = "none"
    baseline_policy_sequence: int = 9000
    service_cidr: IPv4Network = DEFAULT_SERVICE_CIDR
    nsx_lb: bool = True
    lb_pool_ids: tuple[str, ...] = ()
    max_l4_lb_service: int | None = None
    l4_lb_algorithm: str = "ROUND_ROBIN"
    l4_source_ip_persistence: bool = False
    ingress_ip: str | None = None
    l7: L7Settings = field(default_factory=lambda: L7Settings())
    top_marker: str | None = None
    bottom_marker: str | None = None

    @property
    def two_tier(self) -> bool:
        """The dedicated Tier-1 per namespace topology (NCP's default)."""
        return not self.single_tier


@dataclass(frozen=True)
class L7Settings:
    """The Ingress virtual servers' HTTP options (profile ``cni_configurations``;
    unset values are NSX's defaults, which the built-in HTTP profile already has)."""

    x_forwarded_for: str | None = None  # INSERT or REPLACE
    request_header_size: int = 1024
    response_header_size: int = 4096
    response_timeout: int = 60
    persistence: str | None = None  # cookie or source_ip
    persistence_timeout: int | None = None

    @property
    def custom_http(self) -> bool:
        """Whether the built-in HTTP application profile will not do."""
        return (self.x_forwarded_for, self.request_header_size, self.response_header_size,
                self.response_timeout) != (None, 1024, 4096, 60)


def _l7(profile: NetworkProfile | None) -> L7Settings:
    params = _cni(profile)
    if params is None:
        return L7Settings()
    xff = params.x_forwarded_for
    sticky = params.ingress_persistence_settings
    kind = sticky.persistence_type if sticky is not None else None
    return L7Settings(
        x_forwarded_for=xff.upper() if xff and xff != "none" else None,
        request_header_size=params.lb_http_request_header_size or 1024,
        response_header_size=params.lb_http_response_header_size or 4096,
        response_timeout=params.lb_http_response_timeout or 60,
        persistence=kind if kind and kind != "none" else None,
        persistence_timeout=sticky.persistence_timeout if sticky is not None else None)


def _cni(profile: NetworkProfile | None) -> Any:
    """The profile's ``cni_configurations.parameters`` (None when absent)."""
    cni = profile.parameters.cni_configurations if profile is not None else None
    return cni.parameters if cni is not None else None


def _max_l4_lb_service(profile: NetworkProfile | None) -> int | None:
    """``max_l4_lb_service`` of the profile, if set."""
    params = _cni(profile)
    return params.max_l4_lb_service if params is not None else None


def _l4(profile: NetworkProfile | None) -> tuple[str, bool]:
    """NSX's pool algorithm for ``l4_lb_algorithm`` (round_robin by default) and whether
    ``l4_persistence_type: source_ip`` asks for source-IP persistence."""
    params = _cni(profile)
    algorithm = (params.l4_lb_algorithm if params is not None else None) or "round_robin"
    persistence = params is not None and params.l4_persistence_type == "source_ip"
    return str(algorithm).upper(), bool(persistence)


def defaults_from(config: NcpConfig) -> TopologySettings:
    """The topology settings a cluster has without a network profile."""
    return TopologySettings(
        pod_ip_block_ids=tuple(b.id for b in config.container_ip_blocks),
        pod_subnet_prefix=config.subnet_prefix,
        pod_routable=False,
        fip_pool_ids=tuple(p.id for p in config.external_ip_pools),
        t0_router_id=config.tier0,
        single_tier_topology=config.single_tier_topology,
        lb_size="small",
        nodes_dns=(),
        node_ip_block_ids=tuple(b.id for b in config.node_ip_blocks),
        node_subnet_prefix=config.node_subnet_prefix,
        node_routable=False,
        label_filtering_regex_list=config.label_filtering_regex_list,
        top_firewall_section_marker=None,
        bottom_firewall_section_marker=None,
        nsx_lb=True,
        failover_mode="NON_PREEMPTIVE",
    )


def cluster_settings(config: NcpConfig, profile: NetworkProfile | None) -> ClusterSettings:
    """Lay ``profile`` over ``config``; absent profile fields keep the config's values."""
    topo = topology_settings(profile, defaults_from(config))
    return ClusterSettings(
        cluster=config.cluster,
        tier0=topo.t0_router_id,
        pod_block_ids=tuple(topo.pod_ip_block_ids),
        no_snat_block_ids=tuple(b.id for b in config.no_snat_ip_blocks),
        node_block_ids=tuple(topo.node_ip_block_ids),
        fip_pool_ids=tuple(topo.fip_pool_ids),
        pod_subnet_prefix=topo.pod_subnet_prefix,
        node_subnet_prefix=topo.node_subnet_prefix,
        pod_routable=topo.pod_routable,
        node_routable=topo.node_routable,
        enable_snat=config.enable_snat,
        single_tier=topo.single_tier_topology,
        ip_reallocation_time=config.ip_reallocation_time,
        default_nodes=config.default_nodes,
        implicit_namespaces=config.implicit_namespaces,
        label_filters=compile_filters(topo.label_filtering_regex_list),
        nodes_dns=tuple(topo.nodes_dns),
        lb_size=topo.lb_size,
        failover_mode=topo.failover_mode,
        np_allow_sequence=config.np_allow_sequence,
        np_isolation_sequence=config.np_isolation_sequence,
        baseline_policy_type=config.baseline_policy_type,
        baseline_policy_sequence=config.baseline_policy_sequence,
        service_cidr=config.service_cidr,
        nsx_lb=topo.nsx_lb,
        lb_pool_ids=tuple(p.id for p in config.external_ip_pools_lb),
        max_l4_lb_service=_max_l4_lb_service(profile),
        l4_lb_algorithm=_l4(profile)[0],
        l4_source_ip_persistence=_l4(profile)[1],
        ingress_ip=getattr(_cni(profile), "ingress_ip", None),
        l7=_l7(profile),
        top_marker=topo.top_firewall_section_marker,
        bottom_marker=topo.bottom_firewall_section_marker,
    )
