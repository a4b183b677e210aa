"""The distributed firewall as NSX orders it, as JSON for the web page: categories in
evaluation order, each with its policies (by sequence number), each with its rules (by
sequence number), NSX's default section last (:func:`~sdn.policy.compiler.policy_order`,
the order the compiler evaluates in, so the page lists rules the way traceflow meets them).

Two searches narrow it:

* ``pod``: the rules the DFW enforces at that pod's port (its egress and ingress rule
  lists, ANY-scoped rules included: exactly what a traceflow from or to it evaluates), each
  marked with how the pod takes part (``applied``; ``source`` and/or ``destination`` when
  the pod is a member of a named group on that side). Choice: rules elsewhere that merely
  name the pod in a group (enforced at another port) are found by the other pod's search or
  by a group search, not here; listing them would need every rule's members evaluated.
* ``group``: the rules naming a group whose id contains the text (case-insensitive), in
  sources, destinations or applied-to, each marked with the sides it is on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sdn.model import ANY, CATEGORY_ORDER, Inventory, Rule, SecurityPolicy
from sdn.policy import Endpoint
from sdn.policy.compiler import policy_order, rule_order
from sdn.policy.firewall import Firewall

#: How a rule takes part in a search: rule path -> the marks (``applied``, ``source``,
#: ``destination``, ``scope``).
Marks = dict[str, list[str]]


def _rule(r: Rule, marks: Sequence[str]) -> dict[str, Any]:
    return {"path": r.path, "id": r.id, "display_name": r.display_name or r.id,
            "rule_id": r.rule_id, "sequence_number": r.sequence_number, "action": r.action,
            "direction": r.direction, "source_groups": list(r.source_groups),
            "destination_groups": list(r.destination_groups),
            "sources_excluded": r.sources_excluded,
            "destinations_excluded": r.destinations_excluded,
            "services": list(r.services), "scope": list(r.scope), "disabled": r.disabled,
            "matches": list(marks)}


def pod_marks(dfw: Firewall, ep: Endpoint) -> Marks:
    """The rules enforced at ``ep`` (both directions), each marked ``applied`` and, when
    the pod is in a named group of that side, ``source`` / ``destination``."""
    marks: Marks = {}
    if ep.index is None:
        return marks
    for direction in ("OUT", "IN"):
        for rule in dfw.candidates(ep.index, direction):
            found = marks.setdefault(rule.path, ["applied"])
            for side, members in (("source", rule.sources), ("destination", rule.destinations)):
                if members is not None and side not in found \
                        and any(m.contains(ep) for m in members):
                    found.append(side)
    return marks


def group_marks(policies: Iterable[SecurityPolicy], text: str) -> Marks:
    """The rules naming a group whose id contains ``text`` (case-insensitive), marked with
    the sides naming it (``source``, ``destination``, ``scope``: the rule's or its
    policy's applied-to)."""
    needle = text.lower()

    def names(paths: Sequence[str]) -> bool:
        return any(p != ANY and needle in p.rsplit("/", 1)[-1].lower() for p in paths)

    marks: Marks = {}
    for policy in policies:
        for r in policy.rules:
            sides = [side for side, paths in (
                ("source", r.source_groups), ("destination", r.destination_groups),
                ("scope", (*r.scope, *policy.scope))) if names(paths)]
            if sides:
                marks[r.path] = sides
    return marks


def dfw_json(inv: Inventory, marks: Marks | None = None) -> dict[str, Any]:
    """``{"categories": [{"category", "policies": [{"path", "id", "display_name",
    "sequence_number", "scope", "rules": [...]}]}], "rule_count"}``; with ``marks`` (a
    search) only the marked rules and the policies holding them."""
    by_category: dict[str, list[dict[str, Any]]] = {c: [] for c in CATEGORY_ORDER}
    count = 0
    for policy in sorted(inv.of_type(SecurityPolicy), key=policy_order):
        rules = [_rule(r, marks.get(r.path, []) if marks is not None else [])
                 for r in sorted(policy.rules, key=rule_order)
                 if marks is None or r.path in marks]
        if marks is not None and not rules:
            continue
        count += len(rules)
        by_category[policy.category].append({
            "path": policy.path, "id": policy.id,
            "display_name": policy.display_name or policy.id,
            "sequence_number": policy.sequence_number, "scope": list(policy.scope),
            "rules": rules})
    return {"categories": [{"category": c, "policies": p} for c, p in by_category.items()],
            "rule_count": count}
