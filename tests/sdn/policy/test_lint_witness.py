"""Lint with proof: every ``SHADOWED_RULE`` and ``CONFLICTING_SAME_PRIORITY`` finding
carries a witness flow, replayed here through the evaluator; port ranges and CIDRs (with
``except`` holes) are compared exactly, against a brute-force oracle that enumerates a
small universe of ports and addresses."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.model import Group, Inventory, PolicyResource, Tier0, group_path
from sdn.policy import CompiledDfw, CompiledRule, Endpoint, compile_dfw
from sdn.policy.compiler import PROTOCOL_NUMBERS
from sdn.policy.evaluator import decide
from sdn.policy.lint import Finding, lint_dfw
from sdn.policy.lint.values import Addresses, gaps, within_but
from sdn.policy.lint.views import rule_views
from sdn.policy.lint.witness import Witness
from tests.sdn.policy.test_lint import app, grp, policy, rule, tagged
from tests.support.builders import T0, segment

#: Four pods in 10.0.0.0/28; the rest of that /28 is outside addresses.
PODS = [("a", "10.0.0.2", {"app": "a", "tier": "x"}), ("b", "10.0.0.3", {"app": "b"}),
        ("c", "10.0.0.9", {"app": "a"}), ("d", "10.0.0.12", {"tier": "x"})]
BASE: list[PolicyResource] = [Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24"),
                              *(tagged("s", n, ip, **labels) for n, ip, labels in PODS)]
LABEL_GROUPS: list[PolicyResource] = [grp("app-a", "app|a"), grp("app-b", "app|b"),
                                      grp("tier-x", "tier|x")]
LABELS = {group_path("app-a"): ("app", "a"), group_path("app-b"): ("app", "b"),
          group_path("tier-x"): ("tier", "x")}
#: Every port a generated rule can tell apart: the rules name ports 8000..8012 only.
PORT_UNIVERSE = (1, *range(7999, 8014), 65535)
#: Every outside address a generated rule can tell apart: its CIDRs lie in 10.0.0.0/28.
OUTSIDE_UNIVERSE = (*(IPv4Address(i) for i in range(int(IPv4Address("10.0.0.0")),
                                                     int(IPv4Address("10.0.0.16")))
                       if str(IPv4Address(i)) not in {ip for _, ip, _ in PODS}),
                    IPv4Address("192.0.2.1"))


def cidr_group(gid: str, cidr: str, excepts: tuple[str, ...] = ()) -> Group:
    """An ipBlock as NCP writes it: the CIDR less its ``except`` holes, as networks."""
    nets = [IPv4Network(cidr)]
    for hole in map(IPv4Network, excepts):
        nets = [piece for net in nets for piece in
                (net.address_exclude(hole) if hole.subnet_of(net) else [net])
                if piece != hole]
    return Group(id=gid, path=group_path(gid), expression=[
        {"resource_type": "IPAddressExpression", "ip_addresses": sorted(map(str, nets))}])


def lint(objs: list[PolicyResource]) -> tuple[CompiledDfw, list[Finding]]:
    inv = Inventory([*BASE, *LABEL_GROUPS, *objs])
    dfw = compile_dfw(inv)
    return dfw, lint_dfw(dfw, inv)


def shadowed(objs: list[PolicyResource]) -> set[tuple[str, str]]:
    """(shadowed rule id, shadowing rule id) of every SHADOWED_RULE."""
    _, findings = lint(objs)
    return {(f.path.rsplit("/", 1)[-1], f.related[0].rsplit("/", 1)[-1]) for f in findings
            if f.code == "SHADOWED_RULE"}


# ---------------------------------------------------------------- ranges and CIDRs, by case

def ports(*ranges: str) -> dict[str, Any]:
    return {"ports": ranges}


def src(*groups: str) -> dict[str, Any]:
    return {"src": tuple(group_path(g) for g in groups)}


SHADOWS = {("narrow", "wide")}
#: (the earlier DROP rule's fields, the later ALLOW rule's, what shadows what), by id.
CASES = {
    "8000-8080-inside-8000-9000": (ports("8000-9000"), ports("8000-8080"), SHADOWS),
    "8000-8080-beside-8081-9000": (ports("8081-9000"), ports("8000-8080"), set()),
    "two-adjacent-ranges-cover": (ports("8000-8040", "8041-9000"), ports("8000-8080"), SHADOWS),
    "a-one-port-hole": (ports("8000-8040", "8042-9000"), ports("8000-8080"), set()),
    "cidr-inside-cidr": (src("big"), src("in-big"), SHADOWS),
    "cidr-inside-the-except-hole": (src("big-but"), src("in-hole"), set()),
    "cidr-beside-the-except-hole": (src("big-but"), src("in-big"), SHADOWS),
    "cidr-over-the-except-hole": (src("big-but"), src("big"), set()),
    "uncovered-addresses-are-pods-the-rule-covers": (src("low", "app-a", "app-b"),
                                                     src("low4"), SHADOWS),
    "uncovered-addresses-are-pods-the-rule-misses": (src("low"), src("low4"), set()),
}
CIDR_GROUPS: list[PolicyResource] = [
    cidr_group("big", "172.16.0.0/16"), cidr_group("in-big", "172.16.3.0/24"),
    cidr_group("big-but", "172.16.0.0/16", ("172.16.2.0/24",)),
    cidr_group("in-hole", "172.16.2.128/25"),
    cidr_group("low", "10.0.0.0/31"), cidr_group("low4", "10.0.0.0/30"),  # .2, .3: pods a, b
]


@pytest.mark.parametrize("case", CASES)
def test_ranges_and_cidrs_are_compared_exactly(case: str) -> None:
    wide, narrow, expected = CASES[case]
    rules = [rule("p", "wide", 1, "DROP", **wide), rule("p", "narrow", 2, "ALLOW", **narrow)]
    assert shadowed([*CIDR_GROUPS, app(*rules)]) == expected


@pytest.mark.parametrize(("ranges", "cover", "ports", "expected"), [
    pytest.param([(0, 9)], ((0, 9),), (), True, id="same"),
    pytest.param([(0, 9)], ((0, 4), (6, 9)), (), False, id="hole"),
    pytest.param([(0, 9)], ((0, 4), (6, 9)), (5,), True, id="hole-is-a-port"),
    pytest.param([(0, 9)], ((2, 9),), (0,), False, id="one-of-two-is-a-port"),
    pytest.param([(0, 9)], (), tuple(range(10)), True, id="all-ports"),
    pytest.param([(5, 20)], ((0, 6), (8, 30)), (7,), True, id="inner-hole"),
])
def test_within_but(ranges: list[tuple[int, int]], cover: tuple[tuple[int, int], ...],
                    ports: tuple[int, ...], expected: bool) -> None:
    assert within_but(ranges, cover, Addresses(ports)) is expected


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 8)), max_size=4),
       st.tuples(st.integers(0, 40), st.integers(0, 12)))
def test_gaps_are_what_the_cover_misses(cover_spec: list[tuple[int, int]],
                                        span: tuple[int, int]) -> None:
    from sdn.policy.portspace import merge_ranges as merge

    cover = tuple(merge((lo, lo + n) for lo, n in cover_spec))
    lo, hi = span[0], span[0] + span[1]
    missed = {x for g in gaps([(lo, hi)], cover) for x in range(g[0], g[1] + 1)}
    assert missed == {x for x in range(lo, hi + 1)
                      if not any(c0 <= x <= c1 for c0, c1 in cover)}


# ------------------------------------------------------------ random rule sets, by oracle

def _cidrs() -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    """A CIDR in 10.0.0.0/28 and maybe an except hole inside it."""
    def build(length: int, slot: int, hole: int | None) -> tuple[str, tuple[str, ...]]:
        size = 1 << (32 - length)
        net = IPv4Network((int(IPv4Address("10.0.0.0")) + (slot % (16 // size)) * size,
                           length))
        if hole is None or length == 32:
            return str(net), ()
        sub = list(net.subnets(new_prefix=min(32, length + 1 + hole % 2)))
        return str(net), (str(sub[hole % len(sub)]),)
    return st.builds(build, st.integers(28, 32), st.integers(0, 15),
                     st.none() | st.integers(0, 7))


_RANGES = st.lists(st.tuples(st.integers(8000, 8012), st.integers(0, 5)), min_size=1,
                   max_size=2).map(lambda rs: tuple(f"{lo}-{min(lo + n, 8012)}" if n else
                                                    str(lo) for lo, n in rs))


@st.composite
def rule_sets(draw: st.DrawFn) -> list[PolicyResource]:
    cidrs = draw(st.lists(_cidrs(), min_size=1, max_size=3))
    groups: list[PolicyResource] = [cidr_group(f"c{i}", c, ex) for i, (c, ex) in
                                    enumerate(cidrs)]
    names = [*LABELS, *(g.path for g in groups)]
    side = st.sampled_from(["ANY", "ANY"]) | st.lists(st.sampled_from(names), min_size=1,
                                                      max_size=2, unique=True).map(tuple)
    scope = st.sampled_from(["ANY", "ANY", *LABELS])
    policies: list[PolicyResource] = []
    for pi in range(draw(st.integers(1, 2))):
        pid = f"p{pi}"
        rules = [rule(pid, f"r{ri}", ri, draw(st.sampled_from(["ALLOW", "DROP", "REJECT"])),
                      direction=draw(st.sampled_from(["IN", "OUT", "IN_OUT"])),
                      src=draw(side), dst=draw(side), scope=draw(scope),
                      ports=draw(st.just(()) | _RANGES),
                      proto=draw(st.sampled_from(["TCP", "TCP", "UDP"])))
                 for ri in range(draw(st.integers(1, 5)))]
        policies.append(policy(pid, "Application", draw(st.sampled_from([1, 1, 2])), *rules))
    return [*groups, *policies]


def _side(paths: tuple[str, ...] | None, inv: Inventory) -> frozenset[object] | None:
    """The pods (by name) and outside addresses of the universe a side matches; None: ANY."""
    if paths is None:
        return None
    out: set[object] = set()
    for path in paths:
        if path in LABELS:
            scope, value = LABELS[path]
            out |= {n for n, _, labels in PODS if labels.get(scope) == value}
            continue
        g = inv.get(path)
        assert isinstance(g, Group)
        nets = [IPv4Network(n) for e in g.expression for n in getattr(e, "ip_addresses", ())]
        out |= {n for n, ip, _ in PODS if any(IPv4Address(ip) in net for net in nets)}
        out |= {ip for ip in OUTSIDE_UNIVERSE if any(ip in net for net in nets)}
    return frozenset(out)


def _services(r: CompiledRule) -> frozenset[tuple[int, int]] | None:
    if r.services is None:
        return None
    return frozenset((s.protocol, p) for s in r.services for p in PORT_UNIVERSE
                     if not s.ports or any(lo <= p <= hi for lo, hi in s.ports))


def _covers(a: frozenset[Any] | None, b: frozenset[Any] | None) -> bool:
    return a is None or (b is not None and a >= b)


def oracle(dfw: CompiledDfw, inv: Inventory) -> set[tuple[str, str]]:
    """SHADOWED_RULE by enumeration: an earlier rule whose every dimension (applied-to
    pods, sources and destinations as pods and outside addresses of the universe,
    services as (protocol, port) of the universe, directions) holds the later rule's.
    Which rules take part (enabled, no excluded side, matching something: the views'
    ``plain`` and ``nothing``) is the lint's own definition, not under test here."""
    views = rule_views(dfw)
    names = {ep.index: ep.name for ep in dfw.endpoints}

    def at(r: CompiledRule) -> frozenset[object]:
        return frozenset(names.values()) if r.applied_to is None else \
            frozenset(names[i] for i in r.applied_to)

    def side(groups: Any) -> frozenset[object] | None:
        return _side(None if groups is None else tuple(g.path for g in groups), inv)

    found = set()
    for b in views:
        rb = b.rule
        if not b.plain or b.nothing is not None:
            continue
        for a in views[:rb.order]:
            ra = a.rule
            if a.plain and a.nothing is None and a.dirs >= b.dirs \
                    and at(ra) >= at(rb) and _covers(side(ra.sources), side(rb.sources)) \
                    and _covers(side(ra.destinations), side(rb.destinations)) \
                    and _covers(_services(ra), _services(rb)):
                found.add((rb.path, ra.path))
                break
    return found


