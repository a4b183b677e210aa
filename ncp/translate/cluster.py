"""One cluster's Kubernetes objects to its NSX topology, given what already exists.

This is the heart of ``ncp sync``. It is pure: it takes the settings, the cluster's
namespaces, pods and nodes, the manager's current inventory and IPAM holds, and ``now``,
and returns the objects the cluster should own, the shared objects it changes, the new
holds, the NCP annotations each namespace would carry, and one problem per object that
could not be realized. Nothing it returns depends on input order or on the clock beyond
``now``.

The topology (reference: nsx-ncp.md 1.2):

* two-tier (NCP's default): per namespace a Tier-1 on the Tier-0, a segment on it with
  the namespace's subnets, an IP pool feeding the segment, and for NAT namespaces one
  SNAT rule per subnet on the **Tier-0**, translating to the namespace's SNAT IP;
  the nodes get a segment on a cluster Tier-1 of their own.
* shared Tier-1 (``single_tier_topology``): one Tier-1 per cluster; every namespace
  segment and the node segment attach to it and the SNAT rules live **on that Tier-1**.

Order of work, chosen so that a clash is decided the same way every time: static SNAT
requests first (a pinned IP is never taken by a namespace that merely sorts earlier; the
TKGI docs report exactly that clash), then namespaces in name order, pods in name order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.firewall import firewall_objects
from ncp.translate.ingress import ingresses
from ncp.translate.loadbalancers import ERROR_ANNOTATION, StickyAddresses, load_balancers
from ncp.translate.networks import CarvedSubnet, NetworkPlan, plan_network
from ncp.translate.policyinputs import PodInfo
from ncp.translate.service_snat import ERROR_ANNOTATION as SNAT_ERROR_ANNOTATION
from ncp.translate.service_snat import service_snat
from ncp.translate.services import existing_cluster_ips, translate_services
from ncp.translate.settings import ClusterSettings
from ncp.translate.snat import SnatPlanner, SnatRequest, SnatResult
from ncp.translate.tags import label_tags
from sdn.errors import Problem
from sdn.ipam import Hold, SubnetAllocator
from sdn.model import (
    GATEWAY_SNAT_PRIORITY,
    AddressBinding,
    Inventory,
    IpAllocation,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    LBService,
    NatRule,
    PolicyResource,
    PortAttachment,
    Segment,
    SegmentAdvancedConfig,
    SegmentDhcpV4Config,
    SegmentPort,
    SegmentSubnet,
    Tag,
    Tier1,
    ip_block_path,
    ip_pool_path,
    lb_service_path,
    nat_rule_path,
    port_path,
    segment_path,
    tier0_path,
    tier1_path,
)

#: The pod annotation with the pod's network configuration. NCP's own pod annotations are
#: not documented publicly (reference 1.3); this one carries what the node agent would
#: plumb: address with prefix, MAC, gateway, VLAN and the port's path, as JSON.
POD_ANNOTATION = "ncp/network_config"

#: VLAN ids a node can give its pods: 4094 is reserved by Hyperbus, 0 means untagged.
VLAN_IDS = range(1, 4094)
_NODES = "nodes"


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


@dataclass(frozen=True)
class AdmittedPod:
    """A pod that passed the checks: its node, its port's tags, what policies read."""

    name: str
    node: str
    tags: tuple[Tag, ...]
    ownership: tuple[Tag, ...]
    labels: Mapping[str, str]
    container_ports: tuple[tuple[str, str, int], ...]


def container_ports(spec: Mapping[str, Any]) -> tuple[tuple[str, str, int], ...]:
    """``(name, protocol, number)`` of every container port (for named-port policies)."""
    out = []
    for container in spec.get("containers") or []:
        for cp in (container or {}).get("ports") or []:
            number = cp.get("containerPort")
            if isinstance(number, int):
                out.append((str(cp.get("name") or ""), str(cp.get("protocol") or "TCP").upper(),
                            number))
    return tuple(out)


