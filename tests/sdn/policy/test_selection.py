"""Why a group holds a port (:mod:`sdn.policy.selection`): a reason exactly for the ports
the compiler puts in the group, on random group expressions (tag conditions with every
evaluated operator on ports and segments, addresses, paths, included and nested groups,
AND/OR), and the reasons' wording, case by case."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.model import Group, Inventory, PolicyResource, Segment, SegmentPort, Tag, group_path
from sdn.policy import compile_dfw
from sdn.policy.selection import PortFacts, Reasons, nested_groups
from tests.sdn.policy.test_lint import tagged
from tests.support.builders import T0, segment

SEGMENTS = [segment("s1", T0, "10.0.1.0/24"), segment("s2", T0, "10.0.2.0/24")]
SEGMENTS = [SEGMENTS[0].model_copy(update={"tags": (Tag(scope="team", tag="a"),)}),
            SEGMENTS[1].model_copy(update={"tags": (Tag(scope="team", tag="b"),)})]
PORTS = [tagged("s1", "p1", "10.0.1.2", app="web"), tagged("s1", "p2", "10.0.1.3", app="db"),
         tagged("s2", "p3", "10.0.2.2", app="web", tier="x"), tagged("s2", "p4", "10.0.2.3")]


def cond(member: str, scope: str, values: str, operator: str = "EQUALS",
         scope_operator: str = "EQUALS") -> dict[str, Any]:
    return {"resource_type": "Condition", "member_type": member, "value": f"{scope}|{values}",
            "operator": operator, "scope_operator": scope_operator}


conditions = st.builds(
    lambda member, scope, values, operator, scope_op: cond(
        member, scope, values or ("web" if operator in ("IN", "NOTIN") else ""), operator,
        scope_op), st.sampled_from(["SegmentPort", "Segment", "VirtualMachine"]),
    st.sampled_from(["app", "tier", "team"]),
    st.sampled_from(["web", "db", "a", "x", "", "web,db", "a,b"]),
    st.sampled_from(["EQUALS", "NOTEQUALS", "IN", "NOTIN"]),
    st.sampled_from(["EQUALS", "EQUALS", "NOTEQUALS"]))
leaves = st.one_of(
    conditions,
    st.builds(lambda a: {"resource_type": "IPAddressExpression", "ip_addresses": [a]},
              st.sampled_from(["10.0.1.0/24", "10.0.2.2", "10.0.1.3-10.0.2.2", "192.0.2.0/24"])),
    st.builds(lambda p: {"resource_type": "PathExpression", "paths": [p]},
              st.sampled_from([PORTS[0].path, SEGMENTS[1].path, group_path("g0"),
                               group_path("g1")])))


def expression(depth: int = 1) -> st.SearchStrategy[list[dict[str, Any]]]:
    item = leaves if depth == 0 else st.one_of(leaves, st.builds(
        lambda e: {"resource_type": "NestedExpression", "expressions": e},
        expression(depth - 1)))

    def joined(items: list[dict[str, Any]], ops: list[str]) -> list[dict[str, Any]]:
        out = [items[0]]
        for it, op in zip(items[1:], ops, strict=False):
            out += [{"resource_type": "ConjunctionOperator", "conjunction_operator": op}, it]
        return out

    return st.builds(joined, st.lists(item, min_size=1, max_size=3),
                     st.lists(st.sampled_from(["AND", "OR"]), min_size=2, max_size=2))


def acyclic(items: list[dict[str, Any]], own: int) -> list[dict[str, Any]]:
    """The expression with every inclusion of a group not before group ``own`` replaced
    by a port's path: NSX refuses cyclic inclusion, and the compiler's answer for a cycle
    depends on the order it meets the groups in."""
    out = []
    for item in items:
        if item["resource_type"] == "PathExpression":
            item = {**item, "paths": [p if not p.startswith(group_path("g"))
                                      or int(p.rsplit("g", 1)[1]) < own else PORTS[1].path
                                      for p in item["paths"]]}
        elif item["resource_type"] == "NestedExpression":
            item = {**item, "expressions": acyclic(item["expressions"], own)}
        out.append(item)
    return out


def inventory(expressions: list[list[dict[str, Any]]]) -> Inventory:
    groups: list[PolicyResource] = [Group(id=f"g{i}", path=group_path(f"g{i}"),
                                          expression=acyclic(e, i))
                                    for i, e in enumerate(expressions)]
    return Inventory([*SEGMENTS, *PORTS, *groups])


def reasons(inv: Inventory, port: SegmentPort) -> Reasons:
    seg = inv.get(port.parent_path)
    assert isinstance(seg, Segment)
    facts = PortFacts(tags=frozenset((t.scope, t.tag) for t in port.tags),
                      segment_tags=frozenset((t.scope, t.tag) for t in seg.tags),
                      ip=port.address_bindings[0].ip_address, path=port.path,
                      segment_path=port.parent_path)

    def group(path: str) -> Group | None:
        found = inv.get(path)
        return found if isinstance(found, Group) else None

    return Reasons(facts, group)


@settings(max_examples=300, deadline=None)
@given(st.lists(expression(), min_size=1, max_size=3))
def test_a_reason_exactly_for_the_members(expressions: list[list[dict[str, Any]]]) -> None:
    inv = inventory(expressions)
    dfw = compile_dfw(inv)
    for ep in dfw.endpoints:
        port = inv.get(ep.path)
        assert isinstance(port, SegmentPort)
        why = reasons(inv, port)
        for path, members in dfw.groups.items():
            assert (why.why(path) is not None) == (ep.index in members.endpoints), \
                (path, ep.path, why.why(path))


@pytest.mark.parametrize(("expression", "port", "expected"), [
    pytest.param([cond("SegmentPort", "app", "web")], 0, "app=web", id="label"),
    pytest.param([cond("Segment", "team", "b")], 2, "namespace tag team=b", id="namespace"),
    pytest.param([cond("SegmentPort", "app", "web,db", "IN")], 1, "app in (web|db)", id="in"),
    pytest.param([cond("SegmentPort", "app", "db", "NOTEQUALS")], 0, "app!=db", id="not"),
    pytest.param([cond("SegmentPort", "tier", "", scope_operator="NOTEQUALS")], 0,
                 "no tag tier", id="no-scope"),
    pytest.param([cond("SegmentPort", "tier", "")], 2, "has tag tier", id="has-scope"),
    pytest.param([{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.2.0/24"]}],
                 3, "address in 10.0.2.0/24", id="address"),
    pytest.param([cond("SegmentPort", "app", "db"), {"resource_type": "ConjunctionOperator",
                                                     "conjunction_operator": "OR"},
                  cond("Segment", "team", "a"), {"resource_type": "ConjunctionOperator",
                                                 "conjunction_operator": "AND"},
                  cond("SegmentPort", "app", "web")], 0,
                 "namespace tag team=a and app=web", id="second-term"),
    pytest.param([{"resource_type": "PathExpression", "paths": [group_path("inner")]}], 0,
                 "group inner (app=web)", id="included"),
    pytest.param([{"resource_type": "PathExpression", "paths": [SEGMENTS[0].path]}], 1,
                 f"segment {SEGMENTS[0].path}", id="segment-path"),
    pytest.param([cond("SegmentPort", "app", "db")], 0, None, id="not-a-member"),
])
def test_reasons_read_as_written(expression: list[dict[str, Any]], port: int,
                                 expected: str | None) -> None:
    inner = Group(id="inner", path=group_path("inner"),
                  expression=[cond("SegmentPort", "app", "web")])
    outer = Group(id="outer", path=group_path("outer"), expression=expression)
    inv = Inventory([*SEGMENTS, *PORTS, inner, outer])
    assert reasons(inv, PORTS[port]).why(outer.path) == expected


def test_nested_groups_are_followed_and_cycles_stop() -> None:
    def including(gid: str, *others: str) -> Group:
        return Group(id=gid, path=group_path(gid), expression=[
            {"resource_type": "PathExpression", "paths": [group_path(o) for o in others]}])

    groups = {g.path: g for g in (including("a", "b"), including("b", "c", "a"),
                                  including("c"), including("d", "a"))}
    assert nested_groups(groups[group_path("d")], groups.get) == [
        group_path("a"), group_path("b"), group_path("c")]
    assert nested_groups(groups[group_path("a")], groups.get) == [group_path("b"),
                                                                   group_path("c")]
