"""Services to distributed load balancing: every cluster IP becomes virtual servers.

As in vSphere with Tanzu, ClusterIP load balancing is an NSX distributed load balancer:
one ``LBService`` of size ``DLB`` per cluster, and per service port an ``LBVirtualServer``
on the service's cluster IP with an ``LBPool`` whose members are the ready endpoints.
(``NodePort`` and ``LoadBalancer`` services have a cluster IP too and get the same; their
external VIPs are a separate, later capability.)

* The cluster IP is ``spec.clusterIP`` when the manifest has one; otherwise one is
  allocated from the cluster's ``service_cidr`` (TKGI gives every cluster
  10.100.200.0/24), lowest free first, skipping the first address (Kubernetes' own
  ``kubernetes`` service); a service keeps its address across syncs. Headless services
  (``clusterIP: None``) get no virtual server. Cluster IPs are local to a cluster, so two
  clusters may use the same ones.
* Members are the service's pods that have a port: the selector's pods, or, when
  EndpointSlices for the service are given (a ``kubectl get`` dump), the pods they name
  as ready. ``targetPort`` is a number, a container port name resolved per pod, or
  (absent) the service port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import AddressValueError, IPv4Address, IPv4Network
from typing import Any

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.policyinputs import PodInfo
from sdn.errors import Problem
from sdn.ipam import AddressAllocator
from sdn.model import (
    Inventory,
    LBPool,
    LBPoolMember,
    LBService,
    LBVirtualServer,
    PolicyResource,
    lb_pool_path,
    lb_service_path,
    lb_virtual_server_path,
)
from sdn.model.lb import TCP_PROFILE, UDP_PROFILE


@dataclass
class ServiceTranslation:
    """The load-balancing objects of one cluster, and what could not be made."""

    objects: list[PolicyResource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cluster_ips: dict[str, str] = field(default_factory=dict)


def selector_selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a Service's ``spec.selector`` selects a pod with ``labels`` (an empty
    selector selects nothing: such a service's endpoints are managed by hand)."""
    return bool(selector) and all(labels.get(str(k)) == str(v) for k, v in selector.items())


def slice_service(labels: Mapping[str, object]) -> str | None:
    """The Service an EndpointSlice belongs to (its ``kubernetes.io/service-name``)."""
    name = labels.get(naming.SERVICE_NAME_LABEL)
    return str(name) if name else None


def _ready_pods(slices: Sequence[K8sObject], service: str) -> set[str] | None:
    """Pod names the service's EndpointSlices list as ready; None without slices."""
    mine = [s for s in slices if slice_service(s.labels) == service]
    if not mine:
        return None
    ready: set[str] = set()
    for s in mine:
        for ep in s.body.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            if (ep.get("conditions") or {}).get("ready", True) is not False and ref.get("name"):
                ready.add(str(ref["name"]))
    return ready


def _target(port: Mapping[str, Any], pod: PodInfo, protocol: str) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for name, proto, number in pod.container_ports:
        if name == target and proto == protocol:
            return number
    return None


def existing_cluster_ips(current: Inventory, cluster: str) -> dict[str, IPv4Address]:
    """The cluster IP each of the cluster's services has now (``ns/name``), from its
    virtual servers: a service keeps its address across syncs."""
    out = {}
    for vs in current.of_type(LBVirtualServer):
        if vs.tag(naming.SCOPE_CLUSTER) == cluster:
            ns, svc = vs.tag(naming.SCOPE_PROJECT), vs.tag(naming.SCOPE_SERVICE)
            if ns and svc:
                out[f"{ns}/{svc}"] = vs.ip_address
    return out


