"""The writes' pure parts, without a server: bodies cleaned as clients send them, a
request's writes resolved against an inventory (revisions, protection, merges, every
problem), hierarchical trees read into writes and drawn from documents."""

from __future__ import annotations

from typing import Any

import pytest

from sdn.api.hierarchy import infra_tree, infra_writes, type_filter
from sdn.api.write_bodies import clean_body
from sdn.api.write_ops import Refused, Write, resolve
from sdn.model import Group, Inventory, SecurityPolicy, Tag, group_path, security_policy_path

GROUP = group_path("g")
POLICY = security_policy_path("p")
NCP_TAGS = (Tag(scope="ncp/cluster", tag="k8s"),)


def current(*, ncp: bool = False) -> Inventory:
    group = Group(id="g", path=GROUP, parent_path="/infra/domains/default", description="old",
                  tags=NCP_TAGS if ncp else ())
    policy = SecurityPolicy.model_validate({
        "id": "p", "path": POLICY, "parent_path": "/infra/domains/default",
        "tags": [t.model_dump() for t in group.tags],
        "rules": [{"id": "r1", "path": f"{POLICY}/rules/r1", "parent_path": POLICY,
                   "source_groups": [GROUP], "action": "ALLOW", "sequence_number": 10}]})
    return Inventory([group, policy])


@pytest.mark.parametrize(("body", "document", "revision", "codes"), [
    ({"_revision": 3, "_links": [], "relative_path": "g", "description": None},
     {"resource_type": "Group", "id": "g"}, 3, []),
    ({"expression": [{"resource_type": "Condition", "id": "c", "path": "/x",
                      "_protection": "x", "member_type": "Segment", "value": "a|b"}]},
     {"resource_type": "Group", "id": "g", "expression": [
         {"resource_type": "Condition", "member_type": "Segment", "value": "a|b"}]}, None, []),
    ({"resource_type": "Service", "id": "other"},
     {"resource_type": "Group", "id": "g"}, None, ["INVALID_VALUE", "INVALID_VALUE"]),
    ({"group_type": ["IPAddress"], "_revision": True},
     {"resource_type": "Group", "id": "g"}, None, []),
    ([1], {"resource_type": "Group", "id": "g"}, None, ["INVALID_VALUE"]),
], ids=["system-fields-and-nulls", "expression-children", "wrong-kind-and-id",
        "ignored-field-and-bool-revision", "not-an-object"])
def test_clean_body(body: Any, document: dict[str, Any], revision: int | None,
                    codes: list[str]) -> None:
    clean = clean_body(body, "Group", "g")
    assert clean.document == document
    assert clean.revision == revision
    assert [p.code for p in clean.problems] == codes


def test_rules_of_a_policy_body_are_cleaned() -> None:
    clean = clean_body({"rules": [{"id": "r", "tag": None, "notes": "n", "profiles": ["ANY"],
                                   "_revision": 2, "service_entries": [
                                       {"resource_type": "ICMPTypeServiceEntry", "id": "e",
                                        "display_name": "e", "path": "/x"}]}],
                        "locked": False}, "SecurityPolicy", "p")
    assert clean.document["rules"] == [{"id": "r", "service_entries": [
        {"resource_type": "ICMPTypeServiceEntry", "id": "e"}]}]
    assert "locked" not in clean.document


def _rules(inv: Inventory, writes: list[Write], **kw: Any) -> dict[str, str]:
    outcome = resolve(inv, writes, {GROUP: 2, POLICY: 5, f"{POLICY}/rules/r1": 1},
                      allow_overwrite=kw.get("allow_overwrite", False))
    assert not outcome.plan.problems, outcome.plan.problems
    [policy] = [c.obj for c in outcome.plan.changes if isinstance(c.obj, SecurityPolicy)]
    assert isinstance(policy, SecurityPolicy)
    return {r.id: r.action for r in policy.rules}


def test_patch_merges_and_put_replaces() -> None:
    inv = current()
    outcome = resolve(inv, [Write("PATCH", "Group", GROUP, {"display_name": "n"})], {GROUP: 2},
                      allow_overwrite=False)
    [change] = outcome.plan.changes
    assert isinstance(change.obj, Group)
    assert (change.action, change.obj.description, change.obj.display_name) == \
        ("update", "old", "n")
    outcome = resolve(inv, [Write("PUT", "Group", GROUP, {"_revision": 2})], {GROUP: 2},
                      allow_overwrite=False)
    assert outcome.plan.changes[0].obj.description == ""


