"""The admin write plan: checking only the written groups, policies and services (and, on
a delete, everyone's references) finds exactly what checking the whole inventory finds
for them."""

from __future__ import annotations

from typing import Any

import pytest

from sdn.model import Inventory, PolicyResource
from sdn.model import admin_plan as plan_module
from sdn.model.admin_plan import plan_changes
from sdn.model.documents import parse_admin_objects
from tests.support.cli_runs import sample_inventory

GROUPS = "/infra/domains/default/groups"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    return sample_inventory(tmp_path_factory.mktemp("plan"), "guestbook")


def objects(*docs: dict[str, Any]) -> list[PolicyResource]:
    got, problems = parse_admin_objects(list(docs))
    assert not problems
    return got


NCP_GROUP = f"{GROUPS}/np_k8s-cluster_default_redis-allow-frontend_in0_peer0"
CASES: dict[str, tuple[list[dict[str, Any]], list[str]]] = {
    "valid": ([{"resource_type": "Group", "id": "a"},
               {"resource_type": "SecurityPolicy", "id": "p",
                "rules": [{"id": "r", "source_groups": [f"{GROUPS}/a"]}]}], []),
    "dangling-and-wrong-type": ([{"resource_type": "SecurityPolicy", "id": "p", "rules": [
        {"id": "r", "source_groups": [f"{GROUPS}/none"],
         "services": ["/infra/segments/seg_k8s-cluster_default"]}]}], []),
    "delete-in-use": ([], [NCP_GROUP]),
    "delete-and-write": ([{"resource_type": "Group", "id": "b", "expression": [
        {"resource_type": "PathExpression", "paths": [NCP_GROUP]}]}], [NCP_GROUP]),
}


@pytest.mark.parametrize(("docs", "deletes"), list(CASES.values()), ids=list(CASES))
def test_checking_the_written_objects_equals_checking_everything(
        inventory: Inventory, docs: list[dict[str, Any]], deletes: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    upserts = objects(*docs)
    fast = plan_changes(inventory, upserts, deletes, overwrite_ncp=True)
    monkeypatch.setattr(plan_module, "_REFERRING_KINDS", frozenset())
    whole = plan_changes(inventory, upserts, deletes, overwrite_ncp=True)
    assert fast.problems == whole.problems
    assert fast.changes == whole.changes


def test_the_cases_find_problems(inventory: Inventory) -> None:
    found = {name: sorted({p.code for p in plan_changes(
        inventory, objects(*docs), deletes, overwrite_ncp=True).problems})
        for name, (docs, deletes) in CASES.items()}
    assert found == {"valid": [], "dangling-and-wrong-type": ["DANGLING_REFERENCE",
                                                              "WRONG_REFERENCE_TYPE"],
                     "delete-in-use": ["GROUP_IN_USE"],
                     "delete-and-write": ["DANGLING_REFERENCE", "GROUP_IN_USE"]}


def test_ncp_objects_are_refused_without_the_override(inventory: Inventory) -> None:
    assert [p.code for p in plan_changes(inventory, [], [NCP_GROUP]).problems] == \
        ["GROUP_IN_USE", "OWNED_BY_NCP"]


def test_a_changed_inventory_leaves_the_first_alone(inventory: Inventory) -> None:
    [group] = objects({"resource_type": "Group", "id": "new"})
    after = inventory.changed([group], [NCP_GROUP])
    assert group.path in after and NCP_GROUP not in after
    assert group.path not in inventory and NCP_GROUP in inventory
    assert len(after) == len(inventory) and after.revision == 0
