"""NSX DFW evaluation semantics on hand-built policies: first match, categories,
sequence numbers, applied-to, direction, JUMP_TO_APPLICATION, default rule, exclusion."""

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
    Tag,
    Tier0,
    group_path,
    rule_path,
    security_policy_path,
)
from sdn.policy import compile_dfw, evaluate_flow, reach_matrix
from tests.support.builders import T0, port, segment


def tagged(seg: str, name: str, ip: str, **labels: str) -> Any:
    p = port(seg, name, ip)
    return p.model_copy(update={"tags": tuple(Tag(scope=k, tag=v) for k, v in labels.items()),
                                "display_name": name})


def grp(gid: str, label: str) -> Group:
    return Group(id=gid, path=group_path(gid), expression=[
        {"resource_type": "Condition", "member_type": "SegmentPort", "value": label}])


def rule(pid: str, rid: str, seq: int, action: str, direction: str = "IN_OUT",
         src: str = "ANY", dst: str = "ANY", scope: str = "ANY",
         ports: tuple[str, ...] = (), excluded: bool = False) -> Rule:
    entries = (L4PortSetServiceEntry(l4_protocol="TCP", destination_ports=ports),) if ports else ()
    return Rule(id=rid, path=rule_path(pid, rid), parent_path=security_policy_path(pid),
                sequence_number=seq, action=action, direction=direction,
                source_groups=(src,), destination_groups=(dst,), scope=(scope,),
                service_entries=entries, sources_excluded=excluded)


def policy(pid: str, category: str, seq: int, *rules: Rule, scope: str = "ANY") -> SecurityPolicy:
    return SecurityPolicy(id=pid, path=security_policy_path(pid), category=category,
                          sequence_number=seq, rules=rules, scope=(scope,))


BASE: list[PolicyResource] = [
    Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24"),
    tagged("s", "web", "10.0.0.2", app="web"), tagged("s", "db", "10.0.0.3", app="db"),
    tagged("s", "cache", "10.0.0.4", app="cache"),
    grp("web", "app|web"), grp("db", "app|db"),
]
WEB, DB = group_path("web"), group_path("db")


def verdict(objs: list[PolicyResource], src: str, dst: str, port_no: int = 80,
            **kw: Any) -> Any:
    dfw = compile_dfw(Inventory([*BASE, *objs]), **kw)
    by = {e.name: e for e in dfw.endpoints}
    return evaluate_flow(dfw, by[src], by[dst], protocol="TCP", port=port_no, explain=True)


CASES = [
    pytest.param([], "web", "db", True, None, id="no-policy-default-allow"),
    pytest.param([policy("p", "Application", 10, rule("p", "deny", 1, "DROP"))],
                 "web", "db", False, "deny", id="drop-everything"),
    pytest.param([policy("p", "Application", 10, rule("p", "allow", 1, "ALLOW", src=WEB),
                         rule("p", "deny", 2, "DROP"))],
                 "web", "db", True, "allow", id="first-match-wins"),
    pytest.param([policy("p", "Application", 10, rule("p", "deny", 1, "DROP")),
                  policy("q", "Environment", 99, rule("q", "allow", 1, "ALLOW"))],
                 "web", "db", True, "allow", id="environment-before-application"),
    pytest.param([policy("p", "Application", 20, rule("p", "allow", 1, "ALLOW")),
                  policy("q", "Application", 10, rule("q", "deny", 1, "DROP"))],
                 "web", "db", False, "deny", id="lower-sequence-first"),
    pytest.param([policy("b", "Application", 10, rule("b", "allow", 1, "ALLOW")),
                  policy("a", "Application", 10, rule("a", "deny", 1, "DROP"))],
                 "web", "db", False, "deny", id="equal-sequence-lowest-path-first"),
    pytest.param([policy("p", "Application", 10,
                         rule("p", "deny", 1, "DROP", direction="IN", scope=DB))],
                 "web", "db", False, "deny", id="ingress-at-destination"),
    pytest.param([policy("p", "Application", 10,
                         rule("p", "deny", 1, "DROP", direction="IN", scope=DB))],
                 "db", "web", True, None, id="applied-to-elsewhere"),
    pytest.param([policy("p", "Application", 10,
                         rule("p", "deny", 1, "DROP", direction="OUT", scope=WEB))],
                 "web", "db", False, "deny", id="egress-at-source"),
    pytest.param([policy("e", "Environment", 1, rule("e", "jump", 1, "JUMP_TO_APPLICATION"),
                         rule("e", "deny", 2, "DROP")),
                  policy("a", "Application", 1, rule("a", "allow", 1, "ALLOW"))],
                 "web", "db", True, "allow", id="jump-skips-to-application"),
    pytest.param([policy("p", "Application", 10, rule("p", "allow80", 1, "ALLOW", ports=("80",)),
                         rule("p", "deny", 2, "DROP"))],
                 "web", "db", True, "allow80", id="port-matches"),
    pytest.param([policy("p", "Application", 10,
                         rule("p", "allow", 1, "ALLOW", ports=("81-90",)),
                         rule("p", "deny", 2, "DROP"))],
                 "web", "db", False, "deny", id="port-outside-range"),
    pytest.param([policy("p", "Application", 10,
                         rule("p", "deny-not-web", 1, "DROP", src=WEB, excluded=True))],
                 "cache", "db", False, "deny-not-web", id="sources-excluded"),
]


@pytest.mark.parametrize(("objs", "src", "dst", "allowed", "rule_id"), CASES)
def test_dfw_semantics(objs: list[PolicyResource], src: str, dst: str, allowed: bool,
                       rule_id: str | None) -> None:
    v = verdict(objs, src, dst)
    assert v.allowed == allowed
    deciding = v.deciding
    assert deciding is not None
    if rule_id is None:
        assert all(d.rule is None for d in (v.egress, v.ingress) if d is not None)
    else:
        decided = [d for d in (v.egress, v.ingress) if d is not None and d.rule is not None]
        assert any(d.rule.path.endswith("/" + rule_id) for d in decided if d.rule)


def test_default_action_is_configurable() -> None:
    assert not verdict([], "web", "db", default_action="DROP").allowed


def test_reach_agrees_with_evaluate_for_every_pair() -> None:
    objs: list[PolicyResource] = [
        policy("p", "Application", 10,
               rule("p", "allow", 1, "ALLOW", direction="IN", src=WEB, scope=DB, ports=("80",)),
               rule("p", "deny", 2, "DROP", direction="IN", scope=DB))]
    dfw = compile_dfw(Inventory([*BASE, *objs]))
    pairs = reach_matrix(dfw, protocol="TCP", port=80)
    for s in dfw.endpoints:
        for d in dfw.endpoints:
            if s.index != d.index:
                expected = evaluate_flow(dfw, s, d, protocol="TCP", port=80).allowed
                assert ((s.index, d.index) in pairs) == expected
    names = {(dfw.endpoints[s].name, dfw.endpoints[d].name) for s, d in pairs}
    assert ("web", "db") in names and ("cache", "db") not in names
