"""Writing NCP's status back to the cluster: annotations, LoadBalancer VIPs, Events.

What NCP owns on each object it writes (the namespace annotations ``ncp/...``, the pod's
``ncp/network_config``, ``ncp/error.loadbalancer`` on Services and Ingresses, and
``status.loadBalancer.ingress``) is merge-patched where it differs from what the object
shows; keys of other writers are never touched and a key NCP no longer wants is removed.
New problems become Warning Events on their objects. Used by ``ncp run``'s writer thread
(:mod:`ncp.live.writeback`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ncp.live.metrics import Metrics
from ncp.objects import ObjectKey, annotations_of
from ncp.reconcile.incremental import Applied, normal_key
from ncp.reconcile.sync import SyncReport
from ncp.sources.kube import KubeClient, KubeError
from ncp.translate import naming
from ncp.translate.ingress import is_nsx_ingress
from sdn.errors import Problem

log = logging.getLogger("ncp.status")

#: Namespace annotation keys NCP owns (the ones it may also remove).
OWNED_PREFIXES = tuple(p for p in naming.WRITTEN_ANNOTATION_PREFIXES
                       if p != naming.NETWORK_CONFIG_ANNOTATION)


def _owned(key: str) -> bool:
    return key.startswith(OWNED_PREFIXES)


#: Status patches in flight at once, and how many go out between two looks at whether
#: the worker has fallen behind (:meth:`ncp.live.writeback.WriteBack.let_the_state_lead`).
PATCH_THREADS = 8
PATCH_CHUNK = 200


def _diff(kind: str, ns: str, name: str, body: dict[str, Any], wanted: dict[str, str],
          owned: Callable[[str], bool]) -> list[tuple[str, str, str, dict[str, str | None]]]:
    """The merge patch that makes ``body``'s annotations what NCP wants (none if equal):
    changed keys set, NCP's keys it no longer wants removed, everyone else's untouched."""
    have = annotations_of(body)
    diff: dict[str, str | None] = {k: v for k, v in wanted.items() if have.get(k) != v}
    diff.update({k: None for k in have if owned(k) and k not in wanted})
    return [(kind, ns, name, diff)] if diff else []


class StatusWriter:
    """Writes NCP's status back to the cluster (annotations and Events)."""

    def __init__(self, client: KubeClient, cluster: str, metrics: Metrics) -> None:
        self.client = client
        self.cluster = cluster
        self.metrics = metrics
        self.reported: set[tuple[str, str]] = set()
        #: A patch failed since the last full write: retried in a quiet time, at the
        #: earliest at ``retry_at`` (monotonic), the wait doubling up to a minute.
        self.failed = False
        self.retry_at = 0.0
        self._retry_wait = 1.0
        #: Called between chunks of patches.
        self.pause: Callable[[], None] = lambda: None

    def write(self, report: SyncReport, snapshot: Sequence[Any]) -> int:
        """Patch what differs; returns how many objects were patched."""
        self.failed = False
        current = {(o.kind, o.namespace, o.name): o for o in snapshot}
        todo: list[tuple[str, str, str, dict[str, str | None]]] = []
        for ns, wanted in report.annotations.items():
            obj = current.get(("Namespace", "", ns))
            if obj is not None:
                todo += _diff("Namespace", "", ns, obj.body, wanted, _owned)
        for (ns, pod), wanted in report.pod_annotations.items():
            obj = current.get(("Pod", ns, pod))
            if obj is not None:
                todo += _diff("Pod", ns, pod, obj.body, wanted,
                              lambda k: k == naming.NETWORK_CONFIG_ANNOTATION)
        for o in snapshot:
            if o.kind == "Service":
                wanted = report.service_annotations.get((o.namespace, o.name), {})
                todo += _diff("Service", o.namespace, o.name, o.body, wanted,
                              lambda k: k == naming.LB_ERROR_ANNOTATION)
                if o.spec.get("type") == "LoadBalancer":
                    self._ingress(o, report.lb_vips.get(f"{o.namespace}/{o.name}"))
            elif o.kind == "Ingress" and is_nsx_ingress(o):  # others belong to another controller
                wanted = report.ingress_annotations.get((o.namespace, o.name), {})
                todo += _diff("Ingress", o.namespace, o.name, o.body, wanted,
                              lambda k: k == naming.LB_ERROR_ANNOTATION)
                self._ingress(o, report.ingress_vips.get(f"{o.namespace}/{o.name}"))
        patches = self._patch_all(todo)
        self._events(report.problems)
        return patches

    def write_changes(self, applied: Applied,
                      objects: Mapping[ObjectKey, dict[str, Any] | None]) -> int:
        """Write back one incremental batch: the annotations it changed on pods and new
        namespaces, Events for new problems; returns how many objects were patched."""
        bodies = {normal_key(k): b for k, b in objects.items() if b is not None}
        todo: list[tuple[str, str, str, dict[str, str | None]]] = []
        for name, ann in applied.namespace_annotations.items():
            body = bodies.get(("Namespace", "", name))
            if body is not None:
                todo += _diff("Namespace", "", name, body, ann, _owned)
        for (ns, name), pod_ann in applied.annotations.items():
            body = bodies.get(("Pod", ns, name))
            if body is not None:
                todo += _diff("Pod", ns, name, body, dict(pod_ann or {}),
                              lambda k: k == naming.NETWORK_CONFIG_ANNOTATION)
        patches = self._patch_all(todo)
        kept = {p for p in self.reported if p[1] not in applied.covered}
        self._events(applied.problems, keep=kept)
        return patches

    def _patch_all(self, todo: Sequence[tuple[str, str, str, dict[str, str | None]]]) -> int:
        """Send the patches, a few at once when there are many (they are independent
        merge patches: one at a time, 10,000 took over 10 s of round trips), in chunks
        with :attr:`pause` between them (the runner lets the worker catch up there)."""
        if len(todo) <= 4:
            return sum(self._patch(*item) for item in todo)
        done = 0
        with ThreadPoolExecutor(max_workers=PATCH_THREADS) as pool:
            for start in range(0, len(todo), PATCH_CHUNK):
                if start:
                    self.pause()
                chunk = todo[start:start + PATCH_CHUNK]
                done += sum(pool.map(lambda item: self._patch(*item), chunk))
        return done

    def _ingress(self, obj: Any, vip: str | None) -> None:
        """Make a LoadBalancer Service's or an Ingress's ``status.loadBalancer.ingress``
        show its VIP."""
        status = obj.status
        have = [i.get("ip") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        want = [vip] if vip else []
        if have == want:
            return
        try:
            self.client.patch_lb_ingress(obj.kind, obj.namespace, obj.name, want)
            self.metrics.inc("ncp_status_patches_total", kind=f"{obj.kind}Status")
        except KubeError as err:
            log.warning("cannot set the status of %s %s/%s: %s", obj.kind, obj.namespace,
                        obj.name, err)
            self._failed()

    def _patch(self, kind: str, ns: str, name: str, diff: dict[str, str | None]) -> int:
        try:
            self.client.patch_annotations(kind, ns, name, diff)
            self.metrics.inc("ncp_status_patches_total", kind=kind)
            return 1
        except KubeError as err:
            log.warning("cannot annotate %s %s/%s: %s", kind, ns, name, err)
            self.metrics.inc("ncp_errors_total", code="STATUS_WRITE_FAILED")
            self._failed()
            return 0

    def reset_backoff(self) -> None:
        """A full write went through: the next failure is retried after a second."""
        self._retry_wait = 1.0

    def _failed(self) -> None:
        if not self.failed:
            self.retry_at = time.monotonic() + self._retry_wait
            self._retry_wait = min(60.0, self._retry_wait * 2)
        self.failed = True

    def _events(self, problems: Sequence[Problem],
                keep: set[tuple[str, str]] | None = None) -> None:
        """A Warning Event for each problem not reported yet; ``keep``: the problems
        still standing besides ``problems`` (an incremental batch reports only its own)."""
        now = {(p.code, p.obj) for p in problems} | (keep or set())
        for p in problems:
            if (p.code, p.obj) in self.reported:
                continue
            kind, _, rest = p.obj.partition("/")
            ns, _, name = rest.rpartition("/")
            namespace = ns or ("default" if kind != "Namespace" else rest)
            body = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": "ncp-", "namespace": namespace},
                "involvedObject": {"kind": kind, "name": name or rest,
                                   "namespace": ns or None},
                "reason": p.code, "message": p.message, "type": "Warning",
                "source": {"component": "nsx-container-plugin"},
                "reportingComponent": "nsx-container-plugin",
            }
            try:
                self.client.create_event(namespace, body)
            except KubeError as err:
                log.debug("cannot record an event for %s: %s", p.obj, err)
        self.reported = now
