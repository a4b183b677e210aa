"""What a sync reads from the cluster side, as the state keeps and compares it: an
object's meaningful content, the kept objects' rows, and the digests of the inputs.

Why apart from :mod:`ncp.reconcile.sync`: the sync, the incremental reconcile and the
planning of a policy change (:mod:`ncp.reconcile.policy_change`) all compare inputs with
what the last sync recorded, and must agree on what counts as a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ncp.config import NcpConfig
from ncp.objects import K8sObject, metadata_of
from ncp.translate import naming
from sdn.errors import Problem
from sdn.profiles import NetworkProfile
from sdn.store.codec import k8s_object_row

#: Kinds kept in the state for later stages (they are read now, acted on later).
KEPT_KINDS = ("Service", "EndpointSlice", "Endpoints", "NetworkPolicy", "Ingress",
              "IngressClass", "ClusterNetworkPolicy", "AdminNetworkPolicy",
              "BaselineAdminNetworkPolicy")

#: Kinds the distributed firewall is built from.
POLICY_KINDS = ("NetworkPolicy", "ClusterNetworkPolicy", "AdminNetworkPolicy",
                "BaselineAdminNetworkPolicy")

#: Bump when provisioning changes, so that states written by an older version are
#: reconciled in full again rather than taken as up to date.
FINGERPRINT_VERSION = "4"

#: Problems whose outcome can change with time alone (held addresses expire): a cluster
#: that has any is always reconciled in full.
TIME_DEPENDENT = frozenset({
    "NAMESPACE_SUBNETS_EXHAUSTED", "NODE_SUBNETS_EXHAUSTED", "IP_POOL_EXHAUSTED",
    "IP_ALREADY_ALLOCATED", "NODE_VLANS_EXHAUSTED",
})

#: Kinds whose ``status`` NCP never reads (it writes that of Services and Ingresses).
STATUS_IGNORED = ("Namespace", "Node", "Service", "Ingress")

_NOISE = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp",
          "selfLink")


def meaningful(body: Mapping[str, Any]) -> dict[str, Any]:
    """An object without what changes without meaning for NCP: bookkeeping metadata
    (resourceVersion, managedFields, ...), the status annotations NCP itself writes, and
    the status of namespaces, nodes, services and ingresses. NCP's own write-back must not look
    like a change of its inputs (it would trigger a reconcile that finds nothing to do)."""
    out = {k: v for k, v in body.items()
           if not (k == "status" and body.get("kind") in STATUS_IGNORED)}
    meta = dict(metadata_of(body))
    for key in _NOISE:
        meta.pop(key, None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(naming.WRITTEN_ANNOTATION_PREFIXES)}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def kept_rows(objects: Sequence[K8sObject]) -> list[tuple[str, str, str, str]]:
    """The rows of the Kubernetes objects kept in the state (without NCP's write-back):
    ``(kind, namespace, name, body)``, as :meth:`~ncp.reconcile.state.State.k8s_object_rows`
    gives them back."""
    return [k8s_object_row(o.kind, o.namespace, o.name, meaningful(o.body))
            for o in objects if o.kind in KEPT_KINDS]


#: What ``json.dumps(value, sort_keys=True, default=str)`` makes, made once: at 100,000
#: pods the fingerprint encodes 200,000 values, and ``dumps`` builds an encoder for each.
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, default=str)


@dataclass(frozen=True)
class Fingerprints:
    """Digests of the inputs: ``full`` of everything provisioning reads from the cluster
    side, ``policy_free`` of the same without the policy kinds (:data:`POLICY_KINDS`)."""

    full: str
    policy_free: str


def input_fingerprints(config: NcpConfig, profile: NetworkProfile | None,
                       objects: Sequence[K8sObject], pods: Sequence[K8sObject],
                       problems: Sequence[Problem]) -> Fingerprints:
    """The digests of everything provisioning reads from the cluster side.

    Provisioning is a pure function of these inputs, the stored state and ``now``; if the
    inputs are unchanged and nobody wrote the state since this cluster's last sync, the
    result is unchanged too (bar expiring holds). If only ``policy_free`` is unchanged,
    only the policies changed, and with them at most the firewall
    (:mod:`ncp.reconcile.policy_change`). Each value is encoded once for both.
    """
    full = hashlib.sha256(FINGERPRINT_VERSION.encode())
    free = hashlib.sha256(FINGERPRINT_VERSION.encode())

    def feed(value: object, *, policy: bool = False) -> None:
        data = _FINGERPRINT_JSON.encode(value).encode() + b"\0"
        full.update(data)
        if not policy:
            free.update(data)

    feed(config.model_dump(mode="json"))
    feed(profile.to_json() if profile is not None else None)
    for obj in objects:
        if obj.kind in ("Namespace", "Node") or obj.kind in KEPT_KINDS:
            feed([obj.kind, obj.namespace, obj.name, meaningful(obj.body)],
                 policy=obj.kind in POLICY_KINDS)
    for pod in pods:
        meta, spec = pod.metadata, pod.spec
        feed([pod.namespace, pod.name, meta.get("labels"), spec.get("nodeName"),
              spec.get("hostNetwork"), pod.status.get("phase"),
              [container.get("ports") for container in spec.get("containers") or []]])
    feed([[problem.code, problem.obj, problem.message] for problem in problems])
    return Fingerprints(full.hexdigest(), free.hexdigest())
