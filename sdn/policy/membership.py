"""Keeping a compiled DFW current when a pod's labels change, without recompiling.

NSX groups are dynamic: a port whose tags change moves in and out of groups at once. A
full :func:`~sdn.policy.compiler.compile_dfw` at 10,000 pods takes seconds; this updates
one endpoint in about a millisecond, by re-deciding only the groups whose membership can
depend on that endpoint's tags:

* only groups with a ``SegmentPort`` tag condition can change (segment, address and path
  criteria do not depend on a pod's own labels), plus groups that include such a group by
  path;
* each AND-term of a group is bound, where possible, to the namespaces it can match: a
  ``ncp/project`` condition binds it to one namespace, ``Segment`` conditions to the
  namespaces whose segment has those tags. A group is indexed under every namespace one of
  its terms admits, or as cluster-wide when some term admits any namespace.

A relabel of a pod in namespace N therefore re-evaluates the groups indexed under N and the
cluster-wide ones, for that one endpoint, and then patches the rules' applied-to sets and
the endpoint's signature (used by ``reach``'s equivalence classes).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sdn.model import (
    Condition,
    Group,
    Inventory,
    IPAddressExpression,
    NestedExpression,
    PathExpression,
    Segment,
    SegmentPort,
)
from sdn.policy.compiler import CompiledDfw, _networks, expression_terms

_ANY_NAMESPACE = "*"


@dataclass
class _EndpointTags:
    """What a single-endpoint evaluation reads."""

    port: set[tuple[str, str]]
    port_scopes: set[str]
    segment: set[tuple[str, str]]
    segment_scopes: set[str]
    ip: int
    path: str
    segment_path: str


def condition_holds(cond: Condition, tags: set[tuple[str, str]], scopes: set[str]) -> bool:
    """Whether a tag condition holds for one member with these tags (and tag scopes), as
    the compiler's indexes decide it (also what :mod:`sdn.policy.selection` explains)."""
    if not cond.evaluated:
        return False  # as the compiler: a criterion on members the inventory has none of
    scope = cond.scope
    if cond.scope_operator == "NOTEQUALS":
        return scope not in scopes
    values = cond.tag_values
    if cond.operator == "EQUALS":
        return scope in scopes if values == ("",) else (scope, values[0]) in tags
    if cond.operator == "NOTEQUALS":
        return (scope, values[0]) not in tags
    hit = any((scope, v) in tags for v in values)
    return hit if cond.operator == "IN" else not hit


def _scopes_read(items: Sequence[object]) -> frozenset[str]:
    """Pod tag scopes a group expression reads ("*" when it includes other groups)."""
    out: set[str] = set()
    for c in items:
        if isinstance(c, Condition) and c.on_ports:
            out.add(c.scope)
        elif isinstance(c, NestedExpression):
            out |= _scopes_read(c.expressions)
        elif isinstance(c, PathExpression) and any("/groups/" in p for p in c.paths):
            out.add("*")  # includes other groups, which may read anything
    return frozenset(out)


