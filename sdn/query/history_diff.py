"""``sdn diff``: what changed between two kept revisions, as objects and as flows.

Objects: every path some write between the two revisions touched, compared as stored
text at each end (a pool's allocations included): ``added`` (absent at ``--from``),
``removed`` (absent at ``--to``), ``changed`` (both, different text). A path written and
put back in between is no change.

Flows: :func:`~sdn.policy.connectivity.reachability_delta` of the two firewalls, over the
pairs that can have changed (the *affected* ports): a pair's verdict reads only the rules
enforced at its two ports, their memberships and addresses, so it can change only where
a port itself changed as the firewall sees it (created, removed, a new address, a group
joined or left) or where a rule enforced at one of its ends changed, or names a group
whose members changed. Those ends are the rules' applied-to ports at either revision; a
rule enforced everywhere makes every pair affected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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


#: The members of a group on the side where it does not exist (one object, so that its
#: ``id`` keys the comparisons' cache safely).
_NOBODY: set[int] = set()


def _port_paths(dfw: CompiledDfw, indexes: Iterable[int]) -> set[str]:
    return {dfw.endpoints[i].path for i in indexes}


def _moved_members(before: CompiledDfw, after: CompiledDfw,
                   changed: set[str]) -> tuple[set[str], set[str]]:
    """The groups written or whose members differ between the two firewalls, and the
    ports that joined or left any group. Members are compared as index sets when both
    firewalls number the same ports alike (the usual case: no port came or went), else
    as port paths; groups sharing one member set (the compiler shares them) are compared
    once."""
    same = [e.path for e in before.endpoints] == [e.path for e in after.endpoints]
    seen: dict[tuple[int, int], set[str]] = {}

    def moved(a: set[int], b: set[int]) -> set[str]:
        key = (id(a), id(b))
        if key not in seen:
            seen[key] = _port_paths(before, a ^ b) if same else \
                _port_paths(before, a) ^ _port_paths(after, b)
        return seen[key]

    groups: set[str] = set()
    ports: set[str] = set()
    for path in set(before.groups) | set(after.groups):
        old, new = before.groups.get(path), after.groups.get(path)
        members = moved(old.endpoints if old else _NOBODY, new.endpoints if new else _NOBODY)
        if members or path in changed or old is None or new is None:
            groups.add(path)
            ports |= members
    return groups, ports


def affected_ports(before: CompiledDfw, after: CompiledDfw,
                   changes: list[ObjectChange]) -> set[str] | None:
    """The ports whose pairs can have changed (module docstring); None: every port.

    A port counts when it came, went or changed address, joined or left a group (its
    labels or its segment's changed in a way some group sees: a label no group reads
    changes no verdict), or is where a rule is enforced that changed or names such a
    group."""
    changed = {c.path for c in changes}
    addresses = [{e.path: e.ip for e in dfw.endpoints} for dfw in (before, after)]
    ports = {p for p in addresses[0].keys() | addresses[1].keys()
             if addresses[0].get(p) != addresses[1].get(p)}
    groups, moved = _moved_members(before, after, changed)
    ports |= moved
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
        focus = affected_ports(dfws[0], dfws[1], objects)
        gained, lost = reachability_delta(dfws[0], dfws[1], endpoints=focus)
    return Diff(from_rev, to_rev, objects, gained, lost)