def admit_pod(pod: K8sObject, *, settings: ClusterSettings, declared: Container[str],
              realized: Container[str], nodes: Container[str],
              ) -> tuple[AdmittedPod | None, list[Problem], str | None]:
    """Whether a pod gets a port: the pod as admitted, or None with the problems (a
    missing or rejected namespace, an unknown node, labels NSX cannot carry) or the note
    (host network, ended) saying why not.

    ``declared`` are the namespaces that exist, ``realized`` the ones accepted, ``nodes``
    the cluster's node names. Shared by the full provisioning and the incremental one.
    """
    c = settings.cluster
    spec = pod.spec
    phase = pod.status.get("phase")
    where = f"Pod/{pod.namespace}/{pod.name}"
    if spec.get("hostNetwork"):
        return None, [], f"Pod {pod.namespace}/{pod.name} uses the host network: no port"
    if phase in ("Succeeded", "Failed"):
        return None, [], f"Pod {pod.namespace}/{pod.name} has ended ({phase}): no port"
    if pod.namespace not in declared and pod.namespace not in settings.implicit_namespaces:
        return None, [Problem("NAMESPACE_NOT_FOUND", where,
                              f"namespace {pod.namespace!r} does not exist")], None
    if pod.namespace not in realized:
        return None, [Problem("NAMESPACE_NOT_REALIZED", where,
                              f"namespace {pod.namespace!r} was rejected")], None
    node = spec.get("nodeName")
    if node not in nodes:
        return None, [Problem("NODE_NOT_FOUND", where,
                              f"node {node!r} is not a node of the cluster")], None
    reserved = [*naming.base_tags(c, pod.namespace), naming.tag(naming.SCOPE_POD, pod.name),
                naming.tag(naming.SCOPE_NODE, str(node))]
    meta = pod.metadata
    tags, problems = label_tags(meta.get("labels"), reserved=reserved,
                                filters=settings.label_filters, obj=where)
    if problems:
        return None, list(problems), None
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    return AdmittedPod(pod.name, str(node), tags, tuple(reserved), labels,
                       container_ports(spec)), [], None


@dataclass(frozen=True)
class PodPort:
    """Everything one realized pod contributes: its port, its pool allocation, what the
    policies and services read of it, and the annotation written on it."""

    port: SegmentPort
    allocation: IpAllocation
    info: PodInfo
    annotation: dict[str, str]


def pod_port(cluster: str, namespace: str, pod: AdmittedPod, *, ip: IPv4Address,
             subnet: IPv4Network, vlan: int, node_attachment: str | None) -> PodPort:
    """The objects of one realized pod on its namespace's segment (a CHILD port of its
    node's PARENT port, tagged with the pod's VLAN)."""
    seg_id = naming.ns_id("seg", cluster, namespace)
    path = port_path(seg_id, pod.name)
    mac = naming.mac_for(int(ip))
    port = SegmentPort(
        id=pod.name, display_name=f"{namespace}/{pod.name}", path=path,
        parent_path=segment_path(seg_id), tags=pod.tags,
        attachment=PortAttachment(type="CHILD",
                                  id=naming.attachment_id(cluster, namespace, pod.name),
                                  context_id=node_attachment, traffic_tag=vlan, app_id=pod.name),
        address_bindings=(AddressBinding(ip_address=ip, mac_address=mac),),
    )
    annotation = {POD_ANNOTATION: json.dumps({
        "ip_address": f"{ip}/{subnet.prefixlen}", "mac_address": mac,
        "gateway_ip": str(subnet.network_address + 1), "vlan_id": vlan,
        "segment_port_path": path}, sort_keys=True)}
    return PodPort(port, IpAllocation(id=pod.name, allocation_ip=ip, tags=pod.ownership),
                   PodInfo(namespace, pod.name, path, str(ip), pod.labels,
                           pod.container_ports), annotation)


class _Vlans:
    """VLAN ids per node: unique among the pods on one node's vNIC, lowest free first.

    Pods that stay on their node keep their VLAN; they are reserved before any new pod
    is given one, across every namespace, so a new pod never takes a kept VLAN.
    """

    def __init__(self) -> None:
        self.used: dict[str, set[int]] = defaultdict(set)
        self.cursor: dict[str, int] = defaultdict(lambda: VLAN_IDS.start)

    def reserve(self, node: str, vlan: int) -> None:
        self.used[node].add(vlan)

    def allocate(self, node: str) -> int | None:
        used, vlan = self.used[node], self.cursor[node]
        while vlan in used:
            vlan += 1
        if vlan >= VLAN_IDS.stop:
            return None
        used.add(vlan)
        self.cursor[node] = vlan + 1
        return vlan


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


def _owned_by(obj: PolicyResource | IpAllocation, cluster: str) -> bool:
    return obj.tag(naming.SCOPE_CLUSTER) == cluster


