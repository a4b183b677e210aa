"""Property: on seeded generated clusters, every traceflow trace crosses exactly the hops of
``sdn path``'s answer for the same endpoints.

Clusters come from ``topologies.generate`` (namespaces, Deployments, NetworkPolicies, nodes,
some namespaces routed without SNAT), synced in either NCP topology (a Tier-1 per
namespace, or one shared Tier-1). For every pod as the source, and a client outside NSX,
and every destination: each pod, each node, each segment's gateway address, a free address
of a pod subnet, an address of the pod block no namespace has, and one outside NSX, the
question is answered twice from the same resolved endpoints
(:func:`sdn.traceflow.paths.path_answer`, the function ``sdn path`` runs): once by walking
the graph's links (:mod:`sdn.graph.paths`), once by traceflow's walk over its per-gateway
longest-prefix tables. Delivered, forwarded-out (``EXITS_NETWORK``), ``ARP_FAIL`` and
``NO_ROUTE`` traces cross exactly the path's hops, route by the same prefixes and end the
same way (:func:`tests.support.trace_hops.assert_trace_follows_path`); a trace the firewall drops
crosses the first hops of the path.

``hypothesis.event`` counts what kind of paths each example checked; run with
``--hypothesis-show-statistics`` to see how many cross gateways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ncp.reconcile.sync import sync_cluster
from sdn.graph.paths import PathEnd, PathStart
from sdn.model import Inventory, Segment, SegmentPort
from sdn.store import Store
from sdn.traceflow import PacketSpec, Trace, TraceContext, trace
from sdn.traceflow.outside import trace_from_outside
from sdn.traceflow.paths import path_answer
from sdn.traceflow.walk import TraceInputError
from tests.support.clusters import config, manifests
from tests.support.trace_hops import assert_trace_follows_path, dropped_by_firewall
from topologies.generate import generate_cluster

OUTSIDE_CLIENT = "203.0.113.50"
#: Outside NSX, and inside the pod block but in no namespace's subnet.
FIXED_DESTINATIONS = ["198.18.7.7", "10.0.250.9"]


def _synced(tmp: Path, objs: list[dict[str, Any]], single_tier: bool) -> Inventory:
    cfg = config(single_tier_topology=single_tier)
    with Store.open(tmp / "state.db") as store:
        report = sync_cluster(store, manifests=manifests(*objs), config=cfg, now=1)
        assert not [p for p in report.problems if "EXHAUSTED" in p.code], report.problems
        return store.inventory()


def _destinations(inv: Inventory) -> list[str]:
    out = list(FIXED_DESTINATIONS)
    for port in inv.of_type(SegmentPort):
        out += [str(b.ip_address) for b in port.address_bindings]
    for seg in inv.of_type(Segment):
        for sub in seg.subnets:
            out += [str(sub.gateway_address.ip), str(sub.network.network_address + 250)]
    return out


def _trace(ctx: TraceContext, answer: Any, dport: int) -> Trace | None:
    source = answer.source
    pkt = PacketSpec(src_ip=source.ip, dst_ip=answer.target.ip, protocol="TCP",
                     dst_port=dport)
    if source.port is not None:
        return trace(ctx, source.port.path, pkt)
    try:
        return trace_from_outside(ctx, pkt)
    except TraceInputError:  # no Tier-0 routes the address inside NSX
        return None


def _kind(answer: Any, t: Trace) -> str:
    """What one question's path crossed, for the statistics."""
    path = answer.legs[0].path
    kinds = [h.kind for h in path.hops]
    src = "pod" if answer.source.port is not None else "outside client"
    if dropped_by_firewall(t):
        return f"{src}: dropped by the firewall on the way"
    if path.end is PathEnd.SEGMENT_PORT:
        via = ("across the Tier-0" if "Tier0" in kinds else
               "across a Tier-1" if "Tier1" in kinds else "on one segment")
        return f"{src} to a port {via}"
    return f"{src}: {path.end.value}"


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(1, 12),
       policies=st.integers(0, 2), nodes=st.integers(0, 3),
       no_snat=st.sampled_from([0.0, 0.5, 1.0]), single_tier=st.booleans(),
       dport=st.sampled_from([80, 443, 5432, 8080]))
def test_traceflow_crosses_the_hops_of_sdn_path(
        tmp_path_factory: Any, seed: int, namespaces: int, pods: int, policies: int,
        nodes: int, no_snat: float, single_tier: bool, dport: int) -> None:
    objs = generate_cluster(namespaces=namespaces, pods=pods, seed=seed, policies=policies,
                            nodes=nodes, no_snat_fraction=no_snat)
    inv = _synced(tmp_path_factory.mktemp("paths"), objs, single_tier)
    ctx = TraceContext.build(inv)
    sources = [p.display_name for p in inv.of_type(SegmentPort) if p.tag("ncp/pod")]
    seen: set[str] = set()
    for src in [*sources, OUTSIDE_CLIENT]:
        for dst in _destinations(inv):
            if dst == OUTSIDE_CLIENT:
                continue
            answer = path_answer(ctx, src, dst, dport=dport)
            assert answer.translation is None  # the generator makes no Services
            [leg] = answer.legs
            t = _trace(ctx, answer, dport)
            if t is None:
                assert leg.path.start is PathStart.UPLINK
                assert (leg.path.end, leg.path.hops) == (PathEnd.NO_ROUTE, ())
                continue
            assert_trace_follows_path(t, leg.path)
            seen.add(_kind(answer, t))
    for kind in sorted(seen):
        event(kind)
