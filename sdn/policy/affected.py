"""Which endpoints a change can affect: the pods whose reachability a what-if recomputes.

Why: a dry run's reachability delta (``ncp sync --dry-run``, ``sdn apply --dry-run``)
compares the firewall before and after a change. Comparing every ordered pair of 10,000
pods is a hundred million pairs; a one-policy change touches a few of them. A pair's
verdict is decided at two points only, egress at its source and ingress at its
destination, by the first rule matching there; so the verdict of a pair can change only
if, at one of those points, some rule that matches it before or after is not the same
rule in the same place. Every such pair has an end in the set computed here:

* a port that was added, removed or changed (address, labels as tags), or that sits on a
  segment that changed (namespace labels as segment tags): its own pairs;
* a group whose definition changed, or that names one that did (``PathExpression``,
  nested), when a rule that did not change names it: the ports that joined or left it (a
  rule naming it decides differently only for them, as source, destination or
  applied-to); and when its outside addresses (CIDR terms) changed, the enforcement
  points of those rules (pairs with the outside are decided at their port's end). A rule
  that changed is covered by its own enforcement points, before and after;
* a security policy created, changed or deleted: the enforcement points of each of its
  rules before and after, that is the rule's applied-to ports that it can match, the
  sources for egress and the destinations for ingress;
* a named service that changed: the enforcement points of the rules naming it.

An unchanged rule keeps its place among the other unchanged rules (its policy's
category, sequence number and path, its own sequence number and path are unchanged), so
only changed rules can reorder a decision. A rule matching everything everywhere (applied
to ANY, ANY on the side it is enforced on) makes every port affected: the answer is then
None, "all pairs".

The input is what the writer knows anyway: the paths it would create, update or delete
(``changed``) and both inventories with their compiled firewalls. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sdn.model import (
    Group,
    Inventory,
    SecurityPolicy,
    Segment,
    SegmentPort,
)
from sdn.model import Service as NamedService
from sdn.policy.compiler import CompiledDfw, CompiledRule, GroupMembers
from sdn.policy.lint.groups import expression_paths


def affected_ports(changed: Iterable[str], *, before: Inventory, after: Inventory,
                   before_dfw: CompiledDfw, after_dfw: CompiledDfw) -> set[str] | None:
    """The paths of the port endpoints (of either firewall) whose pairs can change, or
    None when every pair can (see the module's doc). ``changed``: the paths created,
    updated or deleted between ``before`` and ``after``; ``before_dfw`` / ``after_dfw``
    are their compiled firewalls."""
    found = _Affected(before, after, before_dfw, after_dfw)
    for path in changed:
        if found.everything:
            break
        found.object_changed(path)
    found.groups_changed()
    return None if found.everything else found.ports


class _Affected:
    """The growing answer of :func:`affected_ports`."""

    def __init__(self, before: Inventory, after: Inventory, before_dfw: CompiledDfw,
                 after_dfw: CompiledDfw) -> None:
        self.sides = ((before, before_dfw), (after, after_dfw))
        self.ports: set[str] = set()
        self.everything = False
        self.groups: set[str] = set()
        self.services: set[str] = set()
        #: Rules of changed policies (their enforcement points are in :attr:`ports`).
        self.changed_rules: set[str] = set()

    def object_changed(self, path: str) -> None:
        kinds = {type(inv.get(path)) for inv, _ in self.sides} - {type(None)}
        if kinds & {SegmentPort}:
            self.ports.add(path)
        if kinds & {Segment}:
            prefix = path + "/"
            for _inv, dfw in self.sides:
                self.ports.update(ep.path for ep in dfw.endpoints if ep.path.startswith(prefix))
        if kinds & {Group}:
            self.groups.add(path)
        if kinds & {NamedService}:
            self.services.add(path)
        if kinds & {SecurityPolicy}:
            for inv, dfw in self.sides:
                policy = inv.get(path)
                if isinstance(policy, SecurityPolicy):
                    rules = {r.path for r in policy.rules}
                    self.changed_rules |= rules
                    self._rules(dfw, [r for r in dfw.rules if r.path in rules])

    def groups_changed(self) -> None:
        """Members gained or lost by the changed groups and every group naming them;
        rules naming a group whose outside addresses changed; rules naming a changed
        service."""
        if self.everything or not (self.groups or self.services):
            return
        groups = with_referrers(self.groups, [inv for inv, _ in self.sides])
        (_, old), (_, new) = self.sides
        named = {path for _inv, dfw in self.sides for rule in dfw.rules
                 if rule.path not in self.changed_rules for path in _named_by(rule)}
        outside_changed: set[str] = set()
        for path in groups & named:
            was, now = old.groups.get(path), new.groups.get(path)
            self.ports |= _member_paths(old, was) ^ _member_paths(new, now)
            if (was.outside_terms if was else ()) != (now.outside_terms if now else ()):
                outside_changed.add(path)
        naming_services = self._rules_naming_services()
        for _inv, dfw in self.sides:
            self._rules(dfw, [r for r in dfw.rules
                              if r.path in naming_services
                              or (outside_changed and _names_any(r, outside_changed))])

    def _rules_naming_services(self) -> set[str]:
        if not self.services:
            return set()
        return {rule.path for inv, _ in self.sides for policy in inv.of_type(SecurityPolicy)
                for rule in policy.rules if self.services.intersection(rule.services)}

    def _rules(self, dfw: CompiledDfw, rules: Iterable[CompiledRule]) -> None:
        """Add the enforcement points of ``rules`` (every port: :attr:`everything`)."""
        everyone = frozenset(range(len(dfw.endpoints)))
        for rule in rules:
            points = enforcement_points(rule, everyone)
            if points is None:
                self.everything = True
                return
            self.ports.update(dfw.endpoints[i].path for i in points)


def enforcement_points(rule: CompiledRule, everyone: frozenset[int]) -> set[int] | None:
    """The endpoints where ``rule`` can match some flow: applied there, and a member of
    its sources (egress) or its destinations (ingress). None: every endpoint, with no
    group narrowing it (a rule applied to ANY with ANY on that side)."""
    points: set[int] = set()
    sides = []
    if rule.direction in ("OUT", "IN_OUT"):
        sides.append((rule.sources, rule.sources_excluded))
    if rule.direction in ("IN", "IN_OUT"):
        sides.append((rule.destinations, rule.destinations_excluded))
    for groups, excluded in sides:
        if rule.applied_to is None and groups is None:
            return None
        side = everyone if groups is None else _members(groups, excluded, everyone)
        points |= side if rule.applied_to is None else side & rule.applied_to
    return points


def _members(groups: Sequence[GroupMembers], excluded: bool,
             everyone: frozenset[int]) -> set[int]:
    inside: set[int] = set().union(*(g.endpoints for g in groups))
    return set(everyone - inside) if excluded else inside


def _member_paths(dfw: CompiledDfw, group: GroupMembers | None) -> set[str]:
    return set() if group is None else {dfw.endpoints[i].path for i in group.endpoints}


def _named_by(rule: CompiledRule) -> Iterable[str]:
    """The groups a rule names: sources, destinations, applied-to."""
    for side in (rule.sources, rule.destinations):
        for group in side or ():
            yield group.path
    yield from rule.applied_to_paths


def _names_any(rule: CompiledRule, paths: set[str]) -> bool:
    return any(path in paths for path in _named_by(rule))


def with_referrers(groups: set[str], inventories: Sequence[Inventory]) -> set[str]:
    """``groups`` and every group that names one of them, directly or through others
    (``PathExpression`` paths, nested expressions), in any of ``inventories``: the groups
    whose members a change of ``groups`` can change."""
    named_by: dict[str, set[str]] = defaultdict(set)
    for inv in inventories:
        for group in inv.of_type(Group):
            for path in expression_paths(group.expression):
                named_by[path].add(group.path)
    out = set(groups)
    todo = list(groups)
    while todo:
        for referrer in named_by.get(todo.pop(), ()):
            if referrer not in out:
                out.add(referrer)
                todo.append(referrer)
    return out
