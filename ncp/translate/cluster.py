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

:func:`provision` is that order as a sequence of stages, each a function of the run
(:class:`~ncp.translate.provisioning.ProvisioningRun`) and what the earlier stages
decided. What a namespace or a pod gets is decided by the functions of
:mod:`ncp.translate.namespaces`, :mod:`~ncp.translate.pods`, :mod:`~ncp.translate.vlans`
and :mod:`~ncp.translate.snat`, which ``ncp run``'s incremental reconcile calls too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.namespaces import (
    SUBNETS_EXHAUSTED,
    namespace_labels,
    namespace_network,
    namespace_tags,
    static_snat_ip,
    subnet_blocks,
    wants_snat,
)
from ncp.translate.networks import NetworkPlan, plan_network
from ncp.translate.pods import AdmittedPod, admit_pod, pod_port
from ncp.translate.provisioning import (
    ClusterObjects,
    Provisioned,
    ProvisioningRun,
    port_addresses,
)
from ncp.translate.service_stages import (
    provision_cluster_ips,
    provision_firewall,
    provision_load_balancers,
    provision_service_snat,
)
from ncp.translate.settings import ClusterSettings
from ncp.translate.snat import SnatPlanner, SnatRequest, SnatResult
from ncp.translate.tags import label_tags
from ncp.translate.topology import gateway_tier1, snat_rules
from ncp.translate.vlans import VLANS_EXHAUSTED, NodeVlans, kept_vlan, pod_vlan
from sdn.ipam import Hold, SubnetAllocator
from sdn.model import (
    AddressBinding,
    Inventory,
    IpAllocation,
    PolicyResource,
    PortAttachment,
    SegmentPort,
    Tag,
    ip_pool_path,
    port_path,
    segment_path,
    tier1_path,
)

__all__ = ["ClusterObjects", "Provisioned", "provision"]


@dataclass(frozen=True)
class AcceptedNamespace:
    """A namespace the run realizes: its object (None for an implicit one), its segment's
    tags and its labels (what policies select it by)."""

    obj: K8sObject | None
    tags: tuple[Tag, ...]
    labels: dict[str, str]

    @property
    def annotations(self) -> Mapping[str, str]:
        """Its annotations (none for an implicit namespace)."""
        return self.obj.annotations if self.obj else {}


@dataclass(frozen=True)
class NodeNetwork:
    """The cluster's node network as the run made it: its plan (no subnet: not made) and
    each node's PARENT attachment, which its pods' ports hang from."""

    plan: NetworkPlan
    attachments: dict[str, str]


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
    run = ProvisioningRun(settings, current, shared, holds, now)
    nodes = _node_names(objects.nodes)
    namespaces = _accept_namespaces(run, objects.namespaces)
    pods = _admit_pods(run, objects.pods, objects.namespaces, namespaces, nodes)
    carver = run.carver(_staying_pools(settings, namespaces))
    snat = SnatPlanner(settings=settings, current=current, shared=run.out.shared,
                       holds=run.active_holds, now=now)
    node_network = _node_network(run, nodes, carver, snat)
    nat = _request_namespace_snat(snat, settings, namespaces)
    snat_results = snat.allocate()
    _node_snat_rules(run, node_network, snat_results.get(naming.NODE_SNAT_KEY))
    vlans = _kept_vlans(run, pods)
    for name, namespace in namespaces.items():
        _namespace_network(run, name, namespace, pods.get(name, []), nat=name in nat,
                           carver=carver, snat=snat_results.get(name),
                           node_attachments=node_network.attachments, vlans=vlans)
    provision_firewall(run, objects.policies, {n: ns.labels for n, ns in namespaces.items()})
    provision_cluster_ips(run, objects)
    _record_snat_allocations(run, snat)
    provision_load_balancers(run, objects)
    provision_service_snat(run, objects)
    run.release_removed()
    run.out.problems.sort()
    return run.out


def _node_names(nodes: Sequence[K8sObject | str]) -> dict[str, K8sObject | None]:
    """The cluster's nodes by name, in name order (None: a node known by name only)."""
    out: dict[str, K8sObject | None] = {}
    for node in nodes:
        if isinstance(node, str):
            out[node] = None
        else:
            out[node.name] = node
    return dict(sorted(out.items()))


