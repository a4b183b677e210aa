"""Relabelling a pod in a compiled DFW gives exactly what a fresh compile gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.model import SegmentPort, Tag
from sdn.policy import compile_dfw, reach_matrix
from sdn.policy.membership import MembershipUpdater
from tests.support.dfw_harness import Realized
from tests.support.truth_tables import CASES, fixture

KEYS = ["pod", "role", "app"]
VALUES = ["a", "b", "c", "db", "web"]
CASE_IDS = [c.id for c in CASES]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case_id=st.sampled_from(CASE_IDS), pod=st.integers(0, 8),
       labels=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3))
def test_relabel_equals_recompile(tmp_path_factory: Any, case_id: str, pod: int,
                                  labels: dict[str, str]) -> None:
    case = next(c for c in CASES if c.id == case_id)
    realized = Realized(tmp_path_factory.mktemp("relabel"), fixture(), case.policies)
    inv, dfw = realized.inventory, realized.dfw
    ports = [p for p in inv.of_type(SegmentPort) if p.tag("ncp/pod")]
    target = ports[pod]
    keep = [t for t in target.tags if t.scope.startswith("ncp/")]
    new_tags = [*keep, *(Tag(scope=k, tag=v) for k, v in sorted(labels.items()))]
    index = next(ep.index for ep in dfw.endpoints if ep.path == target.path)
    assert index is not None
    MembershipUpdater(dfw, inv).relabel(index, [(t.scope, t.tag) for t in new_tags])
    changed_inv = type(inv)([o if o.path != target.path else
                             target.model_copy(update={"tags": tuple(new_tags)})
                             for o in inv.values()])
    fresh = compile_dfw(changed_inv)
    assert {p: g.endpoints for p, g in dfw.groups.items()} == \
        {p: g.endpoints for p, g in fresh.groups.items()}
    assert [r.applied_to for r in dfw.rules] == [r.applied_to for r in fresh.rules]
    assert dfw.signatures == fresh.signatures
    for protocol, port in (("TCP", 80), ("UDP", 80)):
        assert reach_matrix(dfw, protocol=protocol, port=port) == \
            reach_matrix(fresh, protocol=protocol, port=port)


def test_relabel_reports_the_groups_it_changed(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "np-label-after-role-db")
    realized = Realized(tmp_path, fixture(), case.policies)
    dfw = realized.dfw
    (xa,) = [ep for ep in dfw.endpoints if ep.name == "x/a"]
    assert xa.index is not None
    updater = MembershipUpdater(dfw, realized.inventory)
    port = next(p for p in realized.inventory.of_type(SegmentPort) if p.path == xa.path)
    tags = [(t.scope, t.tag) for t in port.tags] + [("role", "db")]
    changed = updater.relabel(xa.index, tags)
    assert changed and all(xa.index in dfw.groups[g].endpoints for g in changed)
    assert updater.relabel(xa.index, tags) == set()  # nothing moves twice
