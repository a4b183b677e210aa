"""Every NSX condition is accepted; what each evaluates to (tag conditions on ports and
segments as before, the rest no member), in the compiler and in the membership updater
alike; named services: a rule naming one matches its entries, never any service."""

from __future__ import annotations

from typing import Any

import pytest

from sdn.model import (
    Group,
    Inventory,
    L4PortSetServiceEntry,
    PolicyResource,
    Rule,
    SecurityPolicy,
    Service,
    Tag,
    Tier0,
    group_path,
    rule_path,
    security_policy_path,
    service_path,
)
from sdn.model.dfw import ConditionKey, ConditionOperator, MemberType
from sdn.policy import compile_dfw, evaluate_flow
from sdn.policy.membership import MembershipUpdater
from tests.support.builders import T0, port, segment

MEMBER_TYPES: tuple[str, ...] = MemberType.__args__  # type: ignore[attr-defined]
KEYS: tuple[str, ...] = ConditionKey.__args__  # type: ignore[attr-defined]
OPERATORS: tuple[str, ...] = ConditionOperator.__args__  # type: ignore[attr-defined]


def tagged(name: str, ip: str, **labels: str) -> Any:
    p = port("s", name, ip)
    return p.model_copy(update={"tags": tuple(Tag(scope=k, tag=v) for k, v in labels.items()),
                                "display_name": name})


SEGMENT = segment("s", T0, "10.0.0.0/24").model_copy(
    update={"tags": (Tag(scope="ncp/project", tag="shop"),)})
BASE: list[PolicyResource] = [Tier0(id="t0", path=T0), SEGMENT,
                              tagged("web", "10.0.0.2", app="web"),
                              tagged("db", "10.0.0.3", app="db")]


def cond(member_type: str = "SegmentPort", key: str = "Tag", operator: str = "EQUALS",
         value: str = "app|web") -> dict[str, Any]:
    return {"resource_type": "Condition", "member_type": member_type, "key": key,
            "operator": operator, "value": value}


def members(*expression: dict[str, Any]) -> set[str]:
    group = Group(id="g", path=group_path("g"), expression=expression)
    dfw = compile_dfw(Inventory([*BASE, group]))
    return {dfw.endpoints[i].name for i in dfw.groups[group.path].endpoints}


OR = {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}
AND = {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"}


@pytest.mark.parametrize(("expression", "expected"), [
    ([cond()], {"web"}),
    ([cond("LogicalPort")], {"web"}),
    ([cond("Segment", value="ncp/project|shop")], {"web", "db"}),
    ([cond("LogicalSwitch", value="ncp/project|shop")], {"web", "db"}),
    ([cond(operator="NOTEQUALS")], {"db"}),
    ([cond(operator="IN", value="app|web,db")], {"web", "db"}),
    ([cond(operator="NOTIN", value="app|web")], {"db"}),
    ([cond("VirtualMachine")], set()),
    ([cond(key="Name", value="web")], set()),
    ([cond(operator="STARTSWITH", value="app|w")], set()),
    ([cond(), OR, cond("VirtualMachine", "Name", "CONTAINS", "web")], {"web"}),
    ([cond("Segment", value="ncp/project|shop"), AND, cond("Pod")], set()),
], ids=["port", "logical-port", "segment", "logical-switch", "notequals", "in", "notin",
        "virtual-machine", "name-key", "startswith", "or-unevaluated", "and-unevaluated"])
def test_what_each_condition_evaluates_to(expression: list[dict[str, Any]],
                                          expected: set[str]) -> None:
    assert members(*expression) == expected


@pytest.mark.parametrize("member_type", MEMBER_TYPES)
def test_every_member_type_is_accepted(member_type: str) -> None:
    for key in KEYS:
        for operator in OPERATORS:
            value = "app|web" if key == "Tag" else "web"
            Group(id="g", path=group_path("g"),
                  expression=[cond(member_type, key, operator, value)])


def test_the_membership_updater_agrees_with_the_compiler() -> None:
    """A relabel moves a pod in and out of groups exactly as a recompile would, with
    conditions the model does not evaluate among the terms."""
    groups = [Group(id=f"g{n}", path=group_path(f"g{n}"), expression=e) for n, e in enumerate([
        [cond(), OR, cond("VirtualMachine", "Name", "CONTAINS", "db")],
        [cond("LogicalPort", value="app|db")],
        [cond("Segment", value="ncp/project|shop"), AND, cond("Pod")],
    ])]
    inventory = Inventory([*BASE, *groups])
    dfw = compile_dfw(inventory)
    db = next(ep.index for ep in dfw.endpoints if ep.name == "db")
    assert db is not None
    MembershipUpdater(dfw, inventory).relabel(db, [("app", "web")])
    fresh = compile_dfw(Inventory([*BASE[:3], tagged("db", "10.0.0.3", app="web"), *groups]))
    for g in groups:
        assert dfw.groups[g.path].endpoints == fresh.groups[g.path].endpoints, g.id


def _rule(services: tuple[str, ...], entries: tuple[L4PortSetServiceEntry, ...] = ()) -> Rule:
    return Rule(id="r", path=rule_path("p", "r"), parent_path=security_policy_path("p"),
                action="DROP", services=services, service_entries=entries)


HTTP = Service(id="http", path=service_path("http"), service_entries=(
    L4PortSetServiceEntry(l4_protocol="TCP", destination_ports=("80",)),))


@pytest.mark.parametrize(("services", "entries", "dropped"), [
    (("ANY",), (), {80, 443, 5432}),
    ((service_path("http"),), (), {80}),
    ((service_path("http"),), (L4PortSetServiceEntry(l4_protocol="TCP",
                                                     destination_ports=("443",)),), {80, 443}),
    ((service_path("gone"),), (), set()),
], ids=["any", "named", "named-and-entries", "missing-matches-nothing"])
def test_named_services(services: tuple[str, ...], entries: tuple[L4PortSetServiceEntry, ...],
                        dropped: set[int]) -> None:
    policy = SecurityPolicy(id="p", path=security_policy_path("p"),
                            rules=(_rule(services, entries),))
    dfw = compile_dfw(Inventory([*BASE, HTTP, policy]))
    web, db = (next(ep for ep in dfw.endpoints if ep.name == n) for n in ("web", "db"))
    got = {port for port in (80, 443, 5432)
           if not evaluate_flow(dfw, web, db, protocol="TCP", port=port).allowed}
    assert got == dropped
