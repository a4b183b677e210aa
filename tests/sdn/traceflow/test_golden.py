"""Golden traces on the multi-tenant sample: every kind of path, as sorted, pretty JSON.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 python -m pytest
tests/sdn/traceflow/test_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ncp.config import load_config
from ncp.reconcile.sync import sync_cluster
from ncp.sources.profiles import load_profile_file
from sdn.model import Inventory, LBPool, LBVirtualServer, Tier1
from sdn.store import Store
from sdn.traceflow import PacketSpec, TraceContext, trace

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).parent / "golden"
SAMPLE = ROOT / "topologies" / "multi-tenant"
SHARED = ROOT / "topologies" / "profiles" / "shared-t1.json"


@dataclass(frozen=True)
class Case:
    id: str
    src: str
    dst: str  # NS/POD or an IP address
    protocol: str = "TCP"
    port: int | None = 80
    ttl: int = 64
    shared_t1: bool = False
    bidirectional: bool = False
    detach_tier1: str | None = None  # a Tier-1 whose tier0_path is removed (no route)
    empty_pools: bool = False  # every LB pool loses its members (no ready backend)
    expect: str = "DELIVERED"


CASES = [
    Case("same-segment", "shop/frontend-0", "shop/cart-1", port=8080),
    Case("across-namespaces-two-tier", "shop/frontend-0", "payments/api-0", port=8443),
    Case("across-namespaces-shared-t1", "shop/frontend-0", "payments/api-0", port=8443,
         shared_t1=True),
    Case("bidirectional", "shop/frontend-0", "payments/api-0", port=8443, bidirectional=True),
    Case("outside-snat-on-tier0", "shop/frontend-0", "203.0.113.7", port=443,
         expect="EXITS_NETWORK"),
    Case("outside-snat-on-shared-tier1", "shop/frontend-0", "203.0.113.7", port=443,
         shared_t1=True, expect="EXITS_NETWORK"),
    Case("outside-no-snat-routed", "analytics/worker-0", "10.50.3.4", port=443,
         expect="EXITS_NETWORK"),
    Case("dropped-by-egress-rule", "analytics/worker-0", "10.50.99.4", port=443,
         expect="DROPPED"),
    Case("dropped-by-ingress-rule", "shop/frontend-0", "payments/db-0", port=5432,
         expect="DROPPED"),
    Case("ttl-exhausted", "shop/frontend-0", "payments/api-0", port=8443, ttl=2,
         expect="DROPPED"),
    Case("arp-fail", "shop/frontend-0", "172.16.5.200", port=8080, expect="DROPPED"),
    Case("no-route", "shop/frontend-0", "payments/api-0", port=8443,
         detach_tier1="t1_k8s-cluster_shop", expect="NO_ROUTE"),
    Case("icmp-to-gateway", "shop/frontend-0", "172.16.5.1", protocol="ICMP", port=None),
    Case("to-service-cluster-ip", "shop/frontend-0", "svc:payments/api", port=8443),
    Case("to-service-without-backends", "shop/frontend-0", "svc:payments/api", port=8443,
         empty_pools=True, expect="DROPPED"),
    Case("dns-to-service-udp", "analytics/worker-0", "svc:kube-system/kube-dns",
         protocol="UDP", port=53),
]


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Inventory]:
    out = {}
    for shared in (False, True):
        store = Store.open(tmp_path_factory.mktemp("golden") / "state.db")
        profile = load_profile_file(SHARED) if shared else None
        report = sync_cluster(store, paths=[SAMPLE], config=load_config(None),
                              profile=profile, now=1_000_000)
        assert report.problems == []
        out[shared] = store.inventory()
    return out


def _address(ctx: TraceContext, target: str) -> str:
    if target.startswith("svc:"):
        ns, _, name = target[4:].partition("/")
        (vip,) = {str(vs.ip_address) for vs in ctx.inventory.of_type(LBVirtualServer)
                  if vs.tag("ncp/project") == ns and vs.tag("ncp/service") == name}
        return vip
    if "/" in target:
        return str(ctx.port_by_name(target).address_bindings[0].ip_address)
    return target


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_golden_trace(states: dict[bool, Inventory], case: Case) -> None:
    inv = states[case.shared_t1]
    if case.detach_tier1:
        objs = [o.model_copy(update={"tier0_path": None})
                if isinstance(o, Tier1) and o.id == case.detach_tier1 else o
                for o in inv.values()]
        inv = Inventory(objs)
    if case.empty_pools:
        inv = Inventory([o.model_copy(update={"members": ()}) if isinstance(o, LBPool) else o
                         for o in inv.values()])
    ctx = TraceContext.build(inv)
    src = ctx.port_by_name(case.src)
    pkt = PacketSpec(src_ip=src.address_bindings[0].ip_address,
                     dst_ip=_address(ctx, case.dst), protocol=case.protocol,
                     dst_port=case.port, ttl=case.ttl)
    result = trace(ctx, case.src, pkt, bidirectional=case.bidirectional)
    assert result.disposition.value == case.expect, result.summary
    text = json.dumps(result.to_api(), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{case.id}.json"
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; UPDATE_GOLDEN=1 to accept"


def test_every_golden_file_has_a_case() -> None:
    names: set[Any] = {p.stem for p in GOLDEN.glob("*.json")}
    assert names <= {c.id for c in CASES}
