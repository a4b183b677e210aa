"""Building small clusters in memory for reconcile tests (parsed like manifests are)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ncp.config import NcpConfig, parse_config
from ncp.objects import CLUSTER_SCOPED_KINDS, K8sObject
from ncp.sources.manifests import ManifestSet
from sdn.model import Inventory

BIG_BLOCKS: dict[str, Any] = {
    "container_ip_blocks": [{"id": "ip-block-pods", "cidr": "10.0.0.0/16"}],
    "no_snat_ip_blocks": [{"id": "ip-block-nosnat", "cidr": "10.1.0.0/16"}],
    "node_ip_blocks": [{"id": "ip-block-nodes", "cidr": "10.2.0.0/16"}],
    "extra_ip_blocks": [],
    "external_ip_pools": [{"id": "ip-pool-snat", "cidr": "192.0.2.0/24"}],
    "external_ip_pools_lb": [{"id": "ip-pool-lb", "cidr": "198.51.100.0/24"}],
}


def config(**overrides: Any) -> NcpConfig:
    """Settings with roomy blocks; ``overrides`` replace any key."""
    return parse_config({**BIG_BLOCKS, **overrides})


def namespace(name: str, *, labels: dict[str, str] | None = None,
              annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}}}


def deployment(ns: str, name: str, replicas: int,
               labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels or {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


def pod(ns: str, name: str, labels: dict[str, str] | None = None,
        node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "spec": spec}


def manifests(*docs: dict[str, Any]) -> ManifestSet:
    """A manifest set as ``read_manifests`` would return it for these documents."""
    objs = []
    for i, d in enumerate(docs):
        meta = d["metadata"]
        ns = "" if d["kind"] in CLUSTER_SCOPED_KINDS else meta.get("namespace", "default")
        objs.append(K8sObject(kind=d["kind"], api_version=d.get("apiVersion", ""), namespace=ns,
                              name=meta["name"], body=d, source=f"mem#{i}"))
    return ManifestSet(objects=tuple(objs), problems=(), notes=())


def sync_generated(state: Path, objs: Sequence[dict[str, Any]], **overrides: Any) -> Inventory:
    """Sync generated manifests (``generate_cluster``) into a new state at ``now=1`` with
    :func:`config` (``overrides`` replace its keys) and read the inventory back."""
    from ncp.reconcile.sync import sync_cluster
    from sdn.store import Store

    with Store.open(state) as store:
        sync_cluster(store, manifests=manifests(*objs), config=config(**overrides), now=1)
    with Store.open_readonly(state) as store:
        return store.inventory()
