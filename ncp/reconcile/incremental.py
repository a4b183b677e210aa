"""Pod changes applied without recomputing the cluster: ``ncp run``'s incremental reconcile.

Why: a full reconcile recomputes every namespace, about 2 s at 10,000 pods, while a pod
that comes, goes or changes touches only its segment port, its namespace pool's
allocation, its annotation and its problems. :class:`PodReconciler` applies exactly that,
in one transaction, when it can show that nothing else depends on the change; otherwise
it declines (:class:`Declined` says why) and the caller runs the full reconcile, which
stays the reference and the only path for every other kind of change.

A batch of changes is applied only when all of these hold (checked before anything is
decided, except the last two, which are found while deciding):

* the reconciler was primed (:meth:`PodReconciler.prime`) from the state a full reconcile
  of this process wrote, and nobody has written the state since (its revision is the one
  the reconciler expects);
* every changed object is a Pod, no kind was relisted, and the cache holds no workload
  controller (manifests can: their expansion depends on the bare pods present);
* the firewall does not read pods (it does only for named ports:
  :class:`~ncp.translate.policyinputs.TrackedPods`);
* no Service of the pod's namespace selects it, by its old or its new labels, and no
  EndpointSlice of the namespace names it (those decide load balancer members and
  per-service SNAT);
* the pod's namespace is not short of addresses (no ``NAMESPACE_SUBNETS_EXHAUSTED``
  problem: a freed address would go to a waiting pod) and no node is short of VLANs;
* a new pod finds a free address in its namespace's subnets (carving another subnet is
  the full reconcile's job) and a free VLAN on its node.

What it decides is what a full reconcile keeps (the property test in
``tests/ncp/reconcile/test_incremental.py`` checks that a full reconcile after any
sequence of incremental ones finds nothing to change): pods that stay keep their address,
and their VLAN while on the same node; a new pod takes the lowest free address of its
namespace's subnets that no hold covers, and the lowest free VLAN of its node; a pod that
goes releases its address under a hold of ``ip_reallocation_time``. The cluster's
fingerprint is cleared by every incremental write, so the next ``ncp sync`` or resync
recomputes in full rather than taking the state as up to date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ncp.cache import ObjectKey, as_k8s_object
from ncp.config import NcpConfig
from ncp.reconcile.sync import resolve_profile
from ncp.sources.manifests import K8sObject
from ncp.translate import naming
from ncp.translate.cluster import AdmittedPod, admit_pod, pod_port
from ncp.translate.settings import ClusterSettings, cluster_settings
from ncp.translate.workloads import CONTROLLER_KINDS, node_names, place_bare_pod
from sdn.errors import Problem
from sdn.ipam import AddressAllocator, Hold, subnet_host_range
from sdn.model import (
    IpAllocation,
    IpPool,
    IpPoolBlockSubnet,
    Segment,
    SegmentPort,
    ip_pool_path,
    segment_path,
)
from sdn.store import ChangeSet, ClusterRecord, Store
from sdn.store.sqlite import to_stored

#: VLAN ids a node can give its pods (as in ``ncp.translate.cluster``).
_VLANS = range(1, 4094)

StatusKey = tuple[str, str]  # (namespace, pod)


@dataclass(frozen=True)
class Declined:
    """The batch needs the full reconcile: ``code`` says why in a word (counted by
    ``ncp_incremental_declined_total``), ``detail`` in a sentence (logged)."""

    code: str
    detail: str


@dataclass
class Applied:
    """What one incremental batch did."""

    revision: int
    #: The pods whose annotation NCP wants changed: the new annotation, or None (remove).
    annotations: dict[StatusKey, dict[str, str] | None] = field(default_factory=dict)
    #: The problems of the changed pods now (the others are unchanged).
    problems: list[Problem] = field(default_factory=list)
    written: bool = False
    pods: int = 0


@dataclass
class _Network:
    """One realized namespace's pod network as stored."""

    pool: IpPool
    ranges: list[tuple[int, int]]
    subnets: list[IPv4Network]
    ports: dict[str, SegmentPort]


