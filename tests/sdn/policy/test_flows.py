"""Reading flow files (:mod:`sdn.policy.flows`): each format's lines, one case a row: what
is a flow, what is skipped and why, what is a bad line and what it says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdn.policy.flows import Flow, detect_format, parse_flows

A, B = "10.0.0.1", "10.0.0.2"


def _flow(line: int, protocol: str, port: int | None, src: str = A, dst: str = B) -> Flow:
    return Flow(line, src, dst, protocol, port)


#: id -> (CSV lines, flows, skipped, bad lines as (line, message)).
CSV_CASES: dict[str, tuple[list[str], list[Flow], dict[str, int], list[tuple[int, str]]]] = {
    "tcp": ([f"{A},{B},TCP,80"], [_flow(1, "TCP", 80)], {}, []),
    "header": (["src_ip,dst_ip,protocol,dst_port", f"{A},{B},UDP,53"],
               [_flow(2, "UDP", 53)], {}, []),
    "header-any-case-after-blanks": (["", "# flows", "SRC_IP,DST_IP,PROTOCOL,DST_PORT",
                                      f"{A},{B},sctp,9"], [_flow(4, "SCTP", 9)], {}, []),
    "header-only-first": ([f"{A},{B},TCP,80", "src_ip,dst_ip,protocol,dst_port"],
                          [_flow(1, "TCP", 80)], {},
                          [(2, "src_ip is not an IPv4 address: 'src_ip'")]),
    "protocol-numbers": ([f"{A},{B},6,80", f"{A},{B},17,53", f"{A},{B},1",
                          f"{A},{B},132,7"],
                         [_flow(1, "TCP", 80), _flow(2, "UDP", 53), _flow(3, "ICMP", None),
                          _flow(4, "SCTP", 7)], {}, []),
    "icmp-three-or-four-fields": ([f"{A},{B},icmp", f"{A},{B},ICMP,"],
                                  [_flow(1, "ICMP", None), _flow(2, "ICMP", None)], {}, []),
    "spaces-and-bom": (["\ufeff 10.0.0.1 , 10.0.0.2 , tcp , 443 "], [_flow(1, "TCP", 443)],
                       {}, []),
    "leading-zeros-refused": ([f"{A},010.0.0.2,TCP,80"], [], {},
                              [(1, "dst_ip is not an IPv4 address: '010.0.0.2'")]),
    "ipv6-skipped": ([f"::1,{B},TCP,80", f"{A},fe80::1,TCP,80"], [], {"ipv6": 2}, []),
    "icmp-with-port": ([f"{A},{B},ICMP,8"], [], {}, [(1, "ICMP has no port, got '8'")]),
    "tcp-without-port": ([f"{A},{B},TCP"], [], {}, [(1, "TCP needs dst_port")]),
    "port-zero": ([f"{A},{B},TCP,0"], [], {},
                  [(1, "TCP destination port must be 1..65535, got '0'")]),
    "port-too-big": ([f"{A},{B},UDP,65536"], [], {},
                     [(1, "UDP destination port must be 1..65535, got '65536'")]),
    "port-not-a-number": ([f"{A},{B},TCP,http"], [], {},
                          [(1, "TCP destination port must be 1..65535, got 'http'")]),
    "unknown-protocol": ([f"{A},{B},GRE,1"], [], {},
                         [(1, "protocol must be TCP, UDP, SCTP or ICMP, got 'GRE'")]),
    "bad-address": ([f"{A},10.0.0.300,TCP,80"], [], {},
                    [(1, "dst_ip is not an IPv4 address: '10.0.0.300'")]),
    "too-many-fields": ([f"{A},{B},TCP,80,extra"], [], {},
                        [(1, "expected src_ip,dst_ip,protocol,dst_port, got 5 fields")]),
    "every-bad-line": ([f"{A},{B},TCP", f"{A},{B},TCP,80", f"{A},{B},UDP"],
                       [_flow(2, "TCP", 80)], {},
                       [(1, "TCP needs dst_port"), (3, "UDP needs dst_port")]),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_csv_lines(case: str) -> None:
    lines, flows, skipped, bad = CSV_CASES[case]
    found = parse_flows(lines, fmt="csv", source="f.csv")
    assert found.flows == flows
    assert dict(found.skipped) == skipped
    assert [(p.code, p.obj, p.message) for p in found.problems] == \
        [("BAD_FLOW", f"f.csv:{n}", m) for n, m in bad]


def _ip(src: str = A, dst: str = B, **extra: Any) -> dict[str, Any]:
    return {"source": src, "destination": dst, **extra}


def _tcp(port: int, **extra: Any) -> dict[str, Any]:
    return {"TCP": {"source_port": 40000, "destination_port": port, **extra}}


#: id -> (one Hubble record, the flow or the reason it is skipped or the bad line's
#: message).
HUBBLE_CASES: dict[str, tuple[Any, Flow | str]] = {
    "wrapped-jsonpb": ({"flow": {"IP": _ip(), "l4": _tcp(80), "Type": "L3_L4"},
                        "node_name": "n"}, _flow(1, "TCP", 80)),
    "bare-legacy-json": ({"IP": _ip(), "l4": _tcp(8080), "verdict": "DROPPED"},
                         _flow(1, "TCP", 8080)),
    "udp-camel-case": ({"flow": {"IP": _ip(), "l4": {"UDP": {"destinationPort": 53}}}},
                       _flow(1, "UDP", 53)),
    "sctp": ({"flow": {"IP": _ip(), "l4": {"SCTP": {"destination_port": 36412}}}},
             _flow(1, "SCTP", 36412)),
    "icmpv4": ({"flow": {"IP": _ip(), "l4": {"ICMPv4": {"type": 8, "code": 0}}}},
               _flow(1, "ICMP", None)),
    "is-reply-false": ({"flow": {"IP": _ip(), "l4": _tcp(80), "is_reply": False}},
                       _flow(1, "TCP", 80)),
    "is-reply-absent-taken-as-recorded": ({"flow": {"IP": _ip(), "l4": _tcp(80)}},
                                          _flow(1, "TCP", 80)),
    "reply-bare": ({"flow": {"IP": _ip(), "l4": _tcp(80), "is_reply": True}}, "reply"),
    "reply-wrapper": ({"flow": {"IP": _ip(), "l4": _tcp(80), "is_reply": {"value": True}}},
                      "reply"),
    "reply-camel": ({"flow": {"IP": _ip(), "l4": _tcp(80), "isReply": True}}, "reply"),
    "reply-deprecated": ({"IP": _ip(), "l4": _tcp(80), "reply": True}, "reply"),
    "node-status": ({"node_status": {"state_change": "NODE_CONNECTED"}}, "not_a_flow"),
    "lost-events": ({"lost_events": {"num_events_lost": 3}}, "not_a_flow"),
    "l7": ({"flow": {"IP": _ip(), "l4": _tcp(80), "Type": "L7", "l7": {"http": {}}}}, "l7"),
    "sock": ({"flow": {"IP": _ip(), "l4": _tcp(80), "Type": "SOCK"}}, "sock"),
    "l2-only": ({"flow": {"ethernet": {"source": "aa:bb:cc:dd:ee:ff"}}}, "not_ip"),
    "ipv6-version": ({"flow": {"IP": _ip("f00d::1", "f00d::2", ipVersion="IPv6"),
                               "l4": _tcp(80)}}, "ipv6"),
    "ipv6-address": ({"flow": {"IP": _ip("f00d::1", "f00d::2"), "l4": _tcp(80)}}, "ipv6"),
    "icmpv6": ({"flow": {"IP": _ip(), "l4": {"ICMPv6": {"type": 128}}}}, "ipv6"),
    "no-l4": ({"flow": {"IP": _ip()}}, "other_protocol"),
    "tcp-without-port": ({"flow": {"IP": _ip(), "l4": {"TCP": {"source_port": 1}}}},
                         "bad:TCP flow without l4.TCP.destination_port"),
    "port-out-of-range": ({"flow": {"IP": _ip(), "l4": _tcp(70000)}},
                          "bad:TCP destination port must be 1..65535, got 70000"),
    "bad-address": ({"flow": {"IP": _ip(src="nope"), "l4": _tcp(80)}},
                    "bad:IP.source is not an IPv4 address: 'nope'"),
    "address-missing": ({"flow": {"IP": {"destination": B}, "l4": _tcp(80)}},
                        "bad:IP.source is not an address: None"),
    "flow-not-an-object": ({"flow": [1]}, "bad:\"flow\" is not an object"),
    "not-an-object": ([1, 2], "bad:expected a JSON object, got list"),
}


@pytest.mark.parametrize("case", list(HUBBLE_CASES))
def test_hubble_records(case: str) -> None:
    record, expected = HUBBLE_CASES[case]
    found = parse_flows([json.dumps(record)], fmt="hubble", source="h.json")
    if isinstance(expected, Flow):
        assert (found.flows, dict(found.skipped), found.problems) == ([expected], {}, [])
    elif expected.startswith("bad:"):
        assert found.flows == [] and not found.skipped
        assert [(p.obj, p.message) for p in found.problems] == \
            [("h.json:1", expected.removeprefix("bad:"))]
    else:
        assert (found.flows, dict(found.skipped), found.problems) == ([], {expected: 1}, [])


def test_hubble_bad_json_blank_lines_and_line_numbers() -> None:
    lines = ["", json.dumps({"flow": {"IP": _ip(), "l4": _tcp(80)}}), "{not json", "  ",
             json.dumps({"flow": {"IP": _ip(), "l4": _tcp(443)}})]
    found = parse_flows(lines, fmt="hubble", source="h.json")
    assert found.flows == [_flow(2, "TCP", 80), _flow(5, "TCP", 443)]
    assert [(p.obj, p.message) for p in found.problems] == [
        ("h.json:3", "not JSON: Expecting property name enclosed in double quotes at "
                     "column 2")]


@pytest.mark.parametrize(("lines", "fmt"), [
    (["{\"flow\": {}}"], "hubble"),
    (["", "  ", "{}"], "hubble"),
    (["\ufeff{}"], "hubble"),
    (["# comment", "{}"], "hubble"),
    (["src_ip,dst_ip,protocol,dst_port"], "csv"),
    ([f"{A},{B},TCP,80"], "csv"),
    ([], "csv"),
], ids=["json", "after-blanks", "bom", "after-comment", "csv-header", "csv-row", "empty"])
def test_the_format_is_told_by_the_first_line(lines: list[str], fmt: str) -> None:
    assert detect_format(lines) == fmt
