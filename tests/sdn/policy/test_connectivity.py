"""Exact connectivity equals the per-port evaluator: every class of every pair, on random
small firewalls (the oracle is :func:`~sdn.policy.evaluator.evaluate_flow`, port by port,
at every port where an answer could change and, for one pair, at every port 1..65535);
and the outside atoms stand for every outside address of their CIDRs."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.model import Inventory
from sdn.policy import compile_dfw, evaluate_flow
from sdn.policy.compiler import CompiledDfw, Endpoint
from sdn.policy.connectivity import Connection, Outcome, connectivity, pair_outcomes
from sdn.policy.portspace import (
    intersect_ranges,
    merge_ranges,
    subtract_ranges,
)
from tests.support.random_dfw import probe_ports, random_inventory

PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP")


def _expected(dfw: CompiledDfw, src: Endpoint, dst: Endpoint, protocol: str,
              port: int | None) -> tuple[bool, int | None]:
    verdict = evaluate_flow(dfw, src, dst, protocol=protocol, port=port)
    deciding = verdict.deciding
    rule = None if deciding is None or deciding.rule is None else deciding.rule.order
    return verdict.allowed, rule


def _outcome_at(outcomes: list[Outcome], protocol: str, port: int | None) -> Outcome:
    found = [o for o in outcomes if o.protocol == protocol and (
        port is None or any(lo <= port <= hi for lo, hi in o.ports or ()))]
    assert len(found) == 1, (protocol, port, found)
    return found[0]


def _check_partition(outcomes: list[Outcome]) -> None:
    for protocol in PROTOCOLS[:3]:
        ranges = [r for o in outcomes if o.protocol == protocol for r in o.ports or ()]
        assert merge_ranges(ranges) == ((1, 65535),)
        assert sum(hi - lo + 1 for lo, hi in ranges) == 65535  # disjoint
    assert [o.ports for o in outcomes if o.protocol == "ICMP"] == [None]


def _outside_endpoints(conns: list[Connection]) -> dict[str, Endpoint]:
    return {label: Endpoint(ip=ip) for c in conns for label, ip in ((c.src, c.src_ip),
                                                                    (c.dst, c.dst_ip))
            if "/" in label and label[0].isdigit() and ip is not None}


@settings(max_examples=150, deadline=None)
@given(inv=random_inventory(), default=st.sampled_from(["ALLOW", "DROP"]))
def test_outcomes_equal_the_evaluator_at_every_boundary(inv: Inventory, default: str) -> None:
    dfw = compile_dfw(inv, default_action=default)
    probes = probe_ports(inv)
    conns = list(connectivity(dfw))
    parties = [*dfw.endpoints, *_outside_endpoints(conns).values()]
    for src in parties:
        for dst in parties:
            if src is dst or (src.index is None and dst.index is None):
                continue
            outcomes = pair_outcomes(dfw, src, dst)
            _check_partition(outcomes)
            for protocol in PROTOCOLS:
                for port in [None] if protocol == "ICMP" else probes:
                    got = _outcome_at(outcomes, protocol, port)
                    rule = None if got.rule is None else got.rule.order
                    assert (got.allowed, rule) == _expected(dfw, src, dst, protocol, port)


def _allowed_by(conns: list[Connection]) -> dict[tuple[str, str, str], Connection]:
    return {(c.src, c.dst, c.protocol): c for c in conns}


@settings(max_examples=100, deadline=None)
@given(inv=random_inventory(), seed=st.integers(0, 2**16))
def test_connections_equal_the_evaluator_including_outside(inv: Inventory, seed: int) -> None:
    dfw = compile_dfw(inv)
    conns = list(connectivity(dfw))
    by = _allowed_by(conns)
    assert all(c.ports is None if c.protocol == "ICMP" else c.ports for c in conns)
    assert all(c.src != c.dst for c in conns)
    rnd = random.Random(seed)
    probes = probe_ports(inv)
    outside = _outside_endpoints(conns)
    # Any address of an outside CIDR that no port owns answers as its representative.
    targets = [(ep.name, ep) for ep in dfw.endpoints]
    for label in outside:
        net = IPv4Network(label)
        ip = IPv4Address(int(net.network_address) + rnd.randrange(net.num_addresses))
        if dfw.endpoint_for_ip(ip).index is None:
            targets.append((label, Endpoint(ip=ip)))
    for s_name, src in targets:
        for d_name, dst in targets:
            if s_name == d_name or (src.index is None and dst.index is None):
                continue
            for protocol in PROTOCOLS:
                got = by.get((s_name, d_name, protocol))
                for port in [None] if protocol == "ICMP" else probes:
                    want = evaluate_flow(dfw, src, dst, protocol=protocol, port=port).allowed
                    mine = got is not None and (port is None or any(
                        lo <= port <= hi for lo, hi in got.ports or ()))
                    assert mine == want, (s_name, d_name, protocol, port)


@settings(max_examples=6, deadline=None)
@given(inv=random_inventory(), pick=st.integers(0, 19))
def test_one_pair_at_every_port(inv: Inventory, pick: int) -> None:
    dfw = compile_dfw(inv)
    pairs = [(s, d) for s in dfw.endpoints for d in dfw.endpoints if s is not d]
    src, dst = pairs[pick % len(pairs)]
    by = _allowed_by(list(connectivity(dfw, sources=[src.path], destinations=[dst.path],
                                       outside=False)))
    for protocol in ("TCP", "SCTP"):
        ports = by[(src.name, dst.name, protocol)].ports if (
            src.name, dst.name, protocol) in by else ()
        allowed = [p for p in range(1, 65536) if evaluate_flow(
            dfw, src, dst, protocol=protocol, port=p).allowed]
        assert merge_ranges((p, p) for p in allowed) == ports


RANGES = st.lists(st.tuples(st.integers(1, 40), st.integers(0, 8)).map(
    lambda t: (t[0], t[0] + t[1])), max_size=5).map(merge_ranges)


@given(a=RANGES, b=RANGES)
def test_range_arithmetic_equals_sets(a: tuple[tuple[int, int], ...],
                                      b: tuple[tuple[int, int], ...]) -> None:
    def ports(rs: tuple[tuple[int, int], ...]) -> set[int]:
        return {p for lo, hi in rs for p in range(lo, hi + 1)}

    assert ports(subtract_ranges(a, b)) == ports(a) - ports(b)
    assert ports(intersect_ranges(a, b)) == ports(a) & ports(b)
    assert merge_ranges([*a, *b]) == merge_ranges((p, p) for p in ports(a) | ports(b))


@pytest.mark.parametrize(("sources", "expected"), [
    pytest.param(None, 20, id="every-pair"),
    pytest.param(["/infra/segments/s/ports/p0"], 4, id="one-source"),
])
def test_sources_narrow_the_pairs(sources: list[str] | None, expected: int) -> None:
    from sdn.model import Tier0
    from tests.support.builders import T0, port, segment

    inv = Inventory([Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24"),
                     *[port("s", f"p{i}", f"10.0.0.{i + 2}") for i in range(5)]])
    conns = list(connectivity(compile_dfw(inv), sources=sources))
    assert len({(c.src, c.dst) for c in conns}) == expected
    assert {c.protocol for c in conns} == set(PROTOCOLS)
    assert all(c.ports in (None, ((1, 65535),)) for c in conns)
