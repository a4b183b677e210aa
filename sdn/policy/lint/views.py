"""Rules as the lint compares them (:class:`View`), and ``RULE_MATCHES_NOTHING``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sdn.policy.compiler import CompiledDfw, CompiledRule, GroupMembers
from sdn.policy.lint.findings import RULE_MATCHES_NOTHING, WARNING, Finding
from sdn.policy.lint.values import Members, Peers


@dataclass(frozen=True)
class NoMatch:
    """Why no flow can match a rule, and the groups that make it so."""

    reason: str
    related: tuple[str, ...]


@dataclass(frozen=True)
class View:
    """A rule as the lint compares it."""

    rule: CompiledRule
    at: Members  # the ports it is enforced at (ANY: every endpoint)
    src: Peers | None
    dst: Peers | None
    dirs: frozenset[str]
    nothing: NoMatch | None  # why it matches nothing, else None

    @property
    def plain(self) -> bool:
        """Enabled and without excluded sides: the rules shadowing and conflicts compare."""
        r = self.rule
        return not (r.disabled or r.sources_excluded or r.destinations_excluded)


def dirs(direction: str) -> frozenset[str]:
    """The directions a rule's ``direction`` stands for (``IN_OUT``: both)."""
    return frozenset(("IN", "OUT")) if direction == "IN_OUT" else frozenset((direction,))


def short(path: str) -> str:
    """The last segment of a path (an id)."""
    return path.rsplit("/", 1)[-1]


def _paths(groups: Sequence[GroupMembers]) -> tuple[str, ...]:
    return tuple(g.path for g in groups)


def _names(groups: Sequence[GroupMembers]) -> str:
    return ", ".join(short(g.path) for g in groups)


def why_nothing(r: CompiledRule, at: Members, src: Peers | None,
                dst: Peers | None) -> NoMatch | None:
    """Why no flow can match the rule, or None (only what is certain)."""
    if not at:
        if r.applied_to is None:
            return None  # ANY in an inventory without ports: nothing to say yet
        where = ", ".join(short(p) for p in r.applied_to_paths)
        return NoMatch(f"its applied-to ({where}) has no member ports, so it is enforced "
                       "nowhere", r.applied_to_paths)
    if src is not None and src.empty and not r.sources_excluded and r.sources is not None:
        return NoMatch(f"its source groups ({_names(r.sources)}) are all empty",
                       _paths(r.sources))
    if dst is not None and dst.empty and not r.destinations_excluded \
            and r.destinations is not None:
        return NoMatch(f"its destination groups ({_names(r.destinations)}) are all empty",
                       _paths(r.destinations))
    if r.sources_excluded or r.destinations_excluded:
        return None
    return _blind(r, at, src, dst)


def _blind(r: CompiledRule, at: Members, src: Peers | None,
           dst: Peers | None) -> NoMatch | None:
    """A rule applied only at ports that cannot be the end of its traffic checked there."""
    blind = []
    seen: list[GroupMembers] = []
    if "IN" in dirs(r.direction):
        blind.append(dst is not None and at.isdisjoint(dst.endpoints))
        seen += r.destinations or ()
    if "OUT" in dirs(r.direction):
        blind.append(src is not None and at.isdisjoint(src.endpoints))
        seen += r.sources or ()
    if not (blind and all(blind)):
        return None
    sides = {"IN": "destinations", "OUT": "sources", "IN_OUT": "sources and destinations"}
    way = {"IN": "to", "OUT": "from", "IN_OUT": "to or from"}
    return NoMatch(f"none of the ports it is applied to are among its {sides[r.direction]}: "
                   f"an {r.direction} rule only sees traffic {way[r.direction]} the port it "
                   "is enforced at",
                   tuple(dict.fromkeys((*r.applied_to_paths, *_paths(seen)))))


def rule_views(dfw: CompiledDfw) -> list[View]:
    """Every rule of ``dfw`` as a :class:`View`, equal sides shared."""
    every = Members(range(len(dfw.endpoints)))
    cache: dict[tuple[str, ...], Peers] = {}
    interned: dict[Peers, Peers] = {}
    bitmaps: dict[int, Members] = {}

    def members(group: GroupMembers) -> Members:
        # groups with the same expression share one member set: converted once
        found = bitmaps.get(id(group.endpoints))
        if found is None:
            found = bitmaps[id(group.endpoints)] = Members(group.endpoints)
        return found

    def peers(groups: tuple[GroupMembers, ...] | None) -> Peers | None:
        if groups is None:
            return None
        key = tuple(g.path for g in groups)
        found = cache.get(key)
        if found is None:
            made = Peers.of(groups, members)
            found = cache[key] = interned.setdefault(made, made)  # equal sides shared
        return found

    applied: dict[tuple[bool, tuple[str, ...]], Members] = {}
    out = []
    for r in dfw.rules:
        key = (r.applied_to is None, r.applied_to_paths)
        at = applied.get(key)
        if at is None:
            at = applied[key] = every if r.applied_to is None else Members(r.applied_to)
        src, dst = peers(r.sources), peers(r.destinations)
        out.append(View(r, at, src, dst, dirs(r.direction), why_nothing(r, at, src, dst)))
    return out


def matches_nothing(views: Sequence[View]) -> list[Finding]:
    """``RULE_MATCHES_NOTHING``: see :mod:`sdn.policy.lint`."""
    return [Finding(RULE_MATCHES_NOTHING, WARNING, v.rule.path,
                    f"matches nothing: {v.nothing.reason}", related=v.nothing.related)
            for v in views if v.nothing is not None and not v.rule.disabled]

