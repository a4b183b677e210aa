"""The latest Kubernetes objects ncp has seen, by kind and key.

Watch callbacks only put objects here (and say that something changed); the reconcile
worker reads a consistent snapshot. A relist replaces one kind wholesale, which is how
objects deleted while a watch was away disappear. Thread-safe: watchers of different
kinds write concurrently, the worker reads.

The cache also remembers *which* objects changed since the worker last looked, and when
each change first arrived (:meth:`ClusterCache.take_changes`): the incremental reconcile
works on those keys alone, and the arrival time is where the per-event latency
(``ncp_event_apply_seconds``) starts. A relist marks the whole kind changed
(:attr:`Changes.relisted`), since what it replaced is not known key by key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ncp.objects import K8sObject, Key, ObjectKey, as_k8s_object, metadata_of, resource_version


@dataclass
class Changes:
    """What changed since the worker last looked: each changed key with its object now
    (None: deleted) and the monotonic time its first unseen change arrived."""

    version: int
    objects: dict[ObjectKey, dict[str, Any] | None] = field(default_factory=dict)
    arrived: dict[ObjectKey, float] = field(default_factory=dict)
    #: Kinds replaced wholesale by a relist since: no key-by-key account exists for them.
    relisted: set[str] = field(default_factory=set)


def _key(obj: dict[str, Any]) -> Key:
    meta = metadata_of(obj)
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class ClusterCache:
    """Objects by kind and (namespace, name), with a change counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {}
        # Deleted keys and the version of their deletion: an older event arriving late
        # (reordered) must not bring a deleted object back. A relist clears them.
        self._tombstones: dict[str, dict[Key, int]] = {}
        self._changed = threading.Condition(self._lock)
        self.version = 0
        self.listed: set[str] = set()
        self._dirty: dict[ObjectKey, float] = {}
        self._relisted: set[str] = set()
        self._wakes = 0

    def _touch(self, kind: str, key: Key) -> None:
        """Record a change of one object (the first arrival since the worker looked)."""
        self._dirty.setdefault((kind, *key), time.monotonic())

    def replace(self, kind: str, items: Iterable[dict[str, Any]]) -> None:
        """The full set of a kind after a (re)list."""
        with self._lock:
            self._objects[kind] = {_key(o): o for o in items}
            self._tombstones[kind] = {}
            self.listed.add(kind)
            self._relisted.add(kind)
            self.version += 1
            self._changed.notify_all()

    def apply(self, kind: str, event: str, obj: dict[str, Any]) -> bool:
        """One watch event; returns whether it changed anything (a duplicate does not)."""
        key = _key(obj)
        rv = _version(obj)
        with self._lock:
            bucket = self._objects.setdefault(kind, {})
            graves = self._tombstones.setdefault(kind, {})
            if event == "DELETED":
                old = bucket.get(key)
                if old is not None and rv is not None and (_version(old) or 0) > rv:
                    return False  # a late delete of an older incarnation
                changed = bucket.pop(key, None) is not None
                if rv is not None:
                    graves[key] = max(rv, graves.get(key, 0))
            else:
                old = bucket.get(key)
                if old is not None and _newer_or_same(old, obj):
                    return False
                if rv is not None and graves.get(key, -1) >= rv:
                    return False  # deleted after this version: a reordered, stale event
                bucket[key] = obj
                changed = True
            if changed:
                self._touch(kind, key)
                self.version += 1
                self._changed.notify_all()
            return changed

    def wake(self) -> None:
        """Wake whoever waits in :meth:`wait_for_change` (to see that it must stop)."""
        with self._lock:
            self._wakes += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until the version moves past ``seen`` (or the timeout); the new version."""
        with self._lock:
            wakes = self._wakes
            self._changed.wait_for(lambda: self.version != seen or self._wakes != wakes,
                                   timeout=timeout)
            return self.version

    def snapshot(self) -> tuple[int, list[K8sObject]]:
        """The version and every object, as the manifest reader would give them."""
        with self._lock:
            return self.version, self._all()

    def _all(self) -> list[K8sObject]:
        return [as_k8s_object(kind, key, o)
                for kind, bucket in sorted(self._objects.items())
                for key, o in sorted(bucket.items())]

    def take_snapshot(self) -> tuple[Changes, list[K8sObject]]:
        """Every object, for a full reconcile, with the changes it accounts for (their
        arrival times; the objects are in the snapshot): the record starts afresh."""
        with self._lock:
            changes = Changes(self.version, arrived=self._dirty, relisted=self._relisted)
            self._dirty, self._relisted = {}, set()
            return changes, self._all()

    def take_changes(self) -> Changes:
        """The objects changed since the last :meth:`take_changes` or consuming
        :meth:`snapshot`, as they are now; the record starts afresh."""
        with self._lock:
            out = Changes(self.version, relisted=set(self._relisted), arrived=self._dirty)
            for kind, ns, name in self._dirty:
                out.objects[(kind, ns, name)] = self._objects.get(kind, {}).get((ns, name))
            self._dirty = {}
            self._relisted = set()
            return out

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One object as cached, or None."""
        with self._lock:
            return self._objects.get(kind, {}).get((namespace, name))

    def objects_of(self, kind: str) -> list[K8sObject]:
        """Every cached object of one kind."""
        with self._lock:
            return [as_k8s_object(kind, key, o)
                    for key, o in sorted(self._objects.get(kind, {}).items())]

    def kinds(self) -> set[str]:
        """The kinds that have at least one object."""
        with self._lock:
            return {k for k, bucket in self._objects.items() if bucket}

    def count(self, kind: str) -> int:
        """How many objects of a kind are cached."""
        with self._lock:
            return len(self._objects.get(kind, {}))


def _version(obj: dict[str, Any]) -> int | None:
    """The object's resourceVersion as an int, None when absent or opaque."""
    try:
        return int(resource_version(obj))
    except ValueError:
        return None


def _newer_or_same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``old`` already is ``new`` or newer (so a duplicated or reordered event
    cannot roll an object back)."""
    try:
        a = int(resource_version(old) or 0)
        b = int(resource_version(new) or 0)
    except ValueError:
        return False  # opaque versions: trust the order of events
    return a >= b
