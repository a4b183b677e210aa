"""Recorded flows, read from the lines of a flow export (what ``sdn replay`` evaluates).

Two formats, told apart by the first line that is not blank (or named):

* ``hubble``: one JSON object a line, as ``hubble observe -o json`` / ``-o jsonpb`` print
  them. Newer Hubble prints each flow wrapped in its ``GetFlowsResponse``
  (``{"flow": {...}, "node_name": ..., "time": ...}``), older Hubble the ``Flow`` itself;
  both are read. Field names are taken as the protobuf names Hubble prints (``IP``,
  ``l4``, ``destination_port``, ``is_reply``, ``Type``) or their lowerCamelCase JSON
  spellings (``destinationPort``, ``isReply``); ``is_reply`` may be a bare boolean
  (protojson) or ``{"value": true}`` (Go's JSON encoding of the wrapper).
* ``csv``: ``src_ip,dst_ip,protocol,dst_port``; a first row naming the columns is a
  header; ``protocol`` is TCP, UDP, SCTP or ICMP (any case) or its IP protocol number;
  ICMP has no port (the fourth field empty or absent); no quoting. ``#`` starts a comment.

What is evaluated and what is left out (counted, by reason, never an error):

* ``reply``: a flow Hubble marks as a reply (``is_reply`` true). The DFW is stateful: the
  reply of an allowed connection passes without being evaluated (as
  :mod:`~sdn.policy.evaluator` says), so only the direction that opened the connection is
  a question. Hubble leaves ``is_reply`` out when it does not know; such a flow is taken
  in the direction recorded.
* ``not_a_flow``: a line of another event (``node_status``, ``lost_events``, agent or
  debug events).
* ``l7`` and ``sock``: an L7 record repeats a connection Hubble also records at L3/L4, and
  a socket event is a service address being translated, not a packet.
* ``not_ip``: no IP layer (an ARP or other L2 frame).
* ``ipv6``: the state's networks are IPv4 only.
* ``other_protocol``: IP without TCP, UDP, SCTP or ICMPv4 (the protocols a flow question
  takes).

A line that cannot be read as its format says (not JSON, an address or port that is not
one, a TCP flow without its destination port...) is a :class:`~sdn.errors.Problem` named
``FILE:LINE``; every bad line is reported, and the caller refuses the file if any is.
"""

from __future__ import annotations

import csv
import functools
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import AddressValueError, IPv4Address, IPv6Address
from typing import Any

from sdn.errors import Problem
from sdn.policy.compiler import PROTOCOL_NUMBERS

#: The formats a flow file may have (``auto``: told by the first line).
FORMATS = ("hubble", "csv")

#: Why a record was left out, in the order reports list them.
SKIP_REASONS = ("reply", "not_a_flow", "l7", "sock", "not_ip", "ipv6", "other_protocol")

#: The protocols with ports.
_PORTED = ("TCP", "UDP", "SCTP")
_BY_NUMBER = {str(n): name for name, n in PROTOCOL_NUMBERS.items()}
#: Hubble's ``l4`` keys and the protocol each stands for (ICMPv6 is IPv6).
_L4 = {"TCP": "TCP", "UDP": "UDP", "SCTP": "SCTP", "ICMPv4": "ICMP"}
#: ``GetFlowsResponse`` members that are not flows.
_OTHER_EVENTS = ("node_status", "nodeStatus", "lost_events", "lostEvents", "agent_event",
                 "agentEvent", "debug_event", "debugEvent")
_CSV_HEADER = "src_ip"


@dataclass(frozen=True)
class Flow:
    """One recorded flow: where it starts and is addressed (IPv4 addresses in their
    canonical text: cheap to hash and compare, which 100,000 flows do a lot), its protocol
    and destination port (None for ICMP), and the line it was read from (1-based)."""

    line: int
    src: str
    dst: str
    protocol: str
    port: int | None


@dataclass
class FlowFile:
    """What a flow file holds: its format, the flows to evaluate, the records left out
    (by reason) and the lines that could not be read."""

    format: str
    flows: list[Flow] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)


class BadLine(ValueError):
    """One line that cannot be read (its message says why)."""


class Skip(Exception):
    """A record that is read but not evaluated (its argument is the reason)."""


def detect_format(lines: Iterable[str]) -> str:
    """``hubble`` when the first non-blank line is a JSON object, else ``csv``."""
    for text in lines:
        stripped = text.strip().lstrip("\ufeff")
        if stripped and not stripped.startswith("#"):
            return "hubble" if stripped.startswith("{") else "csv"
    return "csv"


def parse_flows(lines: Iterable[str], *, fmt: str, source: str) -> FlowFile:
    """Read every line (see the module's doc); ``source`` names the file in problems."""
    out = FlowFile(fmt)
    if fmt == "hubble":
        records: Iterable[tuple[int, Any]] = enumerate(lines, start=1)
    else:
        records = enumerate(csv.reader(text.lstrip("\ufeff") for text in lines), start=1)
    header_allowed = True
    for number, item in records:
        try:
            if fmt == "hubble":
                flow = _hubble_flow(number, item)
            else:
                flow = _csv_flow(number, item, header_allowed)
                header_allowed = header_allowed and not _has_data(item)
        except BadLine as err:
            out.problems.append(Problem("BAD_FLOW", f"{source}:{number}", str(err)))
            header_allowed = False
            continue
        except Skip as skip:
            out.skipped[str(skip)] += 1
            continue
        if flow is not None:
            out.flows.append(flow)
    return out


