"""Changes applied without recomputing the cluster: ``ncp run``'s incremental reconcile.

Why: a full reconcile recomputes every namespace, about 3 s at 10,000 pods, while most
changes of a running cluster touch very little: a pod that comes, goes or changes touches
its segment port, its namespace pool's allocation, its annotation and its problems; a new
namespace adds its Tier-1, segment, pool, subnet, SNAT IP and SNAT rules; NCP's own
write-back (annotations, status) and node heartbeats change nothing NCP reads.
:class:`IncrementalReconciler` applies exactly that, in one transaction, when it can show
that nothing else depends on the change; otherwise it declines (:class:`Declined` says
why) and the caller runs the full reconcile, which stays the reference and the only path
for every other change.

A batch of changes is applied only when all of these hold (checked before anything is
decided, except the last one, found while deciding):

* the reconciler was primed (:meth:`IncrementalReconciler.prime`) from the state a full
  reconcile of this process wrote, and nobody has written the state since;
* every changed object is a Pod, an EndpointSlice, a new Namespace, or an object whose
  meaningful content (:func:`ncp.reconcile.sync.meaningful`) is unchanged; no kind was
  relisted; the cache holds no workload controller (manifests can: their expansion
  depends on the bare pods);
* for a pod: the firewall does not read pods (it does only for named ports:
  :class:`~ncp.translate.policyinputs.Tracked`); every Service of its namespace that
  selects it, by its old or its new labels, is a plain cluster IP (no load balancer VIP,
  no SNAT IP of its own, no Ingress in the namespace, no problem), and so is every
  Service whose EndpointSlices name it: those services' pools and virtual servers are
  then recomputed from the namespace's pods and slices; its namespace is not short of
  addresses (a freed address would go to a waiting pod) and no node is short of VLANs;
* for an EndpointSlice: its Service (before and after) is such a plain cluster IP;
* for a new namespace: the firewall does not depend on the list of namespaces (a
  per-namespace baseline, the namespace-count lint), nothing else of it exists yet
  (pods, services, ...), and it does not ask for a static SNAT IP;
* a new pod finds a free address in its namespace's subnets, or in one more carved from
  its blocks (the namespace's segment, pool, ``ncp/subnet-N`` and SNAT rules then follow),
  and a free VLAN on its node; a new namespace finds a subnet and, under NAT, a SNAT IP.

What it decides is what a full reconcile keeps (the property test in
``tests/ncp/reconcile/test_incremental.py`` checks that a full reconcile after any
sequence of incremental ones finds nothing to change): pods that stay keep their address,
and their VLAN while on the same node; a new pod takes the lowest free address of its
namespace's subnets that no hold covers, and the lowest free VLAN of its node; a pod that
goes releases its address under a hold of ``ip_reallocation_time``; a new namespace gets
the lowest free subnet of its blocks and the lowest free IP of the first floating pool
with room, as a full reconcile gives them to the last namespace it provisions. The
cluster's fingerprint is cleared by every incremental write, so the next ``ncp sync`` or
resync recomputes in full rather than taking the state as up to date.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ncp.config import NcpConfig
from ncp.objects import (
    CLUSTER_SCOPED_KINDS,
    K8sObject,
    ObjectKey,
    annotations_of,
    as_k8s_object,
    labels_of,
    mapping_at,
    metadata_of,
)
from ncp.reconcile.pooltext import PoolText
from ncp.reconcile.sync import meaningful, resolve_profile
from ncp.translate import naming
from ncp.translate.namespaces import namespace_labels, namespace_network
from ncp.translate.namespaces import subnet_blocks as _subnet_blocks
from ncp.translate.pods import AdmittedPod, admit_pod, container_ports, pod_port
from ncp.translate.vlans import VLAN_IDS


def routed_blocks(s, routed):  # type: ignore[no-untyped-def]
    return _subnet_blocks(s, nat=not routed)
from ncp.translate.networks import CarvedSubnet, NetworkPlan
from ncp.translate.policyinputs import PodInfo
from ncp.translate.service_snat import ANNOTATION as SERVICE_SNAT_ANNOTATION
from ncp.translate.services import existing_cluster_ips, translate_services
from ncp.translate.settings import ClusterSettings, cluster_settings
from ncp.translate.snat import OK as SNAT_OK
from ncp.translate.snat import SnatResult
from ncp.translate.tags import label_tags
from ncp.translate.workloads import CONTROLLER_KINDS, node_names, place_bare_pod
from sdn.errors import Problem
from sdn.ipam import (
    Hold,
    SubnetAllocator,
    first_free,
    pool_address_ranges,
    subnet_host_range,
)
from sdn.model import (
    Inventory,
    IpAllocation,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    LBService,
    PolicyResource,
    Segment,
    SegmentPort,
    ip_pool_path,
    segment_path,
)
from sdn.store import Store
from sdn.store.codec import ChangeSet, ClusterRecord, pool_parts, to_stored

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
    #: The new namespaces' annotations.
    namespace_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The problems of the objects in ``covered`` now (every other object's are as they
    #: were): the changed objects that have or had a problem.
    problems: list[Problem] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    written: bool = False
    pods: int = 0
    namespaces: int = 0


@dataclass
class _Network:
    """One realized namespace's pod network as stored."""

    pool: PoolText
    ranges: list[tuple[int, int]]
    subnets: list[IPv4Network]
    ports: dict[str, SegmentPort]
    blocks: list[str]  # the block each subnet was carved from


