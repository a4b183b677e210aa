"""``lint_dfw`` on hand-built DFWs: one failing example per code, and the cases that must
stay silent (a narrower earlier rule, other directions, disjoint applied-to, excluded
sources, jumps, disabled rules, the default section)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import FrozenInstanceError, dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.model import (
    Group,
    Inventory,
    L4PortSetServiceEntry,
    PolicyResource,
    Rule,
    SecurityPolicy,
    Tag,
    Tier0,
    group_path,
    rule_path,
    security_policy_path,
)
from sdn.policy import CompiledDfw, CompiledRule, Endpoint, compile_dfw, evaluate_flow
from sdn.policy.compiler import PROTOCOL_NUMBERS, GroupMembers
from sdn.policy.evaluator import candidates, decide
from sdn.policy.lint import Finding, finding_key, lint_dfw, shadowing
from sdn.policy.lint.shadowing import JUMP
from sdn.policy.lint.values import (
    Addresses,
    Peers,
    peers_cover,
    services_cover,
    side_is_empty,
)
from sdn.policy.lint.views import rule_views
from tests.support.builders import T0, port, segment

Paths = str | tuple[str, ...]


def tagged(seg: str, name: str, ip: str, **labels: str) -> Any:
    p = port(seg, name, ip)
    return p.model_copy(update={"tags": tuple(Tag(scope=k, tag=v) for k, v in labels.items()),
                                "display_name": name})


def grp(gid: str, label: str) -> Group:
    return Group(id=gid, path=group_path(gid), expression=[
        {"resource_type": "Condition", "member_type": "SegmentPort", "value": label}])


def cidr_grp(gid: str, *cidrs: str) -> Group:
    return Group(id=gid, path=group_path(gid), expression=[
        {"resource_type": "IPAddressExpression", "ip_addresses": list(cidrs)}])


def nested_grp(gid: str, *members: str) -> Group:
    return Group(id=gid, path=group_path(gid), expression=[
        {"resource_type": "PathExpression", "paths": [group_path(m) for m in members]}])


def _paths(value: Paths) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def rule(pid: str, rid: str, seq: int, action: str, direction: str = "IN_OUT",
         src: Paths = "ANY", dst: Paths = "ANY", scope: Paths = "ANY",
         ports: tuple[str, ...] = (), proto: str = "TCP", excluded: bool = False,
         disabled: bool = False) -> Rule:
    entries = (L4PortSetServiceEntry(l4_protocol=proto, destination_ports=ports),) \
        if ports else ()
    return Rule(id=rid, path=rule_path(pid, rid), parent_path=security_policy_path(pid),
                sequence_number=seq, action=action, direction=direction,
                source_groups=_paths(src), destination_groups=_paths(dst), scope=_paths(scope),
                service_entries=entries, sources_excluded=excluded, disabled=disabled)


def policy(pid: str, category: str, seq: int, *rules: Rule, scope: str = "ANY") -> SecurityPolicy:
    return SecurityPolicy(id=pid, path=security_policy_path(pid), category=category,
                          sequence_number=seq, rules=rules, scope=(scope,))


def app(*rules: Rule, pid: str = "p", seq: int = 10) -> SecurityPolicy:
    """An Application policy ``pid`` (rules must be built with the same ``pid``)."""
    return policy(pid, "Application", seq, *rules)


BASE: list[PolicyResource] = [
    Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24"),
    tagged("s", "web", "10.0.0.2", app="web"), tagged("s", "db", "10.0.0.3", app="db"),
    tagged("s", "cache", "10.0.0.4", app="cache"),
]
#: Groups every case may use; findings about them are only checked where a case asks.
GROUPS: list[PolicyResource] = [
    grp("web", "app|web"), grp("db", "app|db"), grp("cache", "app|cache"),
    grp("nobody", "app|nobody"),
    cidr_grp("net8", "192.168.0.0/16"), cidr_grp("net16", "192.168.1.0/24"),
]
WEB, DB, CACHE, NOBODY = (group_path(g) for g in ("web", "db", "cache", "nobody"))
NET_WIDE, NET_NARROW = group_path("net8"), group_path("net16")


def short(path: str) -> str:
    """``p/r`` for a rule path, the id for a group path."""
    parts = path.split("/")
    if "rules" in parts:
        return f"{parts[-3]}/{parts[-1]}"
    return parts[-1]


def lint(objs: list[PolicyResource]) -> list[Finding]:
    inv = Inventory([*BASE, *GROUPS, *objs])
    return lint_dfw(compile_dfw(inv), inv)


RULE_CODES = ("SHADOWED_RULE", "CONFLICTING_SAME_PRIORITY", "RULE_MATCHES_NOTHING")


def found(objs: list[PolicyResource], codes: tuple[str, ...] = RULE_CODES
          ) -> set[tuple[str, str, str]]:
    return {(f.code, f.severity, short(f.path)) for f in lint(objs) if f.code in codes}


SHADOW = ("SHADOWED_RULE",)

SHADOW_CASES = [
    # --- reported -----------------------------------------------------------------------
    pytest.param([app(rule("p", "deny", 1, "DROP"),
                      rule("p", "allow", 2, "ALLOW", src=WEB, ports=("80",)))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="broader-drop-shadows-allow"),
    pytest.param([app(rule("p", "a", 1, "ALLOW", src=WEB, ports=("80",)),
                      rule("p", "b", 2, "ALLOW", src=WEB, ports=("80",)))],
                 {("SHADOWED_RULE", "info", "p/b")}, id="identical-same-action-is-info"),
    pytest.param([app(rule("p", "deny", 1, "DROP", direction="IN_OUT"),
                      rule("p", "allow", 2, "ALLOW", direction="IN"))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="in-out-covers-in"),
    pytest.param([app(rule("p", "deny", 1, "DROP"),
                      rule("p", "allow", 2, "ALLOW", scope=DB))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="applied-to-any-covers-group"),
    pytest.param([app(rule("p", "deny", 1, "DROP", scope=(DB, WEB)),
                      rule("p", "allow", 2, "ALLOW", scope=DB))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="applied-to-superset"),
    pytest.param([app(rule("p", "deny", 1, "DROP", src=(WEB, DB)),
                      rule("p", "allow", 2, "ALLOW", src=DB))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="union-of-source-groups"),
    pytest.param([app(rule("p", "deny", 1, "DROP", ports=("80-90",)),
                      rule("p", "allow", 2, "ALLOW", ports=("85",)))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="port-inside-range"),
    pytest.param([app(rule("p", "deny", 1, "DROP", ports=("80", "81")),
                      rule("p", "allow", 2, "ALLOW", ports=("80-81",)))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="adjacent-ports-cover-range"),
    pytest.param([app(rule("p", "deny", 1, "DROP", src=NET_WIDE),
                      rule("p", "allow", 2, "ALLOW", src=NET_NARROW))],
                 {("SHADOWED_RULE", "warning", "p/allow")}, id="outside-cidr-inside-wider"),
    pytest.param([policy("e", "Environment", 1, rule("e", "allow", 1, "ALLOW")),
                  app(rule("p", "deny", 1, "DROP", scope=DB))],
                 {("SHADOWED_RULE", "warning", "p/deny")}, id="across-categories"),
    pytest.param([app(rule("a", "deny", 1, "DROP"), pid="a", seq=1),
                  app(rule("b", "allow", 1, "ALLOW", src=WEB), pid="b", seq=2)],
                 {("SHADOWED_RULE", "warning", "b/allow")}, id="across-policies"),
    pytest.param([app(rule("p", "allow", 1, "ALLOW"),
                      rule("p", "jump", 2, "JUMP_TO_APPLICATION"))],
                 {("SHADOWED_RULE", "warning", "p/jump")}, id="jump-can-be-shadowed"),
    # --- not reported -------------------------------------------------------------------
    pytest.param([app(rule("p", "deny", 1, "DROP", src=WEB),
                      rule("p", "allow", 2, "ALLOW"))],
                 set(), id="narrower-earlier-source-does-not-shadow"),
    pytest.param([app(rule("p", "deny", 1, "DROP", ports=("80",)),
                      rule("p", "allow", 2, "ALLOW", ports=("80-81",)))],
                 set(), id="narrower-earlier-ports-do-not-shadow"),
    pytest.param([app(rule("p", "deny", 1, "DROP", ports=("80",)),
                      rule("p", "allow", 2, "ALLOW"))],
                 set(), id="ports-do-not-cover-any-service"),
    pytest.param([app(rule("p", "deny", 1, "DROP", ports=("53",), proto="UDP"),
                      rule("p", "allow", 2, "ALLOW", ports=("53",)))],
                 set(), id="other-protocol"),
    pytest.param([app(rule("p", "deny", 1, "DROP", direction="IN"),
                      rule("p", "allow", 2, "ALLOW", direction="OUT"))],
                 set(), id="different-directions"),
    pytest.param([app(rule("p", "deny", 1, "DROP", direction="IN"),
                      rule("p", "allow", 2, "ALLOW", direction="IN_OUT"))],
                 set(), id="in-does-not-cover-in-out"),
    pytest.param([app(rule("p", "deny", 1, "DROP", scope=WEB),
                      rule("p", "allow", 2, "ALLOW", scope=DB))],
                 set(), id="disjoint-applied-to"),
    pytest.param([app(rule("p", "deny", 1, "DROP", scope=DB),
                      rule("p", "allow", 2, "ALLOW"))],
                 set(), id="narrower-applied-to"),
    pytest.param([app(rule("p", "deny", 1, "DROP", src=NET_NARROW),
                      rule("p", "allow", 2, "ALLOW", src=NET_WIDE))],
                 set(), id="outside-cidr-wider-than-earlier"),
    pytest.param([app(rule("p", "deny", 1, "DROP", src=WEB, excluded=True),
                      rule("p", "allow", 2, "ALLOW", src=DB))],
                 set(), id="excluded-sources-shadow-nothing"),
    pytest.param([app(rule("p", "deny", 1, "DROP"),
                      rule("p", "allow", 2, "ALLOW", src=WEB, excluded=True))],
                 set(), id="excluded-sources-not-reported"),
    pytest.param([app(rule("p", "deny", 1, "DROP", disabled=True),
                      rule("p", "allow", 2, "ALLOW"))],
                 set(), id="disabled-rule-shadows-nothing"),
    pytest.param([policy("e", "Environment", 1, rule("e", "jump", 1, "JUMP_TO_APPLICATION"),
                         rule("e", "deny", 2, "DROP")),
                  app(rule("p", "allow", 1, "ALLOW"))],
                 set(), id="jump-shadows-nothing-and-protects-application"),
    pytest.param([app(rule("p", "deny", 1, "DROP")),
                  policy("default-layer3-section", "Application", 1,
                         rule("default-layer3-section", "default", 1, "ALLOW"))],
                 set(), id="default-section-not-reported"),
]


@pytest.mark.parametrize(("objs", "expected"), SHADOW_CASES)
def test_shadowed_rules(objs: list[PolicyResource], expected: set[tuple[str, str, str]]) -> None:
    assert found(objs, SHADOW) == expected


def test_shadowed_rule_is_related_to_the_earliest_shadowing_rule() -> None:
    objs: list[PolicyResource] = [app(rule("p", "d1", 1, "DROP"), rule("p", "d2", 2, "DROP"),
                                      rule("p", "allow", 3, "ALLOW", src=WEB))]
    shadowed = {short(f.path): f for f in lint(objs) if f.code == "SHADOWED_RULE"}
    assert shadowed["p/allow"].related == (rule_path("p", "d1"),)
    assert shadowed["p/d2"].related == (rule_path("p", "d1"),)
    assert shadowed["p/d2"].severity == "info"


CONFLICT = ("CONFLICTING_SAME_PRIORITY",)

CONFLICT_CASES = [
    pytest.param([app(rule("a", "allow", 1, "ALLOW", src=WEB, scope=DB), pid="a"),
                  app(rule("b", "deny", 1, "DROP", scope=DB), pid="b")],
                 {("CONFLICTING_SAME_PRIORITY", "error", "a/allow")},
                 id="same-sequence-different-actions"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", ports=("80-90",)), pid="a"),
                  app(rule("b", "deny", 1, "DROP", ports=("90-100",)), pid="b")],
                 {("CONFLICTING_SAME_PRIORITY", "error", "a/allow")},
                 id="overlapping-port-ranges"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW"), pid="a"),
                  app(rule("b", "deny", 1, "DROP"), pid="b")],
                 {("CONFLICTING_SAME_PRIORITY", "error", "a/allow")},
                 id="any-any"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", src=WEB), pid="a"),
                  app(rule("b", "allow", 1, "ALLOW", src=WEB), pid="b")],
                 set(), id="same-action"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW"), pid="a", seq=1),
                  app(rule("b", "deny", 1, "DROP"), pid="b", seq=2)],
                 set(), id="different-sequence"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW"), pid="a"),
                  policy("b", "Environment", 10, rule("b", "deny", 1, "DROP"))],
                 set(), id="different-category"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", direction="IN", src=WEB), pid="a"),
                  app(rule("b", "deny", 1, "DROP", direction="IN", src=DB), pid="b")],
                 set(), id="disjoint-sources"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", direction="IN"), pid="a"),
                  app(rule("b", "deny", 1, "DROP", direction="OUT"), pid="b")],
                 set(), id="different-directions"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", scope=WEB), pid="a"),
                  app(rule("b", "deny", 1, "DROP", scope=DB), pid="b")],
                 set(), id="disjoint-applied-to"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", direction="IN", dst=WEB), pid="a"),
                  app(rule("b", "deny", 1, "DROP", direction="IN", dst=DB), pid="b")],
                 set(), id="in-rules-enforced-at-different-destinations"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", ports=("80",)), pid="a"),
                  app(rule("b", "deny", 1, "DROP", ports=("443",)), pid="b")],
                 set(), id="disjoint-ports"),
    pytest.param([app(rule("a", "allow", 1, "ALLOW", excluded=True, src=WEB), pid="a"),
                  app(rule("b", "deny", 1, "DROP"), pid="b")],
                 set(), id="excluded-sources-not-compared"),
    pytest.param([app(rule("p", "allow", 1, "ALLOW"), rule("p", "deny", 1, "DROP"))],
                 set(), id="same-policy"),
]


@pytest.mark.parametrize(("objs", "expected"), CONFLICT_CASES)
def test_conflicting_same_priority(objs: list[PolicyResource],
                                   expected: set[tuple[str, str, str]]) -> None:
    assert found(objs, CONFLICT) == expected


NOTHING = ("RULE_MATCHES_NOTHING",)

NOTHING_CASES = [
    pytest.param([app(rule("p", "r", 1, "DROP", scope=NOBODY))],
                 {("RULE_MATCHES_NOTHING", "warning", "p/r")}, id="applied-to-empty"),
    pytest.param([app(rule("p", "r", 1, "DROP", src=NOBODY))],
                 {("RULE_MATCHES_NOTHING", "warning", "p/r")}, id="sources-empty"),
    pytest.param([app(rule("p", "r", 1, "DROP", dst=(NOBODY, group_path("missing"))))],
                 {("RULE_MATCHES_NOTHING", "warning", "p/r")}, id="destinations-empty-or-missing"),
    pytest.param([app(rule("p", "r", 1, "DROP", direction="IN", dst=DB, scope=WEB))],
                 {("RULE_MATCHES_NOTHING", "warning", "p/r")}, id="in-applied-off-destination"),
    pytest.param([app(rule("p", "r", 1, "DROP", direction="OUT", src=NET_WIDE, scope=WEB))],
                 {("RULE_MATCHES_NOTHING", "warning", "p/r")}, id="out-from-outside-addresses"),
    pytest.param([app(rule("p", "r", 1, "DROP", direction="IN", dst=DB, scope=(WEB, DB)))],
                 set(), id="in-rule-applied-at-destination"),
    pytest.param([app(rule("p", "r", 1, "DROP", direction="IN_OUT", dst=DB, scope=WEB))],
                 set(), id="in-out-rule-egress-still-matches"),
    pytest.param([app(rule("p", "r", 1, "DROP", src=(NOBODY, WEB)))],
                 set(), id="one-empty-source-of-two"),
    pytest.param([app(rule("p", "r", 1, "DROP", src=NOBODY, excluded=True))],
                 set(), id="excluded-empty-matches-everything"),
    pytest.param([app(rule("p", "r", 1, "DROP", src=NOBODY, disabled=True))],
                 set(), id="disabled-not-reported"),
]


@pytest.mark.parametrize(("objs", "expected"), NOTHING_CASES)
def test_rule_matches_nothing(objs: list[PolicyResource],
                              expected: set[tuple[str, str, str]]) -> None:
    assert found(objs, NOTHING) == expected


GROUP_CODES = ("EMPTY_GROUP", "UNUSED_GROUP")

GROUP_CASES = [
    pytest.param([app(rule("p", "r", 1, "DROP", src=(NOBODY, WEB)))], "nobody",
                 {("EMPTY_GROUP", "warning", "nobody")}, id="empty-and-used"),
    pytest.param([], "nobody",
                 {("EMPTY_GROUP", "info", "nobody"), ("UNUSED_GROUP", "info", "nobody")},
                 id="empty-and-unused"),
    pytest.param([], "web", {("UNUSED_GROUP", "info", "web")}, id="unused"),
    pytest.param([app(rule("p", "r", 1, "DROP", scope=WEB))], "web", set(),
                 id="used-as-applied-to"),
    pytest.param([policy("p", "Application", 1, rule("p", "r", 1, "DROP"), scope=WEB)], "web",
                 set(), id="used-as-policy-scope"),
    pytest.param([nested_grp("outer", "web"), app(rule("p", "r", 1, "DROP", dst=group_path(
        "outer")))], "web", set(), id="used-by-another-group"),
    pytest.param([app(rule("p", "r", 1, "DROP", src=NET_WIDE))], "net8", set(),
                 id="address-group-is-not-empty"),
]


@pytest.mark.parametrize(("objs", "group", "expected"), GROUP_CASES)
def test_groups(objs: list[PolicyResource], group: str,
                expected: set[tuple[str, str, str]]) -> None:
    assert {f for f in found(objs, GROUP_CODES) if f[2] == group} == expected


def test_empty_group_is_related_to_every_user() -> None:
    users = [rule("p", f"r{i}", i, "DROP", src=(NOBODY, WEB)) for i in range(5)]
    objs: list[PolicyResource] = [app(*users)]
    empty = next(f for f in lint(objs) if f.code == "EMPTY_GROUP")
    assert empty.related == tuple(sorted(rule_path("p", f"r{i}") for i in range(5)))
    assert "and 2 more" in empty.message  # the message shows three


RELATED_CASES = [
    pytest.param([app(rule("a", "allow", 1, "ALLOW", src=WEB, scope=DB), pid="a"),
                  app(rule("b", "deny", 1, "DROP", scope=DB), pid="b")],
                 "CONFLICTING_SAME_PRIORITY", "a/allow", (rule_path("b", "deny"),),
                 id="conflict-the-other-rule"),
    pytest.param([app(rule("p", "r", 1, "DROP", scope=NOBODY))],
                 "RULE_MATCHES_NOTHING", "p/r", (NOBODY,), id="nothing-empty-applied-to"),
    pytest.param([app(rule("p", "r", 1, "DROP", src=NOBODY))],
                 "RULE_MATCHES_NOTHING", "p/r", (NOBODY,), id="nothing-empty-sources"),
    pytest.param([app(rule("p", "r", 1, "DROP", dst=(NOBODY, group_path("missing"))))],
                 "RULE_MATCHES_NOTHING", "p/r", (NOBODY, group_path("missing")),
                 id="nothing-empty-destinations"),
    pytest.param([app(rule("p", "r", 1, "DROP", direction="IN", dst=DB, scope=WEB))],
                 "RULE_MATCHES_NOTHING", "p/r", (WEB, DB), id="nothing-applied-off-destination"),
    pytest.param([app(rule("p", "r", 1, "DROP", direction="IN_OUT", src=NET_WIDE,
                           dst=NET_NARROW, scope=WEB))],
                 "RULE_MATCHES_NOTHING", "p/r", (WEB, NET_NARROW, NET_WIDE),
                 id="nothing-in-out-both-sides"),
    pytest.param([], "UNUSED_GROUP", "web", (), id="unused-group-none"),
]


@pytest.mark.parametrize(("objs", "code", "where", "related"), RELATED_CASES)
def test_related(objs: list[PolicyResource], code: str, where: str,
                 related: tuple[str, ...]) -> None:
    assert [f.related for f in lint(objs) if f.code == code and short(f.path) == where] \
        == [related]


def test_findings_are_sorted_frozen_and_warnings_first() -> None:
    objs: list[PolicyResource] = [
        app(rule("p", "deny", 1, "DROP"), rule("p", "allow", 2, "ALLOW", src=WEB),
            rule("p", "deny2", 3, "DROP", src=WEB))]
    findings = lint(objs)
    assert findings == sorted(findings, key=finding_key)
    assert findings == lint(list(reversed(objs)))
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, key=lambda s: s != "warning")
    with pytest.raises(FrozenInstanceError):
        findings[0].code = "X"  # type: ignore[misc]


def test_empty_inventory_has_no_findings() -> None:
    assert lint_dfw(compile_dfw(Inventory([])), Inventory([])) == []


# --------------------------------------------------------------------------- soundness

OUTSIDE = ("192.168.1.5", "192.168.200.1", "8.8.8.8")
FLOW_PORTS = ((None, "ICMP"), *((p, proto) for proto in ("TCP", "UDP")
                                 for p in (None, 53, 80, 81, 85, 443)))


PEERS: list[Paths] = ["ANY", "ANY", "ANY", "ANY", WEB, DB, (WEB, DB), NET_WIDE, NET_NARROW,
                      NOBODY, (CACHE, NET_NARROW)]
SCOPES: list[Paths] = ["ANY", "ANY", "ANY", WEB, DB, (WEB, DB), CACHE]
PORTS: list[tuple[str, ...]] = [(), (), ("80",), ("80-90",), ("85",), ("443",), ("53",),
                                ("80", "81")]
ACTIONS = ["ALLOW", "ALLOW", "DROP", "REJECT", "JUMP_TO_APPLICATION"]
#: What each value may be narrowed to (a value not listed stays as it is).
NARROWER: dict[Any, list[Any]] = {
    "ANY": [WEB, DB, (WEB, DB), NET_WIDE, NET_NARROW, (CACHE, NET_NARROW)],
    (WEB, DB): [WEB, DB], NET_WIDE: [NET_NARROW], (CACHE, NET_NARROW): [CACHE, NET_NARROW],
    (): [("80",), ("80-90",), ("443",), ("53",)], ("80-90",): [("85",), ("80",)],
    ("80", "81"): [("80",)], "IN_OUT": ["IN", "OUT"],
}


def random_rule(rnd: random.Random) -> dict[str, Any]:
    """The arguments of :func:`rule` for a rule drawn at random (no ids)."""
    return {"action": rnd.choice(ACTIONS), "direction": rnd.choice(["IN", "OUT", "IN_OUT"]),
            "src": rnd.choice(PEERS), "dst": rnd.choice(PEERS), "scope": rnd.choice(SCOPES),
            "ports": rnd.choice(PORTS), "proto": rnd.choice(["TCP", "TCP", "UDP"]),
            "excluded": rnd.random() < 0.1, "disabled": rnd.random() < 0.05}


def derived_rule(rnd: random.Random, earlier: dict[str, Any]) -> dict[str, Any]:
    """A rule ``earlier`` covers (each dimension kept or narrowed), with a random action:
    the raw material of shadowing and, across policies, of conflicts."""
    out = dict(earlier, action=rnd.choice(ACTIONS), excluded=False,
               disabled=rnd.random() < 0.05)
    for key in ("direction", "src", "dst", "scope", "ports"):
        if rnd.random() < 0.3 and out[key] in NARROWER:
            out[key] = rnd.choice(NARROWER[out[key]])
    return out


def random_policies(rnd: random.Random, *, shared: float = 0.7) -> list[PolicyResource]:
    """A few policies of rules over the BASE pods and GROUPS: half drawn at random, half
    derived from an earlier rule (of any policy); a later policy shares the category and
    sequence number of the one before it with probability ``shared`` (1: every policy has
    the same priority, and there are at least two)."""
    out: list[PolicyResource] = []
    specs: list[dict[str, Any]] = []
    category, sequence = "Application", 1
    for pi in range(rnd.choice([2, 3] if shared == 1 else [1, 2, 3, 3])):
        pid = f"p{pi}"
        if pi == 0 or rnd.random() >= shared:
            category = rnd.choice(["Environment", "Application", "Application"])
            sequence = rnd.choice([1, 1, 2])
        rules = []
        for ri in range(rnd.randint(1, 6)):
            spec = derived_rule(rnd, rnd.choice(specs)) if specs and rnd.random() < 0.5 \
                else random_rule(rnd)
            specs.append(spec)
            rules.append(rule(pid, f"r{ri}", ri, **spec))
        out.append(policy(pid, category, sequence, *rules))
    return out


SEEDS = range(300)


@dataclass(frozen=True)
class Flow:
    """One flow the soundness tests try, at one of its enforcement points."""

    src: Endpoint
    dst: Endpoint
    port: int | None
    protocol: str
    at: Endpoint  # the source's port (OUT) or the destination's (IN)
    direction: str


def soundness_case(seed: int, shared: float = 0.7) -> tuple[CompiledDfw, list[Finding]]:
    objs = random_policies(random.Random(seed), shared=shared)
    inv = Inventory([*BASE, *GROUPS, *objs])
    dfw = compile_dfw(inv)
    return dfw, lint_dfw(dfw, inv)


def flows(dfw: CompiledDfw) -> list[Flow]:
    """Every flow between two ends (the pods and OUTSIDE), at each end that is a port."""
    ends = [*dfw.endpoints, *(Endpoint(ip=IPv4Address(ip)) for ip in OUTSIDE)]
    return [Flow(src, dst, port_no, proto, at, direction)
            for src in ends for dst in ends if src != dst
            for port_no, proto in FLOW_PORTS
            for at, direction in ((src, "OUT"), (dst, "IN")) if at.index is not None]


def enforced(dfw: CompiledDfw, r: CompiledRule, f: Flow) -> bool:
    assert f.at.index is not None
    return any(c.order == r.order for c in candidates(dfw, f.at.index, f.direction))


def matches_alone(dfw: CompiledDfw, r: CompiledRule, f: Flow) -> bool:
    """Whether ``r`` on its own matches the flow where it is checked (False: not there)."""
    if not enforced(dfw, r, f):
        return False
    trail = decide(dfw, [r], point="p", at=f.at, src=f.src, dst=f.dst,
                   proto=PROTOCOL_NUMBERS[f.protocol], dport=f.port, sport=None,
                   explain=True).trail
    return any(c.matched for c in trail)


def dead_rules(dfw: CompiledDfw, findings: list[Finding]
               ) -> list[tuple[Finding, CompiledRule, CompiledRule | None]]:
    """Each SHADOWED_RULE or RULE_MATCHES_NOTHING: the finding, its rule, the shadower."""
    by_path = {r.path: r for r in dfw.rules}
    return [(f, by_path[f.path], by_path[f.related[0]] if f.code == "SHADOWED_RULE" else None)
            for f in findings if f.code in ("SHADOWED_RULE", "RULE_MATCHES_NOTHING")]


@pytest.mark.parametrize("seed", SEEDS)
def test_reported_rules_never_match_any_flow(seed: int) -> None:
    """Every SHADOWED_RULE and RULE_MATCHES_NOTHING is confirmed by evaluating every flow:
    the rule never matches in the DFW's own evaluation; on its own, a rule that matches
    nothing matches no flow, and a shadowed one matches only flows its shadower (the
    finding's ``related`` rule, earlier) matches too, at the same port."""
    dfw, findings = soundness_case(seed)
    dead = dead_rules(dfw, findings)
    if not dead:
        return
    every = flows(dfw)
    for f in every:
        if f.direction == "OUT":  # evaluate_flow decides both points of the flow at once
            v = evaluate_flow(dfw, f.src, f.dst, protocol=f.protocol, port=f.port,
                              explain=True)
            for d in (v.egress, v.ingress):
                for c in d.trail if d is not None else ():
                    assert not (c.matched and c.rule.path in {r.path for _, r, _ in dead}), \
                        (c.rule.path, f)
    for finding, r, shadower in dead:
        if shadower is None:
            assert not any(matches_alone(dfw, r, f) for f in every), finding
        else:
            assert shadower.order < r.order, finding
            for f in every:
                assert not matches_alone(dfw, r, f) or matches_alone(dfw, shadower, f), \
                    (finding, f)


def conflict_pairs(dfw: CompiledDfw, findings: list[Finding]
                   ) -> list[tuple[CompiledRule, CompiledRule]]:
    by_path = {r.path: r for r in dfw.rules}
    return [(by_path[f.path], by_path[f.related[0]]) for f in findings
            if f.code == "CONFLICTING_SAME_PRIORITY"]


@pytest.mark.parametrize("seed", SEEDS)
def test_reported_conflicts_share_a_flow(seed: int) -> None:
    """Every CONFLICTING_SAME_PRIORITY pair (the finding's rule and its ``related`` one)
    is two rules of different actions in two policies of one category and sequence
    number, and some flow matches both at one port. All policies of a case share one
    priority here (the only place conflicts can be)."""
    dfw, findings = soundness_case(seed, shared=1)
    every = flows(dfw)
    for a, b in conflict_pairs(dfw, findings):
        assert (a.category, a.policy_sequence) == (b.category, b.policy_sequence), a.path
        assert a.policy_path != b.policy_path and a.action != b.action, a.path
        assert any(matches_alone(dfw, a, f) and matches_alone(dfw, b, f) for f in every), \
            (a.path, b.path)


def test_the_soundness_properties_are_exercised() -> None:
    """Not vacuous: the seeds above report what the properties check, and often. Counted
    per seed: a SHADOWED_RULE whose rule matches some flow on its own (so the shadower
    is checked against real traffic), a RULE_MATCHES_NOTHING whose rule is enforced at
    some port (so it was evaluated, not skipped), a CONFLICTING_SAME_PRIORITY pair."""
    seen: Counter[str] = Counter()
    for seed in SEEDS:
        dfw, findings = soundness_case(seed)
        every = flows(dfw)
        dead = dead_rules(dfw, findings)
        if any(s is not None and any(matches_alone(dfw, r, f) for f in every)
               for _, r, s in dead):
            seen["shadowed"] += 1
        if any(s is None and any(enforced(dfw, r, f) for f in every) for _, r, s in dead):
            seen["nothing"] += 1
        dfw, findings = soundness_case(seed, shared=1)
        seen["conflicts"] += bool(conflict_pairs(dfw, findings))
    assert seen["shadowed"] >= 120, seen
    assert seen["nothing"] >= 200, seen
    assert seen["conflicts"] >= 120, seen


_NETS = st.sampled_from([IPv4Network("10.0.0.0/24"), IPv4Network("192.168.1.7/32")])


@settings(max_examples=200, deadline=None)
@given(endpoints=st.sets(st.integers(0, 3), max_size=2),
       terms=st.lists(st.lists(st.lists(_NETS, max_size=2).map(tuple), max_size=2)
                      .map(tuple), max_size=3))
def test_side_is_empty_is_the_empty_side_of_the_group_alone(
        endpoints: set[int], terms: list[tuple[tuple[IPv4Network, ...], ...]]) -> None:
    """The shortcut ``EMPTY_GROUP`` takes agrees with the side built from the group."""
    group = GroupMembers("/g", endpoints, tuple(terms))
    assert side_is_empty(group) is Peers.of((group,)).empty


def naive_shadowing(dfw: CompiledDfw) -> set[tuple[str, str, str]]:
    """SHADOWED_RULE by its definition, every earlier rule compared dimension by
    dimension with the covering functions alone (no index, no walk order): the oracle of
    the indexed search."""
    views = rule_views(dfw)
    ports = Addresses(int(ep.ip) for ep in dfw.endpoints)
    jumps = [v.rule.order for v in views if v.rule.action == JUMP and not v.rule.disabled]
    first_jump = min(jumps) if jumps else len(views)
    found = set()
    for b in views:
        rb = b.rule
        if not b.plain or rb.is_default or b.nothing is not None or rb.order == 0:
            continue
        for a in views[:rb.order]:
            ra = a.rule
            if not (a.plain and ra.action != JUMP and a.nothing is None) \
                    or not a.dirs >= b.dirs \
                    or first_jump < ra.order < dfw.application_start <= rb.order:
                continue
            if peers_cover(Peers(a.at, ()), Peers(b.at, ())) \
                    and peers_cover(a.src, b.src, ports) and peers_cover(a.dst, b.dst, ports) \
                    and services_cover(ra.services, rb.services):
                found.add((rb.path, ra.path, "info" if ra.action == rb.action else "warning"))
                break
    return found


@pytest.mark.parametrize("wide_walk", [2_000, 0], ids=["cheap-walk", "all-dimensions"])
@pytest.mark.parametrize("seed", range(0, 300, 3))
def test_shadowing_finds_exactly_what_the_definition_finds(
        seed: int, wide_walk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of walking (a cheap dimension's covering rules, or the fewest of all
    four when the cheap ones let many through) find what the definition finds."""
    monkeypatch.setattr(shadowing, "_WIDE_WALK", wide_walk)
    dfw, findings = soundness_case(seed)
    assert all(v.rule.order == i for i, v in enumerate(rule_views(dfw)))
    assert {(f.path, f.related[0], f.severity) for f in findings
            if f.code == "SHADOWED_RULE"} == naive_shadowing(dfw)


def test_the_shadowing_oracle_is_exercised() -> None:
    assert sum(len(naive_shadowing(soundness_case(seed)[0])) for seed in range(0, 300, 3)) \
        > 100
