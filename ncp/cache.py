"""The latest Kubernetes objects ncp has seen, by kind and key.

Watch callbacks only put objects here (and say that something changed); the reconcile
worker reads a consistent snapshot. A relist replaces one kind wholesale, which is how
objects deleted while a watch was away disappear. Thread-safe: watchers of different
kinds write concurrently, the worker reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from ncp.sources.manifests import CLUSTER_SCOPED_KINDS, K8sObject

Key = tuple[str, str]  # (namespace, name)


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
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

    def replace(self, kind: str, items: Iterable[dict[str, Any]]) -> None:
        """The full set of a kind after a (re)list."""
        with self._lock:
            self._objects[kind] = {_key(o): o for o in items}
            self._tombstones[kind] = {}
            self.listed.add(kind)
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
                self.version += 1
                self._changed.notify_all()
            return changed

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until the version moves past ``seen`` (or the timeout); the new version."""
        with self._lock:
            self._changed.wait_for(lambda: self.version != seen, timeout=timeout)
            return self.version

    def snapshot(self) -> tuple[int, list[K8sObject]]:
        """The version and every object, as the manifest reader would give them."""
        with self._lock:
            out = [
                K8sObject(kind=kind, api_version=str(o.get("apiVersion") or ""),
                          namespace="" if kind in CLUSTER_SCOPED_KINDS else (key[0] or "default"),
                          name=key[1], body=o, source=f"api:{kind}")
                for kind, bucket in sorted(self._objects.items())
                for key, o in sorted(bucket.items())
            ]
            return self.version, out

    def count(self, kind: str) -> int:
        """How many objects of a kind are cached."""
        with self._lock:
            return len(self._objects.get(kind, {}))


def _version(obj: dict[str, Any]) -> int | None:
    """The object's resourceVersion as an int, None when absent or opaque."""
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or "")
    except ValueError:
        return None


def _newer_or_same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``old`` already is ``new`` or newer (so a duplicated or reordered event
    cannot roll an object back)."""
    try:
        a = int((old.get("metadata") or {}).get("resourceVersion") or 0)
        b = int((new.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return False  # opaque versions: trust the order of events
    return a >= b