class _Current:
    """Lookups into the current inventory: a pool's carved subnets, a segment's ports
    (indexed once; ``Inventory.children`` would scan every object per segment)."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self.by_parent: dict[str, dict[str, SegmentPort]] = defaultdict(dict)
        for obj in inv.values():
            if isinstance(obj, SegmentPort):
                self.by_parent[obj.parent_path][obj.id] = obj

    def subnets(self, pool_id: str) -> list[CarvedSubnet]:
        pool = self.inv.get(ip_pool_path(pool_id))
        if not isinstance(pool, IpPool):
            return []
        return [CarvedSubnet(s.ip_block_path.rsplit("/", 1)[1], s.cidr)
                for s in pool.subnets if isinstance(s, IpPoolBlockSubnet)]

    def ports(self, segment_id: str) -> dict[str, SegmentPort]:
        return self.by_parent.get(segment_path(segment_id), {})


def _addresses(ports: Mapping[str, SegmentPort]) -> dict[str, IPv4Address]:
    return {name: p.address_bindings[0].ip_address
            for name, p in ports.items() if p.address_bindings}


def _segment_subnets(plan: NetworkPlan, dns: tuple[str, ...]) -> tuple[SegmentSubnet, ...]:
    """The gateway is the subnet's first address, as NCP configures it; ``nodes_dns`` from
    the network profile is handed out as the subnets' DNS servers."""
    dhcp = SegmentDhcpV4Config(dns_servers=dns) if dns else None
    return tuple(
        SegmentSubnet(gateway_address=IPv4Interface((int(s.cidr.network_address) + 1,
                                                     s.cidr.prefixlen)),
                      network=s.cidr, dhcp_config=dhcp)
        for s in plan.subnets
    )


def _pool_subnets(plan: NetworkPlan, pool_id: str) -> tuple[IpPoolBlockSubnet, ...]:
    return tuple(
        IpPoolBlockSubnet(id=f"{pool_id}-{i}", ip_block_path=ip_block_path(s.block_id),
                          size=s.cidr.num_addresses, cidr=s.cidr)
        for i, s in enumerate(plan.subnets)
    )


def routed_blocks(s: ClusterSettings, routed: bool) -> tuple[str, ...]:
    """The blocks a namespace's subnets are carved from: the no-SNAT blocks for a routed
    namespace of a NAT cluster (when there are some), else the pod blocks."""
    if routed and not s.pod_routable and s.enable_snat and s.no_snat_block_ids:
        return tuple(s.no_snat_block_ids)
    return tuple(s.pod_block_ids)


def network_objects(s: ClusterSettings, *, pool_id: str, segment_id: str, gateway: str,
                    plan: NetworkPlan, tags: tuple[Tag, ...],
                    display: str) -> tuple[IpPool, Segment]:
    """A pool-backed network's IP pool (no allocations yet) and segment."""
    pool = ip_pool_path(pool_id)
    base = tuple(t for t in tags if t.scope.startswith("ncp/"))
    return (IpPool(id=pool_id, display_name=display, path=pool, tags=base,
                   subnets=_pool_subnets(plan, pool_id)),
            Segment(id=segment_id, display_name=display, path=segment_path(segment_id),
                    tags=tags, connectivity_path=gateway,
                    subnets=_segment_subnets(plan, s.nodes_dns),
                    advanced_config=SegmentAdvancedConfig(address_pool_paths=(pool,))))


def gateway_tier1(s: ClusterSettings, t1_id: str, tags: tuple[Tag, ...], display: str,
                  extra: tuple[Tag, ...] = ()) -> Tier1:
    """A Tier-1 gateway on the cluster's Tier-0, advertising what NCP's advertise."""
    return Tier1(
        id=t1_id, display_name=display, path=tier1_path(t1_id), tags=tags + extra,
        tier0_path=tier0_path(s.tier0), failover_mode=s.failover_mode,
        route_advertisement_types=("TIER1_CONNECTED", "TIER1_NAT", "TIER1_LB_VIP",
                                   "TIER1_LB_SNAT"),
    )


def snat_gateway(s: ClusterSettings) -> str:
    """Where the SNAT rules live: the Tier-0 (two-tier) or the shared Tier-1."""
    if s.single_tier:
        return tier1_path(naming.cluster_id("t1", s.cluster))
    return tier0_path(s.tier0)


