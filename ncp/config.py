"""The cluster's own settings: what ``ncp.ini`` holds for NCP, as a small YAML file.

Everything has a safe default, so the bundled samples run with no file at all. The
defaults describe one NSX manager prepared the way the TKGI docs prepare it: a Tier-0
``t0-gateway``, pod IP blocks, a no-SNAT block, a node block and external (floating) pools.
``ncp sync`` creates these shared objects when they are missing and never deletes them:
they belong to the admin, not to a cluster, so several clusters can share them.

Mapping to ``ncp.ini``: ``cluster`` is ``[coe] cluster``; ``tier0`` is
``[nsx_v3] top_tier_router``; the block and pool lists are ``container_ip_blocks``,
``no_snat_ip_blocks``, ``external_ip_pools`` and ``external_ip_pools_lb`` given as CIDRs
(Policy mode lets NCP create them); ``subnet_prefix``, ``enable_snat``,
``single_tier_topology`` and ``ip_reallocation_time`` keep their ``ncp.ini`` names and
defaults, except ``use_ip_blocks_in_order``, which is always on here (blocks are used in
the order given, so runs are reproducible). A network profile overrides the topology
fields (``pod_ip_block_ids``, ``pod_subnet_prefix``, ``fip_pool_ids``, ...).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ncp.errors import ConfigError
from sdn.errors import Problem, yaml_error_text

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _check_cluster_name(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError("a cluster name is a DNS label: lower-case letters, digits and '-'")
    return value


ClusterName = Annotated[str, AfterValidator(_check_cluster_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockConfig(_Strict):
    """An IP block the admin provides."""

    id: str
    cidr: IPv4Network


class PoolConfig(_Strict):
    """An external IP pool; ``ranges`` (``a-b``) default to the CIDR's hosts."""

    id: str
    cidr: IPv4Network
    ranges: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ranges_inside(self) -> PoolConfig:
        for text in self.ranges:
            lo, _, hi = text.partition("-")
            start, end = IPv4Address(lo.strip()), IPv4Address((hi or lo).strip())
            if start not in self.cidr or end not in self.cidr or int(end) < int(start):
                raise ValueError(f"range {text!r} is not an ordered range inside {self.cidr}")
        return self

    #: Which cluster may use the pool for per-service SNAT or a named ``loadBalancerIP``
    #: (NCP's ``ncp/owner`` tag, ``cluster:<name>``); empty for none.
    owner: str = ""

    def address_ranges(self) -> tuple[tuple[IPv4Address, IPv4Address], ...]:
        """The allocatable ranges; without ``ranges``, every host address of the CIDR."""
        if not self.ranges:
            hosts = self.cidr.num_addresses
            if hosts <= 2:
                return ((self.cidr.network_address, self.cidr.broadcast_address),)
            return ((self.cidr.network_address + 1, self.cidr.broadcast_address - 1),)
        out = []
        for text in self.ranges:
            lo, _, hi = text.partition("-")
            out.append((IPv4Address(lo.strip()), IPv4Address((hi or lo).strip())))
        return tuple(out)


def _blocks(*items: tuple[str, str]) -> tuple[BlockConfig, ...]:
    return tuple(BlockConfig(id=i, cidr=IPv4Network(c)) for i, c in items)


