"""Workload controllers expanded into the pods they would run, deterministically.

ncp gives every *pod* a segment port, an IP and a MAC, so a folder of manifests that declares a
Deployment with three replicas must yield three pods, with the same names and nodes on every
run (``ncp sync`` run twice changes nothing; addresses stay with the pods that keep them). A
real cluster's controllers and scheduler are neither of those things, so this module plays
both, in a small, documented and stable way. It is pure: values in, values out, no I/O.

Rules:

* **Bare Pods** are kept as they are.
* **Deployment, ReplicaSet, StatefulSet**: ``spec.replicas`` pods (default 1), named
  ``<name>-<ordinal>`` with 0-based ordinals. Real Deployment and ReplicaSet pods have hashed
  names (``frontend-7d9f8c6b5-x2x4q``); the StatefulSet style is chosen for all of them so that
  a user can type ``shop/frontend-0`` in ``sdn traceflow`` and get the same pod every run.
* **Job**: ``spec.parallelism`` pods (default 1; at most ``spec.completions`` when that is set,
  none when ``spec.suspend`` is true), named ``<name>-<ordinal>``.
* **CronJob**: no pods (it runs on a schedule; noted). Jobs it created, when present in the
  input, are expanded like any Job.
* **DaemonSet**: one pod per node, named ``<name>-<node>``. ``spec.template.spec.nodeSelector``
  is honoured only when Node objects are among the input (their labels are what it selects
  on); with plain node names every node runs one.
* **No double counting** of a ``kubectl get all`` dump, which holds controllers *and* their
  pods: a ReplicaSet owned (``metadata.ownerReferences``) by a Deployment that is present is
  never expanded (the Deployment is); and a controller that has at least one real Pod in the
  input (owned directly, or via a ReplicaSet owned by the Deployment) is not expanded at all:
  its real pods are used instead. When a dump holds Pods and their Deployment but not the
  ReplicaSet in between, the Deployment is recognised from the ReplicaSet's name, which
  Kubernetes builds as ``<deployment>-<pod-template-hash>`` (the hash is a label on the pod).
* **Generated pods** carry ``metadata.name``, ``metadata.namespace`` (the controller's),
  ``metadata.labels`` and ``metadata.annotations`` from ``spec.template.metadata``,
  ``metadata.ownerReferences`` naming the controller, and ``spec`` = the template's spec with
  ``nodeName`` set. Their :attr:`~ncp.objects.K8sObject.source` is the controller's.
* **Node placement**: a pod's own ``spec.nodeName`` (or the template's) wins. Otherwise the
  nodes are sorted by name and replica ``i`` goes to node
  ``(crc32("<namespace>/<controller-or-pod-name>") + i) % len(nodes)``. That spreads replicas
  round-robin from a per-workload offset (so not every workload starts on the first node), is
  the same on every run and machine (``zlib.crc32``, unlike ``hash()``, is not salted), and is
  stable as replicas are added: replica ``i``'s node does not depend on the replica count. All
  pods returned, bare ones included, have ``spec.nodeName`` set.

Problems (values, never exceptions): ``INVALID_OBJECT`` for a controller without a
``spec.template``, with a replica count that is negative or not an integer, or whose name would
give an invalid pod name (not a DNS-1123 subdomain: lowercase letters, digits, ``-`` and ``.``,
at most 253 characters); the controller then yields no pods. ``DUPLICATE_OBJECT`` when two pods
share a namespace and name: the one that comes first by source (file, then document index,
compared as a number) is kept and the later one reported; likewise for a controller given twice.
Because the input is put in that order first, the result does not depend on the input's order.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ncp.objects import K8sObject
from sdn.errors import Problem

__all__ = [
    "CONTROLLER_KINDS",
    "WorkloadExpansion",
    "expand_workloads",
    "node_names",
    "place",
]

#: Kinds whose pods this module generates (CronJob yields none, but owns Jobs).
CONTROLLER_KINDS: frozenset[str] = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}
)

_REPLICATED_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet"})
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_NAME = 253
_Key = tuple[str, str, str]


@dataclass(frozen=True)
class WorkloadExpansion:
    """The pods a set of objects runs.

    Attributes:
        pods: Bare pods and generated pods, sorted by ``(namespace, name)``; every one has
            ``spec.nodeName`` set.
        problems: Controllers that could not be expanded and pods that collide, sorted.
        notes: Informational messages (CronJobs, skipped ReplicaSets, controllers whose real
            pods were used), in a deterministic order.
    """

    pods: tuple[K8sObject, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()


def node_names(objects: Sequence[K8sObject], default: Sequence[str]) -> tuple[str, ...]:
    """The names of the Node objects among ``objects``, sorted, or ``default`` if there are none.

    Args:
        objects: Objects as read from manifests.
        default: Node names to use when the input declares no Node.

    Returns:
        Sorted, distinct Node names, or ``tuple(default)``.
    """
    names = sorted({obj.name for obj in objects if obj.kind == "Node"})
    return tuple(names) if names else tuple(default)


def place(namespace: str, workload: str, ordinal: int, nodes: Sequence[str]) -> str:
    """The node for replica ``ordinal`` of a workload, by the module's placement rule.

    Args:
        namespace: The workload's namespace.
        workload: The controller's name (or the pod's, for a bare pod).
        ordinal: The replica's 0-based ordinal.
        nodes: Candidate nodes (any order; they are sorted and de-duplicated).

    Returns:
        The chosen node's name.

    Raises:
        ValueError: If ``nodes`` is empty.

    >>> place("shop", "frontend", 0, ["n2", "n1"]) in {"n1", "n2"}
    True
    """
    ordered = sorted(set(nodes))
    if not ordered:
        raise ValueError("no nodes to place pods on")
    return ordered[(_offset(namespace, workload) + ordinal) % len(ordered)]


def _offset(namespace: str, workload: str) -> int:
    """The workload's placement offset: stable across runs, processes and machines."""
    return zlib.crc32(f"{namespace}/{workload}".encode())


