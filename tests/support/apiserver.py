"""An in-process, protocol-faithful Kubernetes API server test double.

No kube-apiserver can run on the test machines, yet ``ncp run`` talks to Kubernetes through
the official ``kubernetes`` Python client.  This module serves the subset of the Kubernetes
REST protocol that the client exercises, over plain HTTP/1.1 on 127.0.0.1, so tests drive the
*real* client code paths (URL building, deserialisation, ``watch.Watch`` resume and 410
handling) instead of mocks.

The semantics follow the Kubernetes "API concepts" documentation:

* one global, monotonically increasing ``resourceVersion`` stamped on every write;
* LIST returns ``{kind: XList, apiVersion, metadata: {resourceVersion}, items}`` where items of
  built-in types carry no ``kind``/``apiVersion`` (custom resources do, as with CRDs);
* WATCH with ``resourceVersion`` unset or ``"0"`` starts with synthetic ADDED events for the
  current state ("Get State and Start at Most Recent/Any"); any other value resumes strictly
  after that version ("Start at Exact") from a bounded history, or answers an ERROR event
  carrying a 410 ``Expired`` Status when that version was compacted away;
* optimistic concurrency (409 Conflict on stale ``metadata.resourceVersion``), no-op updates
  that do not bump the version, ``/status`` subresources, label/field selectors, paging.

Faults that are hard to provoke against a real cluster (dropped watches, duplicated or
reordered events, compaction, 5xx/429 answers, restarts) are injected through methods on
:class:`ApiServer`.  Everything is standard library and thread-safe: a single re-entrant
lock guards state, and each watch connection owns a queue fed under that lock so a watch
never misses or double-counts a write that races with its registration.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import copy
import datetime as _dt
import http.server
import ipaddress
import json
import queue
import random
import re
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import kubernetes.client

__all__ = [
    "DEFAULT_RESOURCES",
    "POLICY_GROUP",
    "ApiError",
    "ApiServer",
    "RecordedRequest",
    "ResourceType",
    "api_client",
    "client_configuration",
    "running_apiserver",
]

POLICY_GROUP = "policy.networking.k8s.io"
"""The Network Policy API group whose serving is switchable (CRDs may be absent in a cluster)."""

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public")
_DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what apiserver's generateName uses


# --------------------------------------------------------------------------------------------
# Resource catalogue
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the URL space and how the apiserver treats it.

    ``custom`` marks CRD-backed types, which differ from built-ins in observable ways: list
    items keep ``kind``/``apiVersion``, strategic merge patch is refused (415), an update must
    carry ``metadata.resourceVersion`` and DELETE answers with the object.
    """

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    custom: bool = False
    returns_deleted_object: bool = False
    field_labels: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` string objects of this type carry (``v1`` or ``group/version``)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: group and plural (each type is served at exactly one version here)."""
        return (self.group, self.plural)

    @property
    def qualified(self) -> str:
        """``plural.group`` as used in apiserver error messages (``pods`` for the core group)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

DEFAULT_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, "namespace", ("ns",),
                 has_status=True, returns_deleted_object=True, field_labels=("status.phase",)),
    ResourceType("", "v1", "pods", "Pod", True, "pod", ("po",), has_status=True,
                 returns_deleted_object=True, field_labels=_POD_FIELDS),
    ResourceType("", "v1", "services", "Service", True, "service", ("svc",), has_status=True,
                 returns_deleted_object=True, field_labels=("spec.clusterIP", "spec.type")),
    ResourceType("", "v1", "nodes", "Node", False, "node", ("no",), has_status=True,
                 field_labels=("spec.unschedulable",)),
    ResourceType("", "v1", "events", "Event", True, "event", ("ev",),
                 field_labels=_EVENT_FIELDS),
    ResourceType("", "v1", "endpoints", "Endpoints", True, "endpoints", ("ep",)),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True,
                 "endpointslice", ("eps",), field_labels=("addressType",)),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True,
                 "networkpolicy", ("netpol",)),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True, "ingress",
                 ("ing",), has_status=True),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, "lease"),
    ResourceType(POLICY_GROUP, "v1alpha1", "adminnetworkpolicies", "AdminNetworkPolicy",
                 False, "adminnetworkpolicy", ("anp",), has_status=True, custom=True,
                 returns_deleted_object=True),
    ResourceType(POLICY_GROUP, "v1alpha1", "baselineadminnetworkpolicies",
                 "BaselineAdminNetworkPolicy", False, "baselineadminnetworkpolicy", ("banp",),
                 has_status=True, custom=True, returns_deleted_object=True),
    ResourceType(POLICY_GROUP, "v1alpha2", "clusternetworkpolicies", "ClusterNetworkPolicy",
                 False, "clusternetworkpolicy", ("cnp",), has_status=True, custom=True,
                 returns_deleted_object=True),
)


# --------------------------------------------------------------------------------------------
# Errors as v1 Status objects
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """A request failure, carried as the ``v1 Status`` body the apiserver would send.

    Raised internally to produce HTTP errors and by the test helpers (``apply`` and friends)
    so a test seeding bad data fails the way ``kubectl`` would.
    """

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    @property
    def status(self) -> dict[str, Any]:
        """The ``v1 Status`` JSON body."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(rt: ResourceType, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    return details


def _not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def _conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(rt, name),
    )


def _invalid(rt: ResourceType, name: str, field_path: str, message: str) -> ApiError:
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    details = {"name": name, "kind": rt.kind,
               "causes": [{"reason": "FieldValueInvalid", "message": message,
                           "field": field_path}]}
    if rt.group:
        details["group"] = rt.group
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {field_path}: {message}',
                    details)


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _no_route() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


_FAILURE_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------

_KEY = r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<vals>[^()]*)\)$")
_NOT_EXISTS_RE = re.compile(rf"^!\s*(?P<key>{_KEY})$")
_EQ_RE = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<val>{_VALUE})$")
_EXISTS_RE = re.compile(rf"^(?P<key>{_KEY})$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` value sets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


