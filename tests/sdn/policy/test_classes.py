"""Property: ``CompiledDfw.classes`` (each distinct member set once) partitions the
endpoints exactly as ``signatures`` (every group by path) does, after a compile and after
relabels; ``reach_matrix`` groups endpoints by it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncp.config import load_config
from ncp.reconcile.sync import sync_cluster
from sdn.model import SegmentPort
from sdn.policy import compile_dfw
from sdn.policy.compiler import CompiledDfw
from sdn.policy.membership import MembershipUpdater
from sdn.store import Store
from tests.support.dfw_harness import Realized
from tests.support.truth_tables import CASES, fixture
from topologies.generate import generate_cluster, write_cluster

ROOT = Path(__file__).resolve().parents[3]


def partition(keys: Sequence[object]) -> set[frozenset[int]]:
    blocks: dict[object, set[int]] = {}
    for i, key in enumerate(keys):
        blocks.setdefault(key, set()).add(i)
    return {frozenset(b) for b in blocks.values()}


def same_partition(dfw: CompiledDfw) -> bool:
    return partition(dfw.classes) == partition(dfw.signatures)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case_id=st.sampled_from([c.id for c in CASES]),
       relabels=st.lists(st.tuples(st.integers(0, 8),
                                   st.dictionaries(st.sampled_from(["role", "app"]),
                                                   st.sampled_from(["a", "db", "web"]),
                                                   max_size=2)), max_size=3))
def test_classes_partition_as_signatures(tmp_path_factory: Any, case_id: str,
                                         relabels: list[tuple[int, dict[str, str]]]) -> None:
    case = next(c for c in CASES if c.id == case_id)
    realized = Realized(tmp_path_factory.mktemp("classes"), fixture(), case.policies)
    inv, dfw = realized.inventory, realized.dfw
    assert same_partition(dfw)
    ports = [p for p in inv.of_type(SegmentPort) if p.tag("ncp/pod")]
    updater = MembershipUpdater(dfw, inv)
    for pod, labels in relabels:
        target = ports[pod % len(ports)]
        index = next(ep.index for ep in dfw.endpoints if ep.path == target.path)
        assert index is not None
        keep = [(t.scope, t.tag) for t in target.tags if t.scope.startswith("ncp/")]
        updater.relabel(index, [*keep, *sorted(labels.items())])
        assert same_partition(dfw)


def test_classes_on_a_generated_cluster_with_wide_peers(tmp_path: Path) -> None:
    write_cluster(generate_cluster(namespaces=40, pods=160, policies=120, nodes=3, seed=5,
                                   shapes="realistic"), tmp_path / "cluster")
    config = load_config(ROOT / "bench" / "large-cluster.yaml")
    with Store.open(tmp_path / "state.db") as store:
        report = sync_cluster(store, paths=[tmp_path / "cluster"], config=config, now=0.0)
        assert report.problems == []
        dfw = compile_dfw(store.inventory())
    assert same_partition(dfw)
    assert len(set(dfw.classes)) > 10
