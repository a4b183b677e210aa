"""What ``sdn apply`` / ``sdn delete`` would change: computed once, then either printed
(``--dry-run``) or written and printed.

The real command and its dry run share this computation, so a dry run says exactly what
the real run does. The plan is pure: the current inventory and the file's objects in,
the changes (or the problems that refuse them) out.

Seam for later: DESIGN.md's what-if adds ``"reachability": {"gained", "lost"}`` to a dry
run; :func:`plan_json` is where it joins, computed from ``Plan.before`` and
``Plan.after`` (not built yet, so the key is absent).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sdn.errors import Problem
from sdn.model import Inventory, PolicyResource
from sdn.model.checks import validate_inventory

#: Actions in the order a plan lists them.
ACTIONS = ("create", "update", "delete", "unchanged")


@dataclass(frozen=True)
class Change:
    """One object's fate: ``create``, ``update`` (with the top-level fields that differ),
    ``delete`` or ``unchanged``."""

    action: str
    obj: PolicyResource
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """As ``-o json`` prints it."""
        out: dict[str, Any] = {"action": self.action, "path": self.obj.path,
                               "resource_type": self.obj.resource_type}
        if self.action == "update":
            out["fields"] = list(self.fields)
        return out


@dataclass
class Plan:
    """Every change of one command, the problems that refuse it, and the inventories
    before and after (for what-if questions asked of the result)."""

    before: Inventory
    after: Inventory
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def of(self, action: str) -> list[Change]:
        """The changes with one action."""
        return [c for c in self.changes if c.action == action]

    @property
    def writes(self) -> list[Change]:
        """The changes that write something."""
        return [c for c in self.changes if c.action != "unchanged"]


def _not_ncp(current: Inventory, objects: list[PolicyResource]) -> list[Problem]:
    """NCP's objects are NSX's principal-identity objects: not the admin's to change."""
    return [Problem("OWNED_BY_NCP", o.path, "created by ncp for cluster "
                    f"{current[o.path].tag('ncp/cluster')}; change the Kubernetes objects "
                    "instead")
            for o in objects if o.path in current and current[o.path].tag("ncp/cluster")]


def _differing(old: PolicyResource, new: PolicyResource) -> tuple[str, ...]:
    a, b = old.to_api(), new.to_api()
    return tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))


def plan_apply(current: Inventory, objects: list[PolicyResource]) -> Plan:
    """Create or replace ``objects``; refused (problems) when one is NCP's or the result
    has a cross-object problem on one of them (a rule naming a missing group...)."""
    problems = _not_ncp(current, objects)
    after = Inventory({**dict(current.items()), **{o.path: o for o in objects}}.values())
    mine = {o.path for o in objects}
    problems += [p for p in validate_inventory(after) if p.obj in mine]
    changes = []
    for o in objects:
        old = current.get(o.path)
        if old is None:
            changes.append(Change("create", o))
        elif old == o:
            changes.append(Change("unchanged", o))
        else:
            changes.append(Change("update", o, _differing(old, o)))
    return Plan(current, after, changes, sorted(problems))


def plan_delete(current: Inventory, objects: list[PolicyResource]) -> Plan:
    """Delete what ``objects`` name; a group still used by what stays is refused
    (``GROUP_IN_USE``). Objects not in the state are skipped (a delete is idempotent)."""
    problems = _not_ncp(current, objects)
    gone = {o.path for o in objects if o.path in current}
    after = Inventory(o for p, o in current.items() if p not in gone)
    problems += [Problem("GROUP_IN_USE", p.message.rsplit(" ", 1)[-1], f"still used by {p.obj}")
                 for p in validate_inventory(after)
                 if p.code == "DANGLING_REFERENCE" and p.message.rsplit(" ", 1)[-1] in gone]
    changes = [Change("delete", current[p]) for p in sorted(gone)]
    return Plan(current, after, changes, sorted(problems))


def plan_json(plan: Plan, *, dry_run: bool) -> dict[str, Any]:
    """``-o json``: ``{"dry_run", "counts": {action: n}, "changes": [{"action", "path",
    "resource_type"[, "fields"]}]}``."""
    return {"dry_run": dry_run,
            "counts": {a: len(plan.of(a)) for a in ACTIONS},
            "changes": [c.to_json() for c in plan.changes]}


#: How the text summary names each action's count.
_PAST = {"create": "created", "update": "updated", "delete": "deleted",
         "unchanged": "unchanged", "apply": "applied"}


def plan_lines(plan: Plan, *, dry_run: bool, verb: str) -> list[str]:
    """The text summary: ``applied N object(s): a created, b updated, c unchanged`` (or
    ``would apply ...``), then for a dry run one line per object."""
    head = f"would {verb}" if dry_run else _PAST[verb]
    if verb == "delete":
        kinds = Counter(c.obj.resource_type for c in plan.changes)
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none found"
    else:
        counts = ", ".join(f"{len(plan.of(a))} {_PAST[a]}"
                           for a in ("create", "update", "unchanged"))
    lines = [f"{head} {len(plan.changes)} object(s): {counts}"]
    if dry_run:
        for c in plan.changes:
            extra = f" ({', '.join(c.fields)})" if c.fields else ""
            lines.append(f"  {c.action:<9} {c.obj.resource_type} {c.obj.path}{extra}")
    return lines
