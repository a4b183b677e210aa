"""``EMPTY_GROUP`` and ``UNUSED_GROUP``: groups that match nothing, or that nothing uses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sdn.model import ANY, Group, Inventory, NestedExpression, PathExpression, SecurityPolicy
from sdn.policy.compiler import CompiledDfw
from sdn.policy.lint.findings import EMPTY_GROUP, INFO, UNUSED_GROUP, WARNING, Finding
from sdn.policy.lint.values import side_is_empty


def expression_paths(items: Iterable[object]) -> Iterable[str]:
    for item in items:
        if isinstance(item, PathExpression):
            yield from item.paths
        elif isinstance(item, NestedExpression):
            yield from expression_paths(item.expressions)


def group_users(inv: Inventory) -> dict[str, set[str]]:
    """Group path -> paths of the objects (rules, policies, groups, ...) referencing it."""
    users: dict[str, set[str]] = defaultdict(set)
    for obj in inv.values():  # all at once: a lazy inventory parses kind by kind
        if isinstance(obj, SecurityPolicy):
            for p in obj.scope:
                if p != ANY:
                    users[p].add(obj.path)
            for rule in obj.rules:
                for p in (*rule.source_groups, *rule.destination_groups, *rule.scope):
                    if p != ANY:
                        users[p].add(rule.path)
        elif isinstance(obj, Group):
            for p in expression_paths(obj.expression):
                if p != obj.path:
                    users[p].add(obj.path)
        else:
            for p in obj.references().values():
                users[p].add(obj.path)
    return users


def group_findings(dfw: CompiledDfw, inv: Inventory) -> list[Finding]:
    """``EMPTY_GROUP`` and ``UNUSED_GROUP``: see :mod:`sdn.policy.lint`."""
    users = group_users(inv)
    findings = []
    for g in inv.of_type(Group):
        used = sorted(users.get(g.path, ()))
        members = dfw.groups.get(g.path)
        if members is not None and side_is_empty(members):
            if used:
                shown = ", ".join(used[:3]) + (f" and {len(used) - 3} more" if len(used) > 3
                                               else "")
                msg = f"no member endpoints and no addresses; used by {shown}"
            else:
                msg = "no member endpoints and no addresses; nothing uses it"
            findings.append(Finding(EMPTY_GROUP, WARNING if used else INFO, g.path, msg,
                                    related=tuple(used)))
        if not used:
            findings.append(Finding(UNUSED_GROUP, INFO, g.path,
                                    "no rule, security-policy scope, group or other object "
                                    "references it"))
    return findings