def _accept_namespaces(run: ProvisioningRun, declared: Sequence[K8sObject],
                       ) -> dict[str, AcceptedNamespace]:
    """The namespaces the run realizes, in name order: the declared ones and the implicit
    ones every cluster has, except those whose labels NSX cannot carry (each rejected
    with its problems; its pods are then rejected too)."""
    by_name = {n.name: n for n in declared}
    accepted: dict[str, AcceptedNamespace] = {}
    for name in sorted(set(by_name) | set(run.settings.implicit_namespaces)):
        obj = by_name.get(name)
        tags, problems = namespace_tags(run.settings, name, obj)
        if problems:
            run.out.problems += problems
            continue
        accepted[name] = AcceptedNamespace(obj, tags, namespace_labels(obj, name))
    return accepted


def _admit_pods(run: ProvisioningRun, pods: Iterable[K8sObject], declared: Sequence[K8sObject],
                namespaces: Mapping[str, AcceptedNamespace],
                nodes: Mapping[str, K8sObject | None]) -> dict[str, list[AdmittedPod]]:
    """The pods that get a port, by namespace (see :func:`~ncp.translate.pods.admit_pod`);
    the others are problems or notes."""
    admitted_by_ns: dict[str, list[AdmittedPod]] = defaultdict(list)
    declared_names = {n.name for n in declared}
    for pod in pods:
        admitted, problems, note = admit_pod(pod, settings=run.settings,
                                             declared=declared_names, realized=namespaces,
                                             nodes=nodes)
        run.out.problems += problems
        if note:
            run.out.notes.append(note)
        if admitted is not None:
            admitted_by_ns[pod.namespace].append(admitted)
    return admitted_by_ns


def _staying_pools(settings: ClusterSettings, namespaces: Iterable[str]) -> set[str]:
    """The paths of the cluster's pools that stay (the accepted namespaces' and the node
    network's): their subnets are not carved again; those of the others are held back."""
    cluster = settings.cluster
    keep = {ip_pool_path(naming.ns_id("ipp", cluster, n)) for n in namespaces}
    keep.add(ip_pool_path(naming.cluster_id("ipp", cluster, naming.NODES)))
    return keep


def _cluster_gateway(run: ProvisioningRun, tags: tuple[Tag, ...]) -> str:
    """The cluster's own Tier-1, which the node segment attaches to: the shared Tier-1,
    or in the two-tier topology one for the nodes."""
    cluster = run.cluster
    if run.settings.single_tier:
        t1_id, display = naming.cluster_id("t1", cluster), cluster
    else:
        t1_id = naming.cluster_id("t1", cluster, naming.NODES)
        display = f"{cluster}-{naming.NODES}"
    run.add(gateway_tier1(run.settings, t1_id, tags, display))
    return tier1_path(t1_id)


def _node_network(run: ProvisioningRun, nodes: Mapping[str, K8sObject | None],
                  carver: SubnetAllocator, snat: SnatPlanner) -> NodeNetwork:
    """The node network: the cluster's Tier-1, a segment with a PARENT port per node, and
    (under NAT, unless nodes are routable) a SNAT request for the nodes. It is carved
    before any namespace, so the node subnet does not depend on the namespaces."""
    settings, cluster = run.settings, run.cluster
    cluster_tags = tuple(naming.base_tags(cluster))
    gateway = _cluster_gateway(run, cluster_tags)
    pool_id = naming.cluster_id("ipp", cluster, naming.NODES)
    seg_id = naming.cluster_id("seg", cluster, naming.NODES)
    plan = plan_network(
        members=list(nodes), existing_subnets=run.view.subnets(pool_id),
        existing_addresses=port_addresses(run.view.ports(seg_id)),
        block_ids=settings.node_block_ids, prefix=settings.node_subnet_prefix, carver=carver,
        holds=run.holds_by_scope.get(ip_pool_path(pool_id), []), now=run.now)
    if not plan.realized:
        run.problem("NODE_SUBNETS_EXHAUSTED", f"Cluster/{cluster}",
                    "no node subnet can be carved from " + ", ".join(settings.node_block_ids))
        return NodeNetwork(plan, {})
    run.network_objects(pool_id=pool_id, segment_id=seg_id, gateway=gateway, plan=plan,
                        tags=cluster_tags, display=f"{cluster}-{naming.NODES}")
    attachments = _node_ports(run, plan, nodes, pool_id, seg_id)
    if settings.enable_snat and not settings.node_routable:
        snat.request(SnatRequest(key=naming.NODE_SNAT_KEY, project=None, static=None))
    return NodeNetwork(plan, attachments)