def expand_workloads(objects: Sequence[K8sObject], *, nodes: Sequence[str]) -> WorkloadExpansion:
    """Expand workload controllers into pods and place every pod on a node.

    Args:
        objects: Objects as read from manifests; kinds other than Pod, Node and the
            controllers are ignored. The order does not matter.
        nodes: Node names to place pods on, e.g. ``node_names(objects, default)``.

    Returns:
        The pods (bare and generated), problems and notes.

    Raises:
        ValueError: If ``nodes`` is empty.
        TypeError: If ``nodes`` is a single string rather than a sequence of names.
    """
    ordered_nodes = _ordered_nodes(nodes)
    ordered = sorted(objects, key=_object_order)
    problems: list[Problem] = []
    notes: list[str] = []
    controllers = _distinct_controllers(ordered, problems)
    bare_pods = [obj for obj in ordered if obj.kind == "Pod"]
    node_labels = {obj.name: obj.labels for obj in ordered if obj.kind == "Node"}
    candidates: list[_Candidate] = [
        (place_bare_pod(pod, ordered_nodes), 0, f"Pod {pod.ref} ({pod.source})")
        for pod in bare_pods
    ]
    candidates += _generated_pods(controllers, bare_pods, ordered_nodes, node_labels,
                                  problems, notes)
    pods = _first_of_each_name(candidates, problems)
    return WorkloadExpansion(pods, tuple(sorted(problems)), tuple(notes))


#: A pod that may be returned, its ordinal, and how it came to be (for a collision's message).
_Candidate = tuple[K8sObject, int, str]


def _ordered_nodes(nodes: Sequence[str]) -> tuple[str, ...]:
    """The nodes sorted and distinct, so that placement does not depend on their order."""
    if isinstance(nodes, str):
        raise TypeError("nodes must be a sequence of node names, not a string")
    ordered_nodes = tuple(sorted(set(nodes)))
    if not ordered_nodes:
        raise ValueError("no nodes to place pods on")
    return ordered_nodes