@pytest.mark.parametrize(("write", "reason"), [
    (Write("PUT", "Group", GROUP, {"_revision": 1}), "stale"),
    (Write("PUT", "Group", GROUP, {}), "stale"),
    (Write("PATCH", "Group", GROUP, {"_revision": 9}), "stale"),
    (Write("PUT", "Rule", f"{POLICY}/rules/r1", {"_revision": 0}), "stale"),
    (Write("PUT", "Rule", f"{security_policy_path('none')}/rules/r", {}), "missing_parent"),
], ids=["put-stale", "put-without-revision", "patch-stale", "rule-stale", "rule-no-policy"])
def test_refusals(write: Write, reason: str) -> None:
    with pytest.raises(Refused) as err:
        resolve(current(), [write], {GROUP: 2, f"{POLICY}/rules/r1": 1},
                allow_overwrite=False)
    assert err.value.reason == reason


@pytest.mark.parametrize(("write", "codes"), [
    (Write("PATCH", "Group", GROUP, {"description": "x"}), []),
    (Write("DELETE", "Group", GROUP), ["GROUP_IN_USE"]),
    (Write("PATCH", "Rule", f"{POLICY}/rules/r1", {"action": "DROP"}), []),
    (Write("DELETE", "Rule", f"{POLICY}/rules/r1"), []),
], ids=["patch", "delete-in-use", "rule-patch", "rule-delete"])
def test_ncp_objects_need_the_override(write: Write, codes: list[str]) -> None:
    with pytest.raises(Refused) as err:
        resolve(current(ncp=True), [write], {}, allow_overwrite=False)
    assert err.value.reason == "protected"
    outcome = resolve(current(ncp=True), [write], {}, allow_overwrite=True)
    assert [p.code for p in outcome.plan.problems] == codes


def test_a_rule_with_tags_of_its_own_is_protected_by_them() -> None:
    inv = current(ncp=True)
    policy = inv[POLICY]
    assert isinstance(policy, SecurityPolicy)
    own = policy.rules[0].model_copy(update={"tags": (Tag(scope="owner", tag="admin"),)})
    inv = Inventory([*(o for o in inv.values() if o.path != POLICY),
                     policy.model_copy(update={"rules": (own,)})])
    rule = f"{POLICY}/rules/r1"
    outcome = resolve(inv, [Write("PATCH", "Rule", rule, {"action": "DROP"})], {},
                      allow_overwrite=False)
    assert not outcome.plan.problems
    with pytest.raises(Refused):  # a new rule in NCP's policy is the policy's
        resolve(inv, [Write("PUT", "Rule", f"{POLICY}/rules/r2", {})], {},
                allow_overwrite=False)


def test_rules_merge_by_id_and_rule_writes() -> None:
    inv = current()
    assert _rules(inv, [Write("PATCH", "SecurityPolicy", POLICY, {"rules": [
        {"id": "r2", "action": "DROP"}]})]) == {"r1": "ALLOW", "r2": "DROP"}
    assert _rules(inv, [Write("PATCH", "Rule", f"{POLICY}/rules/r1",
                              {"action": "REJECT"})]) == {"r1": "REJECT"}
    assert _rules(inv, [Write("PUT", "Rule", f"{POLICY}/rules/r3", {"action": "DROP"}),
                        Write("DELETE", "Rule", f"{POLICY}/rules/r1")]) == {"r3": "DROP"}


def test_every_problem_of_a_request_at_once() -> None:
    outcome = resolve(current(), [
        Write("PUT", "Group", group_path("x"), {"colour": "red"}),
        Write("PUT", "SecurityPolicy", security_policy_path("q"), {
            "category": "Nowhere", "rules": [{"id": "r", "action": "PERMIT"}]}),
        Write("DELETE", "Group", GROUP),
    ], {}, allow_overwrite=False)
    assert sorted(p.code for p in outcome.plan.problems) == [
        "GROUP_IN_USE", "INVALID_VALUE", "INVALID_VALUE", "UNKNOWN_FIELD"]


def _infra(*children: dict[str, Any]) -> dict[str, Any]:
    return {"resource_type": "Infra", "children": [
        {"resource_type": "ChildDomain", "Domain": {"id": "default", "children": list(children)}}]}


