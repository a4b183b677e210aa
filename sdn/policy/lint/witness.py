"""Witness packets: one concrete flow that proves a ``SHADOWED_RULE`` or a
``CONFLICTING_SAME_PRIORITY`` finding.

Why: "rule B is shadowed by rule A" is a claim about sets of flows a reader cannot check
by eye once groups, CIDRs with holes and port ranges are involved. A witness is one flow
(source, destination, protocol, port, and the enforcement point where it is judged) that
the reader can replay with ``sdn explain``: for a shadowed rule, a flow the shadowed rule
matches, which the shadowing rule matches too and so decides first; for a conflict, a
flow both rules match, with their different actions.

How one is chosen (only what the rules themselves say, then checked by evaluation):

* the enforcement point: a port the later rule is applied at that can be the flow's own
  end there (the destination for ``IN``, the source for ``OUT``);
* the other end: a pod of that side other than the point's own (a port's traffic to
  itself never reaches the DFW), else an address of the side's CIDRs that belongs to no
  port (an address of a port *is* that port: it is never judged as outside);
* the service: the first protocol the rules share, and the lowest port both match (a
  source port too when a service entry asks for one).

Among a few such flows, the first the firewall's own evaluation
(:func:`~sdn.policy.evaluator.decide`) decides by the earlier rule is taken; when some
still earlier rule decides every one of them, the first is kept and ``decided_by`` names
the rule that does. A rule whose protocol the evaluator cannot name (an IP protocol
number other than ICMP, TCP, UDP, SCTP) gets no witness.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from itertools import islice

from sdn.policy.compiler import PROTOCOL_NUMBERS, CompiledDfw, Endpoint, Service
from sdn.policy.evaluator import decide
from sdn.policy.lint.values import Addresses, Members, Peers, Ranges
from sdn.policy.portspace import intersect_ranges as intersect
from sdn.policy.portspace import merge_ranges as merge

#: How many candidate flows are evaluated per finding before the first is kept.
TRIES = 8
#: How many pods of a side are tried as the other end of a flow.
_PODS_TRIED = 3
#: Where an address for an ANY side outside the inventory is looked for first
#: (TEST-NET-3, RFC 5737: an address no real network uses).
_OUTSIDE_START = int(IPv4Address("203.0.113.10"))
_PROTOCOL_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items()}


@dataclass(frozen=True)
class Witness:
    """One flow proving a finding, judged at ``point`` (``ingress`` at the destination's
    port, ``egress`` at the source's). ``src``/``dst`` are the ports' names (``NS/POD``
    for a pod), or the address for an end outside the inventory; ``dst_port`` is None
    for ICMP, ``src_port`` None unless a rule asks for one. ``decided_by`` is the rule
    the evaluation decides the flow by at that point (None: the default rule)."""

    point: str
    src: str
    dst: str
    src_ip: str
    dst_ip: str
    protocol: str
    dst_port: int | None
    src_port: int | None
    decided_by: str | None

    def as_json(self) -> dict[str, object]:
        """The witness as ``sdn lint -o json`` prints it."""
        return {"point": self.point, "src": self.src, "dst": self.dst, "src_ip": self.src_ip,
                "dst_ip": self.dst_ip, "protocol": self.protocol, "dst_port": self.dst_port,
                "src_port": self.src_port, "decided_by": self.decided_by}


def _term_ranges(peers: Peers) -> Iterator[Ranges]:
    """Each outside-address term of a side as the addresses matching all its criteria."""
    for term in peers.outside:
        ranges = term[0]
        for crit in term[1:]:
            ranges = intersect(ranges, crit)
        if ranges:
            yield ranges


def _outside_address(sides: Sequence[Peers | None], free: Addresses) -> int | None:
    """An address of no port that every side matches (ANY matches all)."""
    wanted: Ranges | None = None
    for peers in sides:
        if peers is None:
            continue
        mine = tuple(merge(r for ranges in _term_ranges(peers) for r in ranges))
        wanted = mine if wanted is None else intersect(wanted, mine)
    if wanted is None:
        wanted = ((_OUTSIDE_START, 0xFFFFFFFF), (0, _OUTSIDE_START - 1))
    return free.first_free(wanted)


def _other_ends(dfw: CompiledDfw, sides: Sequence[Peers | None], point: int,
                free: Addresses) -> list[Endpoint]:
    """A few other ends every side matches: pods first, then one outside address."""
    every: Members | None = None
    for peers in sides:
        if peers is not None:
            every = peers.endpoints if every is None else every & peers.endpoints
    pods = range(len(dfw.endpoints)) if every is None else every
    out = [dfw.endpoints[i] for i in islice((i for i in pods if i != point), _PODS_TRIED)]
    address = _outside_address(sides, free)
    if address is not None:
        out.append(Endpoint(ip=IPv4Address(address)))
    return out


def _services(a: tuple[Service, ...] | None, b: tuple[Service, ...] | None
              ) -> list[tuple[int, int | None, int | None]]:
    """(protocol, destination port, source port) both service lists match, a few."""
    if a is None and b is None:
        return [(PROTOCOL_NUMBERS["TCP"], 80, None)]
    out = []
    for sa in a if a is not None else (None,):
        for sb in b if b is not None else (None,):
            found = _shared(sa, sb)
            if found is not None:
                out.append(found)
    return out


#: No port both range lists share.
_NONE_SHARED = -1


def _lowest(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...],
            default: int | None) -> int | None:
    """The lowest port in both range lists (an empty list: any port, ``default`` when
    both are), else :data:`_NONE_SHARED`."""
    if not a and not b:
        return default
    ranges = intersect(tuple(merge(a)), tuple(merge(b))) if a and b else tuple(merge(a or b))
    return ranges[0][0] if ranges else _NONE_SHARED


def _shared(sa: Service | None, sb: Service | None) -> tuple[int, int | None, int | None] | None:
    """One (protocol, port, source port) both entries match (None stands for ANY)."""
    proto = sa.protocol if sa is not None else sb.protocol if sb is not None else None
    if proto is None or proto not in _PROTOCOL_NAMES \
            or (sa is not None and sb is not None and sa.protocol != sb.protocol):
        return None
    if _PROTOCOL_NAMES[proto] == "ICMP":
        return (proto, None, None)
    empty: tuple[tuple[int, int], ...] = ()
    port = _lowest(sa.ports if sa else empty, sb.ports if sb else empty, 80)
    sport = _lowest(sa.source_ports if sa else empty, sb.source_ports if sb else empty, None)
    if port == _NONE_SHARED or sport == _NONE_SHARED:
        return None
    return (proto, port, sport)


@dataclass(frozen=True)
class Pair:
    """Two rules a witness must show together: ``first`` evaluated before ``second``."""

    first_order: int
    second_order: int
    dirs: frozenset[str]
    at: Members
    src: tuple[Peers | None, Peers | None]
    dst: tuple[Peers | None, Peers | None]
    services: tuple[tuple[Service, ...] | None, tuple[Service, ...] | None]


def witness(dfw: CompiledDfw, pair: Pair, free: Addresses) -> Witness | None:
    """A flow both rules of ``pair`` match at one port where both are enforced, decided
    there (preferably) by the first: see the module's doc. None when no flow could be
    built (a protocol the evaluator cannot name)."""
    services = _services(*pair.services)
    if not services:
        return None
    tried: list[tuple[str, Endpoint, Endpoint, Endpoint]] = []
    for direction in sorted(pair.dirs):
        here, there = (pair.dst, pair.src) if direction == "IN" else (pair.src, pair.dst)
        points = pair.at
        for peers in here:
            if peers is not None:
                points = points & peers.endpoints
        for point in islice(points, _PODS_TRIED):
            at = dfw.endpoints[point]
            for other in _other_ends(dfw, there, point, free):
                src, dst = (other, at) if direction == "IN" else (at, other)
                tried.append((direction, at, src, dst))
    first: Witness | None = None
    for direction, at, src, dst in islice(tried, TRIES):
        for proto, port, sport in services[:2]:
            found = _judged(dfw, direction, at, src, dst, proto, port, sport)
            if found is None:
                continue
            if found[1] == pair.first_order:
                return found[0]
            first = first or found[0]
    return first


def _judged(dfw: CompiledDfw, direction: str, at: Endpoint, src: Endpoint, dst: Endpoint,
            proto: int, port: int | None, sport: int | None) -> tuple[Witness, int] | None:
    """The witness of one candidate flow and the order of the rule deciding it (-1: the
    default rule)."""
    assert at.index is not None
    point = "ingress" if direction == "IN" else "egress"
    decision = decide(dfw, dfw.candidates(at.index, direction), point=point, at=at, src=src,
                      dst=dst, proto=proto, dport=port, sport=sport)
    rule = decision.rule
    return (Witness(point=point, src=src.name or str(src.ip), dst=dst.name or str(dst.ip),
                    src_ip=str(src.ip), dst_ip=str(dst.ip), protocol=_PROTOCOL_NAMES[proto],
                    dst_port=port, src_port=sport,
                    decided_by=rule.path if rule is not None else None),
            rule.order if rule is not None else -1)
