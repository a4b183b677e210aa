"""The firewall after a change, compiled from the one before (:func:`~sdn.policy.whatif.
after_firewall`): the same as compiling the after inventory whole, group for group and rule
for rule; and an admin group edited under an unchanged policy moves exactly the ports that
joined or left it into the delta."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.model import Inventory
from sdn.model.documents import parse_admin_objects
from sdn.policy import compile_dfw
from sdn.policy.compiler import CompiledDfw
from sdn.policy.whatif import after_firewall, reachability_change
from sdn.store import Store
from tests.support.dfw_harness import changed_paths, pod_addresses, sync_with_policies, two_states
from tests.support.policy_strategies import named, pod_labels_st, policy_st, random_cluster
from tests.support.truth_tables import fixture

GROUPS = "/infra/domains/default/groups"


def _same(got: CompiledDfw, want: CompiledDfw) -> None:
    assert [ep.path for ep in got.endpoints] == [ep.path for ep in want.endpoints]
    assert {p: (sorted(g.endpoints), g.outside_terms) for p, g in got.groups.items()} == \
        {p: (sorted(g.endpoints), g.outside_terms) for p, g in want.groups.items()}
    assert [(r.path, r.order, r.applied_to, r.services, r.action, r.direction,
             [g.path for g in r.sources or ()], [g.path for g in r.destinations or ()])
            for r in got.rules] == \
        [(r.path, r.order, r.applied_to, r.services, r.action, r.direction,
          [g.path for g in r.sources or ()], [g.path for g in r.destinations or ()])
         for r in want.rules]
    assert got.application_start == want.application_start


@settings(max_examples=30, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(labels=pod_labels_st, kept=st.lists(policy_st, max_size=3),
       gone=st.lists(policy_st, max_size=2), new=st.lists(policy_st, max_size=2))
def test_compiled_from_before_equals_compiled_whole(
        tmp_path_factory: Any, labels: dict[str, dict[str, str]], kept: list[dict[str, Any]],
        gone: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    kept, gone, new = named(kept, "keep"), named(gone, "gone"), named(new, "new")
    cluster = random_cluster(labels)
    old, now = two_states(tmp_path_factory.mktemp("recompile"), (cluster, [*kept, *gone]),
                          (cluster, [*kept, *new]))
    _same(after_firewall(old, now, changed_paths(old, now), compile_dfw(old)),
          compile_dfw(now))


def _admin(inv: Inventory, pod: str) -> Inventory:
    """``inv`` with an admin group holding ``pod`` (by its ``pod`` label) and an
    unchanged policy dropping TCP 80 into the group."""
    docs: list[dict[str, Any]] = [
        {"resource_type": "Group", "id": "target", "expression": [
            {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
             "operator": "EQUALS", "value": f"pod|{pod}"}]},
        {"resource_type": "SecurityPolicy", "id": "drop-80", "category": "Environment",
         "rules": [{"id": "drop", "destination_groups": [f"{GROUPS}/target"],
                    "action": "DROP", "direction": "IN", "scope": [f"{GROUPS}/target"],
                    "service_entries": [{"resource_type": "L4PortSetServiceEntry",
                                         "l4_protocol": "TCP",
                                         "destination_ports": ["80"]}]}]}]
    objects, problems = parse_admin_objects(docs, source="test")
    assert problems == []
    return inv.changed(objects, ())


def test_an_edited_group_under_an_unchanged_policy(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db") as store:
        ips = pod_addresses(store, fixture())
        assert sync_with_policies(store, fixture(), [], ips)[1] == []
        base = store.inventory()
    old, now = _admin(base, "a"), _admin(base, "b")
    paths = changed_paths(old, now)
    assert paths == [f"{GROUPS}/target"]
    whatif = reachability_change(old, now, paths)
    assert whatif.affected == 6  # x/a, y/a, z/a leave the group; x/b, y/b, z/b join it
    lost = {(c.src, c.dst) for c in whatif.lost}
    gained = {(c.src, c.dst) for c in whatif.gained}
    targets = {f"{ns}/{p}" for ns in "xyz" for p in "ab"}
    assert {dst for _, dst in lost} == {f"{ns}/b" for ns in "xyz"}
    assert {dst for _, dst in gained} == {f"{ns}/a" for ns in "xyz"}
    assert all(c.protocol == "TCP" and c.ports == ((80, 80),) for c in whatif.lost)
    assert all(c.rule is None or "drop-80" not in c.rule for c in whatif.gained)
    assert {d for _, d in lost | gained} <= targets
