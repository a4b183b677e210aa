"""Evaluate one flow against a compiled DFW, as NSX enforces it.

The DFW runs on every port: a packet is checked leaving the source port (rules with
direction OUT or IN_OUT applied there) and arriving at the destination port (IN or
IN_OUT). At each point rules are taken in compiled order and the first that matches
decides; ``JUMP_TO_APPLICATION`` skips to the first Application-category rule; when none
matches, the default rule decides. The flow passes when both points allow it. An address
outside the inventory has no port and so no enforcement point of its own.

Connections are stateful: the reply of an allowed connection is allowed without being
evaluated, so only the initiating direction is evaluated here.

With ``explain=True`` each decision carries the trail of every rule enforced at that
point up to the deciding one, and why each did not match: this is what ``sdn explain``
prints, and ``sdn reach`` runs the same function, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sdn.policy.compiler import PROTOCOL_NUMBERS, Endpoint
from sdn.policy.firewall import Firewall, FirewallRule


@dataclass(frozen=True)
class Consideration:
    """One rule looked at during a decision, and why it did or did not match."""

    rule: FirewallRule
    matched: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    """The outcome at one enforcement point."""

    point: str  # "egress" (at the source port) or "ingress" (at the destination port)
    port_path: str
    action: str
    rule: FirewallRule | None  # None: the built-in default rule
    trail: tuple[Consideration, ...] = ()

    @property
    def allowed(self) -> bool:
        """ALLOW lets the packet pass; DROP and REJECT do not."""
        return self.action == "ALLOW"


@dataclass(frozen=True)
class FlowVerdict:
    """Both decisions of one flow."""

    src: Endpoint
    dst: Endpoint
    protocol: str
    port: int | None
    egress: Decision | None
    ingress: Decision | None

    @property
    def allowed(self) -> bool:
        """Allowed when every enforcement point on the way allows it."""
        return all(d.allowed for d in (self.egress, self.ingress) if d is not None)

    @property
    def deciding(self) -> Decision | None:
        """The decision that dropped the flow, else the last one that allowed it."""
        for d in (self.egress, self.ingress):
            if d is not None and not d.allowed:
                return d
        return self.ingress or self.egress


def _why_not(rule: FirewallRule, src: Endpoint, dst: Endpoint, proto: int, dport: int | None,
             sport: int | None) -> str | None:
    """None when the rule matches the flow, else the reason it does not."""
    if rule.sources is not None:
        inside = any(g.contains(src) for g in rule.sources)
        if inside == rule.sources_excluded:
            names = ", ".join(g.path.rsplit("/", 1)[-1] for g in rule.sources)
            return f"source {src.name or src.ip} {'in' if inside else 'not in'} {names}"
    if rule.destinations is not None:
        inside = any(g.contains(dst) for g in rule.destinations)
        if inside == rule.destinations_excluded:
            names = ", ".join(g.path.rsplit("/", 1)[-1] for g in rule.destinations)
            return f"destination {dst.name or dst.ip} {'in' if inside else 'not in'} {names}"
    if rule.services is not None and not any(s.matches(proto, dport, sport)
                                             for s in rule.services):
        return "service does not match " + _service_text(proto, dport)
    return None


def _service_text(proto: int, dport: int | None) -> str:
    name = next((k for k, v in PROTOCOL_NUMBERS.items() if v == proto), str(proto))
    return f"{name}/{dport}" if dport is not None else name


def candidates(dfw: Firewall, index: int, direction: str) -> Sequence[FirewallRule]:
    """The rules enforced at one port in one direction, in order."""
    return dfw.candidates(index, direction)


def decide(dfw: Firewall, rules: Sequence[FirewallRule], *, point: str, at: Endpoint,
           src: Endpoint, dst: Endpoint, proto: int, dport: int | None, sport: int | None,
           explain: bool = False, direction: str | None = None) -> Decision:
    """First match over ``rules`` (the candidates at ``at``); see the module docstring.

    With ``direction`` (``IN``/``OUT``), rules of the other direction in ``rules`` are
    skipped (and, with ``explain``, listed as such); without it ``rules`` are taken as
    already filtered.
    """
    trail: list[Consideration] = []
    jump_to = -1
    for rule in rules:
        if direction is not None and rule.direction not in (direction, "IN_OUT"):
            if explain:
                trail.append(Consideration(rule, False, f"direction {rule.direction}: not "
                                                        f"enforced at {point}"))
            continue
        if rule.order < jump_to:
            if explain:
                trail.append(Consideration(rule, False, "skipped by JUMP_TO_APPLICATION"))
            continue
        if rule.disabled:
            if explain:
                trail.append(Consideration(rule, False, "disabled"))
            continue
        reason = _why_not(rule, src, dst, proto, dport, sport)
        if reason is not None:
            if explain:
                trail.append(Consideration(rule, False, reason))
            continue
        if explain:
            trail.append(Consideration(rule, True, "matched"))
        if rule.action == "JUMP_TO_APPLICATION":
            jump_to = dfw.application_start
            continue
        return Decision(point, at.path, rule.action, rule, tuple(trail))
    return Decision(point, at.path, dfw.default_action, None, tuple(trail))


def evaluate_flow(dfw: Firewall, src: Endpoint, dst: Endpoint, *, protocol: str = "TCP",
                  port: int | None = None, source_port: int | None = None,
                  explain: bool = False) -> FlowVerdict:
    """Decide a flow at its source port (egress) and destination port (ingress).

    Examples:
        >>> from sdn.model import Inventory
        >>> from sdn.policy.compiler import compile_dfw
        >>> from ipaddress import IPv4Address
        >>> dfw = compile_dfw(Inventory([]))
        >>> outside = Endpoint(ip=IPv4Address("192.0.2.1"))
        >>> evaluate_flow(dfw, outside, outside, port=80).allowed
        True
    """
    proto = PROTOCOL_NUMBERS[protocol.upper()]
    egress = ingress = None

    def rules_at(index: int, direction: str) -> Sequence[FirewallRule]:
        if not explain:
            return candidates(dfw, index, direction)
        # For explain: also the rules applied here for the other direction, so that the
        # trail says why they did not match (they are skipped by direction).
        other = "IN" if direction == "OUT" else "OUT"
        merged = {r.order: r for r in (*candidates(dfw, index, direction),
                                       *candidates(dfw, index, other))}
        return [merged[o] for o in sorted(merged)]

    if src.index is not None:
        egress = decide(dfw, rules_at(src.index, "OUT"), point="egress", at=src,
                        src=src, dst=dst, proto=proto, dport=port, sport=source_port,
                        explain=explain, direction="OUT")
    if dst.index is not None:
        ingress = decide(dfw, rules_at(dst.index, "IN"), point="ingress", at=dst,
                         src=src, dst=dst, proto=proto, dport=port, sport=source_port,
                         explain=explain, direction="IN")
    return FlowVerdict(src, dst, protocol.upper(), port, egress, ingress)