def test_infra_writes_in_order() -> None:
    writes, problems = infra_writes({"resource_type": "Infra", "children": [
        {"resource_type": "ChildService", "Service": {"id": "s", "service_entries": []}},
        *_infra({"resource_type": "ChildGroup", "Group": {"id": "g"}, "marked_for_delete": True},
                {"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {
                    "id": "p", "children": [{"resource_type": "ChildRule", "Rule": {"id": "r"}}]}},
                {"resource_type": "ChildResourceReference", "id": "q",
                 "target_type": "SecurityPolicy",
                 "children": [{"resource_type": "ChildRule", "Rule": {"id": "r2"}}]})["children"]]})
    assert not problems
    assert [(w.method, w.kind, w.path) for w in writes] == [
        ("PATCH", "Service", "/infra/services/s"),
        ("DELETE", "Group", GROUP),
        ("PATCH", "SecurityPolicy", POLICY),
        ("PATCH", "Rule", f"{POLICY}/rules/r"),
        ("PATCH", "Rule", f"{security_policy_path('q')}/rules/r2")]
    assert "children" not in writes[2].body


@pytest.mark.parametrize(("body", "code"), [
    ({"resource_type": "Segment"}, "INVALID_VALUE"),
    ([], "INVALID_VALUE"),
    (_infra({"resource_type": "ChildTier1", "Tier1": {"id": "t"}}), "UNSUPPORTED_KIND"),
    (_infra({"resource_type": "ChildService", "Service": {"id": "s"}}), "UNSUPPORTED_KIND"),
    (_infra({"resource_type": "ChildGroup", "Group": {"display_name": "no id"}}),
     "MISSING_FIELD"),
    ({"children": [{"resource_type": "ChildDomain", "Domain": {"id": "other"}}]},
     "INVALID_VALUE"),
    ({"children": [{"resource_type": "ChildDomain", "marked_for_delete": True,
                    "Domain": {"id": "default"}}]}, "INVALID_VALUE"),
    ({"children": [{"resource_type": "ChildResourceReference", "target_type": "Tier1",
                    "id": "t"}]}, "UNSUPPORTED_KIND"),
    ({"children": "no"}, "INVALID_VALUE"),
], ids=["not-infra", "not-an-object", "unsupported-wrapper", "service-in-a-domain",
        "no-id", "other-domain", "delete-the-domain", "reference-elsewhere", "children-not-a-list"])
def test_infra_shape_problems(body: Any, code: str) -> None:
    _writes, problems = infra_writes(body)
    assert [p.code for p in problems] == [code]


DOCS = [
    {"resource_type": "Segment", "id": "s", "path": "/infra/segments/s", "parent_path": "/infra"},
    {"resource_type": "SegmentPort", "id": "p", "path": "/infra/segments/s/ports/p",
     "parent_path": "/infra/segments/s"},
    {"resource_type": "PolicyNatRule", "id": "n", "path": "/infra/tier-1s/t/nat/USER/nat-rules/n",
     "parent_path": "/infra/tier-1s/t/nat/USER"},
    {"resource_type": "Tier1", "id": "t", "path": "/infra/tier-1s/t", "parent_path": "/infra"},
    {"resource_type": "SecurityPolicy", "id": "p", "path": POLICY,
     "parent_path": "/infra/domains/default",
     "rules": [{"resource_type": "Rule", "id": "r", "path": f"{POLICY}/rules/r",
                "parent_path": POLICY}]},
]


def _kinds(node: dict[str, Any]) -> list[str]:
    out = [node["resource_type"]]
    for child in node.get("children", ()):
        out += _kinds(child[child["resource_type"][len("Child"):]])
    return out


def test_infra_tree() -> None:
    full = infra_tree(DOCS)
    assert full is not None
    assert sorted(_kinds(full)) == sorted(["Infra", "Segment", "SegmentPort", "Tier1",
                                           "PolicyNat", "PolicyNatRule", "Domain",
                                           "SecurityPolicy", "Rule"])
    dfw = infra_tree(DOCS, types=type_filter("Type-Domain|SecurityPolicy|Rule", None))
    assert dfw is not None and _kinds(dfw) == ["Infra", "Domain", "SecurityPolicy", "Rule"]
    assert infra_tree(DOCS, types=type_filter(None, "SecurityPolicy")) == {
        "resource_type": "Infra", "id": "infra", "display_name": "infra", "path": "/infra"}
    nat = infra_tree(DOCS, base_path="/infra/tier-1s/t")
    assert nat is not None and _kinds(nat) == ["Tier1", "PolicyNat", "PolicyNatRule"]
    assert infra_tree(DOCS, base_path="/infra/nothing") is None
