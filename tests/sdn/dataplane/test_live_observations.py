"""Kernel trace events told as NSX observations (pure): the recorded traces of the
hand-made namespaces give exactly the expected observations, and hand-written events
cover the endings no recording shows."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from sdn.dataplane.nfttrace import of_flow, parse, parse_line
from sdn.dataplane.observations import observe
from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Trace
from sdn.traceflow.walk import DEFAULT_RULE_PATH
from tests.support.handmade_net import CASES, EXPECTED, VIEW, Case, brief

RECORDED = Path(__file__).resolve().parents[2] / "data" / "nfttrace"
_A = VIEW.ports["/infra/segments/sA/ports/a"]


def _recorded(case: Case) -> Trace:
    rows = [line.split("\t", 1) for line in
            (RECORDED / f"{case.id}.txt").read_text().splitlines()]
    events = [e for ns, line in rows if (e := parse_line(ns, line)) is not None]
    return observe(of_flow(events, case.flow.key), VIEW, case.flow.packet, _A)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_recorded_trace_gives_the_expected_observations(case: Case) -> None:
    t = _recorded(case)
    disposition, observations, summary = EXPECTED[case.id]
    assert (t.disposition.value, [brief(o) for o in t.observations], t.summary) == (
        disposition, observations, summary)


def test_observations_carry_nsx_paths_and_sequence() -> None:
    t = _recorded(next(c for c in CASES if c.id == "snat-exits"))
    by_type = {(o.component_type, o.family): o for o in t.observations}
    assert by_type[("DFW", "forwarded")].acl_rule_path == DEFAULT_RULE_PATH
    assert by_type[("NAT", "forwarded")].nat_rule_path == \
        "/infra/tier-0s/r0/nat/USER/nat-rules/snat1"
    assert [o.sequence_no for o in t.observations] == [0, 0, 0, 1, 1]
    assert {o.transport_node_type for o in t.observations} == {"OTHERS"}
    assert t.source_id == _A.path and t.counters()["forwarded_count"] == 5
    dropped = _recorded(next(c for c in CASES if c.id == "ingress-dropped"))
    assert dropped.observations[-1].acl_rule_path == \
        "/infra/domains/default/security-policies/p2/rules/r4321"


def test_lb_member_named_from_the_pool() -> None:
    t = _recorded(next(c for c in CASES if c.id == "lb-member"))
    assert t.observations[0].message == "backend c port 80"
    assert t.observations[0].component_path == "/infra/lb-virtual-servers/vs1"


def _pkt(dst: str, protocol: str = "TCP") -> PacketSpec:
    return PacketSpec(src_ip=IPv4Address("10.9.0.2"), dst_ip=IPv4Address(dst),
                      protocol=protocol, src_port=40001, dst_port=80)


def _line(trace_id: str, family: str, table: str, chain: str, rest: str) -> str:
    return f"trace id {trace_id} {family} {table} {chain} {rest}"


def _packet(iif: str, oif: str | None, dst: str, ttl: int = 64) -> str:
    out = f' oif "{oif}"' if oif else ""
    return (f'packet: iif "{iif}"{out} ip saddr 10.9.0.2 ip daddr {dst} ip ttl {ttl} '
            "ip id 1 ip protocol tcp tcp sport 40001 tcp dport 80")


@pytest.mark.parametrize(("dst", "lines", "expected"), [
    pytest.param("10.9.0.77", [
        ("r1", _line("1", "inet", "sdn_trace", "c_pre", _packet("sA", None, "10.9.0.77"))),
        ("r1", _line("1", "inet", "sdn_trace", "c_fwd", _packet("sA", "sA", "10.9.0.77"))),
    ], ("DROPPED", ["Forwarded LS sA at=r1", "Dropped LS sA reason=ARP_FAIL at=r1"]),
        id="arp-fail-no-port-has-the-address"),
    pytest.param("10.9.0.1", [
        ("r1", _line("1", "inet", "sdn_trace", "c_pre", _packet("sA", None, "10.9.0.1"))),
        ("r1", _line("1", "inet", "sdn_trace", "c_in", _packet("sA", None, "10.9.0.1"))),
    ], ("DELIVERED", ["Forwarded LS sA at=r1", "Delivered LR r1 at=r1"]),
        id="gateway-interface"),
    pytest.param("10.9.0.3", [
        ("r1", _line("1", "inet", "sdn_trace", "c_pre", _packet("sA", None, "10.9.0.3"))),
        ("r1", _line("1", "inet", "sdn_dfw", "dfw_out", _packet("sA", "sA", "10.9.0.3"))),
        ("r1", _line("1", "inet", "sdn_dfw", "dfw_out",
                     'rule ct state invalid counter drop comment "invalid" (verdict drop)')),
    ], ("DROPPED", ["Forwarded LS sA at=r1", "Dropped LR r1 reason=UNKNOWN at=r1"]),
        id="dropped-by-a-rule-of-no-dfw-id"),
    pytest.param("10.9.0.3", [
        ("r1", _line("1", "inet", "sdn_trace", "c_pre", _packet("sA", None, "10.9.0.3"))),
        ("r1", _line("1", "inet", "sdn_dfw", "dfw_out", _packet("sA", "sA", "10.9.0.3"))),
        ("r1", _line("1", "inet", "sdn_dfw", "dfw_out",
                     'rule counter drop comment "rule x1" (verdict drop)')),
    ], ("DROPPED", ["Forwarded LS sA at=r1", "Dropped LR r1 reason=UNKNOWN at=r1"]),
        id="a-rule-comment-without-a-number-is-no-dfw-rule"),
    pytest.param("10.96.0.10", [
        ("r1", _line("1", "inet", "sdn_trace", "c_pre", _packet("sA", None, "10.96.0.10"))),
        ("r1", _line("1", "ip", "sdn_lb", "pre", _packet("sA", None, "10.96.0.10"))),
        ("r1", _line("1", "ip", "sdn_lb", "pre", 'rule ip daddr 10.96.0.10 dnat to 10.9.0.2 '
                     'comment "lb vs1" (verdict accept)')),
    ], ("DROPPED", ["Forwarded LOAD_BALANCER ns/vip at=r1", "Forwarded LS sA at=r1",
                    "Dropped LR r1 reason=UNKNOWN at=r1"]),
        id="nothing-after-the-load-balancer"),
    pytest.param("10.9.0.3", [], ("DROPPED", ["Dropped - - reason=UNKNOWN at=a"]),
                 id="nothing-seen"),
    pytest.param("10.9.0.3", [
        ("r1", _line("1", "inet", "sdn_trace", "c_pre", _packet("sA", None, "10.9.0.3"))),
        ("r1", _line("1", "inet", "sdn_trace", "c_fwd", _packet("sA", "sA", "10.9.0.3"))),
    ], ("DROPPED", ["Forwarded LS sA at=r1", "Dropped - - reason=UNKNOWN at=r1"]),
        id="lost-on-the-way-to-a-known-port"),
    pytest.param("192.0.2.100", [
        ("r0", _line("2", "inet", "sdn_trace", "c_pre", _packet("d1", None, "192.0.2.100",
                                                                 63))),
        ("r0", _line("2", "inet", "sdn_trace", "c_fwd", _packet("d1", "uplink",
                                                                 "192.0.2.100", 62))),
        ("r0", _line("2", "ip", "sdn_nat", "post", 'rule oifname "uplink" snat to '
                     '198.51.100.10 comment "nat snat1" (verdict accept)')),
        ("r1", _line("1", "inet", "sdn_trace", "c_pre", _packet("sA", None, "192.0.2.100"))),
        ("r1", _line("1", "inet", "sdn_trace", "c_fwd", _packet("sA", "uplink",
                                                                 "192.0.2.100", 63))),
    ], ("EXITS_NETWORK", ["Forwarded LS sA at=r1", "Forwarded LR r1 to=r0@100.64.0.0 at=r1",
                          "Forwarded NAT r0 snat=198.51.100.10 at=r0",
                          "Forwarded LR r0 to=uplink@192.0.2.100 at=r0"]),
        id="namespaces-ordered-by-ttl-nat-from-the-rule-text"),
    pytest.param("192.0.2.100", [
        ("r0", _line("2", "inet", "sdn_trace", "c_pre", _packet("d1", None, "192.0.2.100",
                                                                 63))),
        ("r0", _line("2", "inet", "sdn_trace", "c_fwd", _packet("d1", "uplink",
                                                                 "192.0.2.100", 62))),
        ("r0", _line("2", "ip", "sdn_nat", "post", 'rule oifname "uplink" ip saddr '
                     '10.9.0.0/24 counter return comment "nat no-snat-a" (verdict return)')),
    ], ("EXITS_NETWORK", ["Forwarded LR r0 to=uplink@192.0.2.100 at=r0"]), id="no-snat-is-no-nat"),
])
def test_endings_no_recording_shows(dst: str, lines: list[tuple[str, str]],
                                    expected: tuple[str, list[str]]) -> None:
    events = [e for ns, line in lines for e in parse(ns, [line])]
    t = observe(events, VIEW, _pkt(dst), _A)
    assert (t.disposition.value, [brief(o) for o in t.observations]) == expected