class MembershipUpdater:
    """Applies pod label changes to a :class:`CompiledDfw` in place."""

    def __init__(self, dfw: CompiledDfw, inv: Inventory) -> None:
        self.dfw = dfw
        self.groups = {g.path: g for g in inv.of_type(Group)}
        segments = {s.path: s for s in inv.of_type(Segment)}
        ports = {p.path: p for p in inv.of_type(SegmentPort)}
        self.endpoints: list[_EndpointTags] = []
        self.namespace: list[str] = []
        for ep in dfw.endpoints:
            port = ports[ep.path]
            seg = segments.get(port.parent_path)
            seg_tags = {(t.scope, t.tag) for t in seg.tags} if seg else set()
            self.endpoints.append(_EndpointTags(
                port={(t.scope, t.tag) for t in port.tags},
                port_scopes={t.scope for t in port.tags},
                segment=seg_tags, segment_scopes={s for s, _ in seg_tags},
                ip=int(ep.ip), path=ep.path, segment_path=port.parent_path))
            self.namespace.append(port.tag("ncp/project") or "")
        ns_of_segment = {s.path: s.tag("ncp/project") or "" for s in segments.values()}
        seg_tagsets = {s.path: ({(t.scope, t.tag) for t in s.tags}, {t.scope for t in s.tags})
                       for s in segments.values()}
        self.by_namespace: dict[str, list[str]] = defaultdict(list)
        self.includers: dict[str, list[str]] = defaultdict(list)
        # Pre-split expressions, and the pod tag scopes each group reads ("*": it may read
        # any, through nested or included groups): a relabel re-decides only the groups
        # that read a scope whose tags changed.
        self.terms: dict[str, list[list[object]]] = {}
        self.reads: dict[str, frozenset[str]] = {}
        for g in self.groups.values():
            self.terms[g.path] = expression_terms(g.expression)
            self.reads[g.path] = _scopes_read(g.expression)
            for ns in self._namespaces(g, ns_of_segment, seg_tagsets):
                self.by_namespace[ns].append(g.path)
        # Groups with identical expressions share one member set (see the compiler): a
        # change to one is a change to all of them.
        self.sharers: dict[int, list[str]] = defaultdict(list)
        for path, members in dfw.groups.items():
            self.sharers[id(members.endpoints)].append(path)
        self.rules_by_group: dict[str, list[int]] = defaultdict(list)
        for r in dfw.rules:
            for path in r.applied_to_paths:
                self.rules_by_group[path].append(r.order)

    def _namespaces(self, group: Group, ns_of_segment: dict[str, str],
                    seg_tagsets: dict[str, tuple[set[tuple[str, str]], set[str]]]) -> set[str]:
        """Namespaces whose pods' membership may depend on their labels ("*": any)."""
        out: set[str] = set()
        for term in expression_terms(group.expression):
            flat = [c for c in term if not isinstance(c, NestedExpression)]
            for c in term:
                if isinstance(c, NestedExpression) or (isinstance(c, PathExpression) and any(
                        p in self.groups for p in c.paths)):
                    out.add(_ANY_NAMESPACE)  # nested or included groups: keep it simple
                if isinstance(c, PathExpression):
                    for p in c.paths:
                        if p in self.groups:
                            self.includers[p].append(group.path)
            if not any(isinstance(c, Condition) and c.on_ports
                       for c in flat):
                continue
            projects = {c.tag_values[0] for c in flat if isinstance(c, Condition)
                        and c.on_ports and c.operator == "EQUALS"
                        and c.scope_operator == "EQUALS" and c.scope == "ncp/project"
                        and c.tag_values[0]}  # "ncp/project|" (exists) binds to none
            segment_conds = [c for c in flat if isinstance(c, Condition)
                             and not c.on_ports]
            if projects:
                out |= projects
            elif segment_conds:
                out |= {ns_of_segment[path] for path, (tags, scopes) in seg_tagsets.items()
                        if all(condition_holds(c, tags, scopes) for c in segment_conds)}
            else:
                out.add(_ANY_NAMESPACE)
        return out

    def _member(self, items: Sequence[object], ep: _EndpointTags, seen: set[str]) -> bool:
        return any(all(self._criterion(c, ep, seen) for c in term)
                   for term in expression_terms(items))

    def _member_of(self, path: str, ep: _EndpointTags) -> bool:
        return any(all(self._criterion(c, ep, {path}) for c in term)
                   for term in self.terms[path])

    def _criterion(self, c: object, ep: _EndpointTags, seen: set[str]) -> bool:
        if isinstance(c, Condition):
            if c.on_ports:
                return condition_holds(c, ep.port, ep.port_scopes)
            return condition_holds(c, ep.segment, ep.segment_scopes)
        if isinstance(c, IPAddressExpression):
            return any(int(n.network_address) <= ep.ip <= int(n.broadcast_address)
                       for n in _networks(c.ip_addresses))
        if isinstance(c, PathExpression):
            for p in c.paths:
                if p in (ep.path, ep.segment_path):
                    return True
                group = self.groups.get(p)
                if group is not None and p not in seen and self._member(
                        group.expression, ep, seen | {p}):
                    return True
            return False
        if isinstance(c, NestedExpression):
            return self._member(c.expressions, ep, seen)
        return False

    def relabel(self, index: int, tags: Iterable[tuple[str, str]]) -> set[str]:
        """Give endpoint ``index`` these port tags; returns the groups it moved in or out of.

        Examples:
            >>> from sdn.model import Inventory
            >>> from sdn.policy.compiler import compile_dfw
            >>> MembershipUpdater(compile_dfw(Inventory([])), Inventory([])).by_namespace
            defaultdict(<class 'list'>, {})
        """
        ep = self.endpoints[index]
        new = set(tags)
        touched = {s for s, _ in new ^ ep.port}
        ep.port = new
        ep.port_scopes = {s for s, _ in ep.port}
        candidates = [p for p in (*self.by_namespace.get(self.namespace[index], ()),
                                  *self.by_namespace.get(_ANY_NAMESPACE, ()))
                      if "*" in self.reads[p] or not touched.isdisjoint(self.reads[p])]
        changed: set[str] = set()
        todo = list(dict.fromkeys(candidates))
        while todo:
            path = todo.pop()
            members = self.dfw.groups.get(path)
            if members is None:
                continue
            inside = self._member_of(path, ep)
            if inside != (index in members.endpoints):
                (members.endpoints.add if inside else members.endpoints.discard)(index)
                for sharer in self.sharers[id(members.endpoints)]:
                    changed.add(sharer)
                    todo += [g for g in self.includers.get(sharer, ()) if g not in changed]
        for path in changed:
            for order in self.rules_by_group.get(path, ()):
                rule = self.dfw.rules[order]
                if rule.applied_to is None:
                    continue
                at = self.dfw.rules_at[index]
                if any(index in self.dfw.groups[p].endpoints for p in rule.applied_to_paths
                       if p in self.dfw.groups):
                    if index not in rule.applied_to:
                        rule.applied_to.add(index)
                        bisect.insort(at, order)
                elif index in rule.applied_to:
                    rule.applied_to.discard(index)
                    at.remove(order)
            self.dfw.forget(index)
        if changed:
            signature = set(self.dfw.signatures[index])
            for path in changed:
                if index in self.dfw.groups[path].endpoints:
                    signature.add(path)
                else:
                    signature.discard(path)
            self.dfw.signatures[index] = frozenset(signature)
            self.dfw.forget_classes()
        return changed
