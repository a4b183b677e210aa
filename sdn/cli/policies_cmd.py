"""``sdn policies --pod NS/POD``: every rule enforced at a pod's port, in the order the
firewall evaluates them, and the groups that put each one there.

Why: "which policies select this pod" is the question users of every Kubernetes network
plugin ask first (Antrea's ``antctl get networkpolicy -p``, Calico's and Cilium's policy
selectors); in NSX the answer is spread over groups, applied-to scopes and rules. Here it
is what the evaluator itself sees (:meth:`~sdn.policy.firewall.Firewall.candidates`):

* ``out`` (egress, at the pod's port as the source: rules of direction ``OUT`` or
  ``IN_OUT``) and ``in`` (ingress, as the destination: ``IN`` or ``IN_OUT``); both by
  default, egress first, each in evaluation order (category, then the policy's sequence
  number, then the rule's; ties by path, as the compiler orders them);
* for each rule: the applied-to groups holding the pod (``null``: applied everywhere),
  the groups of the pod's own side of the flow (destinations at ingress, sources at
  egress) that hold it, and ``can_match``: false when that side leaves the pod out (the
  rule is enforced at the port but never matches its traffic in that direction);
* for each group, why it holds the pod (:mod:`sdn.policy.selection`: the label, the
  namespace tag, the CIDR; ``null`` when the reason is not one read here);
* the default rule last: NSX's default section when the state has one (it is among the
  rules), else the ``--default-action``.

JSON (``-o json``): ``{"pod", "port_path", "ip", "directions", "rules": [{"point",
"position", "category", "security_policy", "policy_sequence", "rule", "rule_id",
"sequence_number", "action", "direction", "disabled", "applied_to": [{"group", "why"}] |
null, "selected_by": {"side", "any", "excluded", "groups": [{"group", "why"}]},
"can_match", "peers": [paths] | null, "peers_excluded", "services": [text] | null}],
"default_action"}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sdn.cli.questions import answers, load_context
from sdn.errors import SdnError
from sdn.model import ANY, Group, Rule, SecurityPolicy, Segment, SegmentPort
from sdn.policy.compiler import PROTOCOL_NUMBERS, Endpoint, Service
from sdn.policy.firewall import FirewallRule, MemberSet
from sdn.policy.selection import PortFacts, Reasons
from sdn.query.groupindex import GroupIndex
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.traceflow import TraceContext

#: ``--direction`` to the points and rule directions the evaluator uses.
POINTS = {"out": [("egress", "OUT")], "in": [("ingress", "IN")],
          "both": [("egress", "OUT"), ("ingress", "IN")]}
_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items()}


def pod_endpoint(ctx: TraceContext, text: str, cluster: str | None
                 ) -> tuple[SegmentPort, Endpoint]:
    """The pod's port (``UNKNOWN_POD``, ``AMBIGUOUS_POD``, ``UNKNOWN_CLUSTER`` as for
    ``explain``) and its firewall endpoint (``NO_ADDRESS`` when it has none)."""
    port = ctx.port_by_name(text, cluster)
    ep = ctx.dfw.endpoints_of([port.path]).get(port.path)
    if ep is None or ep.index is None:
        raise SdnError(f"the port of {text} has no address, so no rule applies to it",
                       code="NO_ADDRESS", obj=text)
    return port, ep


def reasons_for(ctx: TraceContext, port: SegmentPort, ep: Endpoint) -> Reasons:
    """Why each group holds this port (read from the inventory, group by group)."""
    segment = ctx.inventory.get(port.parent_path)
    seg_tags = frozenset((t.scope, t.tag) for t in segment.tags) \
        if isinstance(segment, Segment) else frozenset()
    facts = PortFacts(tags=frozenset((t.scope, t.tag) for t in port.tags),
                      segment_tags=seg_tags, ip=ep.ip, path=port.path,
                      segment_path=port.parent_path)

    def group(path: str) -> Group | None:
        found = ctx.inventory.get(path)
        return found if isinstance(found, Group) else None

    return Reasons(facts, group)


def services_text(services: tuple[Service, ...] | None) -> list[str] | None:
    """``TCP/80-90,443``, ``ICMP``, ``IP/47`` per entry; None for ANY."""
    if services is None:
        return None
    out = []
    for s in services:
        name = _NAMES.get(s.protocol)
        text = name if name is not None else f"IP/{s.protocol}"
        if s.ports:
            text += "/" + ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in s.ports)
        if s.source_ports:
            text += " from " + ",".join(str(lo) if lo == hi else f"{lo}-{hi}"
                                        for lo, hi in s.source_ports)
        out.append(text)
    return out


class _Source:
    """The rules' policies and the pod's group memberships, each read once."""

    def __init__(self, ctx: TraceContext, ep: Endpoint, reasons: Reasons) -> None:
        self.ctx = ctx
        self.ep = ep
        self.reasons = reasons
        self.groups = GroupIndex(ctx.dfw)
        assert ep.index is not None
        self.classes = ctx.dfw.classes_of(ep.index)
        self._held: dict[str, bool] = {}
        self._policies: dict[str, tuple[SecurityPolicy | None, dict[str, Rule]]] = {}

    def holds(self, paths: tuple[str, ...]) -> list[str]:
        """Those of ``paths`` whose group holds the pod (each group read once)."""
        missing = [p for p in paths if p not in self._held]
        if missing:
            found = self.groups.sets(missing)
            for p in missing:
                self._held[p] = p in found and found[p].number in self.classes
        return [p for p in paths if self._held[p]]

    def group(self, path: str) -> dict[str, Any]:
        return {"group": path, "why": self.reasons.why(path)}

    def policy(self, path: str) -> tuple[SecurityPolicy | None, dict[str, Rule]]:
        if path not in self._policies:
            found = self.ctx.inventory.get(path)
            policy = found if isinstance(found, SecurityPolicy) else None
            self._policies[path] = (policy, {r.path: r for r in policy.rules} if policy
                                    else {})
        return self._policies[path]

    def rule(self, point: str, position: int, r: FirewallRule) -> dict[str, Any]:
        policy, rules = self.policy(r.policy_path)
        nsx_rule = rules.get(r.path)
        scope: tuple[str, ...] = ()
        if nsx_rule is not None and nsx_rule.scope and ANY not in nsx_rule.scope:
            scope = nsx_rule.scope
        elif policy is not None and ANY not in policy.scope:
            scope = policy.scope
        own, peers = (r.destinations, r.sources) if point == "ingress" \
            else (r.sources, r.destinations)
        excluded = r.destinations_excluded if point == "ingress" else r.sources_excluded
        holding = [g for g in own or () if g.contains(self.ep)]
        return {
            "point": point, "position": position, "category": r.category,
            "security_policy": r.policy_path,
            "policy_sequence": policy.sequence_number if policy is not None else None,
            "rule": r.path, "rule_id": r.rule_id,
            "sequence_number": nsx_rule.sequence_number if nsx_rule is not None else None,
            "action": r.action, "direction": r.direction, "disabled": r.disabled,
            "applied_to": [self.group(p) for p in self.holds(scope)] if scope else None,
            "selected_by": {"side": "destinations" if point == "ingress" else "sources",
                            "any": own is None, "excluded": excluded,
                            "groups": [self.group(g.path) for g in holding]},
            "can_match": own is None or bool(holding) != excluded,
            "peers": _paths(peers),
            "peers_excluded": r.sources_excluded if point == "ingress"
            else r.destinations_excluded,
            "services": services_text(r.services),
        }


def _paths(groups: Sequence[MemberSet] | None) -> list[str] | None:
    return None if groups is None else [g.path for g in groups]


@answers
def run(args: argparse.Namespace) -> int:
    """Print the rules enforced at the pod (see the module's doc)."""
    ctx = load_context(args)
    port, ep = pod_endpoint(ctx, args.pod, args.cluster)
    assert ep.index is not None
    source = _Source(ctx, ep, reasons_for(ctx, port, ep))
    rules = [source.rule(point, position, r)
             for point, direction in POINTS[args.direction]
             for position, r in enumerate(ctx.dfw.candidates(ep.index, direction), start=1)]
    data = {"pod": args.pod, "port_path": port.path, "ip": str(ep.ip),
            "directions": [point for point, _ in POINTS[args.direction]], "rules": rules,
            "default_action": ctx.dfw.default_action}
    if args.output in STRUCTURED:
        print_data(data, args.output)
        return 0
    _print(data)
    return 0


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _via(rule: dict[str, Any]) -> str:
    """How the rule came to the pod, in a few words: applied-to and own-side groups."""
    applied = "applied everywhere" if rule["applied_to"] is None else \
        "applied to " + ", ".join(_short(g["group"]) for g in rule["applied_to"])
    sel = rule["selected_by"]
    side = "dst" if sel["side"] == "destinations" else "src"
    names = ", ".join(_short(g["group"]) for g in sel["groups"])
    if sel["any"]:
        mine = f"{side} ANY"
    elif sel["excluded"]:
        mine = f"{side} excludes {names}" if names else f"{side} all but its groups"
    else:
        mine = f"{side} {names}" if names else f"{side} leaves it out"
    text = f"{applied}; {mine}"
    return text if rule["can_match"] else text + " (never matches here)"


def _print(data: dict[str, Any]) -> None:
    rows = [[f"{r['point'][:3]} {r['position']}", r["category"],
             f"{_short(r['security_policy'])} / {_short(r['rule'])}",
             r["action"] + (" (disabled)" if r["disabled"] else ""), _via(r)]
            for r in data["rules"]]
    counts = ", ".join(f"{sum(r['point'] == p for r in data['rules'])} {p}"
                       for p in data["directions"])
    print_table(["#", "CATEGORY", "POLICY / RULE", "ACTION", "VIA"], rows,
                title=f"rules at {data['pod']} ({data['ip']}), in evaluation order: {counts}")
    groups: dict[str, str | None] = {}
    for r in data["rules"]:
        for g in [*(r["applied_to"] or ()), *r["selected_by"]["groups"]]:
            groups.setdefault(g["group"], g["why"])
    if groups:
        print()
        print_table(["GROUP", "HOLDS THE POD BECAUSE"],
                    [[_short(p), why or "member (reason not shown)"]
                     for p, why in sorted(groups.items())], title="groups")
    print(f"\nthen the default rule: {data['default_action']} (unless a rule above decides)")