def namespace_network(s: ClusterSettings, name: str, tags: tuple[Tag, ...], plan: NetworkPlan,
                      snat: SnatResult | None,
                      ) -> tuple[list[PolicyResource], dict[str, str], list[Problem]]:
    """A realized namespace's objects (its Tier-1 in two-tier, pool, segment, SNAT rules),
    the annotations NCP puts on it, and its SNAT problem if any. Pure; shared by the full
    provisioning and the incremental one."""
    c = s.cluster
    out: list[PolicyResource] = []
    ann: dict[str, str] = {}
    problems: list[Problem] = []
    extra: tuple[Tag, ...] = ()
    if snat is not None and snat.address is not None:
        extra = (Tag(scope=naming.SCOPE_SNAT_IP, tag=str(snat.address)),
                 Tag(scope=naming.SCOPE_EXTPOOL, tag=snat.pool_id or ""))
    if s.two_tier:
        t1_id = naming.ns_id("t1", c, name)
        out.append(gateway_tier1(s, t1_id, tuple(naming.base_tags(c, name)), f"{c}-{name}",
                                 extra))
        ann["ncp/router_id"] = t1_id
        gateway = tier1_path(t1_id)
    else:
        gateway = tier1_path(naming.cluster_id("t1", c))
    out += network_objects(s, pool_id=naming.ns_id("ipp", c, name),
                           segment_id=naming.ns_id("seg", c, name), gateway=gateway,
                           plan=plan, tags=tags, display=f"{c}-{name}")
    for i, sub in enumerate(plan.subnets):
        ann[f"ncp/subnet-{i}"] = str(sub.cidr)
    if snat is not None:
        if snat.static:
            ann["ncp/snat_ip_status"] = snat.status
        if snat.address is not None:
            ann["ncp/snat_ip"] = str(snat.address)
            where = snat_gateway(s)
            for i, sub in enumerate(plan.subnets):
                rid = f"{naming.ns_id('snat', c, name)}_{i}"
                out.append(NatRule(
                    id=rid, display_name=f"{c}-{name}-{i}", path=nat_rule_path(where, rid),
                    parent_path=f"{where}/nat/USER", tags=tuple(naming.base_tags(c, name)),
                    action="SNAT", source_network=str(sub.cidr),
                    translated_network=str(snat.address),
                    sequence_number=GATEWAY_SNAT_PRIORITY))
        else:
            ann["ncp/error"] = snat.status
            problems.append(Problem(snat.status, f"Namespace/{name}", snat.message))
    return out, ann, problems


class _Run:
    """State of one provisioning run (kept out of the public function for readability)."""

    def __init__(self, settings: ClusterSettings, current: Inventory,
                 shared: Mapping[str, PolicyResource], holds: Sequence[Hold], now: float):
        self.s = settings
        self.current = current
        self.now = now
        self.out = Provisioned(shared=dict(shared))
        self.active_holds = [h for h in holds if h.active(now)]
        self.holds_by_scope: dict[str, list[Hold]] = defaultdict(list)
        for h in self.active_holds:
            self.holds_by_scope[h.scope].append(h)
        self.view = _Current(current)
        self.c = settings.cluster
        self.delay = settings.ip_reallocation_time

    # --- helpers -------------------------------------------------------------------
    def add(self, obj: PolicyResource) -> None:
        self.out.owned[obj.path] = obj

    def hold(self, scope: str, address: IPv4Address | IPv4Network) -> None:
        cidr = IPv4Network(address)
        self.out.holds.append(Hold(scope, cidr, self.now + self.delay))

    def problem(self, code: str, obj: str, message: str) -> None:
        self.out.problems.append(Problem(code, obj, message))

    def carver(self, keep_pools: set[str]) -> SubnetAllocator:
        """Every block; taken are the subnets of every other cluster's pools and of this
        cluster's pools that stay (the ones it gives up are held back instead)."""
        blocks = [(b.id, b.cidr) for b in self.current.values() if isinstance(b, IpBlock)]
        blocks += [(b.id, b.cidr) for b in self.out.shared.values() if isinstance(b, IpBlock)]
        taken = [s.cidr for pool in self.current.values() if isinstance(pool, IpPool)
                 and (pool.path in keep_pools or not _owned_by(pool, self.c))
                 for s in pool.subnets if isinstance(s, IpPoolBlockSubnet)]
        holds = [h for h in self.active_holds if h.scope.startswith("/infra/ip-blocks/")]
        return SubnetAllocator(blocks, taken=taken, holds=holds, now=self.now)

    def external_pools(self) -> dict[str, IpPool]:
        """The external IP pools as this run has them so far (earlier stages may have
        allocated from them), by id."""
        return {o.id: o for o in self.out.shared.values()
                if isinstance(o, IpPool) and o.tag(naming.SCOPE_EXTERNAL) == "true"}

    def snat_gateway(self) -> str:
        return snat_gateway(self.s)

    # --- network objects -----------------------------------------------------------
    def network_objects(self, *, pool_id: str, segment_id: str, gateway: str,
                        plan: NetworkPlan, tags: tuple[Tag, ...], display: str) -> None:
        for obj in network_objects(self.s, pool_id=pool_id, segment_id=segment_id,
                                   gateway=gateway, plan=plan, tags=tags, display=display):
            self.add(obj)
        for old in plan.released:
            self.hold(ip_pool_path(pool_id), old)

    def finish_pool(self, pool_id: str, allocations: list[IpAllocation]) -> None:
        path = ip_pool_path(pool_id)
        pool = self.out.owned[path]
        assert isinstance(pool, IpPool)
        self.out.owned[path] = pool.model_copy(
            update={"allocations": tuple(sorted(allocations, key=lambda a: a.id))})

    def release_removed(self) -> None:
        """Hold back everything of this cluster's that the run no longer wants."""
        for obj in self.current.values():
            if obj.path in self.out.owned or not _owned_by(obj, self.c):
                continue
            if isinstance(obj, IpPool):
                for sub in obj.subnets:
                    if isinstance(sub, IpPoolBlockSubnet):
                        self.hold(sub.ip_block_path, sub.cidr)