def replay(dfw: CompiledDfw, w: Witness, *rules: CompiledRule) -> tuple[bool, ...]:
    """Whether each rule alone matches the witness at its point, checking first that the
    firewall's own evaluation there decides it by the rule the witness names."""
    src = dfw.endpoint_for_ip(IPv4Address(w.src_ip))
    dst = dfw.endpoint_for_ip(IPv4Address(w.dst_ip))
    at, direction = (dst, "IN") if w.point == "ingress" else (src, "OUT")
    assert at.index is not None
    assert (src.name or str(src.ip), dst.name or str(dst.ip)) == (w.src, w.dst)
    proto = PROTOCOL_NUMBERS[w.protocol]

    def decided(candidates: list[CompiledRule]) -> Any:
        return decide(dfw, candidates, point=w.point, at=at, src=src, dst=dst, proto=proto,
                      dport=w.dst_port, sport=w.src_port, direction=direction).rule

    deciding = decided(dfw.candidates(at.index, direction))
    assert (deciding.path if deciding is not None else None) == w.decided_by
    applied = {r.order for r in dfw.candidates(at.index, direction)}
    return tuple(r.order in applied and decided([r]) is r for r in rules)


def matches_some_flow(dfw: CompiledDfw, r: CompiledRule) -> bool:
    """Whether the rule alone matches a flow between two different ends of the universe
    (pods and outside addresses), at a port where it is enforced, for any port."""
    ends = [*dfw.endpoints, *(Endpoint(ip=ip) for ip in OUTSIDE_UNIVERSE)]
    for src in ends:
        for dst in ends:
            for at, direction in ((src, "OUT"), (dst, "IN")):
                if src == dst or at.index is None or r not in dfw.candidates(at.index,
                                                                            direction):
                    continue
                for proto in ("TCP", "UDP"):
                    for port in PORT_UNIVERSE:
                        if decide(dfw, [r], point="p", at=at, src=src, dst=dst,
                                  proto=PROTOCOL_NUMBERS[proto], dport=port, sport=None,
                                  direction=direction).rule is r:
                            return True
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets())
def test_shadowing_is_the_oracles_and_every_witness_replays(objs: list[PolicyResource]) -> None:
    inv = Inventory([*BASE, *LABEL_GROUPS, *objs])
    dfw = compile_dfw(inv)
    findings = lint_dfw(dfw, inv)
    by_path = {r.path: r for r in dfw.rules}
    assert {(f.path, f.related[0]) for f in findings if f.code == "SHADOWED_RULE"} \
        == oracle(dfw, inv)
    for f in findings:
        if f.code not in ("SHADOWED_RULE", "CONFLICTING_SAME_PRIORITY"):
            continue
        later, earlier = (f.path, f.related[0]) if f.code == "SHADOWED_RULE" \
            else (f.related[0], f.path)
        a, b = by_path[earlier], by_path[later]
        if f.witness is None:  # only for a rule whose one flow is a port to itself
            assert f.code == "SHADOWED_RULE" and not matches_some_flow(dfw, b), f
            continue
        assert replay(dfw, f.witness, a, b) == (True, True), f
        decided = f.witness.decided_by
        assert decided is not None and by_path[decided].order <= a.order, f


def test_the_oracle_test_meets_shadowing_and_conflicts() -> None:
    """Not vacuous: the strategy draws sets with findings of both codes, and witnesses
    outside the inventory."""
    seen: dict[str, int] = {"SHADOWED_RULE": 0, "CONFLICTING_SAME_PRIORITY": 0, "outside": 0}

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(rule_sets())
    def count(objs: list[PolicyResource]) -> None:
        _, findings = lint(objs)
        for f in findings:
            if f.code in seen:
                seen[f.code] += 1
                if f.witness is not None and "." in f.witness.src + f.witness.dst:
                    seen["outside"] += 1

    count()
    assert min(seen.values()) >= 3, seen


@given(st.sets(st.integers(0, 40), max_size=30),
       st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6)), max_size=3))
def test_first_free_is_the_lowest_address_of_no_port(ports: set[int],
                                                     spec: list[tuple[int, int]]) -> None:
    from sdn.policy.portspace import merge_ranges as merge

    ranges = tuple(merge((lo, lo + n) for lo, n in spec))
    free = [x for lo, hi in ranges for x in range(lo, hi + 1) if x not in ports]
    assert Addresses(ports).first_free(ranges) == (free[0] if free else None)