def _distinct_controllers(ordered: Sequence[K8sObject],
                          problems: list[Problem]) -> dict[_Key, K8sObject]:
    """The controllers by key; one given again is ``DUPLICATE_OBJECT`` and the first by
    source is kept (``ordered`` is in source order)."""
    controllers: dict[_Key, K8sObject] = {}
    for obj in ordered:
        if obj.kind not in CONTROLLER_KINDS:
            continue
        first = controllers.setdefault(obj.key, obj)
        if first is not obj:
            problems.append(
                Problem(
                    "DUPLICATE_OBJECT",
                    obj.ident,
                    f"defined in {first.source} and again in {obj.source}; keeping {first.source}",
                )
            )
    return controllers


def _generated_pods(
    controllers: Mapping[_Key, K8sObject],
    bare_pods: Sequence[K8sObject],
    nodes: tuple[str, ...],
    node_labels: Mapping[str, Mapping[str, str]],
    problems: list[Problem],
    notes: list[str],
) -> list[_Candidate]:
    """The pods the controllers generate. A controller is not expanded when that would
    count pods twice (a ReplicaSet of a present Deployment, a controller whose real pods
    are in the input) or when it runs none now (a CronJob); each such case is noted."""
    owned_by_deployment = {
        key: deployment
        for key, obj in controllers.items()
        if obj.kind == "ReplicaSet"
        and (deployment := _present_owner(obj, controllers, {"Deployment"})) is not None
    }
    real_pod_counts = _controllers_with_real_pods(bare_pods, controllers, owned_by_deployment)
    candidates: list[_Candidate] = []
    for key, controller in controllers.items():
        where = f"{controller.ident} ({controller.source})"
        if key in owned_by_deployment:
            owner = controllers[owned_by_deployment[key]]
            notes.append(f"{where}: not expanded, owned by {owner.ident}")
        elif key in real_pod_counts:
            notes.append(
                f"{where}: not expanded, using its {real_pod_counts[key]} pod(s) from the input"
            )
        elif controller.kind == "CronJob":
            notes.append(
                f"{where}: no pods, a CronJob runs on a schedule (its Jobs are expanded "
                "when present)"
            )
        else:
            generated = _expand(controller, nodes, node_labels, problems, notes)
            candidates.extend(
                (pod, ordinal, f"pod generated by {where}")
                for ordinal, pod in enumerate(generated)
            )
    return candidates


def _first_of_each_name(candidates: Sequence[_Candidate],
                        problems: list[Problem]) -> tuple[K8sObject, ...]:
    """The pods sorted by ``(namespace, name)``; of pods sharing both, the first by source
    (then ordinal) is kept and each later one is ``DUPLICATE_OBJECT``, so the result does
    not depend on the input's order."""
    kept: dict[tuple[str, str], tuple[K8sObject, str]] = {}
    for pod, _, origin in sorted(candidates, key=lambda item: (*_object_order(item[0]), item[1])):
        at = (pod.namespace, pod.name)
        first_pod = kept.get(at)
        if first_pod is None:
            kept[at] = (pod, origin)
            continue
        problems.append(
            Problem(
                "DUPLICATE_OBJECT",
                pod.ident,
                f"{origin} collides with {first_pod[1]}, which is kept",
            )
        )
    return tuple(kept[at][0] for at in sorted(kept))