@functools.lru_cache(maxsize=1 << 16)
def _ipv4(text: str) -> str:
    """The canonical text of the IPv4 address ``text``, remembered: a flow file names the
    same few thousand addresses again and again, and parsing one costs more than the rest
    of its line."""
    return str(IPv4Address(text))


def _address(text: object, what: str) -> str:
    """An IPv4 address (its canonical text); an IPv6 one is skipped (``ipv6``), anything
    else is a bad line."""
    if not isinstance(text, str):
        raise BadLine(f"{what} is not an address: {text!r}")
    try:
        return _ipv4(text.strip())
    except AddressValueError:
        try:
            IPv6Address(text.strip())
        except ValueError:
            raise BadLine(f"{what} is not an IPv4 address: {text!r}") from None
        raise Skip("ipv6") from None


def _port(value: object, protocol: str) -> int:
    """A destination port 1..65535 (a number or its digits)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadLine(f"{protocol} destination port is not a number: {value!r}")
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise BadLine(f"{protocol} destination port must be 1..65535, got {value!r}")
    return int(text)


# --- CSV ------------------------------------------------------------------------------


def _has_data(row: list[str]) -> bool:
    """Whether a CSV row is more than blank or a comment."""
    return any(c.strip() for c in row) and not row[0].strip().startswith("#")


def _csv_flow(number: int, row: list[str], header_allowed: bool) -> Flow | None:
    """One CSV row (None: a blank, comment or header row)."""
    if not _has_data(row):
        return None
    cells = [c.strip() for c in row]
    if header_allowed and cells[0].lower() == _CSV_HEADER:
        return None
    if len(cells) not in (3, 4):
        raise BadLine(f"expected src_ip,dst_ip,protocol,dst_port, got {len(cells)} fields")
    src, dst = _address(cells[0], "src_ip"), _address(cells[1], "dst_ip")
    protocol = _BY_NUMBER.get(cells[2], cells[2].upper())
    if protocol not in PROTOCOL_NUMBERS:
        raise BadLine(f"protocol must be TCP, UDP, SCTP or ICMP, got {cells[2]!r}")
    port_text = cells[3] if len(cells) == 4 else ""
    if protocol == "ICMP":
        if port_text:
            raise BadLine(f"ICMP has no port, got {port_text!r}")
        return Flow(number, src, dst, protocol, None)
    if not port_text:
        raise BadLine(f"{protocol} needs dst_port")
    return Flow(number, src, dst, protocol, _port(port_text, protocol))


# --- Hubble ---------------------------------------------------------------------------


def _field(obj: Mapping[str, Any], snake: str, camel: str) -> Any:
    """A member by its protobuf name, else its lowerCamelCase JSON name."""
    value = obj.get(snake)
    return obj.get(camel) if value is None else value


def _is_reply(flow: Mapping[str, Any]) -> bool:
    """``is_reply`` (bare, or Go's ``{"value": ...}``); the deprecated ``reply`` too."""
    value = _field(flow, "is_reply", "isReply")
    if isinstance(value, Mapping):
        value = value.get("value")
    return value is True or flow.get("reply") is True


def _hubble_flow(number: int, text: str) -> Flow | None:
    """One line of a Hubble export (None: a blank line)."""
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        return None
    try:
        record = json.loads(stripped)
    except json.JSONDecodeError as err:
        raise BadLine(f"not JSON: {err.msg} at column {err.colno}") from None
    if not isinstance(record, dict):
        raise BadLine(f"expected a JSON object, got {type(record).__name__}")
    flow = record.get("flow", record)
    if "flow" not in record and any(k in record for k in _OTHER_EVENTS):
        raise Skip("not_a_flow")
    if not isinstance(flow, dict):
        raise BadLine("\"flow\" is not an object")
    kind = flow.get("Type", flow.get("type"))
    if kind in ("L7", 2):
        raise Skip("l7")
    if kind in ("SOCK", 3):
        raise Skip("sock")
    if _is_reply(flow):
        raise Skip("reply")
    return _l3_l4(number, flow)


def _l3_l4(number: int, flow: Mapping[str, Any]) -> Flow:
    """The addresses and the L4 part of a Hubble flow."""
    ip = flow.get("IP", flow.get("ip"))
    if ip is None:
        raise Skip("not_ip")
    if not isinstance(ip, Mapping):
        raise BadLine("\"IP\" is not an object")
    if _field(ip, "ipVersion", "ip_version") == "IPv6":
        raise Skip("ipv6")
    src = _address(ip.get("source"), "IP.source")
    dst = _address(ip.get("destination"), "IP.destination")
    l4 = flow.get("l4")
    if not isinstance(l4, Mapping) or not l4:
        if l4 is not None and not isinstance(l4, Mapping):
            raise BadLine("\"l4\" is not an object")
        raise Skip("other_protocol")
    key = next(iter(l4))
    if key == "ICMPv6":
        raise Skip("ipv6")
    protocol = _L4.get(key)
    if protocol is None:
        raise Skip("other_protocol")
    if protocol == "ICMP":
        return Flow(number, src, dst, protocol, None)
    body = l4[key]
    if not isinstance(body, Mapping):
        raise BadLine(f"\"l4.{key}\" is not an object")
    value = _field(body, "destination_port", "destinationPort")
    if value is None:
        raise BadLine(f"{protocol} flow without l4.{key}.destination_port")
    return Flow(number, src, dst, protocol, _port(value, protocol))
