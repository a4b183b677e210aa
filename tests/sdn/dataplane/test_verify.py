"""``sdn verify``'s reasoning without packets: the verdict-to-outcome table, the choice of
pairs, the ARP entries counted, the simulator's verdicts (against ``reach`` and
``explain``'s evaluation, an independent path through the DFW), and the report."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdn.dataplane.verify import (
    Flow,
    Pod,
    Verdict,
    agrees,
    choose_pairs,
    expected,
    flows,
    neighbours,
    report,
    simulate,
)
from sdn.policy import evaluate_flow
from sdn.policy.reach import reach_matrix
from sdn.query import QueryIndex
from sdn.traceflow import TraceContext
from sdn.traceflow.walk import DEFAULT_RULE_ID
from tests.support.cli_runs import sync_sample

#: (simulated, kernel) -> agree?  Every pair of the two vocabularies.
AGREEMENT = [
    ("delivered", "open", True), ("delivered", "refused", False),
    ("delivered", "timeout", False),
    ("dropped", "timeout", True), ("dropped", "open", False), ("dropped", "refused", False),
    ("rejected", "refused", True), ("rejected", "open", False),
    ("rejected", "timeout", False),
    ("no_route", "refused", True), ("no_route", "timeout", False),
    ("no_route", "open", False),
    ("loop", "timeout", True), ("loop", "open", False),
    ("exits_network", "timeout", True), ("exits_network", "open", False),
]


@pytest.mark.parametrize(("simulated", "kernel", "agree"), AGREEMENT,
                         ids=[f"{s}-{k}" for s, k, _ in AGREEMENT])
def test_which_kernel_outcome_agrees_with_which_verdict(simulated: str, kernel: str,
                                                       agree: bool) -> None:
    assert agrees(simulated, kernel) is agree  # type: ignore[arg-type]
    assert (expected(simulated) == kernel) is agree


@given(count=st.integers(2, 30), data=st.data())
def test_pairs_are_every_ordered_pair_or_a_reproducible_sample(count: int,
                                                               data: st.DataObject) -> None:
    every = [(s, d) for s in range(count) for d in range(count) if s != d]
    assert choose_pairs(count) == every
    sample = data.draw(st.integers(1, len(every) + 3))
    seed = data.draw(st.integers(0, 2**32))
    chosen = choose_pairs(count, sample, seed)
    assert chosen == choose_pairs(count, sample, seed)  # the same draw every time
    assert len(chosen) == min(sample, len(every)) == len(set(chosen))
    assert set(chosen) <= set(every) and chosen == sorted(chosen)


def test_different_seeds_draw_different_pairs() -> None:
    assert choose_pairs(100, 50, 1) != choose_pairs(100, 50, 2)


def _pod(name: str, segment: str, router: str = "t1") -> Pod:
    return Pod(name, f"/p/{name}", f"ns-{name}", f"10.0.0.{ord(name[0])}", segment, router)


@pytest.mark.parametrize(("pairs", "count"), [
    ([("a", "b")], 2),                     # one segment: a learns b, b learns a
    ([("a", "b"), ("b", "a")], 2),         # the reverse probe adds nothing
    ([("a", "c")], 4),                     # routed: both gateways, both delivering routers
    ([("a", "c"), ("b", "c")], 6),         # c's entries shared; a and b's own
    ([("a", "d")], 8),                     # through a Tier-0: and the transit peers
    ([("a", "d"), ("c", "d"), ("d", "b")], 12),
    ([], 0),
], ids=["same-segment", "same-segment-both-ways", "routed", "routed-shared",
        "two-routers", "two-routers-shared", "none"])
def test_the_arp_entries_probes_make(pairs: list[tuple[str, str]], count: int) -> None:
    pods = {"a": _pod("a", "s1"), "b": _pod("b", "s1"), "c": _pod("c", "s2"),
            "d": _pod("d", "s3", "t1-other")}
    chosen = [Flow(pods[s], pods[d], "TCP", 80) for s, d in pairs]
    assert neighbours(chosen) == count


def test_all_pairs_of_one_segment_need_n_times_n_minus_one_entries() -> None:
    pods = [_pod(chr(97 + i), "s1") for i in range(10)]
    assert neighbours(flows(pods, choose_pairs(10), "TCP", [80, 6379])) == 90


def test_icmp_flows_have_no_port_and_one_flow_per_pair() -> None:
    pods = [_pod("a", "s"), _pod("b", "s")]
    got = flows(pods, [(0, 1), (1, 0)], "ICMP", [])
    assert [(f.src.name, f.dst.name, f.port) for f in got] == [("a", "b", None),
                                                              ("b", "a", None)]
    assert [f.probe().port for f in flows(pods, [(0, 1)], "UDP", [53, 80])] == [53, 80]


def test_the_report_lists_exactly_the_disagreements() -> None:
    a, b = _pod("a", "s"), _pod("b", "s")
    chosen = [Flow(a, b, "TCP", 80), Flow(b, a, "TCP", 80), Flow(a, b, "UDP", 53)]
    rule = {"rule_id": 7, "path": "/r/7"}
    verdicts = [Verdict("delivered", rule), Verdict("dropped", rule),
                Verdict("rejected", None)]
    assert report(chosen, verdicts, ["open", "open", "refused"]) == {
        "probes": 3, "agreements": 2,
        "disagreements": [{"src": "b", "dst": "a", "protocol": "TCP", "port": 80,
                           "simulated": "dropped", "kernel": "open", "rule": rule}]}


# --- the simulator's verdicts on the samples ---------------------------------------------

@pytest.fixture(scope="module", params=["guestbook", "multi-tenant"])
def context(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[TraceContext, list[Pod]]]:
    state: Path = tmp_path_factory.mktemp("verify") / "state.db"
    sync_sample(state, request.param)
    with QueryIndex.open(state) as index:
        ctx = index.trace_context()
        pods = []
        for path, _c, ns, name in sorted(ctx.lookups.pods, key=lambda p: p[2:]):
            port = ctx.ports[path]
            seg = ctx.segments[port.parent_path]
            pods.append(Pod(f"{ns}/{name}", path, f"ns-{name}",
                            str(port.address_bindings[0].ip_address), seg.path,
                            seg.connectivity_path or seg.path))
        yield ctx, pods


@pytest.mark.parametrize(("protocol", "port"), [("TCP", 80), ("TCP", 6379), ("UDP", 53),
                                                ("ICMP", None)])
def test_simulated_verdicts_are_reachs_with_explains_rule(
        context: tuple[TraceContext, list[Pod]], protocol: str, port: int | None) -> None:
    ctx, pods = context
    dfw = ctx.dfw
    index = {path: ep.index for path, ep in dfw.endpoints_of([p.path for p in pods]).items()}
    allowed = reach_matrix(dfw, protocol=protocol, port=port,
                           among=[i for i in index.values() if i is not None])
    for src, dst in itertools.permutations(pods, 2):
        verdict = simulate(ctx, Flow(src, dst, protocol, port))
        s, d = index[src.path], index[dst.path]
        assert s is not None and d is not None
        assert verdict.simulated == ("delivered" if (s, d) in allowed else "dropped")
        decided = evaluate_flow(dfw, dfw.endpoint(s), dfw.endpoint(d), protocol=protocol,
                                port=port).deciding
        assert decided is not None and verdict.rule is not None
        want = (decided.rule.rule_id, decided.rule.path) if decided.rule is not None \
            else (DEFAULT_RULE_ID, verdict.rule["path"])
        assert (verdict.rule["rule_id"], verdict.rule["path"]) == want