def _gateway_tier1(run: _Run, t1_id: str, tags: tuple[Tag, ...], display: str,
                   extra: tuple[Tag, ...] = ()) -> None:
    run.add(gateway_tier1(run.s, t1_id, tags, display, extra))


def _node_names(nodes: Sequence[K8sObject | str]) -> dict[str, K8sObject | None]:
    out: dict[str, K8sObject | None] = {}
    for n in nodes:
        if isinstance(n, str):
            out[n] = None
        else:
            out[n.name] = n
    return dict(sorted(out.items()))


def provision(
    *,
    settings: ClusterSettings,
    objects: ClusterObjects,
    current: Inventory,
    shared: Mapping[str, PolicyResource],
    holds: Sequence[Hold],
    now: float,
) -> Provisioned:
    """Decide the cluster's topology; see the module docstring.

    Args:
        settings: The cluster config with its profile applied.
        objects: Namespaces, expanded pods and nodes of the cluster.
        current: The whole manager's inventory as it is now (every cluster).
        shared: The shared objects the run needs (from :mod:`ncp.translate.infra`).
        holds: IPAM holds in force.
        now: The time of the run, seconds since the epoch.

    Returns:
        The desired owned objects, changed shared objects, new holds, annotations and
        problems.
    """
    run = _Run(settings, current, shared, holds, now)
    c = settings.cluster
    s = settings
    nodes = _node_names(objects.nodes)

    # Which namespaces are realizable, with their tags (problems reject the namespace).
    namespaces: dict[str, tuple[K8sObject | None, tuple[Tag, ...]]] = {}
    ns_labels: dict[str, dict[str, str]] = {}
    declared = {n.name: n for n in objects.namespaces}
    for name in sorted(set(declared) | set(s.implicit_namespaces)):
        ns_obj = declared.get(name)
        labels = namespace_labels(ns_obj, name)
        tags, problems = label_tags(labels, reserved=naming.base_tags(c, name),
                                    filters=s.label_filters, obj=f"Namespace/{name}")
        if problems:
            run.out.problems += problems
            continue
        namespaces[name] = (ns_obj, tags)
        ns_labels[name] = labels

    pods_by_ns: dict[str, list[AdmittedPod]] = defaultdict(list)
    for pod in objects.pods:
        admitted, problems, note = admit_pod(pod, settings=s, declared=declared,
                                             realized=namespaces, nodes=nodes)
        run.out.problems += problems
        if note:
            run.out.notes.append(note)
        if admitted is not None:
            pods_by_ns[pod.namespace].append(admitted)

    keep_pools = {ip_pool_path(naming.ns_id("ipp", c, n)) for n in namespaces}
    keep_pools.add(ip_pool_path(naming.cluster_id("ipp", c, _NODES)))
    carver = run.carver(keep_pools)

    # Cluster-level gateways.
    cluster_tags = tuple(naming.base_tags(c))
    if s.single_tier:
        _gateway_tier1(run, naming.cluster_id("t1", c), cluster_tags, c)
        node_gateway = tier1_path(naming.cluster_id("t1", c))
    else:
        _gateway_tier1(run, naming.cluster_id("t1", c, _NODES), cluster_tags, f"{c}-{_NODES}")
        node_gateway = tier1_path(naming.cluster_id("t1", c, _NODES))

    # Node network.
    node_pool = naming.cluster_id("ipp", c, _NODES)
    node_seg = naming.cluster_id("seg", c, _NODES)
    node_ports_now = run.view.ports(node_seg)
    node_plan = plan_network(
        members=list(nodes), existing_subnets=run.view.subnets(node_pool),
        existing_addresses=_addresses(node_ports_now), block_ids=s.node_block_ids,
        prefix=s.node_subnet_prefix, carver=carver,
        holds=run.holds_by_scope.get(ip_pool_path(node_pool), []), now=now)
    node_attachment: dict[str, str] = {}
    snat = SnatPlanner(settings=s, current=current, shared=run.out.shared,
                       holds=run.active_holds, now=now)
    if not node_plan.realized:
        run.problem("NODE_SUBNETS_EXHAUSTED", f"Cluster/{c}",
                    "no node subnet can be carved from " + ", ".join(s.node_block_ids))
    else:
        run.network_objects(pool_id=node_pool, segment_id=node_seg, gateway=node_gateway,
                            plan=node_plan, tags=cluster_tags, display=f"{c}-{_NODES}")
        allocations = []
        for name in node_plan.unallocated:
            run.problem("NODE_SUBNETS_EXHAUSTED", f"Node/{name}", "no address left for the node")
        for name, ip in sorted(node_plan.addresses.items()):
            node_obj = nodes[name]
            node_labels = node_obj.labels if node_obj else None
            reserved = [*naming.base_tags(c), Tag(scope=naming.SCOPE_NODE, tag=name)]
            tags, problems = label_tags(node_labels, reserved=reserved, filters=s.label_filters,
                                        obj=f"Node/{name}")
            if problems:  # node labels are informative only: keep the node, drop labels
                tags = tuple(reserved)
            att = naming.attachment_id(c, "", name)
            node_attachment[name] = att
            run.add(SegmentPort(
                id=name, display_name=name, path=port_path(node_seg, name),
                parent_path=segment_path(node_seg), tags=tags,
                attachment=PortAttachment(type="PARENT", id=att),
                address_bindings=(AddressBinding(ip_address=ip,
                                                 mac_address=naming.mac_for(int(ip))),),
            ))
            allocations.append(IpAllocation(id=name, allocation_ip=ip, tags=tuple(reserved)))
        run.finish_pool(node_pool, allocations)
        if s.enable_snat and not s.node_routable:
            snat.request(SnatRequest(key=f"{_NODES}", project=None, static=None))

    # SNAT requests: static ones are served before dynamic ones (see module docstring).
    nat_namespaces = []
    for name, (ns_obj, _tags) in namespaces.items():
        annotations = ns_obj.annotations if ns_obj else {}
        no_snat = str(annotations.get("ncp/no_snat", "")).lower() == "true"
        if s.enable_snat and not s.pod_routable and not no_snat:
            nat_namespaces.append(name)
            static = annotations.get("ncp/static_snat_ip")
            snat.request(SnatRequest(key=name, project=name,
                                     static=str(static).strip() if static else None))
    snat_results = snat.allocate()

    if node_plan.realized and f"{_NODES}" in snat_results:
        result = snat_results[_NODES]
        if result.address is not None:
            for i, sub in enumerate(node_plan.subnets):
                rid = f"{naming.cluster_id('snat', c, _NODES)}_{i}"
                run.add(NatRule(
                    id=rid, display_name=f"{c}-{_NODES}-{i}",
                    path=nat_rule_path(run.snat_gateway(), rid),
                    parent_path=f"{run.snat_gateway()}/nat/USER", tags=cluster_tags,
                    action="SNAT", source_network=str(sub.cidr),
                    translated_network=str(result.address),
                    sequence_number=GATEWAY_SNAT_PRIORITY))
        else:
            run.problem(result.status, f"Cluster/{c}", result.message)

    vlans = _Vlans()
    for name, pods_here in pods_by_ns.items():
        ports_now = run.view.ports(naming.ns_id("seg", c, name))
        for staying in pods_here:
            old = ports_now.get(staying.name)
            if old is not None and old.attachment is not None and old.attachment.traffic_tag \
                    and old.tag(naming.SCOPE_NODE) == staying.node:
                vlans.reserve(staying.node, old.attachment.traffic_tag)

    # Namespaces.
    nat_set = set(nat_namespaces)
    for name, (_ns_obj, tags) in namespaces.items():
        blocks = routed_blocks(s, name not in nat_set)
        pool_id = naming.ns_id("ipp", c, name)
        seg_id = naming.ns_id("seg", c, name)
        current_ports = run.view.ports(seg_id)
        pods = {p.name: p for p in pods_by_ns.get(name, [])}
        plan = plan_network(
            members=list(pods), existing_subnets=run.view.subnets(pool_id),
            existing_addresses=_addresses(current_ports), block_ids=blocks,
            prefix=s.pod_subnet_prefix, carver=carver,
            holds=run.holds_by_scope.get(ip_pool_path(pool_id), []), now=now)
        ann: dict[str, str] = {}
        run.out.annotations[name] = ann
        if not plan.realized:
            ann["ncp/error"] = "NAMESPACE_SUBNETS_EXHAUSTED"
            run.problem("NAMESPACE_SUBNETS_EXHAUSTED", f"Namespace/{name}",
                        "no subnet can be carved from " + ", ".join(blocks))
            for pod_name in sorted(pods):
                run.problem("NAMESPACE_SUBNETS_EXHAUSTED", f"Pod/{name}/{pod_name}",
                            "its namespace has no subnet")
            continue
        run.out.realized_namespaces += 1
        made, made_ann, made_problems = namespace_network(s, name, tags, plan,
                                                          snat_results.get(name))
        for obj in made:
            run.add(obj)
        ann.update(made_ann)
        run.out.problems += made_problems
        for released in plan.released:
            run.hold(ip_pool_path(pool_id), released)
        if plan.exhausted:
            ann["ncp/error"] = "NAMESPACE_SUBNETS_EXHAUSTED"
            run.problem("NAMESPACE_SUBNETS_EXHAUSTED", f"Namespace/{name}",
                        f"{len(plan.unallocated)} pod(s) got no address: the blocks "
                        + ", ".join(blocks) + " are full")
        _pods(run, name=name, pods=pods, plan=plan, current_ports=current_ports,
              node_attachment=node_attachment, pool_id=pool_id, vlans=vlans)

    _firewall(run, objects.policies, ns_labels)
    _services(run, objects)
    run.out.shared.update(snat.updated_pools())
    run.out.holds += snat.released_holds()
    _load_balancers(run, objects)
    _service_snat(run, objects)
    run.release_removed()
    run.out.problems.sort()
    return run.out