def _expand(
    controller: K8sObject,
    nodes: tuple[str, ...],
    node_labels: Mapping[str, Mapping[str, str]],
    problems: list[Problem],
    notes: list[str],
) -> list[K8sObject]:
    """The pods one controller generates (empty, with a problem, if it cannot)."""
    spec = controller.body.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    template = spec.get("template")
    if not isinstance(template, Mapping):
        problems.append(_invalid(controller, "has no spec.template"))
        return []
    template_spec = template.get("spec", {})
    template_meta = template.get("metadata", {})
    if not isinstance(template_spec, Mapping) or not isinstance(template_meta, Mapping):
        problems.append(_invalid(controller, "spec.template.spec/metadata is not a mapping"))
        return []

    if controller.kind == "DaemonSet":
        selector = template_spec.get("nodeSelector")
        targets = list(nodes)
        if node_labels and isinstance(selector, Mapping) and selector:
            targets = [
                node
                for node in nodes
                if all(node_labels.get(node, {}).get(k) == v for k, v in selector.items())
            ]
            if not targets:
                notes.append(
                    f"{controller.ident} ({controller.source}): no node matches its nodeSelector"
                )
        names = [(f"{controller.name}-{node}", node) for node in targets]
        bad = next((name for name, _ in names if not _valid_pod_name(name)), None)
    else:
        count = _replica_count(controller, spec, problems)
        if count is None:
            return []
        # "<name>-<i>" is valid for every i if it is for the longest one.
        longest = f"{controller.name}-{max(count - 1, 0)}"
        bad = None if _valid_pod_name(longest) else longest
        fixed = _fixed_node(template_spec)
        offset = _offset(controller.namespace, controller.name)
        names = [
            (f"{controller.name}-{ordinal}", fixed or nodes[(offset + ordinal) % len(nodes)])
            for ordinal in range(count if bad is None else 0)
        ]
    if bad is None and not _valid_pod_name(controller.name):
        bad = controller.name
    if bad is not None:
        problems.append(
            _invalid(
                controller,
                f"would generate invalid pod name {bad!r} (a DNS-1123 subdomain is "
                f"lowercase letters, digits, '-' and '.', at most {_MAX_NAME} characters)",
            )
        )
        return []
    return [_pod(controller, template_meta, template_spec, name, node) for name, node in names]


def _replica_count(
    controller: K8sObject, spec: Mapping[str, Any], problems: list[Problem]
) -> int | None:
    """How many pods a replicated controller or Job runs; ``None`` (and a problem) if invalid."""
    field = "parallelism" if controller.kind == "Job" else "replicas"
    value = spec.get(field)
    if value is None:
        value = 1
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(_invalid(controller, f"spec.{field} is not an integer: {value!r}"))
        return None
    if value < 0:
        problems.append(_invalid(controller, f"spec.{field} is negative: {value}"))
        return None
    if controller.kind == "Job":
        if spec.get("suspend") is True:
            return 0
        completions = spec.get("completions")
        if isinstance(completions, int) and not isinstance(completions, bool) and completions >= 0:
            value = min(value, completions)
    return value


def _fixed_node(pod_spec: Mapping[str, Any]) -> str:
    """A pod spec's own ``nodeName``, or ``""``."""
    node = pod_spec.get("nodeName")
    return node if isinstance(node, str) else ""


def _pod(
    controller: K8sObject,
    template_meta: Mapping[str, Any],
    template_spec: Mapping[str, Any],
    name: str,
    node: str,
) -> K8sObject:
    """One generated pod of ``controller``."""
    owner: dict[str, Any] = {
        "apiVersion": controller.api_version,
        "kind": controller.kind,
        "name": controller.name,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    uid = controller.metadata.get("uid")
    if isinstance(uid, str):
        owner["uid"] = uid
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": controller.namespace,
        "labels": dict(_mapping(template_meta.get("labels"))),
        "annotations": dict(_mapping(template_meta.get("annotations"))),
        "ownerReferences": [owner],
    }
    # A shallow copy: the nested parts are shared with the template, which is safe because
    # bodies are read-only (see K8sObject); a deep copy per replica cost a third of the
    # expansion time at 100,000 pods.
    spec = {**template_spec, "nodeName": node}
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
    return K8sObject("Pod", "v1", controller.namespace, name, body, controller.source)