class NcpConfig(_Strict):
    """Settings of one cluster (see the module docstring for the ``ncp.ini`` names)."""

    cluster: ClusterName = "k8s-cluster"
    tier0: str = "t0-gateway"
    container_ip_blocks: tuple[BlockConfig, ...] = _blocks(("ip-block-pods", "172.16.0.0/16"))
    no_snat_ip_blocks: tuple[BlockConfig, ...] = _blocks(("ip-block-nosnat", "172.20.0.0/16"))
    node_ip_blocks: tuple[BlockConfig, ...] = _blocks(("ip-block-nodes", "172.23.0.0/16"))
    #: Further blocks a network profile may pick with ``pod_ip_block_ids``.
    extra_ip_blocks: tuple[BlockConfig, ...] = _blocks(
        ("ip-block-pods-routable", "172.24.0.0/16")
    )
    external_ip_pools: tuple[PoolConfig, ...] = (
        PoolConfig(id="ip-pool-snat", cidr=IPv4Network("10.40.14.0/24"),
                   ranges=("10.40.14.10-10.40.14.250",)),
    )
    external_ip_pools_lb: tuple[PoolConfig, ...] = (
        PoolConfig(id="ip-pool-lb", cidr=IPv4Network("10.40.15.0/24"),
                   ranges=("10.40.15.10-10.40.15.250",)),
    )
    subnet_prefix: int = Field(default=24, ge=16, le=30)
    node_subnet_prefix: int = Field(default=24, ge=16, le=30)
    enable_snat: bool = True
    single_tier_topology: bool = False
    ip_reallocation_time: float = Field(default=60.0, ge=0)
    #: Nodes that pods are spread over when the manifests hold no Node objects.
    default_nodes: tuple[str, ...] = ("node-1", "node-2", "node-3")
    #: Namespaces every cluster has, realized even when no manifest declares them.
    implicit_namespaces: tuple[str, ...] = ("default", "kube-public", "kube-system")
    label_filtering_regex_list: tuple[str, ...] = ()
    #: The cluster's Kubernetes service CIDR (TKGI: 10.100.200.0/24 in every cluster);
    #: cluster IPs of services without one in their manifest are allocated from it.
    service_cidr: IPv4Network = IPv4Network("10.100.200.0/24")
    #: Sequence numbers of NCP's allow and isolation security policies per NetworkPolicy,
    #: in the Application category (nsx-operator's 2010 and 2090).
    np_allow_sequence: int = Field(default=2010, ge=0, le=999_999)
    np_isolation_sequence: int = Field(default=2090, ge=0, le=999_999)
    #: ``[k8s] baseline_policy_type`` (Policy mode): see ncp.translate.baseline.
    baseline_policy_type: Literal["none", "allow_cluster", "allow_namespace",
                                  "allow_namespace_strict"] = "none"
    #: Where the baseline sits in the Application category: after NetworkPolicy isolation
    #: (2090) and BaselineAdminNetworkPolicy (5000 + priority).
    baseline_policy_sequence: int = Field(default=9000, ge=0, le=999_999)

    @model_validator(mode="after")
    def _unique_ids(self) -> NcpConfig:
        ids = [b.id for b in self.all_blocks()] + [p.id for p in self.all_pools()]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"ids used twice: {', '.join(dupes)}")
        if not self.default_nodes:
            raise ValueError("default_nodes must name at least one node")
        return self

    def all_blocks(self) -> tuple[BlockConfig, ...]:
        """Every block the config names, in declaration order."""
        return (
            self.container_ip_blocks
            + self.no_snat_ip_blocks
            + self.node_ip_blocks
            + self.extra_ip_blocks
        )

    def all_pools(self) -> tuple[PoolConfig, ...]:
        """Every external pool the config names."""
        return self.external_ip_pools + self.external_ip_pools_lb


def _problems(err: ValidationError, source: str) -> list[Problem]:
    out = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top)"
        code = "UNKNOWN_FIELD" if e["type"] == "extra_forbidden" else "INVALID_CONFIG"
        out.append(Problem(code, source, f"{where}: {e['msg']}"))
    return out


def parse_config(data: dict[str, Any] | None, *, source: str = "config") -> NcpConfig:
    """Validate settings; every problem is reported at once in a :class:`ConfigError`."""
    try:
        return NcpConfig.model_validate(data or {})
    except ValidationError as err:
        raise ConfigError(_problems(err, source)) from err


def load_config(path: str | Path | None, *, cluster: str | None = None) -> NcpConfig:
    """Read a YAML config file (or the defaults), then apply a ``--cluster-name``."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as err:
            raise ConfigError([Problem("CONFIG_NOT_FOUND", source, str(err))]) from err
        except yaml.YAMLError as err:
            raise ConfigError([Problem("MALFORMED_CONFIG", source,
                                       yaml_error_text("", err))]) from err
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError([Problem("MALFORMED_CONFIG", source, "expected a mapping")])
        data = dict(loaded or {})
    if cluster is not None:
        data["cluster"] = cluster
    return parse_config(data, source=source)
