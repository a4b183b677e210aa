"""What the incremental reconcile knows of the state a full reconcile wrote.

Read once (:meth:`StateIndex.read`, one pass over the inventory) and kept current by every
batch it applies: the cluster's namespace networks (pool, subnets, free ranges, ports), the
VLANs in use per node, each node's attachment, the floating pools (for a new namespace's
SNAT IP), the holds, the problems, and the subnet carver of a full reconcile.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from ncp.reconcile.incremental.pooltext import PoolText
from ncp.reconcile.state import State
from ncp.reconcile.sync import (
    SUMMARY_FIREWALL_READS_NAMESPACES,
    SUMMARY_FIREWALL_READS_PODS,
    SUMMARY_NAMESPACES,
    SUMMARY_PODS,
)
from ncp.translate import naming
from ncp.translate.namespaces import SUBNETS_EXHAUSTED
from ncp.translate.networks import subnet_carver
from ncp.translate.services import existing_cluster_ips
from ncp.translate.settings import ClusterSettings
from ncp.translate.vlans import VLANS_EXHAUSTED, NodeVlans
from sdn.errors import Problem
from sdn.ipam import Hold, SubnetAllocator, pool_address_ranges, subnet_host_range
from sdn.model import (
    Inventory,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    Segment,
    SegmentPort,
    ip_pool_path,
    segment_path,
)
from sdn.store.codec import ClusterRecord, pool_parts


@dataclass
class NamespaceNetwork:
    """One realized namespace's pod network as stored."""

    pool: PoolText
    ranges: list[tuple[int, int]]
    subnets: list[IPv4Network]
    ports: dict[str, SegmentPort]
    blocks: list[str]  # the block each subnet was carved from


@dataclass
class FloatingPool:
    """A floating (external) pool as stored, and its address ranges."""

    pool: PoolText
    ranges: list[tuple[int, int]]


class StateIndex:
    """The index (see the module docstring) of one cluster's state."""

    def __init__(self, settings: ClusterSettings, record: ClusterRecord, revision: int,
                 inventory: Inventory, holds: list[Hold], split: set[str],
                 problems: list[Problem]) -> None:
        self.settings = settings
        self.cluster = settings.cluster
        self.record = record
        self.revision = revision
        self.holds: dict[str, list[Hold]] = defaultdict(list)
        for hold in holds:
            self.holds[hold.scope].append(hold)
        self.networks: dict[str, NamespaceNetwork] = {}
        self.vlans = NodeVlans()
        self.attachments: dict[str, str] = {}
        self.floating: dict[str, FloatingPool] = {}
        self._index_networks(inventory, split)
        self.problems: dict[str, list[Problem]] = defaultdict(list)
        for problem in problems:
            self.problems[problem.obj].append(problem)
        # "Namespace/ns" and "Pod/ns/name" both name their namespace second.
        self.exhausted = {obj.partition("/")[2].partition("/")[0]
                          for obj, found in self.problems.items()
                          if any(p.code == SUBNETS_EXHAUSTED for p in found)}
        # Accepted namespaces have a network, or lack one for want of addresses (their
        # pods are declined by the prechecks); the others were rejected or do not exist.
        self.accepted = set(self.networks) | self.exhausted
        self.vlans_short = any(p.code == VLANS_EXHAUSTED
                               for found in self.problems.values() for p in found)
        summary = record.summary
        self.reads_pods = bool(summary.get(SUMMARY_FIREWALL_READS_PODS, 1))
        self.reads_namespaces = bool(summary.get(SUMMARY_FIREWALL_READS_NAMESPACES, 1))
        self.realized_pods = summary.get(SUMMARY_PODS, 0)
        self.realized_namespaces = summary.get(SUMMARY_NAMESPACES, 0)
        self.cluster_ips: dict[str, IPv4Address] = existing_cluster_ips(inventory, self.cluster)
        self._inventory = inventory  # for the carver, built at the first new namespace
        self._carver: SubnetAllocator | None = None

    @classmethod
    def read(cls, state: State, settings: ClusterSettings) -> StateIndex:
        """The index of the state as a full reconcile of this process left it.

        Raises:
            ValueError: the state has no record of the cluster (no full reconcile yet).
        """
        record = state.cluster(settings.cluster)
        if record is None:
            raise ValueError(f"cluster {settings.cluster} has no state yet: prime after a "
                             "full reconcile")
        revision = state.revision
        inventory = state.inventory()
        holds = state.holds()
        split = state.split_pools()
        problems = [p for _cluster, p in state.problems(settings.cluster)]
        return cls(settings, record, revision, inventory, holds, split, problems)

    def _index_networks(self, inventory: Inventory, split: set[str]) -> None:
        """The cluster's namespace networks, node attachments, VLANs in use, and the
        floating pools."""
        cluster = self.cluster
        segments: dict[str, str] = {}  # segment path -> namespace
        for seg in inventory.of_type(Segment):
            ns = seg.tag(naming.SCOPE_PROJECT)
            if seg.tag(naming.SCOPE_CLUSTER) == cluster and ns and \
                    seg.id == naming.ns_id("seg", cluster, ns):
                pool = inventory.get(ip_pool_path(naming.ns_id("ipp", cluster, ns)))
                if isinstance(pool, IpPool) and pool_parts(pool) is not None:
                    self.networks[ns] = _network(pool, split)
                    segments[seg.path] = ns
        node_seg = segment_path(naming.cluster_id("seg", cluster, naming.NODES))
        for port in inventory.of_type(SegmentPort):
            if port.parent_path == node_seg and port.attachment is not None:
                self.attachments[port.id] = port.attachment.id
            elif port.parent_path in segments:
                self.networks[segments[port.parent_path]].ports[port.id] = port
                node, att = port.tag(naming.SCOPE_NODE), port.attachment
                if node and att is not None and att.traffic_tag is not None:
                    self.vlans.reserve(node, att.traffic_tag)
        self.floating = {
            p.id: FloatingPool(PoolText(p, split=p.path in split), pool_address_ranges(p))
            for p in inventory.of_type(IpPool)
            if p.tag(naming.SCOPE_EXTERNAL) == "true" and pool_parts(p) is not None}

    def carver(self, now: float) -> SubnetAllocator:
        """The subnet carver of a full reconcile (every block; taken: every pool's
        subnets and the blocks' holds), kept and updated as namespaces are added."""
        if self._carver is None:
            inventory = self._inventory
            self._carver = subnet_carver(
                inventory.of_type(IpBlock), inventory.of_type(IpPool),
                [hold for held in self.holds.values() for hold in held], now)
        return self._carver


def _network(pool: IpPool, split: set[str]) -> NamespaceNetwork:
    """A namespace's network from its stored pool (its ports are added after)."""
    carved = [sub for sub in pool.subnets if isinstance(sub, IpPoolBlockSubnet)]
    subnets = [sub.cidr for sub in carved]
    ranges = [span for span in map(subnet_host_range, subnets) if span is not None]
    return NamespaceNetwork(PoolText(pool, split=pool.path in split), ranges, subnets, {},
                            [sub.ip_block_path.rsplit("/", 1)[1] for sub in carved])
