"""One provisioning run's inputs, its working state and its result.

:func:`ncp.translate.cluster.provision` is a sequence of stages; each reads what the
earlier ones decided and adds its own. :class:`ProvisioningRun` is what they share: the
settings, the current inventory (with lookups a stage needs again and again), the holds in
force, and the :class:`Provisioned` result as it grows. Keeping it in one object lets each
stage be a plain function of the run and its own inputs, while ``provision`` reads as
the data flow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.networks import CarvedSubnet, NetworkPlan, held_back, subnet_carver
from ncp.translate.policyinputs import PodInfo
from ncp.translate.settings import ClusterSettings
from ncp.translate.topology import network_objects, snat_gateway
from sdn.errors import Problem
from sdn.ipam import Hold, SubnetAllocator
from sdn.model import (
    Inventory,
    IpAllocation,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    PolicyResource,
    SegmentPort,
    Tag,
    ip_pool_path,
    segment_path,
)


@dataclass(frozen=True)
class ClusterObjects:
    """The Kubernetes side of one run: namespaces, pods (controllers already expanded),
    and the node names pods run on."""

    namespaces: Sequence[K8sObject]
    pods: Sequence[K8sObject]
    nodes: Sequence[K8sObject | str]
    policies: Sequence[K8sObject] = ()
    services: Sequence[K8sObject] = ()
    endpoint_slices: Sequence[K8sObject] = ()
    ingresses: Sequence[K8sObject] = ()


@dataclass
class Provisioned:
    """What one run decided."""

    owned: dict[str, PolicyResource] = field(default_factory=dict)
    shared: dict[str, PolicyResource] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    realized_pods: int = 0
    realized_namespaces: int = 0
    pod_infos: list[PodInfo] = field(default_factory=list)
    cluster_ips: dict[str, str] = field(default_factory=dict)
    #: LoadBalancer VIPs by ``ns/name`` (written to the Service's status).
    lb_vips: dict[str, str] = field(default_factory=dict)
    #: NCP's annotations on Services (``ncp/error.loadbalancer``), by (namespace, name).
    service_annotations: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    ingress_vip: str | None = None
    ingresses_served: list[tuple[str, str]] = field(default_factory=list)
    ingress_annotations: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: The annotation NCP writes on each realized pod, by (namespace, pod).
    pod_annotations: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: Whether the firewall's translation read the pods (named ports) or depends on the
    #: list of namespaces (see ``FirewallObjects``).
    firewall_reads_pods: bool = False
    firewall_reads_namespaces: bool = False


def owned_by(obj: PolicyResource | IpAllocation, cluster: str) -> bool:
    """Whether the cluster owns an object (its ``ncp/cluster`` tag)."""
    return obj.tag(naming.SCOPE_CLUSTER) == cluster


def port_addresses(ports: Mapping[str, SegmentPort]) -> dict[str, IPv4Address]:
    """Each port's address, by port id (ports without one left out)."""
    return {name: p.address_bindings[0].ip_address
            for name, p in ports.items() if p.address_bindings}


class CurrentInventory:
    """Lookups into the current inventory: a pool's carved subnets, a segment's ports
    (indexed once; ``Inventory.children`` would scan every object per segment)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.by_parent: dict[str, dict[str, SegmentPort]] = defaultdict(dict)
        for obj in inventory.values():
            if isinstance(obj, SegmentPort):
                self.by_parent[obj.parent_path][obj.id] = obj

    def subnets(self, pool_id: str) -> list[CarvedSubnet]:
        """The subnets the pool has now, with the block each was carved from."""
        pool = self.inventory.get(ip_pool_path(pool_id))
        if not isinstance(pool, IpPool):
            return []
        return [CarvedSubnet(sub.ip_block_path.rsplit("/", 1)[1], sub.cidr)
                for sub in pool.subnets if isinstance(sub, IpPoolBlockSubnet)]

    def ports(self, segment_id: str) -> dict[str, SegmentPort]:
        """The segment's ports now, by id."""
        return self.by_parent.get(segment_path(segment_id), {})


class ProvisioningRun:
    """The working state of one provisioning run (see the module docstring)."""

    def __init__(self, settings: ClusterSettings, current: Inventory,
                 shared: Mapping[str, PolicyResource], holds: Sequence[Hold], now: float):
        self.settings = settings
        self.cluster = settings.cluster
        self.current = current
        self.now = now
        self.out = Provisioned(shared=dict(shared))
        self.active_holds = [h for h in holds if h.active(now)]
        self.holds_by_scope: dict[str, list[Hold]] = defaultdict(list)
        for hold in self.active_holds:
            self.holds_by_scope[hold.scope].append(hold)
        self.view = CurrentInventory(current)
        self.delay = settings.ip_reallocation_time

    def add(self, obj: PolicyResource) -> None:
        """The run wants ``obj`` (replacing what it wanted at that path)."""
        self.out.owned[obj.path] = obj

    def hold(self, scope: str, address: IPv4Address | IPv4Network) -> None:
        """Hold back a released address or subnet (see :func:`held_back`)."""
        self.out.holds.append(held_back(scope, address, now=self.now, settings=self.settings))

    def problem(self, code: str, obj: str, message: str) -> None:
        """An object the run cannot realize (in full)."""
        self.out.problems.append(Problem(code, obj, message))

    def carver(self, keep_pools: set[str]) -> SubnetAllocator:
        """Every block; taken are the subnets of every other cluster's pools and of this
        cluster's pools that stay (the ones it gives up are held back instead)."""
        blocks = [b for b in self.current.values() if isinstance(b, IpBlock)]
        blocks += [b for b in self.out.shared.values() if isinstance(b, IpBlock)]
        staying = [pool for pool in self.current.values() if isinstance(pool, IpPool)
                   and (pool.path in keep_pools or not owned_by(pool, self.cluster))]
        return subnet_carver(blocks, staying, self.active_holds, self.now)

    def external_pools(self) -> dict[str, IpPool]:
        """The external IP pools as this run has them so far (earlier stages may have
        allocated from them), by id."""
        return {o.id: o for o in self.out.shared.values()
                if isinstance(o, IpPool) and o.tag(naming.SCOPE_EXTERNAL) == "true"}

    def snat_gateway(self) -> str:
        """Where the cluster's SNAT rules live."""
        return snat_gateway(self.settings)

    def network_objects(self, *, pool_id: str, segment_id: str, gateway: str,
                        plan: NetworkPlan, tags: tuple[Tag, ...], display: str) -> None:
        """Add a pool-backed network's pool and segment; hold back what it released."""
        for obj in network_objects(self.settings, pool_id=pool_id, segment_id=segment_id,
                                   gateway=gateway, plan=plan, tags=tags, display=display):
            self.add(obj)
        for old in plan.released:
            self.hold(ip_pool_path(pool_id), old)

    def finish_pool(self, pool_id: str, allocations: list[IpAllocation]) -> None:
        """Give a pool the run added its allocations, in id order."""
        path = ip_pool_path(pool_id)
        pool = self.out.owned[path]
        assert isinstance(pool, IpPool)
        self.out.owned[path] = pool.model_copy(
            update={"allocations": tuple(sorted(allocations, key=lambda a: a.id))})

    def release_removed(self) -> None:
        """Hold back everything of this cluster's that the run no longer wants."""
        for obj in self.current.values():
            if obj.path in self.out.owned or not owned_by(obj, self.cluster):
                continue
            if isinstance(obj, IpPool):
                for sub in obj.subnets:
                    if isinstance(sub, IpPoolBlockSubnet):
                        self.hold(sub.ip_block_path, sub.cidr)