def namespace_labels(ns_obj: K8sObject | None, name: str) -> dict[str, str]:
    """The namespace's labels, with ``kubernetes.io/metadata.name`` that Kubernetes sets
    on every namespace (policies commonly select namespaces by it)."""
    declared = ns_obj.labels if ns_obj else {}
    return {**{str(k): str(v) for k, v in declared.items()},
            "kubernetes.io/metadata.name": name}


def _services(run: _Run, objects: ClusterObjects) -> None:
    """Cluster IPs as distributed load balancing (ncp.translate.services)."""
    result = translate_services(
        [s for s in objects.services if s.namespace in run.out.annotations],
        objects.endpoint_slices, cluster=run.c, pods=run.out.pod_infos,
        service_cidr=run.s.service_cidr, existing=existing_cluster_ips(run.current, run.c))
    for obj in result.objects:
        run.add(obj)
    run.out.problems += result.problems
    run.out.notes += result.notes
    run.out.cluster_ips = result.cluster_ips


def _load_balancers(run: _Run, objects: ClusterObjects) -> None:
    """LoadBalancer services on the cluster's LB service (ncp.translate.loadbalancers)."""
    services = [s for s in objects.services if s.namespace in run.out.annotations
                and s.spec.get("type") == "LoadBalancer"]
    if services and not run.s.nsx_lb:
        run.out.notes.append("nsx_lb is off: LoadBalancer services get no NSX virtual server")
        services = []
    # Even without services the call runs: it releases VIPs of services that went away.
    with_ingress = run.s.nsx_lb and any(i.namespace in run.out.annotations
                                        for i in objects.ingresses)
    gateway = tier1_path(naming.cluster_id("t1", run.c))
    if (services or with_ingress) and not run.s.single_tier:
        # TKGI gives the load balancer a Tier-1 of its own in the two-tier topology.
        lb_t1 = naming.cluster_id("t1", run.c, "lb")
        _gateway_tier1(run, lb_t1, tuple(naming.base_tags(run.c)), f"{run.c}-lb")
        gateway = tier1_path(lb_t1)
    pools = run.external_pools()
    result = load_balancers(
        services, objects.endpoint_slices, cluster=run.c, pods=run.out.pod_infos,
        current=run.current, external_pools=pools, lb_pool_ids=run.s.lb_pool_ids,
        fip_pool_ids=run.s.fip_pool_ids, gateway=gateway, size=run.s.lb_size,
        max_virtual_servers=run.s.max_l4_lb_service, holds=run.active_holds, now=run.now,
        delay=run.delay, algorithm=run.s.l4_lb_algorithm,
        source_ip_persistence=run.s.l4_source_ip_persistence,
        reserved_virtual_servers=2 if with_ingress else 0)
    for obj in result.objects:
        run.add(obj)
    run.out.shared.update(result.pools)
    run.out.holds += result.holds
    run.out.problems += result.problems
    run.out.lb_vips = result.vips
    for key, code in result.errors.items():
        ns, name = key.split("/", 1)
        run.out.service_annotations[(ns, name)] = {ERROR_ANNOTATION: code}
    _ingress(run, objects, gateway)


