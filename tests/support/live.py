"""Helpers for tests that run ncp against the test API server: object builders, waiting,
convergence, and the comparison with a fresh sync."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ncp.config import load_config
from ncp.objects import K8sObject
from ncp.reconcile.sync import sync_cluster
from ncp.sources.manifests import ManifestSet
from sdn.model import SegmentPort
from sdn.store import Store
from tests.support.apiserver import ApiServer
from tests.support.state_checks import check_invariants, projection

KINDS = ("Namespace", "Node", "Pod", "Service", "EndpointSlice", "NetworkPolicy")


def wait(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name,
                                                                  "labels": labels}}


def pod(namespace: str, name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


def pods_in_state(state: Path) -> set[str]:
    with Store.open_readonly(state) as store:
        return {p.display_name for p in store.inventory().of_type(SegmentPort)
                if p.tag("ncp/pod")}


def realized_pods(state: Path) -> set[str]:
    """The pods the state has ports for; none while another process is still creating the
    state (the file exists before its tables do)."""
    try:
        return pods_in_state(state)
    except Exception:
        return set()


def server_pods(server: ApiServer) -> set[str]:
    return {f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in server.objects("Pod")}


def converged(server: ApiServer, state: Path) -> bool:
    try:
        return pods_in_state(state) == server_pods(server)
    except Exception:  # the state may not exist yet: not converged, even with no pods
        return False


def assert_equals_fresh_sync(server: ApiServer, state: Path, tmp: Path) -> None:
    objects = []
    for kind in KINDS:
        for o in server.objects(kind):
            meta = o["metadata"]
            o.setdefault("kind", kind)
            objects.append(K8sObject(kind=kind, api_version=o.get("apiVersion", ""),
                                     namespace="" if kind in ("Namespace", "Node")
                                     else meta.get("namespace", "default"),
                                     name=meta["name"], body=o, source="final"))
    fresh = Store.open(tmp / "fresh.db")
    sync_cluster(fresh, manifests=ManifestSet(tuple(objects), (), ()), config=load_config(None),
                 now=time.time())
    with Store.open_readonly(state) as store:
        live = store.inventory()
    check_invariants(live)
    want, have = projection(fresh.inventory()), projection(live)
    assert have == want, {k: (have.get(k), want.get(k)) for k in set(have) | set(want)
                          if have.get(k) != want.get(k)}


def kubeconfig(path: Path, url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": url}}],
        "users": [{"name": "test", "user": {}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
    }))
    return path