def _labels(body: Mapping[str, Any] | None) -> dict[str, str]:
    meta = metadata_of(body)
    return {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}


#: Namespaced kinds that make a namespace more than a network: a new namespace that
#: already has any of them is left to the full reconcile.
_NAMESPACED_INPUTS = frozenset({"Pod", "Service", "EndpointSlice", "Endpoints", "Ingress",
                                *CONTROLLER_KINDS})


def _key_of(o: K8sObject) -> ObjectKey:
    return o.kind, o.namespace, o.name


def normal_key(key: ObjectKey) -> ObjectKey:
    """A cache key as :func:`_key_of` spells it (the default namespace filled in)."""
    kind, ns, name = key
    return kind, "" if kind in CLUSTER_SCOPED_KINDS else (ns or "default"), name


def _digest(body: Mapping[str, Any]) -> str:
    return json.dumps(meaningful(body), sort_keys=True, default=str)


def _slice_service(body: Mapping[str, Any] | None) -> str | None:
    """The Service an EndpointSlice belongs to."""
    labels = labels_of(body)
    name = labels.get("kubernetes.io/service-name")
    return str(name) if name else None


def _slice_pods(body: Mapping[str, Any]) -> set[str]:
    """The pods an EndpointSlice names."""
    return {str(ref["name"]) for ep in body.get("endpoints") or []
            if (ref := ep.get("targetRef") or {}).get("name")}


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