def _ingress(run: _Run, objects: ClusterObjects, gateway: str) -> None:
    """Ingresses on the cluster's shared L7 virtual servers (ncp.translate.ingress)."""
    wanted = [i for i in objects.ingresses if i.namespace in run.out.annotations]
    if wanted and not run.s.nsx_lb:
        run.out.notes.append("nsx_lb is off: Ingresses get no NSX virtual server")
        wanted = []
    pools = run.external_pools()
    sticky = StickyAddresses(run.c, pools, run.active_holds, run.now, run.delay,
                             prefix="ingressvip_")
    key = naming.cluster_id("ingressvip", run.c)
    vip, code = (sticky.get(key, run.s.ingress_ip, [*run.s.lb_pool_ids, *run.s.fip_pool_ids],
                            "", "ingress") if wanted else (None, ""))
    if wanted and vip is None:
        run.problem(code, f"Cluster/{run.c}", f"no IP for the cluster's Ingress ({code})")
    if wanted and vip is not None:
        lb_id = naming.cluster_id("lb", run.c)  # made by _load_balancers (it reserved room)
        if lb_service_path(lb_id) not in run.out.owned:
            run.add(LBService(id=lb_id, display_name=f"{run.c} load balancer",
                              path=lb_service_path(lb_id), connectivity_path=gateway,
                              size=run.s.lb_size.upper(),
                              tags=tuple(naming.base_tags(run.c))))
        result = ingresses(wanted, objects.services, objects.endpoint_slices, cluster=run.c,
                           pods=run.out.pod_infos, vip=str(vip),
                           lb_service=lb_service_path(lb_id), l7=run.s.l7)
        for obj in result.objects:
            run.add(obj)
        run.out.problems += result.problems
        run.out.ingress_vip = str(vip)
        for key_, code_ in result.errors.items():
            run.out.ingress_annotations[key_] = {ERROR_ANNOTATION: code_}  # NCP's one LB error key
        run.out.ingresses_served = result.served
    new_pools, holds = sticky.finish()
    run.out.shared.update(new_pools)
    run.out.holds += holds


