"""``nft monitor trace`` text read into typed events, and the events of one flow picked out.

Why text: nftables 1.0.6 prints its trace events as text even with ``-j``, so the live
traceflow (:mod:`sdn.dataplane.livetrace`) reads the lines a monitor prints, one monitor per
network namespace. The lines this module understands (``nft monitor`` prints others too,
ruleset changes among them; those are not events)::

    trace id 3ef3839c inet sdn_dfw dfw_out packet: iif "sA" oif "uplink" ... ip ttl 63 ...
    trace id 3ef3839c inet sdn_dfw dfw_out rule ... accept comment "rule 2" (verdict accept)
    trace id 3ef3839c inet sdn_trace c_pre unknown rule handle 5 (verdict continue)
    trace id 3ef3839c inet sdn_trace c_post policy accept
    trace id 3ef3839c inet sdn_dfw port_p1_out verdict continue

A ``packet:`` line opens every base chain's pass and carries the packet as that hook sees it;
the rule, policy and return lines after it (same namespace and trace id, jumped chains
included) belong to that packet. The trace id is *not* the packet's identity: the kernel
gives a routed packet a new id between hooks (measured by the spike), so a flow is told
apart by its fields (:class:`FlowKey`): protocol, source port (ICMP: echo id) and IP id,
the three that routing and NAT leave alone.

Verdict rules follow the naming every table of ours uses (common brief): ``comment "rule
<id>"`` (a DFW rule), ``"spoofguard"``, ``"nat <id>"``, ``"lb <virtual server id>"``,
``"stateful"``; :attr:`TraceEvent.mark` splits such a comment into its kind and its id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Literal

EventKind = Literal["packet", "rule", "policy", "return"]

_HEADER = re.compile(r"trace id (?P<id>[0-9a-f]+) (?P<family>\S+) (?P<table>\S+) "
                     r"(?P<chain>\S+) (?P<rest>.*)")
_VERDICT = re.compile(r"\(verdict (?P<verdict>[a-z]+)(?: (?P<target>[^)\s]+))?\)")
_COMMENT = re.compile(r'comment "(?P<text>(?:[^"\\]|\\.)*)"')
_FIELDS = {
    "iif": re.compile(r'\biif "([^"]*)"'),
    "oif": re.compile(r'\boif "([^"]*)"'),
    "ether_saddr": re.compile(r"\bether saddr (\S+)"),
    "ether_daddr": re.compile(r"\bether daddr (\S+)"),
    "saddr": re.compile(r"\bip saddr (\S+)"),
    "daddr": re.compile(r"\bip daddr (\S+)"),
    "ttl": re.compile(r"\bip ttl (\d+)"),
    "ip_id": re.compile(r"\bip id (\d+)"),
    "icmp_type": re.compile(r"\bicmp type (\S+)"),
    "icmp_id": re.compile(r"\bicmp id (\d+)"),
}
_PORTS = re.compile(r"\b(?P<proto>tcp|udp|sctp) (?P<which>sport|dport) (?P<port>\d+)")


@dataclass(frozen=True, slots=True)
class PacketFields:
    """A packet as one hook saw it: interfaces, addresses, TTL, IP id, protocol and ports
    (None where the line did not say)."""

    iif: str | None = None
    oif: str | None = None
    ether_saddr: str | None = None
    ether_daddr: str | None = None
    saddr: IPv4Address | None = None
    daddr: IPv4Address | None = None
    ttl: int | None = None
    ip_id: int | None = None
    protocol: str | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: str | None = None
    icmp_id: int | None = None

    @classmethod
    def parse(cls, text: str) -> PacketFields:
        """The fields of a ``packet:`` line's body."""
        found = {name: m.group(1) for name, rx in _FIELDS.items() if (m := rx.search(text))}
        ports = {m.group("which"): int(m.group("port")) for m in _PORTS.finditer(text)}
        proto = next((m.group("proto") for m in _PORTS.finditer(text)), None)
        if proto is None and "icmp_type" in found:
            proto = "icmp"
        if proto is None and (m := re.search(r"\bip protocol (\w+)", text)):
            proto = m.group(1)
        return cls(
            iif=found.get("iif"), oif=found.get("oif"),
            ether_saddr=found.get("ether_saddr"), ether_daddr=found.get("ether_daddr"),
            saddr=_ip(found.get("saddr")), daddr=_ip(found.get("daddr")),
            ttl=_int(found.get("ttl")), ip_id=_int(found.get("ip_id")),
            protocol=proto.upper() if proto else None,
            sport=ports.get("sport"), dport=ports.get("dport"),
            icmp_type=found.get("icmp_type"), icmp_id=_int(found.get("icmp_id")))