def _labels(body: Mapping[str, Any] | None) -> dict[str, str]:
    meta = (body or {}).get("metadata") or {}
    return {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


class PodReconciler:
    """Applies pod changes to the state incrementally (see the module docstring).

    Used by the one reconcile worker only; not thread-safe.
    """

    def __init__(self, store: Store, config: NcpConfig) -> None:
        self.store = store
        self.config = config
        self.cluster = config.cluster
        self.primed = False

    # --- priming ---------------------------------------------------------------------
    def prime(self, objects: Iterable[K8sObject]) -> None:
        """Index the state a full reconcile of ``objects`` has just written (or found up
        to date). Costs one pass over the state; done lazily, before the first batch
        after a full reconcile."""
        objs = list(objects)
        store, c = self.store, self.cluster
        bound, _ = resolve_profile(store, self.config, None)
        self.settings: ClusterSettings = cluster_settings(self.config, bound)
        record = store.cluster(c)
        if record is None:
            raise ValueError(f"cluster {c} has no state yet: prime after a full reconcile")
        self.record: ClusterRecord = record
        self.revision = store.revision
        inv = store.inventory()
        self.holds: dict[str, list[Hold]] = defaultdict(list)
        for h in store.holds():
            self.holds[h.scope].append(h)
        self.nodes = tuple(sorted(set(node_names(objs, self.settings.default_nodes))))
        self.declared = {o.name for o in objs if o.kind == "Namespace"}
        self.controllers = any(o.kind in CONTROLLER_KINDS for o in objs)
        self.selectors: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        self.sliced: dict[str, set[str]] = defaultdict(set)
        self.labels: dict[StatusKey, dict[str, str]] = {}
        for o in objs:
            if o.kind == "Service":
                self.selectors[o.namespace].append((o.body.get("spec") or {}).get("selector")
                                                   or {})
            elif o.kind == "EndpointSlice":
                for ep in o.body.get("endpoints") or []:
                    name = (ep.get("targetRef") or {}).get("name")
                    if name:
                        self.sliced[o.namespace].add(str(name))
            elif o.kind == "Pod":
                self.labels[(o.namespace, o.name)] = _labels(o.body)
        self.networks: dict[str, _Network] = {}
        self.vlans: dict[str, set[int]] = defaultdict(set)
        node_seg = segment_path(naming.cluster_id("seg", c, "nodes"))
        self.attachment: dict[str, str] = {}
        segments: dict[str, str] = {}  # segment path -> namespace
        for seg in inv.of_type(Segment):
            ns = seg.tag(naming.SCOPE_PROJECT)
            if seg.tag(naming.SCOPE_CLUSTER) == c and ns and \
                    seg.id == naming.ns_id("seg", c, ns):
                pool = inv.get(ip_pool_path(naming.ns_id("ipp", c, ns)))
                if isinstance(pool, IpPool):
                    subnets = [s.cidr for s in pool.subnets if isinstance(s, IpPoolBlockSubnet)]
                    ranges = [r for r in map(subnet_host_range, subnets) if r is not None]
                    self.networks[ns] = _Network(pool, ranges, subnets, {})
                    segments[seg.path] = ns
        for port in inv.of_type(SegmentPort):
            if port.parent_path == node_seg and port.attachment is not None:
                self.attachment[port.id] = port.attachment.id
            elif port.parent_path in segments:
                self.networks[segments[port.parent_path]].ports[port.id] = port
                node, att = port.tag(naming.SCOPE_NODE), port.attachment
                if node and att is not None and att.traffic_tag is not None:
                    self.vlans[node].add(att.traffic_tag)
        self.problems: dict[str, list[Problem]] = defaultdict(list)
        for _c, p in store.problems(c):
            self.problems[p.obj].append(p)
        # "Namespace/ns" and "Pod/ns/name" both name their namespace second.
        self.exhausted = {obj.partition("/")[2].partition("/")[0]
                          for obj, ps in self.problems.items()
                          if any(p.code == "NAMESPACE_SUBNETS_EXHAUSTED" for p in ps)}
        # Accepted namespaces have a network, or lack one for want of addresses (their
        # pods are declined above); the others were rejected or do not exist.
        self.accepted = set(self.networks) | self.exhausted
        self.vlans_short = any(p.code == "NODE_VLANS_EXHAUSTED"
                               for ps in self.problems.values() for p in ps)
        self.reads_pods = bool(record.summary.get("firewall_reads_pods", 1))
        self.realized_pods = record.summary.get("pods", 0)
        self.primed = True

    # --- applying --------------------------------------------------------------------
    def apply(self, changes: Mapping[ObjectKey, dict[str, Any] | None], *,
              now: float) -> Applied | Declined:
        """Apply a batch of changed objects (the cache's keys and bodies, None for a
        deleted one) in one transaction, or decline without changing anything."""
        if not self.primed:
            return Declined("NOT_PRIMED", "no full reconcile to start from")
        refused = self._precheck(changes)
        if refused is not None:
            return refused
        if self.store.revision != self.revision:
            self.primed = False
            return Declined("STATE_MOVED", "the state was written by someone else")
        batch = _Batch(self, now)
        for (_kind, ns_key, name), body in sorted(changes.items(),
                                                   key=lambda kv: (kv[0][1], kv[0][2])):
            refused = batch.pod(ns_key or "default", name, body)
            if refused is not None:
                self.primed = False  # partly decided: rebuild from the next full state
                return refused
        return batch.commit()

    def _precheck(self, changes: Mapping[ObjectKey, dict[str, Any] | None]) -> Declined | None:
        if self.controllers:
            return Declined("CONTROLLERS", "workload controllers are present")
        if self.reads_pods:
            return Declined("NAMED_PORTS", "the firewall resolves named ports against pods")
        if self.vlans_short:
            return Declined("VLANS_SHORT", "a node is short of VLANs")
        for (kind, ns_key, name), body in changes.items():
            if kind != "Pod":
                return Declined("OTHER_KIND", f"a {kind} changed")
            ns = ns_key or "default"
            if ns in self.exhausted:
                return Declined("ADDRESSES_SHORT", f"namespace {ns} is short of addresses")
            if name in self.sliced.get(ns, ()):
                return Declined("SERVICE_MEMBER", f"an EndpointSlice names pod {ns}/{name}")
            old, new = self.labels.get((ns, name), {}), _labels(body)
            if any(_selects(sel, old) or _selects(sel, new)
                   for sel in self.selectors.get(ns, ())):
                return Declined("SERVICE_MEMBER", f"a Service selects pod {ns}/{name}")
        return None


class _Batch:
    """One batch's decisions, applied to the reconciler only once written."""

    def __init__(self, r: PodReconciler, now: float) -> None:
        self.r = r
        self.now = now
        self.upserts: dict[str, SegmentPort] = {}
        self.deletes: list[str] = []
        self.pools: dict[str, dict[str, IpAllocation]] = {}
        self.released: dict[str, set[int]] = defaultdict(set)
        self.new_holds: list[Hold] = []
        self.vlans: dict[str, set[int]] = {}
        self.out = Applied(revision=r.revision)
        self.problem_objs: set[str] = set()
        self.new_problems: dict[str, list[Problem]] = {}
        self.labels: dict[StatusKey, dict[str, str]] = {}
        self.ports: dict[StatusKey, SegmentPort | None] = {}
        self.realized = r.realized_pods

    def _node_vlans(self, node: str) -> set[int]:
        if node not in self.vlans:
            self.vlans[node] = set(self.r.vlans.get(node, ()))
        return self.vlans[node]

    def _allocations(self, ns: str) -> dict[str, IpAllocation]:
        if ns not in self.pools:
            self.pools[ns] = {a.id: a for a in self.r.networks[ns].pool.allocations}
        return self.pools[ns]

    def pod(self, ns: str, name: str, body: dict[str, Any] | None) -> Declined | None:
        r = self.r
        key, where = (ns, name), f"Pod/{ns}/{name}"
        net = r.networks.get(ns)
        old = net.ports.get(name) if net is not None else None
        admitted: AdmittedPod | None = None
        problems: list[Problem] = []
        if body is not None:
            obj = place_bare_pod(as_k8s_object("Pod", (ns, name), body), r.nodes)
            admitted, problems, _note = admit_pod(obj, settings=r.settings, declared=r.declared,
                                                  realized=r.accepted, nodes=r.nodes)
            self.labels[key] = _labels(body)
        if admitted is not None and net is None:
            return Declined("NO_NETWORK", f"namespace {ns} has no network")
        if old is not None and (admitted is None or old.tag(naming.SCOPE_NODE) != admitted.node):
            self._free_vlan(old)
        if old is not None and admitted is None:
            self._release(ns, old)
        if admitted is not None and net is not None:
            refused = self._realize(ns, net, admitted, old)
            if refused is not None:
                return refused
        if problems or r.problems.get(where):
            self.problem_objs.add(where)
            self.new_problems[where] = problems
        return None

    def _free_vlan(self, old: SegmentPort) -> None:
        node, att = old.tag(naming.SCOPE_NODE), old.attachment
        if node and att is not None and att.traffic_tag is not None:
            self._node_vlans(node).discard(att.traffic_tag)

    def _release(self, ns: str, old: SegmentPort) -> None:
        """The pod no longer has a port: its address is held back."""
        self.deletes.append(old.path)
        self.ports[(ns, old.id)] = None
        self._allocations(ns).pop(old.id, None)
        pool = ip_pool_path(naming.ns_id("ipp", self.r.cluster, ns))
        for b in old.address_bindings:
            self.released[ns].add(int(b.ip_address))
            self.new_holds.append(Hold(pool, IPv4Network(b.ip_address),
                                       self.now + self.r.settings.ip_reallocation_time))
        self.out.annotations[(ns, old.id)] = None
        self.realized -= 1

    def _realize(self, ns: str, net: _Network, pod: AdmittedPod,
                 old: SegmentPort | None) -> Declined | None:
        ip = old.address_bindings[0].ip_address if old is not None and old.address_bindings \
            else None
        if ip is None:
            ip = self._address(ns, net)
            if ip is None:
                return Declined("SUBNET_FULL", f"namespace {ns} has no free address "
                                "(a subnet must be carved)")
        vlan = None
        if old is not None and old.tag(naming.SCOPE_NODE) == pod.node \
                and old.attachment is not None:
            vlan = old.attachment.traffic_tag
        if vlan is None:
            used = self._node_vlans(pod.node)
            vlan = next((v for v in _VLANS if v not in used), None)
            if vlan is None:
                return Declined("VLANS_SHORT", f"node {pod.node} has no free VLAN")
            used.add(vlan)
        subnet = next(s for s in net.subnets if ip in s)
        made = pod_port(self.r.cluster, ns, pod, ip=ip, subnet=subnet, vlan=vlan,
                        node_attachment=self.r.attachment.get(pod.node))
        allocations = self._allocations(ns)
        if allocations.get(pod.name) != made.allocation:
            allocations[pod.name] = made.allocation
        if old is None or old != made.port:
            self.upserts[made.port.path] = made.port
            self.ports[(ns, pod.name)] = made.port
        if old is None:
            self.realized += 1
            self.out.annotations[(ns, pod.name)] = made.annotation
        elif old.address_bindings != made.port.address_bindings or \
                old.attachment != made.port.attachment:
            self.out.annotations[(ns, pod.name)] = made.annotation
        return None

    def _address(self, ns: str, net: _Network) -> IPv4Address | None:
        pool = ip_pool_path(naming.ns_id("ipp", self.r.cluster, ns))
        used = [int(a.allocation_ip) for a in self._allocations(ns).values()]
        allocator = AddressAllocator(net.ranges, used=[*used, *self.released[ns]],
                                     holds=[*self.r.holds.get(pool, ()),
                                            *(h for h in self.new_holds if h.scope == pool)],
                                     now=self.now)
        return allocator.allocate()

    def commit(self) -> Applied:
        r = self.r
        pools: dict[str, IpPool] = {}
        for ns, allocations in self.pools.items():
            pool = r.networks[ns].pool
            new = tuple(sorted(allocations.values(), key=lambda a: a.id))
            if new != pool.allocations:
                pools[ns] = pool.model_copy(update={"allocations": new})
        problem_updates = [p for ps in self.new_problems.values() for p in ps]
        changed_problems = any(sorted(r.problems.get(o, [])) != sorted(ps)
                               for o, ps in self.new_problems.items())
        status: dict[tuple[str, str, str], dict[str, str] | None] = {
            ("Pod", ns, name): ann for (ns, name), ann in self.out.annotations.items()}
        self.out.problems = sorted(problem_updates)
        self.out.pods = self.realized
        if not (self.upserts or self.deletes or pools or status or changed_problems):
            self._remember({})
            return self.out
        summary = {**r.record.summary, "pods": self.realized}
        record = replace(r.record, synced_at=self.now, fingerprint="", summary=summary)
        changes = ChangeSet(
            upserts=[to_stored(o) for o in [*self.upserts.values(), *pools.values()]],
            deletes=sorted(self.deletes), cluster=record, new_holds=self.new_holds,
            status_updates=status, problems_of=self.problem_objs,
            problem_updates=problem_updates)
        r.revision = self.out.revision = r.store.apply(changes)
        r.record = replace(record, revision=r.revision)
        self.out.written = True
        self._remember(pools)
        return self.out

    def _remember(self, pools: Mapping[str, IpPool]) -> None:
        """Make the reconciler's indexes what was written."""
        r = self.r
        r.labels.update(self.labels)
        for ns, pool in pools.items():
            r.networks[ns].pool = pool
        for (ns, name), port in self.ports.items():
            ports = r.networks[ns].ports
            if port is None:
                ports.pop(name, None)
            else:
                ports[name] = port
        for node, used in self.vlans.items():
            r.vlans[node] = used
        for h in self.new_holds:
            r.holds[h.scope].append(h)
        for obj, ps in self.new_problems.items():
            if ps:
                r.problems[obj] = list(ps)
            else:
                r.problems.pop(obj, None)
        r.realized_pods = self.realized

