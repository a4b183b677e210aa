"""Whether a batch of changes can be decided alone, checked before anything is decided.

The conditions are listed in :mod:`ncp.reconcile.incremental`; each failing one is a
:class:`~ncp.reconcile.incremental.outcome.Declined` naming it. A batch that passes may
still be declined while deciding (no address, no VLAN, no SNAT IP left), see
:mod:`~ncp.reconcile.incremental.batch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ncp.objects import K8sObject, ObjectKey, annotations_of, labels_of
from ncp.reconcile.incremental.object_index import (
    ObjectIndex,
    normal_key,
    pod_labels,
    slice_pods,
)
from ncp.reconcile.incremental.outcome import Declined
from ncp.reconcile.incremental.state_index import StateIndex
from ncp.translate import naming
from ncp.translate.namespaces import static_snat_ip
from ncp.translate.services import selector_selects, slice_service

#: A Service by (namespace, name).
ServiceKey = tuple[str, str]


class Prechecks:
    """The checks of one batch; :attr:`affected` collects the services whose members the
    batch changes (plain cluster IPs, recomputed with it)."""

    def __init__(self, objects: ObjectIndex, state: StateIndex) -> None:
        self.objects = objects
        self.state = state
        self.affected: set[ServiceKey] = set()

    def check(self, changes: Mapping[ObjectKey, dict[str, Any] | None]) -> Declined | None:
        """Why the batch needs the full reconcile, or None when it can be decided alone."""
        if self.objects.controllers:
            return Declined("CONTROLLERS", "workload controllers are present")
        if self.state.vlans_short:
            return Declined("VLANS_SHORT", "a node is short of VLANs")
        for key, body in changes.items():
            refused = self._change(normal_key(key), body)
            if refused is not None:
                return refused
        return None

    def _change(self, key: ObjectKey, body: dict[str, Any] | None) -> Declined | None:
        kind, ns, name = key
        if kind == "Pod":
            return self._pod(ns, name, body)
        if body is not None and self.objects.unchanged(key, body):
            return None  # nothing NCP reads changed (its own write-back, a heartbeat)
        if kind == "Namespace" and body is not None and name not in self.objects.declared:
            return self._new_namespace(name, body)
        if kind == "EndpointSlice":
            old = self.objects.slices.get(ns, {}).get(name)
            services = {slice_service(labels_of(b))
                        for b in (old.body if old is not None else None, body)}
            return self._take_along(ns, services, f"EndpointSlice {name}")
        return Declined("OTHER_KIND", f"a {kind} changed")

    def _pod(self, ns: str, name: str, body: dict[str, Any] | None) -> Declined | None:
        if self.state.reads_pods:
            return Declined("NAMED_PORTS", "the firewall resolves named ports against pods")
        if ns in self.state.exhausted:
            return Declined("ADDRESSES_SHORT", f"namespace {ns} is short of addresses")
        old, new = self.objects.labels.get((ns, name), {}), pod_labels(body)
        selecting: set[str | None] = {
            svc.name for svc in self.objects.services.get(ns, ())
            if selector_selects(svc.spec.get("selector") or {}, old)
            or selector_selects(svc.spec.get("selector") or {}, new)}
        selecting |= {slice_service(sl.labels) for sl in self.objects.slices.get(ns, {}).values()
                      if name in slice_pods(sl.body)}
        return self._take_along(ns, selecting, f"pod {ns}/{name}")

    def _take_along(self, ns: str, services: set[str | None], what: str) -> Declined | None:
        """The services (by name) whose members a change alters: recomputed with the
        batch when each is a plain cluster IP, else the batch is declined."""
        for svc in self.objects.services.get(ns, ()):
            if svc.name not in services:
                continue
            if not self._recomputable(svc):
                return Declined("SERVICE_MEMBER", f"Service {ns}/{svc.name} has more than a "
                                f"cluster IP and {what} changes its members")
            self.affected.add((ns, svc.name))
        return None

    def _recomputable(self, svc: K8sObject) -> bool:
        """Whether a service's objects can be recomputed alone when its members change:
        a plain cluster IP it has already (no load balancer VIP, no SNAT IP of its own,
        no Ingress in its namespace, no problem)."""
        return (svc.spec.get("type") in (None, "ClusterIP", "NodePort")
                and naming.SNAT_POOL_ANNOTATION not in svc.annotations
                and svc.namespace not in self.objects.with_ingress
                and f"{svc.namespace}/{svc.name}" in self.state.cluster_ips
                and not self.state.problems.get(f"Service/{svc.namespace}/{svc.name}"))

    def _new_namespace(self, name: str, body: dict[str, Any]) -> Declined | None:
        if self.state.reads_namespaces:
            return Declined("NAMESPACE_LIST", "the firewall depends on the namespaces")
        if name in self.objects.busy:
            return Declined("NAMESPACE_INPUTS", f"namespace {name} has objects already")
        if static_snat_ip(annotations_of(body)) is not None:
            return Declined("STATIC_SNAT", f"namespace {name} asks for a static SNAT IP")
        return None
