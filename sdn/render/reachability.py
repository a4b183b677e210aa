"""A dry run's reachability section as text: the flows a change would gain and lose.

Flows are grouped by what happens to them and the rule that now decides it, named by its
policy and rule ids (the JSON carries the whole path; "default rule" when no rule matches
any more); then one line per flow, protocol and ports, source and destination, so that it
reads in an 80-column terminal and greps well. All ports of a protocol read ``all``.
"""

from __future__ import annotations

from sdn.policy.connectivity import FlowChange
from sdn.policy.whatif import WhatIf

#: Every port of a port-carrying protocol.
_ALL_PORTS = ((1, 65535),)


def port_text(ports: tuple[tuple[int, int], ...] | None) -> str:
    """``80``, ``80-90,443``, ``all`` (every port); empty for ICMP (no ports)."""
    if ports is None:
        return ""
    if tuple(ports) == _ALL_PORTS:
        return "all"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def rule_text(path: str | None) -> str:
    """A rule path as ``POLICY/RULE`` (its last two ids), or ``default rule``."""
    if path is None:
        return "default rule"
    parts = path.rstrip("/").split("/")
    return "/".join(p for p in (parts[-3], parts[-1]) if p) if len(parts) >= 3 else path


def reachability_lines(whatif: WhatIf) -> list[str]:
    """The section: a heading with the counts, then the lost flows under the rule that
    now denies them, then the gained ones under the rule that now allows them."""
    if whatif.too_many:
        return [f"reachability: not compared: the change can affect {whatif.too_many:,} "
                "pairs of endpoints", "  (ask `sdn connectivity` once it is written)"]
    if not whatif.gained and not whatif.lost:
        return ["reachability: no flow would be gained or lost"]
    lines = [f"reachability that would change: {len(whatif.gained)} flow(s) gained, "
             f"{len(whatif.lost)} lost"]
    for verb, how, flows in (("lost", "denied", whatif.lost),
                             ("gained", "allowed", whatif.gained)):
        by_rule: dict[str | None, list[FlowChange]] = {}
        for flow in flows:
            by_rule.setdefault(flow.rule, []).append(flow)
        for rule, group in by_rule.items():
            lines += [f"{verb}, now {how} by", f"  {rule_text(rule)}:"]
            lines += [_line(f) for f in group]
    return lines


def _line(flow: FlowChange) -> str:
    service = f"{flow.protocol} {port_text(flow.ports)}".rstrip()
    return f"    {service:<12} {flow.src} -> {flow.dst}"