def place_bare_pod(pod: K8sObject, nodes: tuple[str, ...]) -> K8sObject:
    """A bare pod with ``spec.nodeName`` set (the pod itself if it already has one)."""
    spec = pod.body.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    if _fixed_node(spec):
        return pod
    node = nodes[_offset(pod.namespace, pod.name) % len(nodes)]
    body = {**pod.body, "spec": {**spec, "nodeName": node}}
    return K8sObject(pod.kind, pod.api_version, pod.namespace, pod.name, body, pod.source)


def _present_owner(
    obj: K8sObject, controllers: Mapping[_Key, K8sObject], kinds: set[str] | frozenset[str]
) -> _Key | None:
    """The key of a present controller (of one of ``kinds``) that ``obj`` names as its owner.

    Owner references are namespace-local, so the owner is looked up in ``obj``'s namespace.
    A reference marked ``controller: true`` is preferred over others.
    """
    refs = obj.metadata.get("ownerReferences")
    if not isinstance(refs, list):
        return None
    found: list[tuple[bool, _Key]] = []
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        kind, name = ref.get("kind"), ref.get("name")
        if kind in kinds and isinstance(name, str):
            key = (str(kind), obj.namespace, name)
            if key in controllers:
                found.append((ref.get("controller") is True, key))
    if not found:
        return None
    found.sort(key=lambda item: (not item[0], item[1]))
    return found[0][1]


def _controllers_with_real_pods(
    pods: Sequence[K8sObject],
    controllers: Mapping[_Key, K8sObject],
    owned_by_deployment: Mapping[_Key, _Key],
) -> dict[_Key, int]:
    """For each present controller with real pods in the input, how many pods it has."""
    counts: dict[_Key, int] = {}
    for pod in pods:
        owners: set[_Key] = set()
        owner = _present_owner(pod, controllers, CONTROLLER_KINDS)
        if owner is not None:
            owners.add(owner)
            if owner in owned_by_deployment:
                owners.add(owned_by_deployment[owner])
        deployment = _deployment_via_missing_replicaset(pod, controllers)
        if deployment is not None:
            owners.add(deployment)
        for key in owners:
            counts[key] = counts.get(key, 0) + 1
    return counts


def _deployment_via_missing_replicaset(
    pod: K8sObject, controllers: Mapping[_Key, K8sObject]
) -> _Key | None:
    """A present Deployment that owns ``pod`` through a ReplicaSet absent from the input."""
    refs = pod.metadata.get("ownerReferences")
    template_hash = pod.labels.get("pod-template-hash")
    if not isinstance(refs, list) or not isinstance(template_hash, str) or not template_hash:
        return None
    suffix = f"-{template_hash}"
    for ref in refs:
        if not isinstance(ref, Mapping) or ref.get("kind") != "ReplicaSet":
            continue
        name = ref.get("name")
        if not isinstance(name, str) or not name.endswith(suffix):
            continue
        if ("ReplicaSet", pod.namespace, name) in controllers:
            continue  # the ReplicaSet is present: handled through owned_by_deployment
        key = ("Deployment", pod.namespace, name.removesuffix(suffix))
        if key in controllers:
            return key
    return None


def _object_order(obj: K8sObject) -> tuple[Any, ...]:
    """Sort key: source (file, then document index numerically), then identity."""
    return (_source_key(obj.source), obj.kind, obj.namespace, obj.name)


def _source_key(source: str) -> tuple[tuple[int, int | str], ...]:
    """``"a.yaml#10"`` after ``"a.yaml#9"``: digit runs compare as numbers."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part)
        for part in re.split(r"(\d+)", source)
        if part
    )


def _valid_pod_name(name: str) -> bool:
    """Whether ``name`` is a valid pod name (a DNS-1123 subdomain)."""
    return len(name) <= _MAX_NAME and _DNS1123_SUBDOMAIN.fullmatch(name) is not None


def _mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _invalid(controller: K8sObject, message: str) -> Problem:
    return Problem("INVALID_OBJECT", controller.ident, f"{message} ({controller.source})")