class IncrementalReconciler:
    """Applies changes to the state incrementally (see the module docstring).

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
        to date). Costs one pass over the state (0.4 to 0.6 s at 10,000 pods once the
        store has parsed it, about 3 s when it must parse the rows a full pass wrote): the
        worker does it in a quiet time after a full pass, or before the next batch."""
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
        self._index_objects(objs)
        split = store.split_pools()
        self._index_networks(inv, split)
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
        self.reads_namespaces = bool(record.summary.get("firewall_reads_namespaces", 1))
        self.realized_pods = record.summary.get("pods", 0)
        self.cluster_ips = existing_cluster_ips(inv, c)
        self.affected: set[tuple[str, str]] = set()  # services a batch's pods change
        self.realized_namespaces = record.summary.get("namespaces", 0)
        self._inventory = inv  # for the carver, built at the first new namespace
        self._carver: SubnetAllocator | None = None
        self.primed = True

    def _index_objects(self, objs: list[K8sObject]) -> None:
        """What the prechecks read of the Kubernetes objects."""
        self.declared = {o.name for o in objs if o.kind == "Namespace"}
        self.ns_bodies = {o.name: o.body for o in objs if o.kind == "Namespace"}
        self.controllers = any(o.kind in CONTROLLER_KINDS for o in objs)
        self.services: dict[str, list[K8sObject]] = defaultdict(list)
        self.slices: dict[str, dict[str, K8sObject]] = defaultdict(dict)
        self.labels: dict[StatusKey, dict[str, str]] = {}
        self.ports_of: dict[StatusKey, tuple[tuple[str, str, int], ...]] = {}
        self.with_ingress = {o.namespace for o in objs if o.kind == "Ingress"}
        for o in objs:
            if o.kind == "Service":
                self.services[o.namespace].append(o)
            elif o.kind == "EndpointSlice":
                self.slices[o.namespace][o.name] = o
            elif o.kind == "Pod":
                self.labels[(o.namespace, o.name)] = _labels(o.body)
                self.ports_of[(o.namespace, o.name)] = container_ports(
                    o.spec)
        # What a later event must differ in to matter (NCP's own write-back does not).
        self.digests = {_key_of(o): _digest(o.body) for o in objs if o.kind != "Pod"}
        self.busy = {o.namespace for o in objs if o.kind in _NAMESPACED_INPUTS}

    def _index_networks(self, inv: Inventory, split: set[str]) -> None:
        """The cluster's namespace networks, node attachments and VLANs in use."""
        c = self.cluster
        self.networks: dict[str, _Network] = {}
        self.vlans: dict[str, set[int]] = defaultdict(set)
        self.attachment: dict[str, str] = {}
        segments: dict[str, str] = {}  # segment path -> namespace
        for seg in inv.of_type(Segment):
            ns = seg.tag(naming.SCOPE_PROJECT)
            if seg.tag(naming.SCOPE_CLUSTER) == c and ns and \
                    seg.id == naming.ns_id("seg", c, ns):
                pool = inv.get(ip_pool_path(naming.ns_id("ipp", c, ns)))
                if isinstance(pool, IpPool) and pool_parts(pool) is not None:
                    carved = [s for s in pool.subnets if isinstance(s, IpPoolBlockSubnet)]
                    subnets = [s.cidr for s in carved]
                    ranges = [r for r in map(subnet_host_range, subnets) if r is not None]
                    self.networks[ns] = _Network(
                        PoolText(pool, split=pool.path in split), ranges, subnets, {},
                        [s.ip_block_path.rsplit("/", 1)[1] for s in carved])
                    segments[seg.path] = ns
        node_seg = segment_path(naming.cluster_id("seg", c, "nodes"))
        for port in inv.of_type(SegmentPort):
            if port.parent_path == node_seg and port.attachment is not None:
                self.attachment[port.id] = port.attachment.id
            elif port.parent_path in segments:
                self.networks[segments[port.parent_path]].ports[port.id] = port
                node, att = port.tag(naming.SCOPE_NODE), port.attachment
                if node and att is not None and att.traffic_tag is not None:
                    self.vlans[node].add(att.traffic_tag)
        self.external = {p.id: (PoolText(p, split=p.path in split), pool_address_ranges(p))
                         for p in inv.of_type(IpPool)
                         if p.tag(naming.SCOPE_EXTERNAL) == "true" and pool_parts(p) is not None}

    def carver(self, now: float) -> SubnetAllocator:
        """The subnet carver of a full reconcile (every block; taken: every pool's
        subnets and the blocks' holds), kept and updated as namespaces are added."""
        if self._carver is None:
            inv = self._inventory
            taken = [s.cidr for pool in inv.of_type(IpPool) for s in pool.subnets
                     if isinstance(s, IpPoolBlockSubnet)]
            holds = [h for hs in self.holds.values() for h in hs
                     if h.scope.startswith("/infra/ip-blocks/")]
            self._carver = SubnetAllocator([(b.id, b.cidr) for b in inv.of_type(IpBlock)],
                                           taken=taken, holds=holds, now=now)
        return self._carver

    # --- applying --------------------------------------------------------------------
    def apply(self, changes: Mapping[ObjectKey, dict[str, Any] | None], *,
              now: float) -> Applied | Declined:
        """Apply a batch of changed objects (the cache's keys and bodies, None for a
        deleted one) in one transaction, or decline without changing anything."""
        if not self.primed:
            return Declined("NOT_PRIMED", "no full reconcile to start from")
        self.affected = set()
        refused = self._precheck(changes)
        if refused is not None:
            return refused
        if self.store.revision != self.revision:
            self.primed = False
            return Declined("STATE_MOVED", "the state was written by someone else")
        # The batch changes the indexes as it decides: if it declines half-way or the
        # write fails, they are dropped and rebuilt from the next full state.
        self.primed = False
        batch = _Batch(self, now)
        keyed = sorted(((normal_key(k), b) for k, b in changes.items()), key=lambda kb: kb[0])
        for (kind, ns, name), body in sorted(keyed, key=lambda kb: kb[0][0] != "Namespace"):
            if kind == "Pod":
                refused = batch.pod(ns, name, body)
            elif kind == "Namespace" and name not in self.declared and body is not None:
                refused = batch.namespace(name, body)
            elif kind == "EndpointSlice":
                self._slice(ns, name, body)
                continue
            else:
                continue  # unchanged for NCP (the precheck let nothing else through)
            if refused is not None:
                return refused
        applied = batch.commit()
        self.primed = True
        return applied

    def _precheck(self, changes: Mapping[ObjectKey, dict[str, Any] | None]) -> Declined | None:
        if self.controllers:
            return Declined("CONTROLLERS", "workload controllers are present")
        if self.vlans_short:
            return Declined("VLANS_SHORT", "a node is short of VLANs")
        for key, body in changes.items():
            kind, ns, name = normal_key(key)
            if kind == "Pod":
                refused = self._pod_precheck(ns, name, body)
            elif body is not None and self.digests.get((kind, ns, name)) == _digest(body):
                continue  # nothing NCP reads changed (its own write-back, a heartbeat)
            elif kind == "Namespace" and body is not None and name not in self.declared:
                refused = self._namespace_precheck(name, body)
            elif kind == "EndpointSlice":
                old = self.slices.get(ns, {}).get(name)
                refused = self._take_along(ns, {_slice_service(b) for b in (
                    old.body if old is not None else None, body)}, f"EndpointSlice {name}")
            else:
                refused = Declined("OTHER_KIND", f"a {kind} changed")
            if refused is not None:
                return refused
        return None

    def _pod_precheck(self, ns: str, name: str, body: dict[str, Any] | None) -> Declined | None:
        if self.reads_pods:
            return Declined("NAMED_PORTS", "the firewall resolves named ports against pods")
        if ns in self.exhausted:
            return Declined("ADDRESSES_SHORT", f"namespace {ns} is short of addresses")
        old, new = self.labels.get((ns, name), {}), _labels(body)
        selecting: set[str | None] = {
            svc.name for svc in self.services.get(ns, ())
            if _selects(svc.spec.get("selector") or {}, old)
            or _selects(svc.spec.get("selector") or {}, new)}
        selecting |= {_slice_service(sl.body) for sl in self.slices.get(ns, {}).values()
                      if name in _slice_pods(sl.body)}
        return self._take_along(ns, selecting, f"pod {ns}/{name}")

    def _take_along(self, ns: str, services: set[str | None], what: str) -> Declined | None:
        """The services (by name) whose members a change alters: recomputed with the
        batch when each is a plain cluster IP, else the batch is declined."""
        for svc in self.services.get(ns, ()):
            if svc.name not in services:
                continue
            if not self._recomputable(svc):
                return Declined("SERVICE_MEMBER", f"Service {ns}/{svc.name} has more than a "
                                f"cluster IP and {what} changes its members")
            self.affected.add((ns, svc.name))
        return None

    def _slice(self, ns: str, name: str, body: dict[str, Any] | None) -> None:
        """Keep an EndpointSlice as it is now (its services are recomputed)."""
        key = ("EndpointSlice", ns, name)
        if body is None:
            self.slices[ns].pop(name, None)
            self.digests.pop(key, None)
        else:
            self.slices[ns][name] = as_k8s_object("EndpointSlice", (ns, name), body)
            self.digests[key] = _digest(body)

    def _recomputable(self, svc: K8sObject) -> bool:
        """Whether a service's objects can be recomputed alone when its members change:
        a plain cluster IP it has already (no load balancer VIP, no SNAT IP of its own,
        no Ingress in its namespace, no problem)."""
        spec = svc.spec
        annotations = svc.annotations
        return (spec.get("type") in (None, "ClusterIP", "NodePort")
                and SERVICE_SNAT_ANNOTATION not in annotations
                and svc.namespace not in self.with_ingress
                and f"{svc.namespace}/{svc.name}" in self.cluster_ips
                and not self.problems.get(f"Service/{svc.namespace}/{svc.name}"))

    def _namespace_precheck(self, name: str, body: dict[str, Any]) -> Declined | None:
        if self.reads_namespaces:
            return Declined("NAMESPACE_LIST", "the firewall depends on the namespaces")
        if name in self.busy:
            return Declined("NAMESPACE_INPUTS", f"namespace {name} has objects already")
        annotations = annotations_of(body)
        if annotations.get("ncp/static_snat_ip"):
            return Declined("STATIC_SNAT", f"namespace {name} asks for a static SNAT IP")
        return None