def _node_ports(run: ProvisioningRun, plan: NetworkPlan, nodes: Mapping[str, K8sObject | None],
                pool_id: str, seg_id: str) -> dict[str, str]:
    """Each node's PARENT port and pool allocation; returns the nodes' attachment ids.
    Node labels are informative only: labels NSX cannot carry are dropped, the node kept."""
    cluster, allocations, attachments = run.cluster, [], {}
    for name in plan.unallocated:
        run.problem("NODE_SUBNETS_EXHAUSTED", f"Node/{name}", "no address left for the node")
    for name, ip in sorted(plan.addresses.items()):
        node = nodes[name]
        reserved = [*naming.base_tags(cluster), Tag(scope=naming.SCOPE_NODE, tag=name)]
        tags, problems = label_tags(node.labels if node else None, reserved=reserved,
                                    filters=run.settings.label_filters, obj=f"Node/{name}")
        attachments[name] = naming.attachment_id(cluster, "", name)
        run.add(SegmentPort(
            id=name, display_name=name, path=port_path(seg_id, name),
            parent_path=segment_path(seg_id), tags=tuple(reserved) if problems else tags,
            attachment=PortAttachment(type="PARENT", id=attachments[name]),
            address_bindings=(AddressBinding(ip_address=ip,
                                             mac_address=naming.mac_for(int(ip))),),
        ))
        allocations.append(IpAllocation(id=name, allocation_ip=ip, tags=tuple(reserved)))
    run.finish_pool(pool_id, allocations)
    return attachments


def _request_namespace_snat(snat: SnatPlanner, settings: ClusterSettings,
                            namespaces: Mapping[str, AcceptedNamespace]) -> set[str]:
    """Ask for a SNAT IP for every namespace that wants one (static or dynamic: the
    planner serves static requests first); returns those NAT namespaces."""
    nat = set()
    for name, namespace in namespaces.items():
        if wants_snat(settings, namespace.annotations):
            nat.add(name)
            snat.request(SnatRequest(key=name, project=name,
                                     static=static_snat_ip(namespace.annotations)))
    return nat


def _node_snat_rules(run: ProvisioningRun, node_network: NodeNetwork,
                     result: SnatResult | None) -> None:
    """The node network's SNAT rules, when it asked for a SNAT IP (or the problem of not
    getting one)."""
    if not node_network.plan.realized or result is None:
        return
    cluster = run.cluster
    if result.address is None:
        run.problem(result.status, f"Cluster/{cluster}", result.message)
        return
    for rule in snat_rules(run.settings,
                           rule_id=naming.cluster_id("snat", cluster, naming.NODES),
                           display=f"{cluster}-{naming.NODES}", plan=node_network.plan,
                           address=result.address, tags=naming.base_tags(cluster)):
        run.add(rule)


def _record_snat_allocations(run: ProvisioningRun, snat: SnatPlanner) -> None:
    """The floating pools with the cluster's SNAT allocations (and the released ones held
    back), into the run's shared objects: the load balancers and per-service SNAT that
    follow take their IPs from the same pools, so they must see these as taken."""
    run.out.shared.update(snat.updated_pools())
    run.out.holds += snat.released_holds()


def _kept_vlans(run: ProvisioningRun, pods: Mapping[str, Sequence[AdmittedPod]]) -> NodeVlans:
    """The VLANs of pods that stay on their node, reserved across every namespace before
    any pod is given a new one (a new pod never takes a kept VLAN)."""
    vlans = NodeVlans()
    for name, pods_here in pods.items():
        ports_now = run.view.ports(naming.ns_id("seg", run.cluster, name))
        for staying in pods_here:
            vlan = kept_vlan(ports_now.get(staying.name), staying.node)
            if vlan:
                vlans.reserve(staying.node, vlan)
    return vlans


