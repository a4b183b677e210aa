"""What NCP decides for a namespace: its tags, NAT or routed, the SNAT IP it asks for, the
blocks its subnets come from, and the objects and annotations of its network.

Why one module: the full reconcile (:func:`ncp.translate.cluster.provision`) and the
incremental one (:mod:`ncp.reconcile.incremental`) both decide these for a namespace, and
a full reconcile after an incremental one must find nothing to change. Each decision is
one pure function here that both call, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.networks import NetworkPlan
from ncp.translate.settings import ClusterSettings
from ncp.translate.snat import SnatResult
from ncp.translate.tags import label_tags
from ncp.translate.topology import gateway_tier1, network_objects, snat_rules
from sdn.errors import Problem
from sdn.model import PolicyResource, Tag, tier1_path

#: The problem (and ``ncp/error``) of a namespace, or a pod, that no subnet has room for.
SUBNETS_EXHAUSTED = "NAMESPACE_SUBNETS_EXHAUSTED"


def namespace_labels(namespace: K8sObject | None, name: str) -> dict[str, str]:
    """The namespace's labels, with ``kubernetes.io/metadata.name`` that Kubernetes sets
    on every namespace (policies commonly select namespaces by it)."""
    declared = namespace.labels if namespace else {}
    return {**{str(k): str(v) for k, v in declared.items()},
            naming.NAMESPACE_NAME_LABEL: name}


def namespace_tags(settings: ClusterSettings, name: str, namespace: K8sObject | None,
                   ) -> tuple[tuple[Tag, ...], list[Problem]]:
    """The tags of the namespace's segment (NCP's, then one per label), or the problems
    that reject the namespace (labels NSX cannot carry)."""
    return label_tags(namespace_labels(namespace, name),
                      reserved=naming.base_tags(settings.cluster, name),
                      filters=settings.label_filters, obj=f"Namespace/{name}")


def wants_snat(settings: ClusterSettings, annotations: Mapping[str, object]) -> bool:
    """Whether the namespace's pods egress through a SNAT IP: the cluster does SNAT, its
    pods are not routable, and the namespace does not say ``ncp/no_snat: "true"``."""
    return (settings.enable_snat and not settings.pod_routable
            and not naming.annotation_flag(annotations, naming.NO_SNAT_ANNOTATION))


def static_snat_ip(annotations: Mapping[str, object]) -> str | None:
    """The SNAT IP the namespace asks for (``ncp/static_snat_ip``), or None."""
    static = annotations.get(naming.STATIC_SNAT_IP_ANNOTATION)
    return str(static).strip() if static else None


def subnet_blocks(settings: ClusterSettings, *, nat: bool) -> tuple[str, ...]:
    """The blocks a namespace's subnets are carved from: the no-SNAT blocks for a routed
    namespace of a NAT cluster (when there are some), else the pod blocks."""
    if not nat and not settings.pod_routable and settings.enable_snat \
            and settings.no_snat_block_ids:
        return tuple(settings.no_snat_block_ids)
    return tuple(settings.pod_block_ids)


def namespace_network(settings: ClusterSettings, name: str, tags: tuple[Tag, ...],
                      plan: NetworkPlan, snat: SnatResult | None,
                      ) -> tuple[list[PolicyResource], dict[str, str], list[Problem]]:
    """A realized namespace's objects (its Tier-1 in two-tier, pool, segment, SNAT rules),
    the annotations NCP puts on it, and its SNAT problem if any."""
    cluster = settings.cluster
    out: list[PolicyResource] = []
    annotations: dict[str, str] = {}
    problems: list[Problem] = []
    snat_tags: tuple[Tag, ...] = ()
    if snat is not None and snat.address is not None:
        snat_tags = (Tag(scope=naming.SCOPE_SNAT_IP, tag=str(snat.address)),
                     Tag(scope=naming.SCOPE_EXTPOOL, tag=snat.pool_id or ""))
    if settings.two_tier:
        t1_id = naming.ns_id("t1", cluster, name)
        out.append(gateway_tier1(settings, t1_id, tuple(naming.base_tags(cluster, name)),
                                 f"{cluster}-{name}", snat_tags))
        annotations[naming.ROUTER_ID_ANNOTATION] = t1_id
        gateway = tier1_path(t1_id)
    else:
        gateway = tier1_path(naming.cluster_id("t1", cluster))
    out += network_objects(settings, pool_id=naming.ns_id("ipp", cluster, name),
                           segment_id=naming.ns_id("seg", cluster, name), gateway=gateway,
                           plan=plan, tags=tags, display=f"{cluster}-{name}")
    for i, sub in enumerate(plan.subnets):
        annotations[naming.subnet_annotation(i)] = str(sub.cidr)
    if snat is not None:
        if snat.static:
            annotations[naming.SNAT_IP_STATUS_ANNOTATION] = snat.status
        if snat.address is not None:
            annotations[naming.SNAT_IP_ANNOTATION] = str(snat.address)
            out += snat_rules(settings, rule_id=naming.ns_id("snat", cluster, name),
                              display=f"{cluster}-{name}", plan=plan, address=snat.address,
                              tags=naming.base_tags(cluster, name))
        else:
            annotations[naming.ERROR_ANNOTATION] = snat.status
            problems.append(Problem(snat.status, f"Namespace/{name}", snat.message))
    return out, annotations, problems