class _Batch:
    """One batch's decisions, made on the reconciler's own indexes (see ``apply``)."""

    def __init__(self, r: IncrementalReconciler, now: float) -> None:
        self.r = r
        self.now = now
        self.upserts: dict[str, PolicyResource] = {}
        self.deletes: list[str] = []
        self.pools: set[str] = set()
        self.released: dict[str, set[int]] = defaultdict(set)
        self.new_holds: list[Hold] = []
        self.out = Applied(revision=r.revision, pods=r.realized_pods,
                           namespaces=r.realized_namespaces)
        self.new_problems: dict[str, list[Problem]] = {}
        self.external: set[str] = set()  # floating pools given an allocation

    def pod(self, ns: str, name: str, body: dict[str, Any] | None) -> Declined | None:
        r = self.r
        where = f"Pod/{ns}/{name}"
        net = r.networks.get(ns)
        old = net.ports.get(name) if net is not None else None
        admitted: AdmittedPod | None = None
        problems: list[Problem] = []
        if body is not None:
            obj = place_bare_pod(as_k8s_object("Pod", (ns, name), body), r.nodes)
            admitted, problems, _note = admit_pod(obj, settings=r.settings, declared=r.declared,
                                                  realized=r.accepted, nodes=r.nodes)
        r.labels[(ns, name)] = _labels(body)
        r.ports_of[(ns, name)] = container_ports(mapping_at(body, "spec"))
        r.busy.add(ns)
        if admitted is not None and net is None:
            return Declined("NO_NETWORK", f"namespace {ns} has no network")
        if old is not None and (admitted is None or old.tag(naming.SCOPE_NODE) != admitted.node):
            self._free_vlan(old)
        if old is not None and admitted is None and net is not None:
            self._release(ns, net, old)
        if admitted is not None and net is not None:
            refused = self._realize(ns, net, admitted, old)
            if refused is not None:
                return refused
        if problems or r.problems.get(where):
            self.new_problems[where] = problems
        return None

    def namespace(self, name: str, body: dict[str, Any]) -> Declined | None:
        """A new namespace: its network (see :func:`namespace_network`), carved and
        given its SNAT IP as a full reconcile would for it alone."""
        r, s = self.r, self.r.settings
        r.declared.add(name)
        r.ns_bodies[name] = body
        r.digests[("Namespace", "", name)] = _digest(body)
        obj = as_k8s_object("Namespace", ("", name), body)
        tags, problems = label_tags(namespace_labels(obj, name),
                                    reserved=naming.base_tags(s.cluster, name),
                                    filters=s.label_filters, obj=f"Namespace/{name}")
        if problems:
            self.new_problems[f"Namespace/{name}"] = list(problems)
            return None
        annotations = annotations_of(body)
        nat = s.enable_snat and not s.pod_routable and \
            str(annotations.get("ncp/no_snat", "")).lower() != "true"
        carved = r.carver(self.now).allocate(routed_blocks(s, not nat), s.pod_subnet_prefix)
        if carved is None:
            return Declined("SUBNET_FULL", f"no subnet left for namespace {name}")
        snat = self._snat(name) if nat else None
        if snat is not None and snat.address is None:
            return Declined("SNAT_EXHAUSTED", f"no SNAT IP left for namespace {name}")
        plan = NetworkPlan(subnets=[CarvedSubnet(*carved)])
        objects, ann, problems = namespace_network(s, name, tags, plan, snat)
        for o in objects:
            self.upserts[o.path] = o
            if isinstance(o, IpPool):
                span = subnet_host_range(carved[1])
                r.networks[name] = _Network(PoolText(o, split=True), [span] if span else [],
                                            [carved[1]], {}, [carved[0]])
        self.new_problems[f"Namespace/{name}"] = problems
        r.accepted.add(name)
        self.out.namespace_annotations[name] = ann
        self.out.namespaces += 1
        return None

    def _snat(self, name: str) -> SnatResult:
        """A dynamic SNAT IP: the lowest free of the first floating pool with room."""
        r, s = self.r, self.r.settings
        for pool_id in s.fip_pool_ids:
            if pool_id not in r.external:
                continue
            text, ranges = r.external[pool_id]
            ip = first_free(ranges, text.addresses, r.holds.get(text.path, ()), self.now)
            if ip is not None:
                text.put(IpAllocation(id=naming.ns_id("snat", s.cluster, name),
                                      allocation_ip=ip,
                                      tags=tuple(naming.base_tags(s.cluster, name))))
                self.external.add(pool_id)
                return SnatResult(ip, pool_id, SNAT_OK, False)
        return SnatResult(None, None, "IP_POOL_EXHAUSTED", False)

    def _free_vlan(self, old: SegmentPort) -> None:
        node, att = old.tag(naming.SCOPE_NODE), old.attachment
        if node and att is not None and att.traffic_tag is not None:
            self.r.vlans[node].discard(att.traffic_tag)

    def _release(self, ns: str, net: _Network, old: SegmentPort) -> None:
        """The pod no longer has a port: its address is held back."""
        self.deletes.append(old.path)
        del net.ports[old.id]
        if net.pool.remove(old.id):
            self.pools.add(ns)
        for b in old.address_bindings:
            self.released[ns].add(int(b.ip_address))
            self.new_holds.append(Hold(net.pool.path, IPv4Network(b.ip_address),
                                       self.now + self.r.settings.ip_reallocation_time))
        self.out.annotations[(ns, old.id)] = None
        self.out.pods -= 1

    def _realize(self, ns: str, net: _Network, pod: AdmittedPod,
                 old: SegmentPort | None) -> Declined | None:
        ip = old.address_bindings[0].ip_address if old is not None and old.address_bindings \
            else None
        if ip is None:
            ip = self._address(ns, net)
            if ip is None:
                refused = self._carve(ns, net)
                if refused is not None:
                    return refused
                ip = self._address(ns, net)
            if ip is None:
                return Declined("SUBNET_FULL", f"namespace {ns} has no free address")
        vlan = None
        if old is not None and old.tag(naming.SCOPE_NODE) == pod.node \
                and old.attachment is not None:
            vlan = old.attachment.traffic_tag
        if vlan is None:
            used = self.r.vlans[pod.node]
            vlan = next((v for v in VLAN_IDS if v not in used), None)
            if vlan is None:
                return Declined("VLANS_SHORT", f"node {pod.node} has no free VLAN")
            used.add(vlan)
        subnet = next(s for s in net.subnets if ip in s)
        made = pod_port(self.r.cluster, ns, pod, ip=ip, subnet=subnet, vlan=vlan,
                        node_attachment=self.r.attachment.get(pod.node))
        if net.pool.put(made.allocation):
            self.pools.add(ns)
        if old is None or old != made.port:
            self.upserts[made.port.path] = made.port
            net.ports[pod.name] = made.port
        if old is None:
            self.out.pods += 1
        if old is None or old.address_bindings != made.port.address_bindings or \
                old.attachment != made.port.attachment:
            self.out.annotations[(ns, pod.name)] = made.annotation
        return None

    def _carve(self, ns: str, net: _Network) -> Declined | None:
        """Every subnet of the namespace is full: carve it another, as a full reconcile
        would (its segment, pool, ``ncp/subnet-N`` and, under NAT, one more SNAT rule)."""
        r, s = self.r, self.r.settings
        body = r.ns_bodies.get(ns)
        obj = as_k8s_object("Namespace", ("", ns), body) if body is not None else None
        annotations = annotations_of(body)
        nat = s.enable_snat and not s.pod_routable and \
            str(annotations.get("ncp/no_snat", "")).lower() != "true"
        snat = None
        if nat:
            static = annotations.get("ncp/static_snat_ip")
            snat = self._kept_snat(ns, str(static).strip() if static else None)
            if snat is None:
                return Declined("SNAT_MISSING", f"namespace {ns} has no SNAT IP to keep")
        tags, problems = label_tags(namespace_labels(obj, ns),
                                    reserved=naming.base_tags(s.cluster, ns),
                                    filters=s.label_filters, obj=f"Namespace/{ns}")
        carved = r.carver(self.now).allocate(routed_blocks(s, not nat), s.pod_subnet_prefix)
        if problems or carved is None:
            return Declined("SUBNET_FULL", f"no further subnet for namespace {ns}")
        net.blocks.append(carved[0])
        net.subnets.append(carved[1])
        span = subnet_host_range(carved[1])
        if span is not None:
            net.ranges.append(span)
        plan = NetworkPlan(subnets=[CarvedSubnet(b, c) for b, c in zip(net.blocks, net.subnets,
                                                                       strict=True)])
        objects, ann, _problems = namespace_network(s, ns, tags, plan, snat)
        for o in objects:
            if isinstance(o, IpPool):
                net.pool.rebase(o)
                self.pools.add(ns)
            else:
                self.upserts[o.path] = o
        self.out.namespace_annotations[ns] = ann
        return None

    def _kept_snat(self, ns: str, static: str | None) -> SnatResult | None:
        """The SNAT IP the namespace holds, as a full reconcile would keep it."""
        r = self.r
        alloc_id = naming.ns_id("snat", r.cluster, ns)
        for pool_id in r.settings.fip_pool_ids:
            text = r.external.get(pool_id)
            alloc = text[0].items.get(alloc_id) if text is not None else None
            if alloc is not None and (static is None or static == str(alloc.allocation_ip)):
                return SnatResult(alloc.allocation_ip, pool_id, SNAT_OK, static is not None)
        return None

    def _address(self, ns: str, net: _Network) -> IPv4Address | None:
        """The lowest free address of the namespace's subnets (addresses released in
        this batch stay taken for its rest, as in a full reconcile)."""
        holds = [*self.r.holds.get(net.pool.path, ()),
                 *(h for h in self.new_holds if h.scope == net.pool.path)]
        used = net.pool.addresses | self.released[ns] if self.released[ns] \
            else net.pool.addresses
        return first_free(net.ranges, used, holds, self.now)

    def _services(self) -> None:
        """The pools and virtual servers of the services whose members the batch changed,
        recomputed from the namespace's pods as they are now."""
        r = self.r
        for ns in sorted({ns for ns, _n in r.affected}):
            net = r.networks.get(ns)
            pods = [PodInfo(ns, name, port.path, str(port.address_bindings[0].ip_address),
                            r.labels.get((ns, name), {}), r.ports_of.get((ns, name), ()))
                    for name, port in sorted(net.ports.items()) if port.address_bindings] \
                if net is not None else []
            wanted = [svc for svc in r.services[ns] if (ns, svc.name) in r.affected]
            result = translate_services(wanted, list(r.slices.get(ns, {}).values()),
                                        cluster=r.cluster,
                                        pods=pods, service_cidr=r.settings.service_cidr,
                                        existing=r.cluster_ips)
            for obj in result.objects:
                if not isinstance(obj, LBService):  # the cluster's DLB: unchanged
                    self.upserts[obj.path] = obj

    def commit(self) -> Applied:
        """Write what the batch decided (nothing when it changed nothing)."""
        r = self.r
        self._services()
        changed_problems = {o: ps for o, ps in self.new_problems.items()
                            if sorted(r.problems.get(o, [])) != sorted(ps)}
        for obj, ps in changed_problems.items():
            if ps:
                r.problems[obj] = list(ps)
            else:
                r.problems.pop(obj, None)
        self.out.problems = sorted(p for ps in self.new_problems.values() for p in ps)
        self.out.covered = set(self.new_problems)
        status: dict[tuple[str, str, str], dict[str, str] | None] = {
            ("Pod", ns, name): ann for (ns, name), ann in self.out.annotations.items()}
        status.update({("Namespace", "", name): ann
                       for name, ann in self.out.namespace_annotations.items()})
        if not (self.upserts or self.deletes or self.pools or status or changed_problems):
            return self.out
        summary = {**r.record.summary, "pods": self.out.pods,
                   "namespaces": self.out.namespaces}
        record = replace(r.record, synced_at=self.now, fingerprint="", summary=summary)
        changes = ChangeSet(
            upserts=[to_stored(o) for o in self.upserts.values()],
            deletes=sorted(self.deletes), cluster=record, new_holds=self.new_holds,
            status_updates=status, problems_of=set(changed_problems),
            problem_updates=[p for ps in changed_problems.values() for p in ps])
        for ns in sorted(self.pools):
            r.networks[ns].pool.write(changes)
        for pool_id in sorted(self.external):
            r.external[pool_id][0].write(changes)
        r.revision = self.out.revision = r.store.apply(changes)
        r.record = replace(record, revision=r.revision)
        for h in self.new_holds:
            r.holds[h.scope].append(h)
        r.realized_pods, r.realized_namespaces = self.out.pods, self.out.namespaces
        self.out.written = True
        return self.out