def _namespace_network(run: ProvisioningRun, name: str, namespace: AcceptedNamespace,
                       pods: Sequence[AdmittedPod], *, nat: bool, carver: SubnetAllocator,
                       snat: SnatResult | None, node_attachments: Mapping[str, str],
                       vlans: NodeVlans) -> None:
    """One namespace's network (see :func:`~ncp.translate.namespaces.namespace_network`),
    its annotations, and its pods' ports. A namespace no subnet can be carved for is not
    realized, and neither are its pods."""
    settings, cluster = run.settings, run.cluster
    blocks = subnet_blocks(settings, nat=nat)
    pool_id = naming.ns_id("ipp", cluster, name)
    ports_now = run.view.ports(naming.ns_id("seg", cluster, name))
    by_name = {p.name: p for p in pods}
    plan = plan_network(
        members=list(by_name), existing_subnets=run.view.subnets(pool_id),
        existing_addresses=port_addresses(ports_now), block_ids=blocks,
        prefix=settings.pod_subnet_prefix, carver=carver,
        holds=run.holds_by_scope.get(ip_pool_path(pool_id), []), now=run.now)
    annotations: dict[str, str] = {}
    run.out.annotations[name] = annotations
    if not plan.realized:
        annotations[naming.ERROR_ANNOTATION] = SUBNETS_EXHAUSTED
        run.problem(SUBNETS_EXHAUSTED, f"Namespace/{name}",
                    "no subnet can be carved from " + ", ".join(blocks))
        for pod_name in sorted(by_name):
            run.problem(SUBNETS_EXHAUSTED, f"Pod/{name}/{pod_name}", "its namespace has no subnet")
        return
    run.out.realized_namespaces += 1
    made, made_annotations, made_problems = namespace_network(settings, name, namespace.tags,
                                                              plan, snat)
    for obj in made:
        run.add(obj)
    annotations.update(made_annotations)
    run.out.problems += made_problems
    for released in plan.released:
        run.hold(ip_pool_path(pool_id), released)
    if plan.exhausted:
        annotations[naming.ERROR_ANNOTATION] = SUBNETS_EXHAUSTED
        run.problem(SUBNETS_EXHAUSTED, f"Namespace/{name}",
                    f"{len(plan.unallocated)} pod(s) got no address: the blocks "
                    + ", ".join(blocks) + " are full")
    _pod_ports(run, name, by_name, plan, ports_now, node_attachments, pool_id, vlans)


def _pod_ports(run: ProvisioningRun, namespace: str, pods: Mapping[str, AdmittedPod],
               plan: NetworkPlan, ports_now: Mapping[str, SegmentPort],
               node_attachments: Mapping[str, str], pool_id: str, vlans: NodeVlans) -> None:
    """Ports and pool allocations of one namespace's pods, in name order. A pod whose node
    has no VLAN left gets no port (and a pod that had one, its address held back)."""
    allocations = []
    for pod_name in plan.unallocated:
        run.problem(SUBNETS_EXHAUSTED, f"Pod/{namespace}/{pod_name}",
                    "no address left in the namespace and no subnet can be carved")
    for pod_name, ip in sorted(plan.addresses.items()):
        pod = pods[pod_name]
        old = ports_now.get(pod_name)
        vlan = pod_vlan(old, pod.node, vlans)
        if vlan is None:
            run.problem(VLANS_EXHAUSTED, f"Pod/{namespace}/{pod_name}",
                        f"node {pod.node} has no free VLAN for another pod")
            if old is not None:
                run.hold(ip_pool_path(pool_id), ip)
            continue
        subnet = next(sub.cidr for sub in plan.subnets if ip in sub.cidr)
        made = pod_port(run.cluster, namespace, pod, ip=ip, subnet=subnet, vlan=vlan,
                        node_attachment=node_attachments.get(pod.node))
        run.add(made.port)
        allocations.append(made.allocation)
        run.out.realized_pods += 1
        run.out.pod_infos.append(made.info)
        run.out.pod_annotations[(namespace, pod_name)] = made.annotation
    run.finish_pool(pool_id, allocations)
