"""``nft monitor trace`` lines into events, and one flow's events picked out: table-driven
cases, and the traces recorded from the hand-made namespaces (tests/data/nfttrace)."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from sdn.dataplane.nfttrace import FlowKey, PacketFields, TraceEvent, of_flow, parse, parse_line
from tests.support.handmade_net import CASES, Case

RECORDED = Path(__file__).resolve().parents[2] / "data" / "nfttrace"

_PKT = ('trace id 3ef3839c inet sdn_dfw dfw_out packet: iif "sA" oif "uplink" ether saddr '
        "02:00:00:00:00:02 ether daddr 02:50:56:56:44:52 ip saddr 10.9.0.2 ip daddr "
        "192.0.2.100 ip dscp cs0 ip ecn not-ect ip ttl 63 ip id 4006 ip protocol tcp ip "
        "length 40 tcp sport 40001 tcp dport 80 tcp flags == syn tcp window 8192")


@pytest.mark.parametrize(("line", "expected"), [
    pytest.param(_PKT, TraceEvent(
        "r1", "3ef3839c", "inet", "sdn_dfw", "dfw_out", "packet", PacketFields(
            iif="sA", oif="uplink", ether_saddr="02:00:00:00:00:02",
            ether_daddr="02:50:56:56:44:52", saddr=IPv4Address("10.9.0.2"),
            daddr=IPv4Address("192.0.2.100"), ttl=63, ip_id=4006, protocol="TCP",
            sport=40001, dport=80)), id="packet"),
    pytest.param('trace id 3ef3839c inet sdn_dfw dfw_out rule ip saddr 10.9.0.2 counter '
                 'packets 0 bytes 0 drop comment "rule 1234" (verdict drop)',
                 TraceEvent("r1", "3ef3839c", "inet", "sdn_dfw", "dfw_out", "rule",
                            rule='ip saddr 10.9.0.2 counter packets 0 bytes 0 drop comment '
                                 '"rule 1234"', verdict="drop", comment="rule 1234"),
                 id="rule-drop-with-comment"),
    pytest.param('trace id 1 inet sdn_dfw dfw_out rule ip saddr vmap @egress (verdict jump '
                 'port_p1_out)',
                 TraceEvent("r1", "1", "inet", "sdn_dfw", "dfw_out", "rule",
                            rule="ip saddr vmap @egress", verdict="jump",
                            target="port_p1_out"), id="rule-jump"),
    pytest.param('trace id 1 ip sdn_nat post rule oifname "uplink" ip saddr 10.9.0.0/24 '
                 'counter packets 0 bytes 0 snat to 198.51.100.10 comment "nat snat1" '
                 '(verdict accept)',
                 TraceEvent("r1", "1", "ip", "sdn_nat", "post", "rule",
                            rule='oifname "uplink" ip saddr 10.9.0.0/24 counter packets 0 '
                                 'bytes 0 snat to 198.51.100.10 comment "nat snat1"',
                            verdict="accept", comment="nat snat1"), id="rule-nat"),
    pytest.param('trace id 1 inet t c rule meta mark 1 comment "say \\"hi\\"" (verdict '
                 'accept)',
                 TraceEvent("r1", "1", "inet", "t", "c", "rule",
                            rule='meta mark 1 comment "say \\"hi\\""', verdict="accept",
                            comment='say "hi"'), id="comment-with-quotes"),
    pytest.param("trace id 27f1e07e inet sdn_trace c_pre unknown rule handle 5 (verdict "
                 "continue)",
                 TraceEvent("r1", "27f1e07e", "inet", "sdn_trace", "c_pre", "rule",
                            verdict="continue"), id="unknown-rule"),
    pytest.param("trace id 27f1e07e inet sdn_trace c_post policy accept ",
                 TraceEvent("r1", "27f1e07e", "inet", "sdn_trace", "c_post", "policy",
                            verdict="accept"), id="policy"),
    pytest.param("trace id 2 inet sdn_dfw port_p1_out verdict continue",
                 TraceEvent("r1", "2", "inet", "sdn_dfw", "port_p1_out", "return",
                            verdict="continue"), id="return"),
    pytest.param("add table inet sdn_trace", None, id="ruleset-change"),
    pytest.param("# new generation 3 by process 19848 (nft)", None, id="generation-note"),
    pytest.param("", None, id="blank"),
    pytest.param("trace id 2 inet t c something else", None, id="unknown-trace-line"),
])
def test_parse_line(line: str, expected: TraceEvent | None) -> None:
    assert parse_line("r1", line) == expected


@pytest.mark.parametrize(("text", "fields"), [
    pytest.param("ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip ttl 1 ip id 7 ip protocol icmp "
                 "icmp type echo-request icmp code 0 icmp id 7 icmp sequence 0",
                 {"protocol": "ICMP", "icmp_type": "echo-request", "icmp_id": 7, "ttl": 1},
                 id="icmp"),
    pytest.param("ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip protocol udp udp sport 5 udp "
                 "dport 53 udp length 8", {"protocol": "UDP", "sport": 5, "dport": 53},
                 id="udp"),
    pytest.param('oif "sA" @ll,0,112 0x2000 ip saddr 10.9.0.2 ip daddr 10.9.0.3 ip length '
                 "40 tcp sport 40000 tcp dport 80", {"protocol": "TCP", "iif": None,
                                                     "oif": "sA"},
                 id="ip-family-without-ip-protocol"),
    pytest.param("ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip protocol gre",
                 {"protocol": "GRE", "sport": None}, id="other-protocol"),
    pytest.param("ip saddr not-an-address", {"saddr": None}, id="bad-address"),
])
def test_packet_fields(text: str, fields: dict[str, object]) -> None:
    got = PacketFields.parse(text)
    assert {k: getattr(got, k) for k in fields} == fields


@pytest.mark.parametrize(("comment", "mark"), [
    ("rule 1234", ("rule", "1234")), ("nat snat_ns-a_0", ("nat", "snat_ns-a_0")),
    ("lb vs_k8s_default_web_80_TCP", ("lb", "vs_k8s_default_web_80_TCP")),
    ("spoofguard", ("spoofguard", "")), (None, ("", "")),
])
def test_comment_marks(comment: str | None, mark: tuple[str, str]) -> None:
    e = TraceEvent("n", "1", "inet", "t", "c", "rule", verdict="accept", comment=comment)
    assert e.mark == mark


@pytest.mark.parametrize(("key", "fields", "ours"), [
    (FlowKey("TCP", 40001, 7), PacketFields(protocol="TCP", sport=40001, ip_id=7), True),
    (FlowKey("TCP", 40001, 7), PacketFields(protocol="TCP", sport=40002, ip_id=7), False),
    (FlowKey("TCP", 40001, 7), PacketFields(protocol="TCP", sport=40001, ip_id=8), False),
    (FlowKey("TCP", 40001, 7), PacketFields(protocol="UDP", sport=40001, ip_id=7), False),
    (FlowKey("TCP", 40001, 7), PacketFields(protocol="TCP", sport=40001), True),
    (FlowKey("ICMP", 9, 9), PacketFields(protocol="ICMP", icmp_id=9, ip_id=9), True),
    (FlowKey("ICMP", 9, 9), PacketFields(protocol="ICMP", icmp_id=8, ip_id=9), False),
    (FlowKey("TCP", 1), PacketFields(protocol="TCP", sport=1, ip_id=5), True),
], ids=["same", "other-port", "other-ip-id", "other-protocol", "line-without-ip-id",
        "icmp", "icmp-other-id", "key-without-ip-id"])
def test_flow_key(key: FlowKey, fields: PacketFields, ours: bool) -> None:
    assert key.matches(fields) is ours


def test_of_flow_follows_the_packet_across_trace_ids_and_drops_other_flows() -> None:
    lines = [
        _PKT.replace("3ef3839c", "aaaa0001"),
        "trace id aaaa0001 inet sdn_trace c_pre policy accept",
        _PKT.replace("3ef3839c", "bbbb0002").replace("ip id 4006", "ip id 9"),
        'trace id bbbb0002 inet sdn_dfw dfw_out rule drop comment "rule 1" (verdict drop)',
        _PKT.replace("3ef3839c", "cccc0003"),
        'trace id cccc0003 inet sdn_dfw dfw_out rule accept comment "rule 2" (verdict accept)',
        "trace id dddd0004 inet sdn_dfw dfw_out policy accept",  # no packet line: nobody's
    ]
    got = list(of_flow(parse("r1", lines), FlowKey("TCP", 40001, 4006)))
    assert [(e.trace_id, e.kind) for e in got] == [
        ("aaaa0001", "packet"), ("aaaa0001", "policy"), ("cccc0003", "packet"),
        ("cccc0003", "rule")]
    assert got[-1].comment == "rule 2"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_recorded_traces_parse_whole(case: Case) -> None:
    """Every line of every recording is an event, and every event is of the flow."""
    rows = [line.split("\t", 1) for line in
            (RECORDED / f"{case.id}.txt").read_text().splitlines()]
    events = [parse_line(ns, line) for ns, line in rows]
    assert rows and all(e is not None for e in events)
    assert len(list(of_flow([e for e in events if e], case.flow.key))) == len(events)
