"""What NCP decides for a pod: whether it gets a port, and the port, pool allocation, policy
view and annotation of one that does.

Why one module: the full reconcile (:func:`ncp.translate.cluster.provision`) and ``ncp
run``'s incremental one (:mod:`ncp.reconcile.incremental`) both realize pods, and a full
reconcile after an incremental one must find nothing to change, so both call these.
The address comes from the namespace's network (:mod:`ncp.translate.networks`), the VLAN
from :mod:`ncp.translate.vlans`.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.policyinputs import PodInfo
from ncp.translate.settings import ClusterSettings
from ncp.translate.tags import label_tags
from sdn.errors import Problem
from sdn.model import (
    AddressBinding,
    IpAllocation,
    PortAttachment,
    SegmentPort,
    Tag,
    port_path,
    segment_path,
)


def string_labels(labels: Mapping[str, object] | None) -> dict[str, str]:
    """Labels as text (what the port's tags and the services' selectors see)."""
    return {str(k): str(v) for k, v in (labels or {}).items()}


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


@dataclass(frozen=True)
class AdmittedPod:
    """A pod that passed the checks: its node, its port's tags, what policies read."""

    name: str
    node: str
    tags: tuple[Tag, ...]
    ownership: tuple[Tag, ...]
    labels: Mapping[str, str]
    container_ports: tuple[tuple[str, str, int], ...]


def admit_pod(pod: K8sObject, *, settings: ClusterSettings, declared: Container[str],
              realized: Container[str], nodes: Container[str],
              ) -> tuple[AdmittedPod | None, list[Problem], str | None]:
    """Whether a pod gets a port: the pod as admitted, or None with the problems (a
    missing or rejected namespace, an unknown node, labels NSX cannot carry) or the note
    (host network, ended) saying why not.

    ``declared`` are the namespaces that exist, ``realized`` the ones accepted, ``nodes``
    the cluster's node names.
    """
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
    reserved = [*naming.base_tags(settings.cluster, pod.namespace),
                naming.tag(naming.SCOPE_POD, pod.name), naming.tag(naming.SCOPE_NODE, str(node))]
    labels = pod.metadata.get("labels")
    tags, problems = label_tags(labels, reserved=reserved, filters=settings.label_filters,
                                obj=where)
    if problems:
        return None, list(problems), None
    return AdmittedPod(pod.name, str(node), tags, tuple(reserved), string_labels(labels),
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
    annotation = {naming.NETWORK_CONFIG_ANNOTATION: json.dumps({
        "ip_address": f"{ip}/{subnet.prefixlen}", "mac_address": mac,
        "gateway_ip": str(subnet.network_address + 1), "vlan_id": vlan,
        "segment_port_path": path}, sort_keys=True)}
    return PodPort(port, IpAllocation(id=pod.name, allocation_ip=ip, tags=pod.ownership),
                   PodInfo(namespace, pod.name, path, str(ip), pod.labels,
                           pod.container_ports), annotation)
