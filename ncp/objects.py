"""Kubernetes objects as ncp holds them, whichever source they came from.

A manifest folder (:mod:`ncp.sources.manifests`) and a live watch (:mod:`ncp.sources.watch`)
both hand the translator the same :class:`K8sObject`; the translator never needs to know
which. Keeping the type here, apart from both readers, is what lets ``ncp.translate`` import
no source at all (an import-linter contract in ``pyproject.toml``).

Bodies are plain parsed JSON (``dict``), shared and never copied: the accessors here
(:func:`metadata_of`, :func:`labels_of`, :func:`annotations_of`, ...) read them
defensively, because a hand-written manifest may carry ``metadata: null`` or a list where a
mapping belongs, and a translator must not crash on it (shape problems are reported by
:mod:`ncp.sources.shapes`, not here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "KNOWN_KINDS",
    "K8sObject",
    "Key",
    "ObjectKey",
    "annotations_of",
    "as_k8s_object",
    "labels_of",
    "mapping_at",
    "metadata_of",
    "resource_version",
]

#: ``(namespace, name)`` of an object within its kind (namespace ``""`` when cluster-scoped).
Key = tuple[str, str]
#: ``(kind, namespace, name)``: an object's identity across kinds.
ObjectKey = tuple[str, str, str]

#: Kinds that ncp or a later stage reads; anything else is skipped with a note.
KNOWN_KINDS: frozenset[str] = frozenset(
    {
        "Namespace",
        "Pod",
        "Node",
        "Service",
        "EndpointSlice",
        "Endpoints",
        "NetworkPolicy",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Ingress",
        "IngressClass",
        "ClusterNetworkPolicy",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
    }
)

#: Known kinds without a namespace (their ``namespace`` is ``""``). IngressClass is
#: cluster-scoped in Kubernetes too, so it is here as well.
CLUSTER_SCOPED_KINDS: frozenset[str] = frozenset(
    {
        "Namespace",
        "Node",
        "IngressClass",
        "ClusterNetworkPolicy",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
    }
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def mapping_at(body: Mapping[str, Any] | None, field_name: str) -> Mapping[str, Any]:
    """``body[field_name]`` when it is a mapping, else an empty mapping."""
    value = body.get(field_name) if body else None
    return value if isinstance(value, Mapping) else _EMPTY


def metadata_of(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A raw body's ``metadata`` (empty when absent or not a mapping)."""
    return mapping_at(body, "metadata")


def labels_of(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A raw body's ``metadata.labels`` (empty when absent or not a mapping)."""
    return mapping_at(metadata_of(body), "labels")


def annotations_of(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A raw body's ``metadata.annotations`` (empty when absent or not a mapping)."""
    return mapping_at(metadata_of(body), "annotations")


def resource_version(body: Mapping[str, Any] | None) -> str:
    """A raw body's ``metadata.resourceVersion`` as text (``""`` when absent)."""
    return str(metadata_of(body).get("resourceVersion") or "")


@dataclass(frozen=True)
class K8sObject:
    """One Kubernetes object, from a manifest or from the API.

    Attributes:
        kind: The object's ``kind``, e.g. ``"Deployment"``.
        api_version: Its ``apiVersion`` (``""`` when the manifest omits it).
        namespace: Its namespace; ``""`` for cluster-scoped kinds, ``"default"`` when a
            namespaced object omits it.
        name: ``metadata.name``.
        body: The whole object as parsed. Treat it as read-only: it is shared, not copied.
        source: Where it came from, ``"file.yaml#3"`` (file and 0-based document index).
    """

    kind: str
    api_version: str
    namespace: str
    name: str
    body: dict[str, Any] = field(hash=False, repr=False)
    source: str

    @property
    def key(self) -> tuple[str, str, str]:
        """``(kind, namespace, name)``: the identity used to detect duplicates."""
        return (self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        """``"namespace/name"``, or just ``"name"`` for a cluster-scoped object."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def ident(self) -> str:
        """``"Kind namespace/name"``: how problems and notes name the object."""
        return f"{self.kind} {self.ref}"

    @property
    def metadata(self) -> Mapping[str, Any]:
        """``metadata`` of the body (an empty mapping if absent)."""
        return metadata_of(self.body)

    @property
    def labels(self) -> Mapping[str, str]:
        """``metadata.labels`` (an empty mapping if absent)."""
        return labels_of(self.body)

    @property
    def annotations(self) -> Mapping[str, str]:
        """``metadata.annotations`` (an empty mapping if absent)."""
        return annotations_of(self.body)

    @property
    def spec(self) -> Mapping[str, Any]:
        """``spec`` of the body (an empty mapping if absent)."""
        return mapping_at(self.body, "spec")

    @property
    def status(self) -> Mapping[str, Any]:
        """``status`` of the body (an empty mapping if absent)."""
        return mapping_at(self.body, "status")


def as_k8s_object(kind: str, key: Key, body: dict[str, Any], source: str = "") -> K8sObject:
    """An API object (a watch event's or a list's body) as the manifest reader would give it.

    A namespaced object without a namespace lands in ``default``, as ``kubectl`` puts it.
    """
    return K8sObject(kind=kind, api_version=str(body.get("apiVersion") or ""),
                     namespace="" if kind in CLUSTER_SCOPED_KINDS else (key[0] or "default"),
                     name=key[1], body=body, source=source or f"api:{kind}")