def translate_services(services: Sequence[K8sObject], slices: Sequence[K8sObject], *,
                       cluster: str, pods: Sequence[PodInfo], service_cidr: IPv4Network,
                       existing: Mapping[str, IPv4Address]) -> ServiceTranslation:
    """The cluster's DLB objects; ``existing`` maps ``ns/name`` to its current cluster IP."""
    out = ServiceTranslation()
    if not services:
        return out
    dlb_id = naming.cluster_id("dlb", cluster)
    dlb = lb_service_path(dlb_id)
    out.objects.append(LBService(id=dlb_id, display_name=f"{cluster} cluster IPs", path=dlb,
                                 size="DLB", tags=tuple(naming.base_tags(cluster))))
    explicit: dict[str, IPv4Address] = {}
    wanted: list[K8sObject] = []
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        spec = svc.spec
        key = f"{svc.namespace}/{svc.name}"
        if spec.get("type") == "ExternalName":
            continue
        ip = spec.get("clusterIP")
        if ip in ("None", ""):
            out.notes.append(f"Service {key} is headless: no virtual server")
            continue
        if ip is not None:
            try:
                address = IPv4Address(str(ip))
            except AddressValueError:
                out.problems.append(Problem("INVALID_CLUSTER_IP", f"Service/{key}",
                                            f"clusterIP {ip!r} is not an IPv4 address"))
                continue
            if address in explicit.values():
                out.problems.append(Problem("CLUSTER_IP_CONFLICT", f"Service/{key}",
                                            f"clusterIP {address} is used by another service"))
                continue
            explicit[key] = address
        wanted.append(svc)
    first, last = int(service_cidr.network_address) + 2, int(service_cidr.broadcast_address) - 1
    kept = {k: a for k, a in existing.items()
            if k not in explicit and a not in explicit.values()
            and first <= int(a) <= last}
    allocator = AddressAllocator([(first, last)],
                                 used=[int(a) for a in [*explicit.values(), *kept.values()]])
    for svc in wanted:
        key = f"{svc.namespace}/{svc.name}"
        vip = explicit.get(key) or kept.get(key) or allocator.allocate()
        if vip is None:
            out.problems.append(Problem("IP_POOL_EXHAUSTED", f"Service/{key}",
                                        f"no cluster IP left in {service_cidr}"))
            continue
        out.cluster_ips[key] = str(vip)
        _virtual_servers(out, svc, vip, slices, pods, cluster, dlb)
    return out


def backend_pods(svc: K8sObject, slices: Sequence[K8sObject],
                 pods: Sequence[PodInfo]) -> list[PodInfo]:
    """The service's ready endpoints: the pods its EndpointSlices name as ready, or,
    without slices, the pods its selector matches (those with a port)."""
    selector = svc.spec.get("selector") or {}
    ready = _ready_pods([s for s in slices if s.namespace == svc.namespace], svc.name)
    return sorted((p for p in pods if p.namespace == svc.namespace and p.ip and (
        (ready is not None and p.name in ready)
        or (ready is None and selector_selects(selector, p.labels)))),
        key=lambda p: (p.ip, p.name))


def backend_members(svc: K8sObject, slices: Sequence[K8sObject], pods: Sequence[PodInfo]
                    ) -> Callable[[Mapping[str, Any], str], list[LBPoolMember]]:
    """The pool members of one service port (its ready endpoints with the target port),
    as a function of the port and protocol (see the module docstring)."""
    backends = backend_pods(svc, slices, pods)

    def members(port: Mapping[str, Any], protocol: str) -> list[LBPoolMember]:
        out = []
        for pod in backends:
            target = _target(port, pod, protocol)
            if target is not None:
                out.append(LBPoolMember(ip_address=pod.ip, port=str(target),
                                        display_name=f"{pod.namespace}/{pod.name}"))
        return out
    return members


def _virtual_servers(out: ServiceTranslation, svc: K8sObject, vip: IPv4Address,
                     slices: Sequence[K8sObject], pods: Sequence[PodInfo], cluster: str,
                     dlb: str) -> None:
    spec = svc.spec
    members_of = backend_members(svc, slices, pods)
    tags = (*naming.base_tags(cluster, svc.namespace), naming.tag(naming.SCOPE_SERVICE, svc.name))
    for port in spec.get("ports") or []:
        protocol = str(port.get("protocol") or "TCP").upper()
        number = port.get("port")
        if protocol not in ("TCP", "UDP") or not isinstance(number, int):
            out.notes.append(f"Service {svc.namespace}/{svc.name} port {number}/{protocol}: "
                             "not load balanced (TCP and UDP only)")
            continue
        ident = f"{cluster}_{svc.namespace}_{svc.name}_{number}_{protocol}"
        members = members_of(port, protocol)
        pool = LBPool(id=f"pool_{ident}", display_name=f"{svc.namespace}/{svc.name}:{number}",
                      path=lb_pool_path(f"pool_{ident}"), members=tuple(members), tags=tags)
        vs_tags = (*tags, naming.tag(naming.SCOPE_SERVICE_PORT, f"{number}/{protocol}"))
        out.objects += [pool, LBVirtualServer(
            id=f"vs_{ident}", display_name=f"{svc.namespace}/{svc.name}:{number}",
            path=lb_virtual_server_path(f"vs_{ident}"), ip_address=vip, ports=(str(number),),
            lb_service_path=dlb, pool_path=pool.path, tags=vs_tags,
            application_profile_path=UDP_PROFILE if protocol == "UDP" else TCP_PROFILE)]
