"""Property: ``sdn path`` answers and topology pictures read through the query index's
``topology`` part (the graph loaded, objects parsed lazily) equal those computed from
scratch (the whole inventory parsed, the graph built from it), on seeded generated
clusters of both NCP topologies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.graph import clear_graph_cache
from sdn.model import SegmentPort
from sdn.query import QueryIndex
from sdn.query.lazy import LazyInventory
from sdn.render.pictures import topology_dot, topology_tree
from sdn.traceflow import TraceContext
from sdn.traceflow.paths import answer_json, path_answer
from tests.support.clusters import sync_generated
from topologies.generate import generate_cluster


def _answers(ctx: TraceContext, ends: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for src in ends[:3]:
        for dst in ends:
            answer = path_answer(ctx, src, dst, dport=80)
            out[f"{src} {dst}"] = answer_json(ctx, answer, dst)
    for collapse in (None, 0):
        out[f"tree {collapse}"] = topology_tree(ctx.inventory, collapse_over=collapse)
        out[f"dot {collapse}"] = topology_dot(ctx.inventory, collapse_over=collapse)
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(1, 10),
       nodes=st.integers(0, 3), single_tier=st.booleans(),
       no_snat=st.sampled_from([0.0, 0.5]))
def test_paths_and_pictures_through_the_saved_graph_equal_those_from_scratch(
        tmp_path_factory: Any, seed: int, namespaces: int, pods: int, nodes: int,
        single_tier: bool, no_snat: float) -> None:
    objs = generate_cluster(namespaces=namespaces, pods=pods, seed=seed, nodes=nodes,
                            no_snat_fraction=no_snat)
    state = Path(tmp_path_factory.mktemp("topology")) / "state.db"
    scratch = TraceContext.build(sync_generated(state, objs, single_tier_topology=single_tier))
    ports = [p for p in scratch.inventory.of_type(SegmentPort) if p.address_bindings]
    ends = sorted(p.display_name for p in ports if p.tag("ncp/pod"))[:4]
    ends += [str(p.address_bindings[0].ip_address) for p in ports[:2]] + ["8.8.8.8"]
    expected = _answers(scratch, ends)

    with QueryIndex.open(state) as first:  # the first reader builds and saves the graph
        _answers(first.trace_context(), ends)
        assert "topology" in first.built
    clear_graph_cache()
    with QueryIndex.open(state) as later:  # a later one loads it
        ctx = later.trace_context()
        assert isinstance(ctx.inventory, LazyInventory)
        assert _answers(ctx, ends) == expected
        assert "topology" in later.hits and "topology" not in later.built