@dataclass(frozen=True)
class LabelRequirement:
    """One parsed label-selector term (``key op values``)."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Apply the term with apiserver semantics: ``!=``/``notin`` also match a missing key."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # "!=", "notin"


def parse_label_selector(text: str | None) -> list[LabelRequirement]:
    """Parse the string form of a label selector (``a=b,c!=d,e in (f,g),!h,i``).

    Raises :class:`ApiError` 400 on syntax errors, as the apiserver does.
    """
    if not text or not text.strip():
        return []
    reqs: list[LabelRequirement] = []
    for term in _split_top_level(text):
        if not term:
            raise _bad_request(f"unable to parse requirement: empty term in {text!r}")
        if m := _SET_RE.match(term):
            vals = [v.strip() for v in m["vals"].split(",") if v.strip()]
            if not vals or any(not _VALUE_RE.match(v) for v in vals):
                raise _bad_request(f"unable to parse requirement: invalid values in {term!r}")
            reqs.append(LabelRequirement(m["key"], m["op"], frozenset(vals)))
        elif m := _NOT_EXISTS_RE.match(term):
            reqs.append(LabelRequirement(m["key"], "!"))
        elif m := _EQ_RE.match(term):
            op = "!=" if m["op"] == "!=" else "="
            reqs.append(LabelRequirement(m["key"], op, frozenset([m["val"]])))
        elif m := _EXISTS_RE.match(term):
            reqs.append(LabelRequirement(m["key"], "exists"))
        else:
            raise _bad_request(f"unable to parse requirement: {term!r}")
    return reqs


@dataclass(frozen=True)
class FieldRequirement:
    """One parsed field-selector term (``path op value``)."""

    path: str
    op: str  # "=" or "!="
    value: str


def parse_field_selector(text: str | None, rt: ResourceType) -> list[FieldRequirement]:
    """Parse a field selector, rejecting fields the type does not index (400, like apiserver)."""
    if not text or not text.strip():
        return []
    supported = {"metadata.name", "metadata.namespace", *rt.field_labels}
    reqs: list[FieldRequirement] = []
    for term in (t.strip() for t in text.split(",")):
        m = re.match(r"^(?P<path>[A-Za-z0-9.]+)\s*(?P<op>==|=|!=)\s*(?P<val>.*)$", term)
        if not m:
            raise _bad_request(f"invalid selector: {text!r}; can't understand {term!r}")
        if m["path"] not in supported:
            raise _bad_request(f'field label not supported: {m["path"]}')
        reqs.append(FieldRequirement(m["path"], "!=" if m["op"] == "!=" else "=",
                                     m["val"].strip()))
    return reqs


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, Mapping) and path == "source":
        return str(cur.get("component", ""))
    return str(cur)


@dataclass(frozen=True)
class _Filter:
    """Everything that decides whether one object belongs to a list/watch request."""

    namespace: str | None
    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        labels = meta.get("labels") or {}
        if not all(req.matches(labels) for req in self.labels):
            return False
        for freq in self.fields:
            equal = _field_value(obj, freq.path) == freq.value
            if equal != (freq.op == "="):
                return False
        return True


# --------------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge recursively, ``null`` deletes, lists replace."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch, simplified: merge-patch semantics for maps, lists replaced.

    The ``$patch: replace`` and ``$patch: delete`` map directives are honoured; per-field
    list merge keys (e.g. containers by name) are not modelled, so lists are replaced whole.
    Other ``$``-directives are dropped rather than stored.
    """
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    body = {k: v for k, v in patch.items() if not str(k).startswith("$")}
    if directive == "replace":
        return copy.deepcopy(body)
    if directive == "delete":
        return None
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in body.items():
        if value is None:
            result.pop(key, None)
            continue
        merged = strategic_merge_patch(result.get(key), value)
        if merged is None and isinstance(value, Mapping) and value.get("$patch") == "delete":
            result.pop(key, None)
        else:
            result[key] = merged
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for part in parts:
        if isinstance(cur, list):
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            cur = cur[part]
        else:
            raise KeyError(part)
    return cur


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test) on a deep copy."""
    if not isinstance(ops, list):
        raise _bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise _bad_request(f"invalid json patch operation {op!r}")
        kind = op["op"]
        try:
            parts = _pointer(op["path"])
            if kind == "test":
                if _container(doc, parts) != op.get("value"):
                    raise ApiError(422, "Invalid", f"testing value {op['path']} failed")
                continue
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                value = copy.deepcopy(_container(doc, src))
                if kind == "move":
                    doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
                doc = json_patch(doc, [{"op": "add", "path": op["path"], "value": value}])
                continue
            if not parts:
                if kind in ("add", "replace"):
                    doc = copy.deepcopy(op.get("value"))
                    continue
                raise ValueError("cannot remove the document root")
            parent = _container(doc, parts[:-1])
            last = parts[-1]
            if kind == "add":
                if isinstance(parent, list):
                    idx = len(parent) if last == "-" else int(last)
                    if not 0 <= idx <= len(parent):
                        raise IndexError(last)
                    parent.insert(idx, copy.deepcopy(op.get("value")))
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            elif kind == "replace":
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op.get("value"))
                else:
                    if last not in parent:
                        raise KeyError(last)
                    parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise _bad_request(f"unknown json patch operation {kind!r}")
        except ApiError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            # apiserver answers patch application errors with 422 (decode errors are 400).
            raise ApiError(422, "Invalid", f"the json patch could not be applied: {exc!r}") \
                from exc
    return doc


# --------------------------------------------------------------------------------------------
# Internal state records
# --------------------------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class _Event:
    """One committed write, as kept in the watch history."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    rt: ResourceType
    key: tuple[str, str]
    obj: dict[str, Any]  # new state; for DELETED the last state stamped with the delete RV
    prev: dict[str, Any] | None  # state before the write (None for ADDED)


_CLOSE_GRACEFUL = "graceful"
_CLOSE_ABRUPT = "abrupt"


class _Watcher:
    """Server-side half of one open watch: its filter and a queue fed under the server lock."""

    def __init__(self, rt: ResourceType, flt: _Filter, floor: int, bookmarks: bool,
                 conn: socket.socket | None) -> None:
        self.rt = rt
        self.filter = flt
        self.floor = floor  # events with rv <= floor are already covered by the backlog
        self.progress = floor  # every relevant change up to here is queued
        self.bookmarks = bookmarks
        self.conn = conn
        self.streaming = False  # response headers and backlog are on the wire
        self.queue: queue.SimpleQueue[bytes | str] = queue.SimpleQueue()

    def offer(self, ev: _Event) -> None:
        """Queue the translation of ``ev`` for this watcher (call with the server lock held)."""
        if ev.rv <= self.floor:
            return
        if ev.rt.key == self.rt.key:
            translated = translate_event(ev, self.filter)
            if translated is not None:
                self.queue.put(_dumps(translated))
        self.progress = max(self.progress, ev.rv)

    def close(self, how: str) -> None:
        """Ask the connection thread to end the stream; abrupt also cuts the socket now."""
        self.queue.put(how)
        if how == _CLOSE_ABRUPT and self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)


def translate_event(ev: _Event, flt: _Filter) -> dict[str, Any] | None:
    """Map a stored event onto what a filtered watcher sees, as the apiserver's cacher does.

    An object that starts matching appears as ADDED, one that stops matching as DELETED
    (previous content, the event's resourceVersion), and changes outside the filter vanish.
    """
    cur_passes = ev.type != "DELETED" and flt.matches(ev.obj)
    old_passes = ev.prev is not None and flt.matches(ev.prev)
    if cur_passes and not old_passes:
        return {"type": "ADDED", "object": ev.obj}
    if cur_passes and old_passes:
        return {"type": "MODIFIED", "object": ev.obj}
    if old_passes:
        assert ev.prev is not None
        old = copy.deepcopy(ev.prev)
        old.setdefault("metadata", {})["resourceVersion"] = str(ev.rv)
        return {"type": "DELETED", "object": old}
    return None


