"""Run the real pipeline (``ncp sync`` -> NSX DFW objects -> compiled DFW -> reach) on an
oracle :class:`~tests.support.k8s_oracle.Cluster`, for the truth tables and property tests.

The oracle's pods carry fixed addresses; NCP allocates its own. The harness syncs the
namespaces and pods first, then rewrites every address in the policies from the oracle's
to the realized one (CIDRs of whole namespace subnets line up by construction: namespace
``i`` in name order gets ``10.0.i.0/24``), so both sides see the same addresses.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ncp.config import NcpConfig
from ncp.reconcile.sync import SyncReport, sync_cluster
from sdn.model import Inventory, SegmentPort
from sdn.policy import compile_dfw, reach_matrix
from sdn.store import Store
from tests.support.clusters import config, manifests
from tests.support.k8s_oracle import Cluster, Pod

CONFIG = config(implicit_namespaces=[], subnet_prefix=24,
                container_ip_blocks=[{"id": "ip-block-pods", "cidr": "10.0.0.0/16"}])

_IP = re.compile(r"\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(/32)?\b")


def _docs(cluster: Cluster) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns.name, "labels": dict(ns.labels)}}
        for ns in cluster.namespaces
    ]
    for pod in cluster.pods:
        ports = [{"name": p.name, "protocol": p.protocol, "containerPort": p.port}
                 for p in pod.ports]
        docs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": pod.name, "namespace": pod.namespace,
                                  "labels": dict(pod.labels)},
                     "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]}})
    return docs


def _rewrite(value: Any, ips: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, ips) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, ips) for v in value]
    if isinstance(value, str):
        return _IP.sub(lambda m: ips.get(m.group(1), m.group(1)) + (m.group(2) or ""), value)
    return value


def pod_addresses(store: Store, cluster: Cluster, cfg: NcpConfig = CONFIG,
                  now: float = 1) -> dict[str, str]:
    """Sync the cluster's namespaces and pods alone into ``store``: the oracle's address
    of every pod -> the one NCP allocated (they stay while the pods do)."""
    sync_cluster(store, manifests=manifests(*_docs(cluster)), config=cfg, now=now)
    ports = {(p.tag("ncp/project"), p.tag("ncp/pod")): p
             for p in store.inventory().of_type(SegmentPort) if p.tag("ncp/pod")}
    return {pod.ip: str(ports[(pod.namespace, pod.name)].address_bindings[0].ip_address)
            for pod in cluster.pods}


def sync_with_policies(store: Store, cluster: Cluster, policies: list[dict[str, Any]],
                       ips: dict[str, str], cfg: NcpConfig = CONFIG, now: float = 2
                       ) -> tuple[list[dict[str, Any]], list[Any]]:
    """Sync the cluster with ``policies``, their addresses rewritten by ``ips`` (from
    :func:`pod_addresses`): the policies as synced and the sync's problems."""
    rewritten = [_rewrite(p, ips) for p in policies]
    report = sync_cluster(store, manifests=manifests(*_docs(cluster), *rewritten),
                          config=cfg, now=now)
    return rewritten, list(report.problems)


def dry_run_with_policies(store: Store, cluster: Cluster, policies: list[dict[str, Any]],
                          ips: dict[str, str], cfg: NcpConfig = CONFIG,
                          now: float = 3) -> SyncReport:
    """``ncp sync --dry-run`` of the cluster with ``policies`` (addresses rewritten by
    ``ips``) against what ``store`` holds: the report, with its plan's reachability."""
    return sync_cluster(store, manifests=manifests(*_docs(cluster),
                                                   *(_rewrite(p, ips) for p in policies)),
                        config=cfg, now=now, dry_run=True)


def changed_paths(before: Inventory, after: Inventory) -> list[str]:
    """Every path created, updated or deleted from ``before`` to ``after``."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def two_states(tmp: Path, before: tuple[Cluster, list[dict[str, Any]]],
               after: tuple[Cluster, list[dict[str, Any]]]) -> tuple[Inventory, Inventory]:
    """The inventories NCP realizes for ``before`` and then ``after`` (same pods)."""
    with Store.open(tmp / "state.db") as store:
        ips = pod_addresses(store, before[0])
        assert sync_with_policies(store, *before, ips)[1] == []
        old = store.inventory()
        assert sync_with_policies(store, *after, ips, now=3)[1] == []
        return old, store.inventory()


class Realized:
    """The cluster as NCP realized it: DFW, pod names by endpoint, and the oracle's view
    with the realized addresses."""

    def __init__(self, tmp: Path, cluster: Cluster, policies: list[dict[str, Any]],
                 cfg: NcpConfig = CONFIG) -> None:
        store = Store.open(tmp / "dfw.db")
        ips = pod_addresses(store, cluster, cfg)
        self.policies, self.problems = sync_with_policies(store, cluster, policies, ips, cfg)
        self.inventory = store.inventory()
        self.dfw = compile_dfw(self.inventory)
        self.names = {ep.index: ep.name for ep in self.dfw.endpoints
                      if ep.index is not None and "/" in ep.name}
        realized_pods = [replace(pod, ip=ips[pod.ip]) if isinstance(pod, Pod) else pod
                         for pod in cluster.pods]
        bare = replace(cluster, pods=tuple(realized_pods), network_policies=(),
                       admin_policies=(), baseline_admin_policy=None,
                       cluster_network_policies=())
        self.oracle = bare.with_policies(self.policies)
        store.close()

    def matrix(self, protocol: str, port: int) -> set[tuple[str, str]]:
        """Allowed directed pairs of distinct pods, as ``ns/pod`` names."""
        among = list(self.names)
        pairs = reach_matrix(self.dfw, protocol=protocol, port=port, among=among)
        return {(self.names[s], self.names[d]) for s, d in pairs}
