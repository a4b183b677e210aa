"""What an admin's write changes: the plan shared by ``sdn apply`` / ``sdn delete`` and
NSX Manager's API (:mod:`sdn.api.policy_writes`), so both refuse exactly the same things.

The plan is pure: the current inventory and the objects written (or named for deletion)
in, the changes (or the problems that refuse them) out. Checks:

* ``OWNED_BY_NCP``: an object ``ncp`` created (tagged ``ncp/cluster``) is NSX's
  principal-identity object; ``sdn apply`` never changes it. The API may, with NSX's
  ``X-Allow-Overwrite: true`` (``overwrite_ncp=True``): the next sync of its cluster then
  puts NCP's version back, as NCP does on NSX.
* every cross-object problem of the result that names a written object
  (:func:`~sdn.model.checks.validate_inventory`: a rule naming a missing group...);
* ``GROUP_IN_USE`` / ``OBJECT_IN_USE``: a deleted group (or service) still named by what
  stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sdn.errors import Problem
from sdn.model.base import PolicyResource
from sdn.model.checks import check_references, validate_inventory
from sdn.model.inventory import Inventory

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
    """Every change of one write, the problems that refuse it, and the inventories
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


def _not_ncp(current: Inventory, paths: Iterable[str]) -> list[Problem]:
    """NCP's objects are NSX's principal-identity objects: not the admin's to change."""
    return [Problem("OWNED_BY_NCP", p, "created by ncp for cluster "
                    f"{current[p].tag('ncp/cluster')}; change the Kubernetes objects "
                    "instead")
            for p in paths if p in current and current[p].tag("ncp/cluster")]


def _differing(old: PolicyResource, new: PolicyResource) -> tuple[str, ...]:
    a, b = old.to_api(), new.to_api()
    return tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))


#: The kinds whose validity depends on their references alone (no addresses to overlap).
_REFERRING_KINDS = frozenset({"Group", "SecurityPolicy", "Service"})


def _problems(after: Inventory, upserts: list[PolicyResource],
              gone: set[str]) -> list[Problem]:
    """The cross-object problems of ``after`` that can concern the written objects or
    the deleted ones: the whole inventory's checks, or (writing groups, policies and
    services only) the references of the written objects, plus the references of every
    object when something was deleted. The same problems either way for the written and
    the deleted objects; a write of one group checks one group."""
    if not all(o.resource_type in _REFERRING_KINDS for o in upserts):
        return validate_inventory(after)
    return check_references(after, after.values() if gone else upserts)


def plan_changes(current: Inventory, upserts: list[PolicyResource],
                 deletes: Iterable[str] = (), *, overwrite_ncp: bool = False) -> Plan:
    """Create or replace ``upserts`` and delete the objects at ``deletes`` (those not in
    the state are skipped: a delete is idempotent), as one change. Refused (problems)
    when one is NCP's (unless ``overwrite_ncp``), when the result has a cross-object
    problem on a written object (a rule naming a missing group...), or when a deleted
    group or service is still named by what stays."""
    deleted = [p for p in deletes if p in current]
    problems = [] if overwrite_ncp else \
        _not_ncp(current, [*(o.path for o in upserts), *deleted])
    mine = {o.path for o in upserts}
    gone = set(deleted) - mine
    after = current.changed(upserts, gone)
    for p in _problems(after, upserts, gone):
        target = p.message.rsplit(" ", 1)[-1]
        if p.obj in mine:
            problems.append(p)
        elif p.code == "DANGLING_REFERENCE" and target in gone:
            code = "GROUP_IN_USE" if current[target].resource_type == "Group" \
                else "OBJECT_IN_USE"
            problems.append(Problem(code, target, f"still used by {p.obj}"))
    changes = []
    for o in upserts:
        old = current.get(o.path)
        if old is None:
            changes.append(Change("create", o))
        elif old == o:
            changes.append(Change("unchanged", o))
        else:
            changes.append(Change("update", o, _differing(old, o)))
    changes += [Change("delete", current[p]) for p in sorted(gone)]
    return Plan(current, after, changes, sorted(problems))


def plan_apply(current: Inventory, objects: list[PolicyResource]) -> Plan:
    """``sdn apply``: create or replace ``objects`` (never NCP's)."""
    return plan_changes(current, objects)


def plan_delete(current: Inventory, objects: list[PolicyResource]) -> Plan:
    """``sdn delete``: delete what ``objects`` name (never NCP's)."""
    return plan_changes(current, [], [o.path for o in objects])