@dataclass
class RecordedRequest:
    """One request the server received, for assertions on client behaviour."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    watch: bool
    body: Any = None
    content_type: str | None = None
    time: float = field(default_factory=time.monotonic)


@dataclass
class _FailRule:
    remaining: int
    status: int
    retry_after: int | None
    include_watches: bool
    method: str | None
    path_contains: str | None

    def applies(self, method: str, path: str, is_watch: bool) -> bool:
        if is_watch and not self.include_watches:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in path


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class ApiServer:
    """The API server double: state, protocol semantics, fault injection and HTTP lifecycle.

    Construct, :meth:`start`, point a client at :attr:`url` (see :func:`client_configuration`)
    and :meth:`stop`.  All public methods are thread-safe.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        history_size: int = 1000,
        bookmark_interval: float = 1.0,
        default_watch_timeout: float | None = None,
        namespaces: Iterable[str] = _DEFAULT_NAMESPACES,
        resources: Iterable[ResourceType] = DEFAULT_RESOURCES,
        disabled_groups: Iterable[str] = (),
        service_cidr: str = "10.96.0.0/16",
        too_large_rv_wait: float = 1.0,
        enforce_namespace_exists: bool = True,
    ) -> None:
        """Configure (but do not start) a server.

        :param port: TCP port on 127.0.0.1; 0 picks a free one (kept across :meth:`restart`).
        :param history_size: how many events are kept for watch resumption; older resumes get
            410.  Real clusters keep ~5 minutes; tests want a small, exact number.
        :param bookmark_interval: seconds between BOOKMARK events on watches that allow them
            (the real apiserver uses about a minute).
        :param default_watch_timeout: end watches without ``timeoutSeconds`` after this many
            seconds (the apiserver does so after 30-60 min); ``None`` keeps them open.
        :param namespaces: namespaces that exist at start (and after a stateless restart).
        :param resources: the served resource types.
        :param disabled_groups: API groups initially not served (see :meth:`disable_group`).
        :param service_cidr: range from which Service ``spec.clusterIP`` is allocated.
        :param too_large_rv_wait: how long a GET/LIST for a future resourceVersion waits
            before answering 504 "Too large resource version" (apiserver waits ~3 s).
        :param enforce_namespace_exists: refuse creation in a missing namespace (404) as the
            NamespaceLifecycle admission plugin does.
        """
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[str, ResourceType] = {}
        for rt in resources:
            self._types[(rt.group, rt.version, rt.plural)] = rt
            self._by_kind[f"{rt.api_version}/{rt.kind}".lower()] = rt
            self._by_kind.setdefault(rt.kind.lower(), rt)
            self._by_kind.setdefault(rt.plural.lower(), rt)
        self._disabled: set[str] = set(disabled_groups)
        self._initial_namespaces = tuple(namespaces)
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._rv = 0
        self._history: collections.deque[_Event] = collections.deque()
        self._history_size = history_size
        self._oldest = 0  # resuming strictly after this RV (or later) is possible
        self._watchers: list[_Watcher] = []
        self._requests: list[RecordedRequest] = []
        self._fail_rules: list[_FailRule] = []
        self._duplicate = 0
        self._reorder = 0
        self._held: list[_Event] = []
        self._service_net = ipaddress.ip_network(service_cidr)
        self.bookmark_interval = bookmark_interval
        self.default_watch_timeout = default_watch_timeout
        self.too_large_rv_wait = too_large_rv_wait
        self.enforce_namespace_exists = enforce_namespace_exists
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._seed()

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> ApiServer:
        """Bind 127.0.0.1 (the configured/previous port) and serve in a background thread."""
        with self._lock:
            if self._httpd is not None:
                return self
            httpd = _HTTPServer(("127.0.0.1", self._port), _Handler, self)
            self._port = httpd.server_address[1]
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.01},
                name=f"apiserver-{self._port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the listener and cut every open connection, watch or idle."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
            watchers, self._watchers = self._watchers, []
            conns = list(self._connections)
        if httpd is None:
            return
        for w in watchers:
            w.close(_CLOSE_ABRUPT)
        httpd.shutdown()
        httpd.server_close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            with self._lock:
                if not self._connections:
                    break
            time.sleep(0.01)

    def restart(self, *, keep_state: bool = True, downtime: float = 0.0) -> None:
        """Stop and start again on the same port, like an apiserver (or etcd) restart.

        With ``keep_state`` objects, resourceVersions and history survive, so watches can
        resume.  Without it the cluster comes back empty (plus the initial namespaces) and the
        history is compacted, but the resourceVersion keeps increasing: a client resuming a
        watch gets 410 and must relist, which is the situation worth testing.
        """
        self.stop()
        if not keep_state:
            with self._lock:
                self._objects.clear()
                self._history.clear()
                self._held.clear()
                self._oldest = self._rv
                self._seed()
                self._oldest = self._rv
                self._history.clear()
        if downtime > 0:
            time.sleep(downtime)
        self.start()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL for ``kubernetes.client.Configuration.host``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        """Whether the HTTP listener is up."""
        return self._httpd is not None

    # ---- fault injection --------------------------------------------------------------------

    def drop_watches(self, *, graceful: bool = False) -> int:
        """End every open watch; returns how many.

        Abrupt (default) cuts the TCP connection mid-stream, so the client's read fails with a
        protocol error, as when an apiserver dies.  ``graceful`` finishes the chunked body the
        way the apiserver ends a watch at its own timeout, so ``watch.Watch`` silently
        reconnects from its last resourceVersion (unless ``timeout_seconds`` was given).
        """
        with self._lock:
            watchers, self._watchers = self._watchers, []
        for w in watchers:
            w.close(_CLOSE_GRACEFUL if graceful else _CLOSE_ABRUPT)
        return len(watchers)

    def duplicate_next_events(self, n: int) -> None:
        """Deliver each of the next ``n`` committed events twice to live watchers."""
        with self._lock:
            self._duplicate += n

    def reorder_next_events(self, n: int) -> None:
        """Hold the next ``n`` events and deliver them to live watchers in reverse order.

        History stays in commit order, so a resume or relist sees the truth.  Held events are
        released once ``n`` have accumulated, or by :meth:`release_held_events`.
        """
        with self._lock:
            self._reorder += n

    def release_held_events(self) -> None:
        """Deliver (reversed) any events still held by :meth:`reorder_next_events`."""
        with self._lock:
            self._reorder = 0
            held, self._held = self._held, []
            for ev in reversed(held):
                self._deliver(ev)

    def compact(self, revision: int | None = None) -> None:
        """Forget history up to ``revision`` (default: everything), so older resumes get 410."""
        with self._lock:
            target = self._rv if revision is None else min(revision, self._rv)
            while self._history and self._history[0].rv <= target:
                self._history.popleft()
            self._oldest = max(self._oldest, target)

    @property
    def history_size(self) -> int:
        """Maximum number of events kept for watch resumption."""
        return self._history_size

    @history_size.setter
    def history_size(self, size: int) -> None:
        with self._lock:
            self._history_size = size
            self._trim_history()

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        retry_after: int | None = None,
        include_watches: bool = False,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` and a v1 Status body.

        By default only plain (non-watch) requests are failed, and no ``Retry-After`` header
        is sent, so the client raises ``ApiException(status)``.  With ``retry_after`` set
        (as the apiserver's priority-and-fairness 429s do), urllib3's default ``Retry``
        transparently retries 413/429/503 after that many seconds, as it would in production.
        """
        with self._lock:
            self._fail_rules.append(
                _FailRule(n, status, retry_after, include_watches, method, path_contains))

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._requests.clear()

    @property
    def open_watches(self) -> int:
        """Number of watch streams whose response (headers and backlog) has been sent."""
        with self._lock:
            return sum(1 for w in self._watchers if w.streaming)

    def wait_for_watches(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` watches are streaming (tests must not race the client).

        Counting only streams whose headers went out matters: cutting a connection before
        its response started makes urllib3 silently retry the GET instead of failing it.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for w in self._watchers if w.streaming) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # ---- API groups ---------------------------------------------------------------------------

    def disable_group(self, group: str) -> None:
        """Stop serving ``group`` (as if its CRDs were absent): discovery omits it, its URLs
        answer 404 and open watches on it end.  Stored objects are kept for re-enabling."""
        with self._lock:
            self._disabled.add(group)
            ending = [w for w in self._watchers if w.rt.group == group]
            self._watchers = [w for w in self._watchers if w.rt.group != group]
        for w in ending:
            w.close(_CLOSE_GRACEFUL)

    def enable_group(self, group: str) -> None:
        """Serve ``group`` again."""
        with self._lock:
            self._disabled.discard(group)

    def group_served(self, group: str) -> bool:
        """Whether ``group`` is currently served."""
        with self._lock:
            return group not in self._disabled and any(
                rt.group == group for rt in self._types.values())

    # ---- bulk helpers for tests -----------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion."""
        with self._lock:
            return str(self._rv)

    def resource_type(self, kind: str, api_version: str | None = None) -> ResourceType:
        """Resolve a kind (``Pod``), plural (``pods``) or ``apiVersion``+kind to its type."""
        key = f"{api_version}/{kind}".lower() if api_version else kind.lower()
        try:
            return self._by_kind[key]
        except KeyError:
            raise KeyError(f"unknown kind {kind!r} (apiVersion {api_version!r})") from None

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update from a manifest dict, like ``kubectl apply``; returns the result.

        Unlike API writes, ``status`` in the manifest is stored as given (tests seed pod IPs
        this way), and an absent ``status`` keeps the stored one.  A namespaced object without
        a namespace goes to ``default``.  Raises :class:`ApiError` on failure.
        """
        rt = self.resource_type(obj.get("kind", ""), obj.get("apiVersion"))
        body = copy.deepcopy(dict(obj))
        meta = body.setdefault("metadata", {})
        ns = (meta.get("namespace") or "default") if rt.namespaced else ""
        with self._lock:
            current = self._objects.get(rt.key, {}).get((ns, meta.get("name", "")))
            if current is None:
                return self._create(rt, ns, body, trusted=True)
            merged = copy.deepcopy(body)
            mmeta = merged["metadata"]
            mmeta["resourceVersion"] = current["metadata"]["resourceVersion"]
            if "status" not in body and "status" in current:
                merged["status"] = copy.deepcopy(current["status"])
            return self._update(rt, ns, mmeta["name"], merged, trusted=True)

    def delete(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Delete one object (cascading for namespaces); returns it, or ``None`` if absent."""
        rt = self.resource_type(kind)
        ns = (namespace or "default") if rt.namespaced else ""
        with self._lock:
            if (ns, name) not in self._objects.get(rt.key, {}):
                return None
            return self._delete(rt, ns, name)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """A copy of one stored object, or ``None``."""
        rt = self.resource_type(kind)
        ns = (namespace or "default") if rt.namespaced else ""
        with self._lock:
            obj = self._objects.get(rt.key, {}).get((ns, name))
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Copies of all stored objects of a kind (optionally one namespace), sorted by key."""
        rt = self.resource_type(kind)
        with self._lock:
            store = self._objects.get(rt.key, {})
            return [copy.deepcopy(store[k]) for k in sorted(store)
                    if namespace is None or k[0] == namespace]

    # ---- core semantics (all called with the lock held) ------------------------------------

    def _seed(self) -> None:
        with self._lock:
            for ns in self._initial_namespaces:
                if ("", ns) not in self._objects.get(("", "namespaces"), {}):
                    self._create(self._types[("", "v1", "namespaces")], "",
                                 {"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": ns}}, trusted=True)

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _trim_history(self) -> None:
        while len(self._history) > self._history_size:
            dropped = self._history.popleft()
            self._oldest = max(self._oldest, dropped.rv)

    def _record(self, ev: _Event) -> None:
        """Append to history and fan out to watchers, applying injected delivery faults."""
        self._history.append(ev)
        self._trim_history()
        if self._reorder > 0:
            self._held.append(ev)
            self._reorder -= 1
            if self._reorder == 0:
                held, self._held = self._held, []
                for h in reversed(held):
                    self._deliver(h)
        else:
            self._deliver(ev)
            if self._duplicate > 0:
                self._duplicate -= 1
                self._deliver(ev)
        self._changed.notify_all()

    def _deliver(self, ev: _Event) -> None:
        for w in self._watchers:
            w.offer(ev)

    def _store(self, rt: ResourceType) -> dict[tuple[str, str], dict[str, Any]]:
        return self._objects.setdefault(rt.key, {})

    def _namespace_phase(self, ns: str) -> str | None:
        obj = self._objects.get(("", "namespaces"), {}).get(("", ns))
        if obj is None:
            return None
        return str((obj.get("status") or {}).get("phase", "Active"))

    def _create(self, rt: ResourceType, ns: str, body: dict[str, Any], *,
                trusted: bool = False, dry_run: bool = False) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        if not isinstance(obj, dict):
            raise _bad_request("the request body must be a JSON object")
        self._check_type(rt, obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _bad_request("metadata must be an object")
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choice(_NAME_ALPHABET) for _ in range(5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        name = meta.get("name") or ""
        if not name:
            raise _invalid(rt, "", "metadata.name",
                           "Required value: name or generateName is required")
        if "/" in name:
            raise _invalid(rt, name, "metadata.name", f"Invalid value: {name!r}")
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise _bad_request("the namespace of the provided object does not match the "
                                   "namespace sent on the request")
            meta["namespace"] = ns
            phase = self._namespace_phase(ns)
            if phase is None and self.enforce_namespace_exists:
                raise _not_found(self._types[("", "v1", "namespaces")], ns)
            if phase == "Terminating":
                raise ApiError(403, "Forbidden",
                               f'{rt.qualified} "{name}" is forbidden: unable to create new '
                               f"content in namespace {ns} because it is being terminated",
                               _details(rt, name))
        else:
            meta.pop("namespace", None)
        if (ns, name) in self._store(rt):
            raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists',
                           _details(rt, name))
        for server_field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(server_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["generation"] = 1
        if rt.has_status and not trusted:
            obj.pop("status", None)
        self._default(rt, obj)
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return obj
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        self._store(rt)[(ns, name)] = obj
        self._record(_Event(rv, "ADDED", rt, (ns, name), copy.deepcopy(obj), None))
        return copy.deepcopy(obj)

    def _check_type(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise _bad_request(f"the kind in the data ({kind}) does not match the expected "
                               f"kind ({rt.kind})")
        if api_version and api_version != rt.api_version:
            raise _bad_request(f"the API version in the data ({api_version}) does not match "
                               f"the expected API version ({rt.api_version})")
        obj["kind"] = rt.kind
        obj["apiVersion"] = rt.api_version

    def _default(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Apply the few server-side defaults that consumers observably rely on."""
        meta = obj["metadata"]
        if rt.key == ("", "namespaces"):
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
        elif rt.key == ("", "pods"):
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif rt.key == ("", "services"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                spec["clusterIP"] = self._allocate_cluster_ip()
            if spec.get("clusterIP") and "clusterIPs" not in spec:
                spec["clusterIPs"] = [spec["clusterIP"]]
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
                    if "port" in port:
                        port.setdefault("targetPort", port["port"])
            obj.setdefault("status", {}).setdefault("loadBalancer", {})

    def _allocate_cluster_ip(self) -> str:
        used = {
            (o.get("spec") or {}).get("clusterIP")
            for o in self._objects.get(("", "services"), {}).values()
        }
        for offset, ip in enumerate(self._service_net.hosts()):
            if offset < 9:  # keep .1-.9 free, as for the kubernetes/dns services
                continue
            if str(ip) not in used:
                return str(ip)
        raise ApiError(500, "InternalError", "service cluster IP range exhausted")

    def _get(self, rt: ResourceType, ns: str, name: str) -> dict[str, Any]:
        obj = self._store(rt).get((ns, name))
        if obj is None:
            raise _not_found(rt, name)
        return obj

    def _update(self, rt: ResourceType, ns: str, name: str, body: dict[str, Any], *,
                subresource: str | None = None, trusted: bool = False,
                dry_run: bool = False, require_rv: bool = False) -> dict[str, Any]:
        """Replace an object with optimistic concurrency; a no-op write changes nothing."""
        if not isinstance(body, dict):
            raise _bad_request("the request body must be a JSON object")
        current = self._get(rt, ns, name)
        new = copy.deepcopy(body)
        self._check_type(rt, new)
        meta = new.setdefault("metadata", {})
        if meta.get("name") not in (None, "", name):
            raise _bad_request(f"the name of the object ({meta.get('name')}) does not match "
                               f"the name on the URL ({name})")
        if rt.namespaced and meta.get("namespace") not in (None, "", ns):
            raise _bad_request("the namespace of the provided object does not match the "
                               "namespace sent on the request")
        sent_rv = meta.get("resourceVersion")
        cur_meta = current["metadata"]
        if sent_rv:
            if str(sent_rv) != cur_meta["resourceVersion"]:
                raise _conflict(rt, name)
        elif require_rv:
            raise _invalid(rt, name, "metadata.resourceVersion",
                           "Invalid value: 0x0: must be specified for an update")
        if subresource == "status":
            result = copy.deepcopy(current)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            rmeta = result["metadata"]
            for fixed in ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                          "deletionGracePeriodSeconds"):
                if fixed in cur_meta:
                    rmeta[fixed] = cur_meta[fixed]
                else:
                    rmeta.pop(fixed, None)
            rmeta["name"] = name
            if rt.namespaced:
                rmeta["namespace"] = ns
            else:
                rmeta.pop("namespace", None)
            if rt.has_status and not trusted:
                if "status" in current:
                    result["status"] = copy.deepcopy(current["status"])
                else:
                    result.pop("status", None)
            if rt.key == ("", "namespaces"):
                rmeta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        result["metadata"]["resourceVersion"] = cur_meta["resourceVersion"]
        if result == current:
            return copy.deepcopy(current)  # the apiserver does not bump RV on no-op updates
        if _spec_of(result) != _spec_of(current):
            result["metadata"]["generation"] = int(cur_meta.get("generation", 1)) + 1
        if dry_run:
            return result
        terminating = "deletionTimestamp" in result["metadata"]
        if terminating and not result["metadata"].get("finalizers"):
            # The last finalizer was removed from an object being deleted: it goes now.
            self._store(rt)[(ns, name)] = result
            return self._remove(rt, ns, name, prev=current)
        rv = self._next_rv()
        result["metadata"]["resourceVersion"] = str(rv)
        self._store(rt)[(ns, name)] = result
        self._record(_Event(rv, "MODIFIED", rt, (ns, name), copy.deepcopy(result),
                            copy.deepcopy(current)))
        return copy.deepcopy(result)

    def _patch(self, rt: ResourceType, ns: str, name: str, content_type: str, patch: Any, *,
               subresource: str | None, dry_run: bool) -> dict[str, Any]:
        ctype = content_type.split(";")[0].strip().lower()
        exists = (ns, name) in self._store(rt)
        if ctype == "application/apply-patch+yaml":
            if not exists:  # server-side apply creates
                body = copy.deepcopy(patch)
                if isinstance(body, dict):
                    body.setdefault("metadata", {})["name"] = name
                return self._create(rt, ns, body, dry_run=dry_run)
            patched = merge_patch(self._get(rt, ns, name), patch)
        else:
            current = self._get(rt, ns, name)
            if ctype == "application/merge-patch+json":
                patched = merge_patch(current, patch)
            elif ctype == "application/strategic-merge-patch+json":
                if rt.custom:
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted "
                                   "media types include: application/json-patch+json, "
                                   "application/merge-patch+json, application/apply-patch+yaml")
                patched = strategic_merge_patch(current, patch)
            elif ctype == "application/json-patch+json":
                patched = json_patch(current, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format: {ctype}")
        if not isinstance(patched, dict):
            raise ApiError(422, "Invalid", "the patched object is not a JSON object")
        return self._update(rt, ns, name, patched, subresource=subresource, dry_run=dry_run)

    def _delete(self, rt: ResourceType, ns: str, name: str, *,
                preconditions: Mapping[str, Any] | None = None,
                dry_run: bool = False) -> dict[str, Any]:
        current = self._get(rt, ns, name)
        meta = current["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise ApiError(409, "Conflict",
                           f"Precondition failed: UID in precondition: {pre['uid']}, UID in "
                           f"object meta: {meta.get('uid')}", _details(rt, name))
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f"Precondition failed: ResourceVersion in precondition: "
                           f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                           f"{meta['resourceVersion']}", _details(rt, name))
        if rt.key == ("", "namespaces") and name in _SYSTEM_NAMESPACES:
            raise ApiError(403, "Forbidden",
                           f'namespaces "{name}" is forbidden: this namespace may not be '
                           "deleted", _details(rt, name))
        if dry_run:
            return copy.deepcopy(current)
        if rt.key == ("", "namespaces"):
            return self._delete_namespace(rt, name)
        if meta.get("finalizers"):
            if "deletionTimestamp" in meta:
                return copy.deepcopy(current)
            marked = copy.deepcopy(current)
            marked["metadata"]["deletionTimestamp"] = _now()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            rv = self._next_rv()
            marked["metadata"]["resourceVersion"] = str(rv)
            self._store(rt)[(ns, name)] = marked
            self._record(_Event(rv, "MODIFIED", rt, (ns, name), copy.deepcopy(marked),
                                copy.deepcopy(current)))
            return copy.deepcopy(marked)
        return self._remove(rt, ns, name, prev=current)

    def _remove(self, rt: ResourceType, ns: str, name: str, *,
                prev: dict[str, Any]) -> dict[str, Any]:
        """Drop an object from storage, recording DELETED with the deletion's own RV."""
        obj = self._store(rt).pop((ns, name))
        rv = self._next_rv()
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = str(rv)
        self._record(_Event(rv, "DELETED", rt, (ns, name), final, copy.deepcopy(prev)))
        if rt.namespaced:
            self._maybe_finalize_namespace(ns)
        return copy.deepcopy(final)

    def _delete_namespace(self, rt: ResourceType, name: str) -> dict[str, Any]:
        """Terminate a namespace: mark it, delete its content, then remove it when empty.

        The namespace controller's work is done synchronously inside the DELETE: watchers see
        MODIFIED (phase Terminating), a DELETED per contained object, then DELETED for the
        namespace.  Content held by finalizers keeps the namespace Terminating until it goes.
        """
        current = self._get(rt, "", name)
        if "deletionTimestamp" not in current["metadata"]:
            marked = copy.deepcopy(current)
            marked["metadata"]["deletionTimestamp"] = _now()
            marked.setdefault("status", {})["phase"] = "Terminating"
            rv = self._next_rv()
            marked["metadata"]["resourceVersion"] = str(rv)
            self._store(rt)[("", name)] = marked
            self._record(_Event(rv, "MODIFIED", rt, ("", name), copy.deepcopy(marked),
                                copy.deepcopy(current)))
        response = copy.deepcopy(self._store(rt)[("", name)])
        for other in self._types.values():
            if not other.namespaced:
                continue
            for key in sorted(k for k in self._store(other) if k[0] == name):
                if key in self._store(other):
                    self._delete(other, key[0], key[1])
        self._maybe_finalize_namespace(name)
        return response

    def _maybe_finalize_namespace(self, ns: str) -> None:
        nrt = self._types[("", "v1", "namespaces")]
        obj = self._store(nrt).get(("", ns))
        if obj is None or "deletionTimestamp" not in obj["metadata"]:
            return
        for other in self._types.values():
            if other.namespaced and any(k[0] == ns for k in self._store(other)):
                return
        self._remove(nrt, "", ns, prev=obj)

    def _state_at(self, rt: ResourceType, rv: int) -> dict[tuple[str, str], dict[str, Any]]:
        """Reconstruct one type's objects as of ``rv`` by undoing later history."""
        if rv < self._oldest:
            raise _expired(f"too old resource version: {rv} ({self._oldest})")
        state = dict(self._store(rt))
        for ev in reversed(self._history):
            if ev.rv <= rv:
                break
            if ev.rt.key != rt.key:
                continue
            if ev.type == "ADDED":
                state.pop(ev.key, None)
            elif ev.prev is not None:
                state[ev.key] = ev.prev
        return state

    def _wait_for_rv(self, rv: int) -> None:
        """'Not older than' a future version: wait briefly, then 504 like the apiserver."""
        deadline = time.monotonic() + self.too_large_rv_wait
        while self._rv < rv:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ApiError(504, "Timeout",
                               f"Too large resource version: {rv}, current: {self._rv}",
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                "retryAfterSeconds": 1},
                               headers={"Retry-After": "1"})
            self._changed.wait(remaining)

    def _list(self, rt: ResourceType, flt: _Filter, params: Mapping[str, str]) -> dict[str, Any]:
        rv_param = params.get("resourceVersion")
        match = params.get("resourceVersionMatch")
        limit = int(params.get("limit") or 0)
        cont = params.get("continue")
        if match and match not in ("NotOlderThan", "Exact"):
            raise ApiError(422, "Invalid", f'resourceVersionMatch: Unsupported value: "{match}"')
        if match and not rv_param:
            raise ApiError(422, "Invalid", "resourceVersionMatch is forbidden unless "
                                           "resourceVersion is provided")
        if match == "Exact" and rv_param == "0":
            raise ApiError(422, "Invalid", 'resourceVersionMatch "exact" is forbidden for '
                                           'resourceVersion "0"')
        start_after: tuple[str, str] | None = None
        if cont:
            if rv_param and rv_param != "0":
                raise _bad_request("specifying resource version is not allowed when using "
                                   "continue")
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                at = int(token["rv"])
                start_after = (str(token["start"][0]), str(token["start"][1]))
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise _bad_request(f"invalid continue token: {exc}") from exc
            try:
                state = self._state_at(rt, at)
            except ApiError:
                raise _expired("The provided continue parameter is too old to display a "
                               "consistent list result. You can start a new list without "
                               "the continue parameter.") from None
        elif rv_param and rv_param != "0":
            try:
                at = int(rv_param)
            except ValueError:
                raise _bad_request(f"invalid resource version: {rv_param!r}") from None
            self._wait_for_rv(at)
            exact = match == "Exact" or (match is None and limit > 0)
            if exact:
                state = self._state_at(rt, at)
            else:
                at, state = self._rv, dict(self._store(rt))
        else:
            at, state = self._rv, dict(self._store(rt))
        keys = sorted(k for k in state if start_after is None or k > start_after)
        items: list[dict[str, Any]] = []
        more = False
        last: tuple[str, str] | None = None
        remaining = 0
        for idx, key in enumerate(keys):
            obj = state[key]
            if not flt.matches(obj):
                continue
            if limit and len(items) >= limit:
                more = True
                remaining = sum(1 for k in keys[idx:] if flt.matches(state[k]))
                break
            item = copy.deepcopy(obj)
            if not rt.custom:  # built-in list items carry no kind/apiVersion
                item.pop("kind", None)
                item.pop("apiVersion", None)
            items.append(item)
            last = key
        meta: dict[str, Any] = {"resourceVersion": str(at)}
        if more and last is not None:
            token_json = json.dumps({"rv": at, "start": list(last)}).encode()
            meta["continue"] = base64.urlsafe_b64encode(token_json).decode()
            if not flt.labels and not flt.fields:
                meta["remainingItemCount"] = remaining
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta,
                "items": items}

    def _open_watch(self, rt: ResourceType, flt: _Filter, params: Mapping[str, str],
                    conn: socket.socket | None) -> tuple[_Watcher | None, list[bytes]]:
        """Register a watcher atomically with its backlog, per the documented RV semantics.

        Returns the watcher (``None`` when the stream is a single ERROR event) and the
        initial lines to send: synthetic ADDED state, a resumed backlog, or a 410 ERROR.
        """
        rv_param = params.get("resourceVersion") or ""
        match = params.get("resourceVersionMatch")
        sie_param = params.get("sendInitialEvents")
        send_initial = None if sie_param is None else _truthy(sie_param)
        bookmarks = _truthy(params.get("allowWatchBookmarks", "false"))
        if send_initial is not None:
            if match != "NotOlderThan":
                raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: "
                               "sendInitialEvents requires setting resourceVersionMatch to "
                               "NotOlderThan")
            if send_initial and not bookmarks:
                raise ApiError(422, "Invalid", "allowWatchBookmarks: Forbidden: "
                               "sendInitialEvents requires allowWatchBookmarks=true")
        elif match:
            raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: "
                           "resourceVersionMatch is forbidden for watch unless "
                           "sendInitialEvents is provided")
        lines: list[bytes] = []
        with self._changed:
            if rv_param in ("", "0") or send_initial:
                initial = send_initial if send_initial is not None else True
                if send_initial and rv_param not in ("", "0"):
                    self._wait_for_rv(_parse_rv(rv_param))
                floor = self._rv
                if initial:
                    for key in sorted(self._store(rt)):
                        obj = self._store(rt)[key]
                        if flt.matches(obj):
                            lines.append(_dumps({"type": "ADDED", "object": obj}))
                if send_initial:
                    lines.append(_dumps({"type": "BOOKMARK", "object": {
                        "kind": rt.kind, "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(floor), "annotations": {
                            "k8s.io/initial-events-end": "true"}}}}))
            else:
                start = _parse_rv(rv_param)
                if start < self._oldest:
                    expired = _expired(f"too old resource version: {start} ({self._oldest})")
                    return None, [_dumps({"type": "ERROR", "object": expired.status})]
                for ev in self._history:
                    if ev.rv > start and ev.rt.key == rt.key:
                        translated = translate_event(ev, flt)
                        if translated is not None:
                            lines.append(_dumps(translated))
                floor = max(start, self._rv)
            watcher = _Watcher(rt, flt, floor, bookmarks, conn)
            self._watchers.append(watcher)
            self._changed.notify_all()
        return watcher, lines

    def _mark_streaming(self, watcher: _Watcher) -> None:
        with self._changed:
            watcher.streaming = True
            self._changed.notify_all()

    def _close_watch(self, watcher: _Watcher) -> None:
        with self._changed:
            if watcher in self._watchers:
                self._watchers.remove(watcher)
            self._changed.notify_all()

    def _bookmark(self, watcher: _Watcher) -> bytes | None:
        """A BOOKMARK line if nothing is pending for ``watcher`` (so its RV is truthful)."""
        with self._lock:
            if not watcher.queue.empty():
                return None
            return _dumps({"type": "BOOKMARK", "object": {
                "kind": watcher.rt.kind, "apiVersion": watcher.rt.api_version,
                "metadata": {"resourceVersion": str(watcher.progress)}}})

    # ---- discovery -----------------------------------------------------------------------------

    def _served_types(self) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group not in self._disabled]

    def _group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for rt in self._served_types():
            versions = groups.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for versions in groups.values():
            versions.sort(key=_version_priority)
        return groups

    def _api_group(self, group: str, versions: list[str]) -> dict[str, Any]:
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
                "preferredVersion": gvs[0]}

    def _discovery(self, parts: list[str]) -> dict[str, Any] | None:
        groups = self._group_versions()
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": groups.get("", []),
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self._port}"}]}
        if parts == ["apis"]:
            return {"kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [self._api_group(g, v) for g, v in sorted(groups.items()) if g]}
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups and parts[1]:
            return self._api_group(parts[1], groups[parts[1]])
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            if version not in groups.get(group, []):
                return None
            resources: list[dict[str, Any]] = []
            for rt in self._served_types():
                if (rt.group, rt.version) != (group, version):
                    continue
                entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular,
                                         "namespaced": rt.namespaced, "kind": rt.kind,
                                         "verbs": list(_VERBS)}
                if rt.short_names:
                    entry["shortNames"] = list(rt.short_names)
                resources.append(entry)
                if rt.has_status:
                    resources.append({"name": f"{rt.plural}/status", "singularName": "",
                                      "namespaced": rt.namespaced, "kind": rt.kind,
                                      "verbs": ["get", "patch", "update"]})
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": resources}
        if parts == ["version"]:
            return {"major": "1", "minor": "31", "gitVersion": "v1.31.0-testdouble",
                    "gitCommit": "0" * 40, "gitTreeState": "clean",
                    "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5",
                    "compiler": "gc", "platform": "linux/amd64"}
        return None

    # ---- request dispatch ------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str, is_watch: bool) -> ApiError | None:
        with self._lock:
            for rule in self._fail_rules:
                if rule.remaining > 0 and rule.applies(method, path, is_watch):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._fail_rules.remove(rule)
                    reason = _FAILURE_REASONS.get(rule.status, "InternalError")
                    headers = ({"Retry-After": str(rule.retry_after)}
                               if rule.retry_after is not None else {})
                    details = ({"retryAfterSeconds": rule.retry_after}
                               if rule.retry_after is not None else {})
                    return ApiError(rule.status, reason, f"injected failure ({rule.status})",
                                    details, headers)
        return None

    def _record_request(self, rec: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(rec)

    def _route(self, parts: list[str]) -> tuple[ResourceType, str | None, str | None,
                                                str | None, bool]:
        """Resolve a resource path to (type, namespace, name, subresource, legacy-watch)."""
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _no_route()
        if group in self._disabled:
            raise _no_route()
        legacy_watch = bool(rest) and rest[0] == "watch"
        if legacy_watch:
            rest = rest[1:]

        def lookup(plural: str) -> ResourceType:
            rt = self._types.get((group, version, plural))
            if rt is None:
                raise _no_route()
            return rt

        if len(rest) >= 3 and rest[0] == "namespaces" and not (
                len(rest) == 3 and rest[2] in ("status", "finalize")):
            rt = lookup(rest[2])
            if not rt.namespaced or len(rest) > 5:
                raise _no_route()
            name = rest[3] if len(rest) >= 4 else None
            sub = rest[4] if len(rest) == 5 else None
            if sub is not None and (sub != "status" or not rt.has_status):
                raise _no_route()
            return rt, rest[1], name, sub, legacy_watch
        if not rest:
            raise _no_route()
        rt = lookup(rest[0])
        if len(rest) > 3:
            raise _no_route()
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if name is not None and rt.namespaced:
            raise _no_route()
        if sub is not None and (sub != "status" or not rt.has_status):
            raise _no_route()
        return rt, None, name, sub, legacy_watch


def _legacy_watch_path(parts: list[str]) -> bool:
    """``/api/v1/watch/...`` and ``/apis/{g}/{v}/watch/...`` (deprecated, still served)."""
    if parts[:2] == ["api", "v1"]:
        return len(parts) > 2 and parts[2] == "watch"
    return parts[:1] == ["apis"] and len(parts) > 3 and parts[3] == "watch"


def _spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _parse_rv(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _bad_request(f"invalid resource version: {text!r}") from None


def _truthy(text: str) -> bool:
    return text.lower() in ("true", "1", "yes")


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, then higher numbers first."""
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not m:
        return (3, 0, 0)
    stage = {"": 0, "beta": 1, "alpha": 2}[m[2] or ""]
    return (stage, -int(m[1]), -int(m[3] or 0))


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _HTTPServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its :class:`ApiServer` and rebinds ports promptly."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler],
                 api: ApiServer) -> None:
        self.api = api
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS ``getfqdn`` lookup, which can stall."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


@dataclass
class _Request:
    method: str
    path: str
    parts: list[str]
    params: dict[str, str]
    content_type: str
    body: Any


class _Handler(http.server.BaseHTTPRequestHandler):
    """Translates HTTP/1.1 requests into :class:`ApiServer` operations."""

    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-double/1.0"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.api._lock:
            self.server.api._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.api._lock:
            self.server.api._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; tests read :attr:`ApiServer.requests` instead."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ---- helpers ---------------------------------------------------------------------------

    def _read_request(self, method: str) -> _Request:
        split = urlsplit(self.path)
        path = unquote(split.path).rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type") or "application/json"
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                if "yaml" in content_type:
                    import yaml  # pyyaml is a project dependency; only apply-patch needs it

                    body = yaml.safe_load(raw)
                else:
                    body = _BAD_BODY
        return _Request(method, path, parts, params, content_type, body)

    def _send_json(self, code: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = _dumps(payload)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _handle(self, method: str) -> None:
        api = self.server.api
        try:
            req = self._read_request(method)
        except (OSError, ValueError):
            self.close_connection = True
            return
        is_watch = method == "GET" and (
            _truthy(req.params.get("watch", "false")) or _legacy_watch_path(req.parts))
        record = RecordedRequest(method, req.path, dict(req.params), 200, is_watch,
                                 None if req.body is _BAD_BODY else req.body, req.content_type)
        try:
            fault = api._take_fault(method, req.path, is_watch)
            if fault is not None:
                raise fault
            if req.body is _BAD_BODY:
                raise _bad_request("the request body is not valid JSON")
            if req.parts and req.parts[0] in ("healthz", "readyz", "livez"):
                api._record_request(record)
                self._send_text(200, "ok")
                return
            if is_watch:
                self._watch(req, record)
                return
            code, payload = self._dispatch(req)
            record.status = code
            api._record_request(record)
            self._send_json(code, payload)
        except ApiError as err:
            record.status = err.code
            api._record_request(record)
            with contextlib.suppress(OSError):
                self._send_json(err.code, err.status, err.headers)
        except OSError:
            self.close_connection = True
        except Exception as exc:  # a bug in the double must still answer like a server
            record.status = 500
            api._record_request(record)
            internal = ApiError(500, "InternalError", f"internal error: {exc!r}")
            with contextlib.suppress(OSError):
                self._send_json(500, internal.status)

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, req: _Request) -> tuple[int, Any]:
        api = self.server.api
        with api._lock:
            doc = api._discovery(req.parts)
        if doc is not None:
            if req.method != "GET":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
            return 200, doc
        short_api = req.parts[:1] == ["api"] and len(req.parts) <= 2
        if short_api or (req.parts[:1] == ["apis"] and len(req.parts) <= 3):
            raise _no_route()  # an unknown or disabled group/version
        rt, ns, name, sub, _legacy = api._route(req.parts)
        dry_run = req.params.get("dryRun") == "All"
        scope_ns = ns if rt.namespaced else ""
        with api._lock:
            if req.method == "GET":
                if name is None:
                    flt = self._filter(rt, ns, req.params)
                    return 200, api._list(rt, flt, req.params)
                rv = req.params.get("resourceVersion")
                if rv and rv != "0":
                    api._wait_for_rv(_parse_rv(rv))
                return 200, copy.deepcopy(api._get(rt, scope_ns or "", name))
            if req.method == "POST":
                if name is not None or (rt.namespaced and ns is None):
                    raise ApiError(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested "
                                   "resource")
                return 201, api._create(rt, scope_ns or "", req.body, dry_run=dry_run)
            if name is None:
                if req.method == "DELETE":
                    return 200, self._delete_collection(rt, ns, req, dry_run)
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
            if req.method == "PUT":
                return 200, api._update(rt, scope_ns or "", name, req.body, subresource=sub,
                                        dry_run=dry_run, require_rv=rt.custom)
            if req.method == "PATCH":
                created = (scope_ns or "", name) not in api._store(rt)  # apply-patch creates
                patched = api._patch(rt, scope_ns or "", name, req.content_type, req.body,
                                     subresource=sub, dry_run=dry_run)
                return 201 if created else 200, patched
            if req.method == "DELETE":
                if sub is not None:
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this "
                                   "method on the requested resource")
                options = req.body if isinstance(req.body, dict) else {}
                deleted = api._delete(rt, scope_ns or "", name,
                                      preconditions=options.get("preconditions"),
                                      dry_run=dry_run)
                if rt.returns_deleted_object or "deletionTimestamp" in deleted["metadata"]:
                    return 200, deleted
                details = _details(rt, name)
                details["uid"] = deleted["metadata"].get("uid")
                return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success", "details": details}
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    def _filter(self, rt: ResourceType, ns: str | None, params: Mapping[str, str]) -> _Filter:
        return _Filter(ns if rt.namespaced else None,
                       tuple(parse_label_selector(params.get("labelSelector"))),
                       tuple(parse_field_selector(params.get("fieldSelector"), rt)))

    def _delete_collection(self, rt: ResourceType, ns: str | None, req: _Request,
                           dry_run: bool) -> dict[str, Any]:
        api = self.server.api
        flt = self._filter(rt, ns, req.params)
        deleted = []
        for key in sorted(api._store(rt)):
            obj = api._store(rt).get(key)
            if obj is not None and flt.matches(obj):
                gone = api._delete(rt, key[0], key[1], dry_run=dry_run)
                if not rt.custom:
                    gone.pop("kind", None)
                    gone.pop("apiVersion", None)
                deleted.append(gone)
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(api._rv)}, "items": deleted}

    def _watch(self, req: _Request, record: RecordedRequest) -> None:
        """Stream watch events as chunked newline-delimited JSON until timeout or close."""
        api = self.server.api
        rt, ns, name, sub, _legacy = api._route(req.parts)
        if sub is not None:
            raise _no_route()
        params = dict(req.params)
        if name is not None:  # legacy single-object watch: a name field selector
            sel = params.get("fieldSelector")
            params["fieldSelector"] = f"metadata.name={name}" + (f",{sel}" if sel else "")
        flt = self._filter(rt, ns, params)
        timeout = params.get("timeoutSeconds")
        limit = float(timeout) if timeout else api.default_watch_timeout
        watcher, lines = api._open_watch(rt, flt, params, self.connection)
        api._record_request(record)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for line in lines:
                self._write_chunk(line + b"\n")
            if watcher is None:
                self.wfile.write(b"0\r\n\r\n")
                return
            api._mark_streaming(watcher)
            self._pump(watcher, limit)
        except OSError:
            self.close_connection = True
        finally:
            if watcher is not None:
                api._close_watch(watcher)

    def _pump(self, watcher: _Watcher, limit: float | None) -> None:
        api = self.server.api
        now = time.monotonic()
        deadline = now + limit if limit is not None else None
        next_bookmark = now + api.bookmark_interval
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.wfile.write(b"0\r\n\r\n")  # clean end: the client sees EOF of the body
                return
            wait = 0.25
            if deadline is not None:
                wait = min(wait, deadline - now)
            if watcher.bookmarks:
                wait = min(wait, max(next_bookmark - now, 0.0))
            try:
                item = watcher.queue.get(timeout=max(wait, 0.001))
            except queue.Empty:
                if watcher.bookmarks and time.monotonic() >= next_bookmark:
                    line = api._bookmark(watcher)
                    if line is not None:
                        self._write_chunk(line + b"\n")
                    next_bookmark = time.monotonic() + api.bookmark_interval
                continue
            if item == _CLOSE_GRACEFUL:
                self.wfile.write(b"0\r\n\r\n")
                return
            if item == _CLOSE_ABRUPT:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            assert isinstance(item, bytes)
            self._write_chunk(item + b"\n")


_BAD_BODY = object()


# --------------------------------------------------------------------------------------------
# Test entry points
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def running_apiserver(**options: Any) -> Iterator[ApiServer]:
    """Start an :class:`ApiServer` with ``options`` for the ``with`` block, then stop it."""
    server = ApiServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client_configuration(server: ApiServer) -> kubernetes.client.Configuration:
    """A client ``Configuration`` pointing at ``server`` over plain HTTP without auth."""
    return kubernetes.client.Configuration(host=server.url)


def api_client(server: ApiServer) -> kubernetes.client.ApiClient:
    """An ``ApiClient`` for ``server`` (pass it to ``CoreV1Api(api_client(server))`` etc.)."""
    return kubernetes.client.ApiClient(client_configuration(server))

