"""What the incremental reconcile knows of the cluster's Kubernetes objects.

Built from the objects a full reconcile read (:meth:`ObjectIndex.of`) and kept current by
every batch it applies: what the prechecks read (which namespaces exist or hold objects,
each object's meaningful content, which services select which pods) and what a service's
pool is recomputed from (pod labels and container ports, EndpointSlices).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ncp.objects import (
    CLUSTER_SCOPED_KINDS,
    K8sObject,
    ObjectKey,
    as_k8s_object,
    mapping_at,
    metadata_of,
)
from ncp.reconcile.incremental.outcome import PodKey
from ncp.reconcile.inputs import meaningful
from ncp.translate.pods import container_ports, string_labels
from ncp.translate.workloads import CONTROLLER_KINDS

#: Namespaced kinds that make a namespace more than a network: a new namespace that
#: already has any of them is left to the full reconcile.
NAMESPACED_INPUTS = frozenset({"Pod", "Service", "EndpointSlice", "Endpoints", "Ingress",
                               *CONTROLLER_KINDS})

Ports = tuple[tuple[str, str, int], ...]


def normal_key(key: ObjectKey) -> ObjectKey:
    """A cache key as the index spells it (the default namespace filled in)."""
    kind, ns, name = key
    return kind, "" if kind in CLUSTER_SCOPED_KINDS else (ns or "default"), name


def digest(body: Mapping[str, Any]) -> str:
    """What an object must differ in to matter to NCP (its own write-back does not)."""
    return json.dumps(meaningful(body), sort_keys=True, default=str)


def pod_labels(body: Mapping[str, Any] | None) -> dict[str, str]:
    """A pod's labels as text, from its raw body (none when it is gone)."""
    return string_labels(metadata_of(body).get("labels"))


def slice_pods(body: Mapping[str, Any]) -> set[str]:
    """The pods an EndpointSlice names (ready or not)."""
    return {str(ref["name"]) for ep in body.get("endpoints") or []
            if (ref := ep.get("targetRef") or {}).get("name")}


@dataclass
class ObjectIndex:
    """The index (see the module docstring); ``nodes`` are the cluster's node names."""

    nodes: tuple[str, ...]
    #: The namespaces that exist, and each one's body.
    declared: set[str]
    namespace_bodies: dict[str, dict[str, Any]]
    #: Whether the objects hold a workload controller (its pods depend on the bare pods).
    controllers: bool
    services: dict[str, list[K8sObject]]
    slices: dict[str, dict[str, K8sObject]]
    labels: dict[PodKey, dict[str, str]]
    ports: dict[PodKey, Ports]
    #: Namespaces with an Ingress.
    with_ingress: set[str]
    #: Each object's :func:`digest` (pods aside).
    digests: dict[ObjectKey, str]
    #: Namespaces holding any of :data:`NAMESPACED_INPUTS`.
    busy: set[str]

    @classmethod
    def of(cls, objects: Sequence[K8sObject], nodes: tuple[str, ...]) -> ObjectIndex:
        """The index of the objects a full reconcile read."""
        index = cls(nodes=nodes,
                    declared={o.name for o in objects if o.kind == "Namespace"},
                    namespace_bodies={o.name: o.body for o in objects if o.kind == "Namespace"},
                    controllers=any(o.kind in CONTROLLER_KINDS for o in objects),
                    services=defaultdict(list), slices=defaultdict(dict), labels={}, ports={},
                    with_ingress={o.namespace for o in objects if o.kind == "Ingress"},
                    digests={(o.kind, o.namespace, o.name): digest(o.body)
                             for o in objects if o.kind != "Pod"},
                    busy={o.namespace for o in objects if o.kind in NAMESPACED_INPUTS})
        for obj in objects:
            if obj.kind == "Service":
                index.services[obj.namespace].append(obj)
            elif obj.kind == "EndpointSlice":
                index.slices[obj.namespace][obj.name] = obj
            elif obj.kind == "Pod":
                index.labels[(obj.namespace, obj.name)] = pod_labels(obj.body)
                index.ports[(obj.namespace, obj.name)] = container_ports(obj.spec)
        return index

    def unchanged(self, key: ObjectKey, body: Mapping[str, Any]) -> bool:
        """Whether nothing NCP reads of the object changed (its own write-back, a node
        heartbeat)."""
        return self.digests.get(key) == digest(body)

    def keep_pod(self, ns: str, name: str, body: Mapping[str, Any] | None) -> None:
        """A pod as it is now (None: gone); its namespace now holds objects."""
        self.labels[(ns, name)] = pod_labels(body)
        self.ports[(ns, name)] = container_ports(mapping_at(body, "spec"))
        self.busy.add(ns)

    def keep_namespace(self, name: str, body: dict[str, Any]) -> None:
        """A new namespace."""
        self.declared.add(name)
        self.namespace_bodies[name] = body
        self.digests[("Namespace", "", name)] = digest(body)

    def keep_slice(self, ns: str, name: str, body: dict[str, Any] | None) -> None:
        """An EndpointSlice as it is now (None: gone)."""
        key = ("EndpointSlice", ns, name)
        if body is None:
            self.slices[ns].pop(name, None)
            self.digests.pop(key, None)
        else:
            self.slices[ns][name] = as_k8s_object("EndpointSlice", (ns, name), body)
            self.digests[key] = digest(body)
