"""``sdn diff``: what changed between two kept revisions, as objects and as flows.

Objects: every path some write between the two revisions touched, compared as stored
text at each end (a pool's allocations included): ``added`` (absent at ``--from``),
``removed`` (absent at ``--to``), ``changed`` (both, different text). A path written and
put back in between is no change.

Flows: :func:`~sdn.policy.connectivity.reachability_delta` of the two firewalls, over the
pairs that can have changed (the *affected* ports): a pair's verdict reads only the rules
enforced at its two ports, so it can change only where a port itself changed (labels,
address, created, removed) or where a rule enforced at one of its ends changed, or names a
group whose members changed. Those ends are the rules' applied-to ports at either
revision; a rule enforced everywhere makes every pair affected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sdn.model import SegmentPort
from sdn.policy.compiler import CompiledDfw, compile_dfw
from sdn.policy.connectivity import FlowChange, reachability_delta
from sdn.query.blame import ObjectChange
from sdn.store import Store, history, past


@dataclass
class Diff:
    """The answer of ``sdn diff``."""

    from_revision: int
    to_revision: int
    objects: list[ObjectChange]
    gained: list[FlowChange]
    lost: list[FlowChange]


def object_changes(store: Store, from_rev: int, to_rev: int) -> list[ObjectChange]:
    """The objects that differ between two known revisions, by kind then path."""
    run, now = store.history(), store.revision
    at_from = history.overlay_back_to(run, from_rev, now)
    at_to = history.overlay_back_to(run, to_rev, now)
    paths = at_from.paths() | at_to.paths()
    old, new = history.rows_with(run, at_from, paths), history.rows_with(run, at_to, paths)
    out: list[ObjectChange] = []
    for path in paths:
        a, b = old[path], new[path]
        if a is None and b is not None:
            out.append(ObjectChange(path, b.resource_type, "added"))
        elif a is not None and b is None:
            out.append(ObjectChange(path, a.resource_type, "removed"))
        elif a is not None and b is not None and a.body != b.body:
            out.append(ObjectChange(path, b.resource_type, "changed"))
    return sorted(out, key=lambda c: (c.kind, c.path))


def _port_paths(dfw: CompiledDfw, indexes: Iterable[int]) -> set[str]:
    return {dfw.endpoints[i].path for i in indexes}


def affected_ports(before: CompiledDfw, after: CompiledDfw, changes: list[ObjectChange],
                   on_segments: Iterable[str] = ()) -> set[str] | None:
    """The ports whose pairs can have changed (module docstring; ``on_segments``: the
    ports of the changed segments); None: every port."""
    changed = {c.path for c in changes}
    ports = {c.path for c in changes if c.kind == "SegmentPort"} | set(on_segments)
    groups = {p for p in set(before.groups) | set(after.groups)
              if p in changed or p not in before.groups or p not in after.groups
              or _port_paths(before, before.groups[p].endpoints)
              != _port_paths(after, after.groups[p].endpoints)}
    for dfw in (before, after):
        for rule in dfw.rules:
            named = {*rule.applied_to_paths, *(g.path for g in rule.sources or ()),
                     *(g.path for g in rule.destinations or ())}
            if rule.policy_path in changed or named & groups:
                if rule.applied_to is None:
                    return None
                ports |= _port_paths(dfw, rule.applied_to)
    return ports


def diff(store: Store, from_rev: int, to_rev: int, *, default_action: str = "ALLOW") -> Diff:
    """Objects and flows between two known revisions (both rebuilt in memory)."""
    objects = object_changes(store, from_rev, to_rev)
    current = store.inventory()
    invs = [past.inventory_at(store, rev, current) for rev in (from_rev, to_rev)]
    dfws = [compile_dfw(inv, default_action=default_action) for inv in invs]
    gained: list[FlowChange] = []
    lost: list[FlowChange] = []
    if objects:
        segments = {c.path for c in objects if c.kind == "Segment"}
        focus = affected_ports(dfws[0], dfws[1], objects, {
            p.path for inv in invs for p in inv.of_type(SegmentPort)
            if p.parent_path in segments})
        gained, lost = reachability_delta(dfws[0], dfws[1], endpoints=focus)
    return Diff(from_rev, to_rev, objects, gained, lost)
