"""Traceflow agrees with reach and explain, and every trace is well formed.

On random clusters and policies (the x/y/z fixture): a trace between two pods is
delivered exactly when ``reach`` allows the pair; a trace dropped by the firewall names the
rule ``explain`` names; counters equal the observations; every trace ends with a
disposition and within the hop budget.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.policy import evaluate_flow
from sdn.traceflow import Disposition, PacketSpec, TraceContext, trace
from sdn.traceflow.walk import DEFAULT_RULE_PATH, HOP_BUDGET
from tests.support.dfw_harness import Realized
from tests.support.policy_strategies import PROBES, anp_st, pod_labels_st, policy_st, random_cluster


def check_well_formed(t: Any) -> None:
    assert t.disposition in set(Disposition)
    families: dict[str, int] = {}
    for o in t.observations:
        families[o.family] = families.get(o.family, 0) + 1
    counters = t.counters()
    for fam in ("forwarded", "received", "delivered", "dropped"):
        assert counters[f"{fam}_count"] == families.get(fam, 0)
    assert len(t.observations) <= 6 * HOP_BUDGET
    ends = t.observations[-1].resource_type
    if t.disposition is Disposition.DELIVERED:
        assert ends == "TraceflowObservationDelivered"
    if t.disposition is Disposition.DROPPED:
        assert ends == "TraceflowObservationDroppedLogical"
    seqs = [o.sequence_no for o in t.observations]
    assert seqs == sorted(seqs)


@settings(max_examples=30, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(labels=pod_labels_st, nps=st.lists(policy_st, max_size=3),
       anps=st.lists(anp_st, max_size=1), probe=st.sampled_from(PROBES),
       single_tier=st.booleans())
def test_trace_agrees_with_reach_and_explain(tmp_path_factory: Any, labels: dict[str, Any],
                                             nps: list[dict[str, Any]],
                                             anps: list[dict[str, Any]],
                                             probe: tuple[str, int],
                                             single_tier: bool) -> None:
    for i, p in enumerate(nps):
        p["metadata"]["name"] = f"np{i}"
    for i, p in enumerate(anps):
        p["metadata"]["name"] = f"anp{i}"
    from tests.support.dfw_harness import CONFIG
    cfg = CONFIG.model_copy(update={"single_tier_topology": single_tier})
    realized = Realized(tmp_path_factory.mktemp("tf"), random_cluster(labels), nps + anps, cfg)
    assert realized.problems == []
    protocol, port = probe
    allowed = realized.matrix(protocol, port)
    ctx = TraceContext.build(realized.inventory, dfw=realized.dfw)
    pods = sorted(realized.names.values())
    for src in pods:
        for dst in pods:
            if src == dst:
                continue
            s, d = ctx.port_by_name(src), ctx.port_by_name(dst)
            pkt = PacketSpec(src_ip=s.address_bindings[0].ip_address,
                             dst_ip=d.address_bindings[0].ip_address, protocol=protocol,
                             dst_port=port)
            t = trace(ctx, src, pkt)
            check_well_formed(t)
            assert (t.disposition is Disposition.DELIVERED) == ((src, dst) in allowed), \
                (src, dst, t.summary)
            if t.disposition is Disposition.DROPPED:
                by = {e.name: e for e in realized.dfw.endpoints}
                verdict = evaluate_flow(realized.dfw, by[src], by[dst], protocol=protocol,
                                        port=port, source_port=pkt.sport)
                deciding = verdict.deciding
                assert deciding is not None and not deciding.allowed
                want = deciding.rule.path if deciding.rule else DEFAULT_RULE_PATH
                assert t.observations[-1].acl_rule_path == want
