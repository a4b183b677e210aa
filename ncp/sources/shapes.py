"""The types of the fields ncp reads, checked where manifests come in.

The API server refuses an object whose fields have the wrong type (``containers: web``,
``labels: app``, ``port: "80"`` where a number is due), so ncp's translators may rely on
them. Manifests on disk have had no API server look at them, and a file cut short or
edited by hand can hold any of these; :func:`shape_problem` finds the first such field
of an object, so the reader rejects the object (``INVALID_OBJECT``) instead of a
translator failing on it.

Only the fields ncp reads are described, and only their types: a schema here is a type
(``str``, ``int``, ``bool``), :data:`STRINGS` (a mapping of strings to strings, as
labels), a list of one schema (every item), or a dict of field name to schema (a mapping
whose named fields, when present, have those schemas; other fields are not looked at).
``None`` (YAML's empty value, Kubernetes' null) is accepted for a field: it means absent.
A null *item* of a list of mappings (``containers: [null]``, what a file cut after ``-``
holds) is refused instead: the API server would read it as an empty object and then
refuse the container or port it makes; for the rare list where an empty object means
something (a NetworkPolicy rule ``{}``, allowing all), the user writes ``{}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: A mapping of strings to strings (labels, annotations, selectors).
STRINGS = "mapping of strings to strings"

Schema = Any

_METADATA: Schema = {"name": str, "namespace": str, "labels": STRINGS, "annotations": STRINGS}
_PORT: Schema = {"containerPort": int, "name": str, "protocol": str}
_POD_SPEC: Schema = {
    "containers": [{"name": str, "ports": [_PORT]}],
    "nodeName": str, "hostNetwork": bool,
}
_TEMPLATE: Schema = {"metadata": {"labels": STRINGS, "annotations": STRINGS},
                     "spec": _POD_SPEC}
_SELECTOR: Schema = {"matchLabels": STRINGS,
                     "matchExpressions": [{"key": str, "operator": str, "values": [str]}]}
_WORKLOAD: Schema = {"metadata": _METADATA,
                     "spec": {"replicas": int, "selector": _SELECTOR, "template": _TEMPLATE}}
_PEER: Schema = {"podSelector": _SELECTOR, "namespaceSelector": _SELECTOR,
                 "ipBlock": {"cidr": str, "except": [str]}}
_POLICY_PORT: Schema = {"protocol": str, "endPort": int}
_BACKEND: Schema = {"service": {"name": str, "port": {"name": str, "number": int}}}

#: Per kind, the object's schema.
SHAPES: dict[str, Schema] = {
    "Namespace": {"metadata": _METADATA},
    "Node": {"metadata": _METADATA,
             "status": {"addresses": [{"type": str, "address": str}]}},
    "Pod": {"metadata": _METADATA, "spec": _POD_SPEC,
            "status": {"phase": str, "podIP": str}},
    "Deployment": _WORKLOAD, "ReplicaSet": _WORKLOAD, "StatefulSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD, "Job": _WORKLOAD,
    "CronJob": {"metadata": _METADATA,
                "spec": {"jobTemplate": {"spec": {"template": _TEMPLATE}}}},
    "Service": {"metadata": _METADATA,
                "spec": {"type": str, "clusterIP": str, "selector": STRINGS,
                         "loadBalancerIP": str,
                         "ports": [{"name": str, "protocol": str, "port": int}]}},
    "EndpointSlice": {"metadata": _METADATA,
                      "endpoints": [{"addresses": [str], "nodeName": str,
                                     "conditions": {"ready": bool},
                                     "targetRef": {"kind": str, "name": str}}],
                      "ports": [{"name": str, "protocol": str, "port": int}]},
    "NetworkPolicy": {"metadata": _METADATA,
                      "spec": {"podSelector": _SELECTOR, "policyTypes": [str],
                               "ingress": [{"from": [_PEER], "ports": [_POLICY_PORT]}],
                               "egress": [{"to": [_PEER], "ports": [_POLICY_PORT]}]}},
    "Ingress": {"metadata": _METADATA,
                "spec": {"ingressClassName": str, "defaultBackend": _BACKEND,
                         "rules": [{"host": str, "http": {
                             "paths": [{"path": str, "pathType": str,
                                        "backend": _BACKEND}]}}]}},
}


def shape_problem(kind: str, body: Mapping[str, Any]) -> str | None:
    """The first field of ``body`` whose type ncp cannot read, as ``"field: why"``;
    None when every field it reads has its type (or the kind is not described)."""
    schema = SHAPES.get(kind)
    return None if schema is None else _check(body, schema, "")


def _check(value: object, schema: Schema, where: str) -> str | None:
    """The first field of ``value`` whose type ``schema`` refuses (``where`` names
    ``value``). The common case, a field of the right plain type, is decided before any
    name is built: names are only needed for the one field that is wrong."""
    if value is None:
        return None
    if schema is STRINGS:
        ok = isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        return None if ok else f"{where}: not a {STRINGS}"
    if isinstance(schema, list):
        if not isinstance(value, list):
            return f"{where}: not a list"
        item_schema = schema[0]
        for i, item in enumerate(value):
            if item is None and isinstance(item_schema, dict):
                return f"{where}[{i}]: null (write {{}} for an empty item)"
            if not _plain_ok(item, item_schema) and (
                    found := _check(item, item_schema, f"{where}[{i}]")) is not None:
                return found
        return None
    if isinstance(schema, dict):
        if not isinstance(value, Mapping):
            return f"{where or '(object)'}: not a mapping"
        for name, sub in schema.items():
            field = value.get(name)
            if _plain_ok(field, sub):
                continue
            found = _check(field, sub, f"{where}.{name}" if where else name)
            if found is not None:
                return found
        return None
    # a plain type; bool is an int in Python, but not in Kubernetes
    if isinstance(value, schema) and not (schema is int and isinstance(value, bool)):
        return None
    return f"{where}: not {_NAMES[schema]}"


def _plain_ok(value: object, schema: Schema) -> bool:
    """Whether ``value`` is certainly fine for ``schema`` without a closer look: absent, or
    a string where a string is wanted (most fields)."""
    return value is None or (schema is str and type(value) is str)


_NAMES = {str: "a string", int: "a whole number", bool: "true or false"}
