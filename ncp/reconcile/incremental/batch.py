"""One incremental batch: its decisions, made on the reconciler's indexes, and its write.

Every decision is the full reconcile's own, through the functions both call
(:mod:`ncp.translate.pods`, :mod:`~ncp.translate.vlans`, :mod:`~ncp.translate.namespaces`,
:mod:`~ncp.translate.snat`, :mod:`~ncp.translate.networks`): a pod is admitted as
:func:`~ncp.translate.pods.admit_pod` says and gets the port
:func:`~ncp.translate.pods.pod_port` makes, a namespace the network
:func:`~ncp.translate.namespaces.namespace_network` makes. What is the batch's own is
*where* it finds the inputs: the lowest free address of a namespace's subnets, the lowest
free VLAN of a node, the lowest free IP of a floating pool, in its indexes rather than in
a recomputed cluster.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

from ncp.objects import annotations_of, as_k8s_object
from ncp.reconcile.incremental.object_index import ObjectIndex
from ncp.reconcile.incremental.outcome import Applied, Declined
from ncp.reconcile.incremental.pooltext import PoolText
from ncp.reconcile.incremental.prechecks import ServiceKey
from ncp.reconcile.incremental.state_index import NamespaceNetwork, StateIndex
from ncp.reconcile.state import State
from ncp.reconcile.sync import SUMMARY_NAMESPACES, SUMMARY_PODS
from ncp.translate import naming
from ncp.translate.namespaces import (
    namespace_network,
    namespace_tags,
    static_snat_ip,
    subnet_blocks,
    wants_snat,
)
from ncp.translate.networks import CarvedSubnet, NetworkPlan, held_back
from ncp.translate.pods import AdmittedPod, admit_pod, pod_port
from ncp.translate.policyinputs import PodInfo
from ncp.translate.services import translate_services
from ncp.translate.snat import (
    SnatResult,
    dynamic_snat,
    keeps_snat,
    kept_snat,
    namespace_snat_allocation_id,
    snat_allocation,
)
from ncp.translate.vlans import pod_vlan
from ncp.translate.workloads import place_bare_pod
from sdn.errors import Problem
from sdn.ipam import Hold, first_free, subnet_host_range
from sdn.model import IpPool, LBService, PolicyResource, SegmentPort
from sdn.store.codec import ChangeSet, to_stored


class Batch:
    """One batch's decisions (see the module docstring); :meth:`commit` writes them."""

    def __init__(self, objects: ObjectIndex, state: StateIndex, affected: set[ServiceKey],
                 now: float) -> None:
        self.objects = objects
        self.state = state
        self.settings = state.settings
        self.affected = affected
        self.now = now
        self.upserts: dict[str, PolicyResource] = {}
        self.deletes: list[str] = []
        self.pools: set[str] = set()  # namespaces whose pool changed
        self.released: dict[str, set[int]] = defaultdict(set)
        self.new_holds: list[Hold] = []
        self.out = Applied(revision=state.revision, pods=state.realized_pods,
                           namespaces=state.realized_namespaces)
        self.new_problems: dict[str, list[Problem]] = {}
        self.floating: set[str] = set()  # floating pools given an allocation

    # --- pods ------------------------------------------------------------------------
    def pod(self, ns: str, name: str, body: dict[str, Any] | None) -> Declined | None:
        """A pod that came, changed or went (``body`` None)."""
        where = f"Pod/{ns}/{name}"
        net = self.state.networks.get(ns)
        old = net.ports.get(name) if net is not None else None
        admitted: AdmittedPod | None = None
        problems: list[Problem] = []
        if body is not None:
            obj = place_bare_pod(as_k8s_object("Pod", (ns, name), body), self.objects.nodes)
            admitted, problems, _note = admit_pod(
                obj, settings=self.settings, declared=self.objects.declared,
                realized=self.state.accepted, nodes=self.objects.nodes)
        self.objects.keep_pod(ns, name, body)
        if admitted is not None and net is None:
            return Declined("NO_NETWORK", f"namespace {ns} has no network")
        if old is not None and (admitted is None
                                or old.tag(naming.SCOPE_NODE) != admitted.node):
            self._free_vlan(old)
        if old is not None and admitted is None and net is not None:
            self._release(ns, net, old)
        if admitted is not None and net is not None:
            refused = self._realize(ns, net, admitted, old)
            if refused is not None:
                return refused
        if problems or self.state.problems.get(where):
            self.new_problems[where] = problems
        return None

    def _free_vlan(self, old: SegmentPort) -> None:
        """The pod left its node (or went): its VLAN there is free again."""
        node, att = old.tag(naming.SCOPE_NODE), old.attachment
        if node and att is not None and att.traffic_tag is not None:
            self.state.vlans.release(node, att.traffic_tag)

    def _release(self, ns: str, net: NamespaceNetwork, old: SegmentPort) -> None:
        """The pod no longer has a port: its address is held back."""
        self.deletes.append(old.path)
        del net.ports[old.id]
        if net.pool.remove(old.id):
            self.pools.add(ns)
        for binding in old.address_bindings:
            self.released[ns].add(int(binding.ip_address))
            self.new_holds.append(held_back(net.pool.path, binding.ip_address, now=self.now,
                                            settings=self.settings))
        self.out.annotations[(ns, old.id)] = None
        self.out.pods -= 1

    def _realize(self, ns: str, net: NamespaceNetwork, pod: AdmittedPod,
                 old: SegmentPort | None) -> Declined | None:
        """The pod's port: its address kept, else the lowest free one (carving a further
        subnet when every one is full); its VLAN kept on the same node, else the lowest
        free one of the node."""
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
        vlan = pod_vlan(old, pod.node, self.state.vlans)
        if vlan is None:
            return Declined("VLANS_SHORT", f"node {pod.node} has no free VLAN")
        subnet = next(sub for sub in net.subnets if ip in sub)
        made = pod_port(self.state.cluster, ns, pod, ip=ip, subnet=subnet, vlan=vlan,
                        node_attachment=self.state.attachments.get(pod.node))
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

    def _address(self, ns: str, net: NamespaceNetwork) -> IPv4Address | None:
        """The lowest free address of the namespace's subnets (addresses released in
        this batch stay taken for its rest, as in a full reconcile)."""
        holds = [*self.state.holds.get(net.pool.path, ()),
                 *(h for h in self.new_holds if h.scope == net.pool.path)]
        used = net.pool.addresses | self.released[ns] if self.released[ns] \
            else net.pool.addresses
        return first_free(net.ranges, used, holds, self.now)

    # --- namespaces ------------------------------------------------------------------
    def namespace(self, name: str, body: dict[str, Any]) -> Declined | None:
        """A new namespace: its network (see :func:`namespace_network`), carved and
        given its SNAT IP as a full reconcile would for it alone."""
        settings = self.settings
        self.objects.keep_namespace(name, body)
        obj = as_k8s_object("Namespace", ("", name), body)
        tags, problems = namespace_tags(settings, name, obj)
        if problems:
            self.new_problems[f"Namespace/{name}"] = list(problems)
            return None
        nat = wants_snat(settings, obj.annotations)
        carved = self.state.carver(self.now).allocate(subnet_blocks(settings, nat=nat),
                                                      settings.pod_subnet_prefix)
        if carved is None:
            return Declined("SUBNET_FULL", f"no subnet left for namespace {name}")
        snat = self._dynamic_snat(name) if nat else None
        if snat is not None and snat.address is None:
            return Declined("SNAT_EXHAUSTED", f"no SNAT IP left for namespace {name}")
        plan = NetworkPlan(subnets=[CarvedSubnet(*carved)])
        made, annotations, problems = namespace_network(settings, name, tags, plan, snat)
        for obj_made in made:
            self.upserts[obj_made.path] = obj_made
            if isinstance(obj_made, IpPool):
                span = subnet_host_range(carved[1])
                self.state.networks[name] = NamespaceNetwork(
                    PoolText(obj_made, split=True), [span] if span else [], [carved[1]], {},
                    [carved[0]])
        self.new_problems[f"Namespace/{name}"] = problems
        self.state.accepted.add(name)
        self.out.namespace_annotations[name] = annotations
        self.out.namespaces += 1
        return None

    def _dynamic_snat(self, name: str) -> SnatResult:
        """A new namespace's SNAT IP (:func:`~ncp.translate.snat.dynamic_snat`), taken in
        its floating pool."""
        floating = self.state.floating

        def lowest_free(pool_id: str) -> IPv4Address | None:
            if pool_id not in floating:
                return None
            pool = floating[pool_id]
            return first_free(pool.ranges, pool.pool.addresses,
                              self.state.holds.get(pool.pool.path, ()), self.now)

        result = dynamic_snat(self.settings.fip_pool_ids, lowest_free)
        if result.address is not None and result.pool_id is not None:
            cluster = self.state.cluster
            floating[result.pool_id].pool.put(snat_allocation(
                namespace_snat_allocation_id(cluster, name), cluster, name, result.address))
            self.floating.add(result.pool_id)
        return result

    def _carve(self, ns: str, net: NamespaceNetwork) -> Declined | None:
        """Every subnet of the namespace is full: carve it another, as a full reconcile
        would (its segment, pool, ``ncp/subnet-N`` and, under NAT, one more SNAT rule)."""
        settings = self.settings
        body = self.objects.namespace_bodies.get(ns)
        obj = as_k8s_object("Namespace", ("", ns), body) if body is not None else None
        annotations = annotations_of(body)
        nat = wants_snat(settings, annotations)
        snat = None
        if nat:
            snat = self._kept_snat(ns, static_snat_ip(annotations))
            if snat is None:
                return Declined("SNAT_MISSING", f"namespace {ns} has no SNAT IP to keep")
        tags, problems = namespace_tags(settings, ns, obj)
        carved = self.state.carver(self.now).allocate(subnet_blocks(settings, nat=nat),
                                                      settings.pod_subnet_prefix)
        if problems or carved is None:
            return Declined("SUBNET_FULL", f"no further subnet for namespace {ns}")
        net.blocks.append(carved[0])
        net.subnets.append(carved[1])
        span = subnet_host_range(carved[1])
        if span is not None:
            net.ranges.append(span)
        plan = NetworkPlan(subnets=[CarvedSubnet(block, cidr) for block, cidr
                                    in zip(net.blocks, net.subnets, strict=True)])
        made, made_annotations, _problems = namespace_network(settings, ns, tags, plan, snat)
        for obj_made in made:
            if isinstance(obj_made, IpPool):
                net.pool.rebase(obj_made)
                self.pools.add(ns)
            else:
                self.upserts[obj_made.path] = obj_made
        self.out.namespace_annotations[ns] = made_annotations
        return None

    def _kept_snat(self, ns: str, static: str | None) -> SnatResult | None:
        """The SNAT IP the namespace holds, as a full reconcile would keep it."""
        allocation_id = namespace_snat_allocation_id(self.state.cluster, ns)
        for pool_id in self.settings.fip_pool_ids:
            floating = self.state.floating.get(pool_id)
            allocation = floating.pool.items.get(allocation_id) if floating is not None \
                else None
            if allocation is not None and keeps_snat(static, allocation):
                return kept_snat(pool_id, allocation, static)
        return None

    # --- services and the write ------------------------------------------------------
    def _services(self) -> None:
        """The pools and virtual servers of the services whose members the batch changed,
        recomputed from the namespace's pods as they are now."""
        objects = self.objects
        for ns in sorted({ns for ns, _name in self.affected}):
            net = self.state.networks.get(ns)
            pods = [PodInfo(ns, name, port.path, str(port.address_bindings[0].ip_address),
                            objects.labels.get((ns, name), {}),
                            objects.ports.get((ns, name), ()))
                    for name, port in sorted(net.ports.items()) if port.address_bindings] \
                if net is not None else []
            wanted = [svc for svc in objects.services[ns] if (ns, svc.name) in self.affected]
            result = translate_services(wanted, list(objects.slices.get(ns, {}).values()),
                                        cluster=self.state.cluster, pods=pods,
                                        service_cidr=self.settings.service_cidr,
                                        existing=self.state.cluster_ips)
            for obj in result.objects:
                if not isinstance(obj, LBService):  # the cluster's DLB: unchanged
                    self.upserts[obj.path] = obj

    def commit(self, store: State) -> Applied:
        """Write what the batch decided (nothing when it changed nothing)."""
        state = self.state
        self._services()
        changed_problems = {obj: found for obj, found in self.new_problems.items()
                            if sorted(state.problems.get(obj, [])) != sorted(found)}
        for obj, found in changed_problems.items():
            if found:
                state.problems[obj] = list(found)
            else:
                state.problems.pop(obj, None)
        self.out.problems = sorted(p for found in self.new_problems.values() for p in found)
        self.out.covered = set(self.new_problems)
        status: dict[tuple[str, str, str], dict[str, str] | None] = {
            ("Pod", ns, name): ann for (ns, name), ann in self.out.annotations.items()}
        status.update({("Namespace", "", name): ann
                       for name, ann in self.out.namespace_annotations.items()})
        if not (self.upserts or self.deletes or self.pools or status or changed_problems):
            return self.out
        summary = {**state.record.summary, SUMMARY_PODS: self.out.pods,
                   SUMMARY_NAMESPACES: self.out.namespaces}
        record = replace(state.record, synced_at=self.now, fingerprint="", summary=summary)
        changes = ChangeSet(
            upserts=[to_stored(obj) for obj in self.upserts.values()],
            deletes=sorted(self.deletes), cluster=record, new_holds=self.new_holds,
            status_updates=status, problems_of=set(changed_problems),
            problem_updates=[p for found in changed_problems.values() for p in found])
        for ns in sorted(self.pools):
            state.networks[ns].pool.write(changes)
        for pool_id in sorted(self.floating):
            state.floating[pool_id].pool.write(changes)
        state.revision = self.out.revision = store.apply(changes)
        state.record = replace(record, revision=state.revision)
        for hold in self.new_holds:
            state.holds[hold.scope].append(hold)
        state.realized_pods, state.realized_namespaces = self.out.pods, self.out.namespaces
        self.out.written = True
        return self.out
