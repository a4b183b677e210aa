"""Every packet class of one pair, from the rules that match the pair, without ports.

Once the rules enforced at the source port (egress) and the destination port (ingress)
are narrowed to those whose sources and destinations hold the pair
(:func:`matching_rules`), what is left to decide a packet is its protocol and destination
port. A rule's services divide each protocol's ports at the ends of their ranges, and
between two such cuts every rule matches all ports or none: so the whole port space is
decided by evaluating one port per interval between the cuts of the rules at hand, the
same first-match walk (``JUMP_TO_APPLICATION`` included) as
:func:`~sdn.policy.evaluator.decide` (:func:`decide_port`), and merging neighbours with
the same outcome. That is exact, and costs the number of cuts, not 65,535 ports.

Assumptions, named: a packet here has no source port (as ``sdn reach``/``explain`` ask
without one), so a service entry that restricts source ports never matches; ports run
1..65535 for TCP, UDP and SCTP (a range reaching 0 is cut at 1); ICMP is one class
(the services compiled from ICMP entries name no type). Protocols other than these four
(an ``IPProtocolServiceEntry`` for GRE, say) are not answered for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sdn.policy.compiler import PROTOCOL_NUMBERS, Endpoint
from sdn.policy.firewall import FirewallRule

#: An inclusive range of destination ports.
PortRange = tuple[int, int]
#: The protocols with ports, and all protocols answered for, in the order answers list them.
PORTED = ("TCP", "UDP", "SCTP")
PROTOCOLS = (*PORTED, "ICMP")
LOWEST, HIGHEST = 1, 65535
EVERY_PORT: tuple[PortRange, ...] = ((LOWEST, HIGHEST),)
#: ICMP has no ports; in allowed sets it is one pseudo-range, so that set arithmetic is
#: the same for every protocol.
NO_PORTS: tuple[PortRange, ...] = ((0, 0),)
#: Per protocol, the allowed ports (ICMP: :data:`NO_PORTS`); nothing allowed: absent.
Allowed = dict[str, tuple[PortRange, ...]]


def merge_ranges(ranges: Iterable[PortRange]) -> tuple[PortRange, ...]:
    """Sorted, disjoint, non-adjacent ranges holding exactly the same numbers (ports here;
    the data plane's address intervals too)."""
    out: list[PortRange] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def subtract_ranges(a: Sequence[PortRange], b: Sequence[PortRange]) -> tuple[PortRange, ...]:
    """The ports of merged ``a`` that are not in merged ``b``."""
    out: list[PortRange] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        while lo <= hi and k < len(b) and b[k][0] <= hi:
            if b[k][0] > lo:
                out.append((lo, b[k][0] - 1))
            lo = max(lo, b[k][1] + 1)
            k += 1
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


def intersect_ranges(a: Sequence[PortRange], b: Sequence[PortRange]) -> tuple[PortRange, ...]:
    """The numbers in both merged ``a`` and merged ``b``."""
    out: list[PortRange] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def matching_rules(rules: Sequence[FirewallRule], src: Endpoint,
                   dst: Endpoint) -> tuple[FirewallRule, ...]:
    """The enabled rules of ``rules`` whose sources and destinations hold ``src`` and
    ``dst`` (exclusion honoured): the only ones that can decide a packet of the pair."""
    out = []
    for r in rules:
        if r.disabled:
            continue
        if r.sources is not None and (
                any(g.contains(src) for g in r.sources) == r.sources_excluded):
            continue
        if r.destinations is not None and (
                any(g.contains(dst) for g in r.destinations) == r.destinations_excluded):
            continue
        out.append(r)
    return tuple(out)


def decide_port(rules: Sequence[FirewallRule], proto: int, port: int | None,
                application_start: int) -> FirewallRule | None:
    """The rule that decides a packet among pair-matching ``rules`` (None: the default
    rule), the walk of :func:`~sdn.policy.evaluator.decide` without membership tests."""
    jump_to = -1
    for rule in rules:
        if rule.order < jump_to:
            continue
        if rule.services is not None and not any(
                s.matches(proto, port, None) for s in rule.services):
            continue
        if rule.action == "JUMP_TO_APPLICATION":
            jump_to = application_start
            continue
        return rule
    return None


def cuts(rules: Iterable[FirewallRule], proto: int) -> list[int]:
    """The first port of every interval over which each of ``rules`` matches all ports of
    ``proto`` or none, sorted, starting at 1."""
    starts = {LOWEST}
    for rule in rules:
        for s in rule.services or ():
            if s.protocol != proto or s.source_ports:
                continue
            for lo, hi in s.ports:
                starts.add(max(lo, LOWEST))
                if hi < HIGHEST:
                    starts.add(hi + 1)
    return sorted(p for p in starts if p <= HIGHEST)


@dataclass(frozen=True)
class Outcome:
    """One class of packets from one source to one destination that the DFW treats
    alike. ``rule`` decides it: for a denied class the rule that drops or rejects it at
    whichever point denies (egress first); for an allowed class the rule that allows it
    at ingress, else at egress; None is the default rule. The classes of a pair partition
    every protocol's whole port space (ICMP: ``ports`` None)."""

    protocol: str
    ports: tuple[PortRange, ...] | None
    allowed: bool
    rule: FirewallRule | None


class PairSpace:
    """Decides the packet classes of pairs from their matching rules, remembering each
    answer by the two rule lists (many pairs share them)."""

    def __init__(self, application_start: int, default_action: str) -> None:
        self.application_start = application_start
        self.default_allows = default_action == "ALLOW"
        self._known: dict[tuple[tuple[int, ...] | None, tuple[int, ...] | None],
                          tuple[Outcome, ...]] = {}
        self._sides: dict[tuple[int, ...], Allowed] = {}

    def classes(self, egress: tuple[FirewallRule, ...] | None,
                ingress: tuple[FirewallRule, ...] | None) -> tuple[Outcome, ...]:
        """The classes of a pair whose matching rules are ``egress`` at the source port
        and ``ingress`` at the destination port (None: no port there, so no check)."""
        key = (None if egress is None else tuple(r.order for r in egress),
               None if ingress is None else tuple(r.order for r in ingress))
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = self._compute(egress, ingress)
        return found

    def allowed(self, egress: tuple[FirewallRule, ...] | None,
                ingress: tuple[FirewallRule, ...] | None) -> Allowed:
        """Per protocol, the ports :meth:`classes` allows for these rule lists (merged;
        ICMP as :data:`NO_PORTS`; a protocol with nothing allowed is absent), without
        the deciding rules: a packet is allowed when its source port's egress allows it
        and its destination port's ingress allows it, each decided on its own rules
        (:meth:`_verdict`), so the answer is the intersection of the two sides' allowed
        sets, each computed once per rule list (many pairs share a side)."""
        out: Allowed = {}
        sides = [self._side(rules) for rules in (egress, ingress) if rules is not None]
        for protocol in PROTOCOLS:
            ports = NO_PORTS if protocol == "ICMP" else EVERY_PORT
            for side in sides:
                ports = intersect_ranges(ports, side.get(protocol, ()))
            if ports:
                out[protocol] = ports
        return out

    def _side(self, rules: tuple[FirewallRule, ...]) -> Allowed:
        """What one enforcement point with these pair-matching rules allows."""
        key = tuple(r.order for r in rules)
        found = self._sides.get(key)
        if found is None:
            found = self._sides[key] = {}
            for protocol in PROTOCOLS:
                proto = PROTOCOL_NUMBERS[protocol]
                if protocol == "ICMP":
                    if self._allows(decide_port(rules, proto, None, self.application_start)):
                        found[protocol] = NO_PORTS
                    continue
                starts = cuts(rules, proto)
                ranges = [(lo, starts[n + 1] - 1 if n + 1 < len(starts) else HIGHEST)
                          for n, lo in enumerate(starts)
                          if self._allows(decide_port(rules, proto, lo,
                                                      self.application_start))]
                if ranges:
                    found[protocol] = merge_ranges(ranges)
        return found

    def _compute(self, egress: tuple[FirewallRule, ...] | None,
                 ingress: tuple[FirewallRule, ...] | None) -> tuple[Outcome, ...]:
        rules = (*(egress or ()), *(ingress or ()))
        out: list[Outcome] = []
        for protocol in PROTOCOLS:
            proto = PROTOCOL_NUMBERS[protocol]
            if protocol == "ICMP":
                allowed, rule = self._verdict(egress, ingress, proto, None)
                out.append(Outcome(protocol, None, allowed, rule))
                continue
            starts = cuts(rules, proto)
            groups: dict[tuple[bool, int], list[PortRange]] = {}
            deciding: dict[tuple[bool, int], FirewallRule | None] = {}
            for n, lo in enumerate(starts):
                hi = starts[n + 1] - 1 if n + 1 < len(starts) else HIGHEST
                allowed, rule = self._verdict(egress, ingress, proto, lo)
                key = (allowed, -1 if rule is None else rule.order)
                deciding[key] = rule
                groups.setdefault(key, []).append((lo, hi))
            out += sorted((Outcome(protocol, merge_ranges(ranges), key[0], deciding[key])
                           for key, ranges in groups.items()),
                          key=lambda c: c.ports or ())
        return tuple(out)

    def _verdict(self, egress: tuple[FirewallRule, ...] | None,
                 ingress: tuple[FirewallRule, ...] | None, proto: int,
                 port: int | None) -> tuple[bool, FirewallRule | None]:
        """Allowed or not, and the deciding rule: a denying rule at egress first, then at
        ingress; for an allowed packet the rule at ingress, else at egress."""
        rule: FirewallRule | None = None
        if egress is not None:
            rule = decide_port(egress, proto, port, self.application_start)
            if not self._allows(rule):
                return False, rule
        if ingress is not None:
            rule = decide_port(ingress, proto, port, self.application_start)
            if not self._allows(rule):
                return False, rule
        return True, rule

    def _allows(self, rule: FirewallRule | None) -> bool:
        return self.default_allows if rule is None else rule.action == "ALLOW"