def _service_snat(run: _Run, objects: ClusterObjects) -> None:
    """Services with their own egress IP (ncp.translate.service_snat)."""
    pools = run.external_pools()
    result = service_snat([s for s in objects.services if s.namespace in run.out.annotations],
                          objects.endpoint_slices, cluster=run.c, pods=run.out.pod_infos,
                          external_pools=pools, gateway=run.snat_gateway(),
                          holds=run.active_holds, now=run.now, delay=run.delay)
    for rule in result.rules:
        run.add(rule)
    run.out.shared.update(result.pools)
    run.out.holds += result.holds
    run.out.problems += result.problems
    for key, code in result.errors.items():
        run.out.service_annotations.setdefault(key, {})[SNAT_ERROR_ANNOTATION] = code


def _firewall(run: _Run, policies: Sequence[K8sObject],
              namespaces: Mapping[str, Mapping[str, str]]) -> None:
    """The cluster's DFW (ncp.translate.firewall)."""
    result = firewall_objects(run.s, run.current, policies, namespaces, run.out.pod_infos)
    for obj in result.objects:
        run.add(obj)
    run.out.problems += result.problems
    run.out.findings = result.findings
    run.out.firewall_reads_pods = result.reads_pods
    run.out.firewall_reads_namespaces = result.reads_namespaces


def _pods(run: _Run, *, name: str, pods: Mapping[str, AdmittedPod], plan: NetworkPlan,
          current_ports: Mapping[str, SegmentPort], node_attachment: Mapping[str, str],
          pool_id: str, vlans: _Vlans) -> None:
    """Ports and pool allocations of one namespace's pods."""
    allocations = []
    for pod_name in plan.unallocated:
        run.problem("NAMESPACE_SUBNETS_EXHAUSTED", f"Pod/{name}/{pod_name}",
                    "no address left in the namespace and no subnet can be carved")
    for pod_name, ip in sorted(plan.addresses.items()):
        pod = pods[pod_name]
        old = current_ports.get(pod_name)
        vlan = None
        same_node = old is not None and old.tag(naming.SCOPE_NODE) == pod.node
        if same_node and old is not None and old.attachment is not None:
            vlan = old.attachment.traffic_tag
        if vlan is None:
            vlan = vlans.allocate(pod.node)
        if vlan is None:
            run.problem("NODE_VLANS_EXHAUSTED", f"Pod/{name}/{pod_name}",
                        f"node {pod.node} has no free VLAN for another pod")
            if old is not None:
                run.hold(ip_pool_path(pool_id), ip)
            continue
        subnet = next(s.cidr for s in plan.subnets if ip in s.cidr)
        made = pod_port(run.c, name, pod, ip=ip, subnet=subnet, vlan=vlan,
                        node_attachment=node_attachment.get(pod.node))
        run.add(made.port)
        allocations.append(made.allocation)
        run.out.realized_pods += 1
        run.out.pod_infos.append(made.info)
        run.out.pod_annotations[(name, pod_name)] = made.annotation
    run.finish_pool(pool_id, allocations)
