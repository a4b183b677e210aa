"""``lint_dfw`` on hand-built DFWs: one failing example per code, and the cases that must
stay silent (a narrower earlier rule, other directions, disjoint applied-to, excluded
sources, jumps, disabled rules, the default section)."""

from __future__ import annotations

import random
from dataclasses import FrozenInstanceError
from ipaddress import IPv4Address
from typing import Any

import pytest

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
from sdn.policy import CompiledRule, Endpoint, compile_dfw, evaluate_flow
from sdn.policy.compiler import PROTOCOL_NUMBERS
from sdn.policy.evaluator import candidates, decide
from sdn.policy.lint import Finding, finding_key, lint_dfw
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


def test_shadow_message_names_the_earliest_shadowing_rule() -> None:
    objs: list[PolicyResource] = [app(rule("p", "d1", 1, "DROP"), rule("p", "d2", 2, "DROP"),
                                      rule("p", "allow", 3, "ALLOW", src=WEB))]
    shadowed = {short(f.path): f for f in lint(objs) if f.code == "SHADOWED_RULE"}
    assert rule_path("p", "d1") in shadowed["p/allow"].message
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


def test_empty_group_message_names_its_users() -> None:
    objs: list[PolicyResource] = [app(rule("p", "r", 1, "DROP", src=(NOBODY, WEB)))]
    empty = next(f for f in lint(objs) if f.code == "EMPTY_GROUP")
    assert rule_path("p", "r") in empty.message


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


def random_policies(rnd: random.Random) -> list[PolicyResource]:
    """A few policies of random rules over the BASE pods and GROUPS."""
    peers: list[Paths] = ["ANY", "ANY", "ANY", "ANY", WEB, DB, (WEB, DB), NET_WIDE,
                          NET_NARROW, NOBODY, (CACHE, NET_NARROW)]
    scopes: list[Paths] = ["ANY", "ANY", "ANY", WEB, DB, (WEB, DB), CACHE]
    ports: list[tuple[str, ...]] = [(), (), ("80",), ("80-90",), ("85",), ("443",), ("53",),
                                    ("80", "81")]
    out: list[PolicyResource] = []
    for pi in range(rnd.randint(1, 3)):
        pid = f"p{pi}"
        rules = [rule(pid, f"r{ri}", ri, rnd.choice(["ALLOW", "ALLOW", "DROP", "REJECT",
                                                     "JUMP_TO_APPLICATION"]),
                      direction=rnd.choice(["IN", "OUT", "IN_OUT"]), src=rnd.choice(peers),
                      dst=rnd.choice(peers), scope=rnd.choice(scopes),
                      ports=rnd.choice(ports), proto=rnd.choice(["TCP", "TCP", "UDP"]),
                      excluded=rnd.random() < 0.1, disabled=rnd.random() < 0.05)
                 for ri in range(rnd.randint(1, 6))]
        out.append(policy(pid, rnd.choice(["Environment", "Application", "Application"]),
                          rnd.choice([1, 1, 2]), *rules))
    return out


@pytest.mark.parametrize("seed", range(300))
def test_reported_rules_never_match_any_flow(seed: int) -> None:
    """Every SHADOWED_RULE and RULE_MATCHES_NOTHING is confirmed by evaluating every flow."""
    objs = random_policies(random.Random(seed))
    inv = Inventory([*BASE, *GROUPS, *objs])
    dfw = compile_dfw(inv)
    dead = {f.path for f in lint_dfw(dfw, inv)
            if f.code in ("SHADOWED_RULE", "RULE_MATCHES_NOTHING")}
    if not dead:
        return
    ends = [*dfw.endpoints, *(Endpoint(ip=IPv4Address(ip)) for ip in OUTSIDE)]
    for src in ends:
        for dst in ends:
            if src == dst:
                continue
            for port_no, proto in FLOW_PORTS:
                v = evaluate_flow(dfw, src, dst, protocol=proto, port=port_no, explain=True)
                for d in (v.egress, v.ingress):
                    for c in d.trail if d is not None else ():
                        assert not (c.matched and c.rule.path in dead), (c.rule.path, src, dst)


@pytest.mark.parametrize("seed", range(300))
def test_reported_conflicts_share_a_flow(seed: int) -> None:
    """Every CONFLICTING_SAME_PRIORITY pair has a flow both rules match at one port."""
    objs = random_policies(random.Random(seed))
    inv = Inventory([*BASE, *GROUPS, *objs])
    dfw = compile_dfw(inv)
    by_path = {r.path: r for r in dfw.rules}
    pairs = [(by_path[f.path], by_path[f.message.split()[2]]) for f in lint_dfw(dfw, inv)
             if f.code == "CONFLICTING_SAME_PRIORITY"]
    ends = [*dfw.endpoints, *(Endpoint(ip=IPv4Address(ip)) for ip in OUTSIDE)]

    def both_match(a: CompiledRule, b: CompiledRule) -> bool:
        for src in ends:
            for dst in ends:
                for port_no, proto in FLOW_PORTS:
                    for at, direction in ((src, "OUT"), (dst, "IN")):
                        if at.index is None or src == dst:
                            continue
                        hits = [any(c.matched for c in decide(
                            dfw, [r], point="p", at=at, src=src, dst=dst,
                            proto=PROTOCOL_NUMBERS[proto], dport=port_no, sport=None,
                            explain=True).trail)
                                for r in (a, b) if r in candidates(dfw, at.index, direction)]
                        if hits == [True, True]:
                            return True
        return False

    for a, b in pairs:
        assert both_match(a, b), (a.path, b.path)