def _ip(text: str | None) -> IPv4Address | None:
    try:
        return IPv4Address(text) if text is not None else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None else None


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One line of a trace, in the namespace whose monitor printed it.

    ``kind`` is ``packet`` (a base chain's pass begins; ``packet`` holds the fields),
    ``rule`` (a rule matched: ``rule`` is its text, None when the monitor did not know
    the rule, ``verdict``/``target`` what it did, ``comment`` its comment), ``policy`` (a
    base chain ended with its policy, in ``verdict``) or ``return`` (a jumped chain ended).
    """

    netns: str
    trace_id: str
    family: str
    table: str
    chain: str
    kind: EventKind
    packet: PacketFields | None = None
    rule: str | None = None
    verdict: str | None = None
    target: str | None = None
    comment: str | None = None

    @property
    def mark(self) -> tuple[str, str]:
        """The comment as (kind, id): ``"rule 1234"`` -> ("rule", "1234"), ``"spoofguard"``
        -> ("spoofguard", ""); ("", "") without a comment."""
        kind, _, ident = (self.comment or "").strip().partition(" ")
        return kind, ident.strip()

    @property
    def final(self) -> bool:
        """True when the verdict ends the packet's way here (a drop)."""
        return self.verdict == "drop"


def parse_line(netns: str, line: str) -> TraceEvent | None:
    """The event on one monitor line, or None for any other line (ruleset changes, blank
    lines, ``# new generation`` notes)."""
    m = _HEADER.match(line.strip())
    if m is None:
        return None
    head = (netns, m.group("id"), m.group("family"), m.group("table"), m.group("chain"))
    rest = m.group("rest")
    if rest.startswith("packet: "):
        return TraceEvent(*head, kind="packet", packet=PacketFields.parse(rest[8:]))
    if rest.startswith("policy "):
        return TraceEvent(*head, kind="policy", verdict=rest[7:].split()[0])
    if rest.startswith("verdict "):
        return TraceEvent(*head, kind="return", verdict=rest[8:].split()[0])
    verdict = _VERDICT.search(rest)
    if verdict is None:
        return None
    if rest.startswith("unknown rule"):
        return TraceEvent(*head, kind="rule", verdict=verdict.group("verdict"),
                          target=verdict.group("target"))
    if not rest.startswith("rule "):
        return None
    text = rest[5:verdict.start()].rstrip()
    comments = _COMMENT.findall(text)
    return TraceEvent(*head, kind="rule", rule=text, verdict=verdict.group("verdict"),
                      target=verdict.group("target"),
                      comment=comments[-1].replace('\\"', '"') if comments else None)


def parse(netns: str, lines: Iterable[str]) -> list[TraceEvent]:
    """Every event among ``lines`` printed by the monitor of ``netns``, in order."""
    return [e for e in (parse_line(netns, line) for line in lines) if e is not None]


@dataclass(frozen=True, slots=True)
class FlowKey:
    """What identifies one traced packet wherever it is, whatever NAT did to its addresses:
    the protocol, the source port (for ICMP the echo id) and the IP id the sender chose."""

    protocol: str
    sport: int | None
    ip_id: int | None = None

    def matches(self, p: PacketFields) -> bool:
        """True when ``p`` is this flow's packet (fields a line leaves out do not count
        against it, the protocol excepted)."""
        if p.protocol != self.protocol:
            return False
        port = p.icmp_id if self.protocol == "ICMP" else p.sport
        if self.sport is not None and port is not None and port != self.sport:
            return False
        return self.ip_id is None or p.ip_id is None or p.ip_id == self.ip_id


def of_flow(events: Iterable[TraceEvent], key: FlowKey) -> Iterator[TraceEvent]:
    """The events of the packet ``key`` names: each ``packet`` line decides for the lines
    after it with the same namespace and trace id (a line with no packet line before it
    is nobody's)."""
    ours: dict[tuple[str, str], bool] = {}
    for e in events:
        if e.kind == "packet" and e.packet is not None:
            ours[(e.netns, e.trace_id)] = key.matches(e.packet)
        if ours.get((e.netns, e.trace_id), False):
            yield e
