"""Property: answers read through the query index equal answers computed from scratch.

On seeded generated clusters (namespaces, Deployments, NetworkPolicies, nodes, routed and
NAT namespaces, both NCP topologies), the state is synced, then questioned twice: once the
way every question was answered before the index (the whole inventory parsed, the
firewall compiled: ``TraceContext.build(store.inventory())``), once through a
:class:`~sdn.query.QueryIndex` opened after another reader saved the index (a lazily
parsed inventory and the compiled firewall loaded from the file). Every traceflow (JSON),
every DFW verdict with its explain trail, and the reach matrix must be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncp.reconcile.sync import sync_cluster
from sdn.cli.questions import decision_json
from sdn.errors import Problem
from sdn.model import Inventory, SegmentPort
from sdn.model.checks import validate_inventory
from sdn.policy import compile_dfw, reach_matrix
from sdn.policy.lint import Finding, lint_dfw
from sdn.query import QueryIndex, warm_index
from sdn.query.lazy import LazyInventory
from sdn.store import Store
from sdn.store.codec import ChangeSet
from sdn.traceflow import PacketSpec, TraceContext, trace
from sdn.traceflow.targets import resolve_source, resolve_target
from sdn.traceflow.verdicts import judge
from tests.support.clusters import config, manifests, sync_generated
from topologies.generate import generate_cluster


def _whole_state(state: Path) -> dict[str, list[Finding] | list[Problem]]:
    """``lint``'s findings and ``validate``'s problems computed from scratch."""
    with Store.open_readonly(state) as store:
        inventory, invalid = store.checked_inventory()
        whole = store.inventory()
    return {"lint": lint_dfw(compile_dfw(whole), whole),
            "validate": invalid + validate_inventory(inventory)}


def _answers(ctx: TraceContext, pods: list[str], protocol: str, dport: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for src_name in pods:
        src = resolve_source(ctx, src_name, None)
        for dst_name in pods:
            target = resolve_target(ctx, dst_name, source=src, cluster=None,
                                    protocol=protocol, dport=dport)
            assert src.port is not None
            pkt = PacketSpec(src_ip=src.ip, dst_ip=target.ip, protocol=protocol,
                             dst_port=dport)
            out[f"trace {src_name} {dst_name}"] = trace(ctx, src.port.path, pkt).to_api()
            ans = judge(ctx, src, target, protocol, explain=True)
            out[f"explain {src_name} {dst_name}"] = [
                (lv.verdict.allowed, decision_json(lv.verdict.egress),
                 decision_json(lv.verdict.ingress)) for lv in ans.legs]
    out["reach"] = sorted(reach_matrix(ctx.dfw, protocol=protocol, port=dport))
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(1, 10),
       policies=st.integers(0, 6), nodes=st.integers(0, 3),
       no_snat=st.sampled_from([0.0, 0.5]), single_tier=st.booleans(),
       protocol=st.sampled_from(["TCP", "UDP"]),
       dport=st.sampled_from([80, 443, 5432, 8080]))
def test_answers_through_the_index_equal_answers_from_scratch(
        tmp_path_factory: Any, seed: int, namespaces: int, pods: int, policies: int,
        nodes: int, no_snat: float, single_tier: bool, protocol: str, dport: int) -> None:
    objs = generate_cluster(namespaces=namespaces, pods=pods, seed=seed, policies=policies,
                            nodes=nodes, no_snat_fraction=no_snat)
    state = Path(tmp_path_factory.mktemp("index")) / "state.db"
    scratch = TraceContext.build(sync_generated(state, objs, single_tier_topology=single_tier))
    names = sorted(p.display_name for p in scratch.inventory.of_type(SegmentPort)
                   if p.tag("ncp/pod"))[:6]
    expected = {**_answers(scratch, names, protocol, dport), **_whole_state(state)}

    with QueryIndex.open(state) as first:  # the first reader builds and saves
        first.trace_context()
        assert first.built == ["valid", "dfw-ALLOW", "lookups"]
        assert first.lint_findings() == expected["lint"]
        assert first.validate_problems() == expected["validate"]
        assert first.built[3:] == ["lint", "validate"]
    with QueryIndex.open(state) as later:  # a later one reads the index
        ctx = later.trace_context()
        assert later.hits == ["dfw-ALLOW", "valid", "lookups"] and not later.built
        assert isinstance(ctx.inventory, LazyInventory)
        got = _answers(ctx, names, protocol, dport)
        got["lint"] = later.lint_findings()
        got["validate"] = later.validate_problems()
        assert later.hits[3:] == ["lint", "validate"] and not later.built
        assert got == expected


@settings(max_examples=8, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(1, 8),
       policies=st.integers(0, 6), later_pods=st.integers(1, 8),
       later_policies=st.integers(0, 6), single_tier=st.booleans())
def test_the_index_a_sync_saves_answers_as_from_scratch(
        tmp_path_factory: Any, seed: int, namespaces: int, pods: int, policies: int,
        later_pods: int, later_policies: int, single_tier: bool) -> None:
    """What ``ncp sync`` saves from the objects it holds (:func:`sdn.query.warm_index`),
    after a first sync and after a second one that creates, updates and deletes, is what
    a reader of the stored rows builds."""
    state = Path(tmp_path_factory.mktemp("warm")) / "state.db"
    for n_pods, n_policies in ((pods, policies), (later_pods, later_policies)):
        objs = generate_cluster(namespaces=namespaces, pods=n_pods, seed=seed,
                                policies=n_policies)
        with Store.open(state) as store:
            report = sync_cluster(store, manifests=manifests(*objs),
                                  config=config(single_tier_topology=single_tier), now=1,
                                  keep_inventory=True)
        if report.inventory is None:  # the same input again: a no-op that read nothing
            assert not report.written
            continue
        assert report.validated is report.written  # checked exactly when written
        assert warm_index(state, report.inventory, force=report.written,
                          validated=report.validated) \
            == (["valid", "dfw-ALLOW", "lookups", "lint", "validate"] if report.written
                else [])
    with Store.open_readonly(state) as store:
        scratch = TraceContext.build(store.inventory())
    names = sorted(p.display_name for p in scratch.inventory.of_type(SegmentPort)
                   if p.tag("ncp/pod"))[:6]
    expected = {**_answers(scratch, names, "TCP", 80), **_whole_state(state)}
    with QueryIndex.open(state) as index:
        ctx = index.trace_context()
        got = {**_answers(ctx, names, "TCP", 80), "lint": index.lint_findings(),
               "validate": index.validate_problems()}
        assert sorted(index.hits) == ["dfw-ALLOW", "lint", "lookups", "valid", "validate"]
        assert not index.built
        assert got == expected


def test_a_sync_keeps_no_inventory_when_another_writer_came_between(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer's revision between the sync's read and its write: what the sync
    holds is not the state it leaves, so it hands nothing to the index."""
    state = tmp_path / "state.db"
    objs = generate_cluster(namespaces=1, pods=2, seed=1, policies=1)
    read = Store.inventory

    def read_then_another_write(self: Store) -> Inventory:
        inventory = read(self)
        with Store.open(state) as other:
            other.apply(ChangeSet())
        return inventory

    with Store.open(state) as store:
        monkeypatch.setattr(Store, "inventory", read_then_another_write)
        report = sync_cluster(store, manifests=manifests(*objs), config=config(), now=1,
                              keep_inventory=True)
    assert report.written and report.revision == 2 and report.inventory is None
