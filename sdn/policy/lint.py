"""Review a compiled distributed firewall and report what looks wrong in it.

:func:`lint_dfw` is pure: it reads a :class:`~sdn.policy.compiler.CompiledDfw` (rules in
evaluation order, groups resolved to endpoint sets) and the :class:`~sdn.model.Inventory`
it came from, and returns :class:`Finding` values, each with a stable ``code``, a
``severity`` (``error``, ``warning`` or ``info``, see :data:`SEVERITIES`), the object's
``path`` and a message. ``sdn lint`` adds the NCP-limit warnings the last ``ncp sync``
stored, and exits 1 when a finding is at least as severe as ``--fail-on`` (``error``).

The analyses
------------

``SHADOWED_RULE``
    A rule that can never decide a flow because one earlier rule takes all of its traffic:
    the earlier rule is enabled, is not ``JUMP_TO_APPLICATION`` (a jump decides nothing,
    so it shadows nothing) and, dimension by dimension, covers the later rule: applied-to
    (a superset of ports; ANY is every port of the inventory), direction (``IN_OUT``
    covers ``IN`` and ``OUT``), sources and destinations (member endpoints a superset, and
    every outside-address term of the later rule inside the earlier one's CIDRs) and
    services (same protocol, every later port range inside the earlier rule's ranges).
    When the two actions differ the later rule's intent is lost: ``warning``. When they
    are equal the later rule is merely redundant (removing it changes nothing): ``info``,
    so the common Kubernetes layouts (two NetworkPolicies isolating the same pods) do not
    fail the lint. The message names the shadowing rule (the earliest one).
``CONFLICTING_SAME_PRIORITY``
    Two security policies of one category with the same ``sequence_number`` whose rules
    surely overlap (some flow, at some enforcement point, matches both) with different
    actions. NSX leaves the order of such policies undefined (this engine orders them by
    path), so which action wins is an accident. Reported once per pair of rules, on the
    rule of the policy evaluated first, as an ``error``.
``EMPTY_GROUP`` / ``UNUSED_GROUP``
    A group with no member endpoints and no address term that can match anything; the
    message lists who uses it. ``warning`` when a rule, scope or group uses it (it makes
    that rule narrower than it reads), ``info`` when nothing does. ``UNUSED_GROUP``
    (``info``): no rule, security-policy scope, group or other object references it.
``RULE_MATCHES_NOTHING``
    An enabled rule that no flow can match: its applied-to resolves to no port; its source
    (or destination) groups are all empty; or none of the ports it is applied to can be
    where its traffic is checked: an ``IN`` rule sees only traffic *to* the port it is
    applied at, so its destinations must include one of those ports (``OUT``: its sources),
    and an address outside the inventory has no port at all.

What is deliberately conservative
---------------------------------

Every check reports only what it can prove; when unsure it stays silent.

* The analysis is of *this* state: group members are today's ports. A rule shadowed or
  matching nothing now may match once pods come (a NetworkPolicy whose pods are not
  scheduled yet); the message says what makes it so, so the reader can judge.
* Rules with ``sources_excluded`` or ``destinations_excluded`` take no part in shadowing
  and conflicts (neither side): the complement of a group is not compared.
* An outside-address term of a later rule must fit inside one term of the earlier rule
  (or inside the union of the earlier rule's single-criterion terms); a group never
  stands in for ANY, even when its CIDR is ``0.0.0.0/0`` (ANY also covers IPv6).
* Services ANY are covered only by ANY; an earlier service entry that restricts source
  ports covers nothing (a later one's source ports only narrow it, so they are ignored).
* A ``JUMP_TO_APPLICATION`` anywhere before an earlier rule of a category above
  Application makes that rule no shadower of Application rules (the jump may skip the
  earlier rule but not the later one).
* Only single-rule shadowing is found; a rule covered by the union of several earlier
  rules is not reported. Rules of NSX's ``default-layer3-section`` are never reported as
  shadowed (a catch-all cleanup rule above the default rule is the usual practice).
* Overlap for conflicts is "surely overlaps": a shared enforcement port that can be the
  flow's own end there (the destination for ``IN``, the source for ``OUT``), a shared
  other end that is not that same port (member endpoints, or overlapping single-criterion
  CIDRs), and a shared protocol and port.
* ``RULE_MATCHES_NOTHING`` ignores excluded sides except to stay silent, and does not
  report a rule whose only flow would be a port talking to itself.
* Disabled rules are neither reported nor used.

Complexity
----------

Let R be the number of rules and D the number of *distinct* values of one dimension
(applied-to set, source set, destination set, service list); rules built from the same
groups share one value.

* The lint's view of the rules: O(R) plus one union per distinct tuple of groups.
* Shadowing: each dimension keeps an inverted index from a witness (an endpoint, a /16 of
  outside addresses, a (protocol, port)) to the distinct values containing it, of size
  Σ|value| over distinct values. The supersets of each distinct value are computed once,
  among the index list of its rarest witness. Each rule then walks only the
  candidates of its most selective dimension, in evaluation order and only up to itself,
  checks the other dimensions by set membership, and stops at the first shadower. Cost
  O(R · c), c that smallest candidate count: small for NCP's per-NetworkPolicy scopes and
  for port-, group- or scope-specific admin rules. Only a rule set in which every
  dimension of every rule is covered by many earlier rules (e.g. long chains of nested
  groups) approaches O(R²).
* Conflicts: rules are bucketed by (category, policy sequence number); in a bucket with
  several policies and several actions, a rule is compared only with the later rules
  that share a protocol and port with it (an index of service keys), and only pairs of
  different policies and different actions are tested. NCP's layout (every allow policy
  at 2010, every isolation at 2090) gives single-action buckets: no pair at all.
* Groups: one pass over the inventory's references, O(objects + references).

Measured on one core: 20,000 rules over 2,000 ports (port-only, group-heavy and
scope-heavy admin rule sets with 50 shared sequence numbers) lint in 0.7-1.4 s; a
generated cluster with 7,000 NetworkPolicies (16,000 rules) in 0.6 s.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from itertools import chain, islice
from typing import Generic, TypeVar

from sdn.model import ANY, Group, Inventory, NestedExpression, PathExpression, SecurityPolicy
from sdn.policy.compiler import CompiledDfw, CompiledRule, GroupMembers, Service

ERROR = "error"
WARNING = "warning"
INFO = "info"

#: Severities, most severe first: ``error`` when the firewall's answer is an accident
#: (NSX leaves it undefined), ``warning`` when a rule's intent is lost, ``info`` for
#: what is merely redundant or unused.
SEVERITIES = (ERROR, WARNING, INFO)

SHADOWED_RULE = "SHADOWED_RULE"
CONFLICTING_SAME_PRIORITY = "CONFLICTING_SAME_PRIORITY"
EMPTY_GROUP = "EMPTY_GROUP"
UNUSED_GROUP = "UNUSED_GROUP"
RULE_MATCHES_NOTHING = "RULE_MATCHES_NOTHING"

JUMP = "JUMP_TO_APPLICATION"

#: How many outside-address terms of a set are tried as the witness of its supersets.
_WITNESS_SAMPLE = 8
#: Port ranges up to this many ports are indexed port by port; wider ones in one list.
_SMALL_RANGE = 64
#: Address ranges spanning fewer /16s than this are indexed per /16; wider ones in one list.
_WIDE = 256


@dataclass(frozen=True)
class Finding:
    """One thing a reviewer should look at: a stable code, a severity, the object, why."""

    code: str
    severity: str  # one of SEVERITIES
    path: str
    message: str


def finding_key(f: Finding) -> tuple[int, str, str, str]:
    """The deterministic order of findings: most severe first, then code, object, message."""
    return (SEVERITIES.index(f.severity), f.code, f.path, f.message)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in :func:`finding_key` order, duplicates removed."""
    return sorted(set(findings), key=finding_key)


# --------------------------------------------------------------------------- value sets

#: An address range as integers (first, last), and a sorted list of disjoint ranges.
_Range = tuple[int, int]
_Ranges = tuple[_Range, ...]
#: An outside-address term: an AND of criteria, each an OR of address ranges.
_Term = tuple[_Ranges, ...]


def _merge(ranges: Iterable[_Range]) -> list[_Range]:
    """Sorted, disjoint, non-adjacent ranges covering exactly the same numbers."""
    out: list[_Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _address_ranges(nets: Iterable[IPv4Network]) -> _Ranges:
    return tuple(_merge((int(n.network_address), int(n.broadcast_address)) for n in nets))


def _within(ranges: Iterable[_Range], cover: _Ranges) -> bool:
    """Every range inside one range of ``cover`` (merged, so this is exact)."""
    starts = [lo for lo, _ in cover]
    for lo, hi in ranges:
        i = bisect_right(starts, lo) - 1
        if i < 0 or cover[i][1] < hi:
            return False
    return True


def _meet(a: _Ranges, b: _Ranges) -> bool:
    """Whether two merged range lists share a number."""
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][1] < b[j][0]:
            i += 1
        elif b[j][1] < a[i][0]:
            j += 1
        else:
            return True
    return False


@dataclass(frozen=True)
class _Peers:
    """The union of a rule's groups on one side: member endpoints and outside terms."""

    endpoints: frozenset[int]
    outside: tuple[_Term, ...]
    #: The union of the single-criterion terms (for containment and overlap).
    flat: _Ranges = field(default=(), compare=False)

    @staticmethod
    def of(groups: Sequence[GroupMembers]) -> _Peers:
        endpoints: frozenset[int] = frozenset().union(*(g.endpoints for g in groups))
        terms = (tuple(_address_ranges(crit) for crit in term)
                 for g in groups for term in g.outside_terms)
        # a term with a criterion that matches no address matches nothing: dropped
        outside = tuple(dict.fromkeys(t for t in terms if t and all(t)))
        flat = tuple(_merge(r for t in outside if len(t) == 1 for r in t[0]))
        return _Peers(endpoints, outside, flat)

    @property
    def empty(self) -> bool:
        return not self.endpoints and not self.outside


def _term_covered(term: _Term, a: _Peers) -> bool:
    """Conservatively: every address of ``term`` matches ``a``'s outside terms."""
    if any(_within(crit, a.flat) for crit in term):
        return True
    return any(len(ta) > 1 and all(any(_within(cb, ca) for cb in term) for ca in ta)
               for ta in a.outside)


def _peers_cover(a: _Peers | None, b: _Peers | None) -> bool:
    """Whether side ``a`` matches everything side ``b`` matches (None: ANY)."""
    if a is None:
        return True
    if b is None:
        return False
    if not a.endpoints >= b.endpoints:
        return False
    return all(_term_covered(t, a) for t in b.outside)


def _peers_register(v: _Peers) -> Iterable[Hashable]:
    keys: list[Hashable] = [("e", i) for i in v.endpoints]
    if v.outside:
        keys.append(("o",))
    for lo, hi in v.flat:
        first, last = lo >> 16, hi >> 16
        keys += ([("n16", k) for k in range(first, last + 1)] if last - first < _WIDE
                 else [("wide",)])
    if any(len(t) > 1 for t in v.outside):
        keys.append(("multi",))
    return keys


def _peers_witnesses(v: _Peers) -> list[tuple[Hashable, ...]]:
    if v.endpoints:
        return [(("e", i),) for i in v.endpoints]
    single = [t for t in v.outside if len(t) == 1]
    if single:
        # a cover holds each of these ranges inside its flat ranges or a multi-criterion term
        return [(("n16", t[0][0][0] >> 16), ("wide",), ("multi",))
                for t in islice(single, _WITNESS_SAMPLE)]
    if v.outside:
        return [(("o",),)]
    return []


_Services = tuple[Service, ...]


def _services_cover(a: _Services | None, b: _Services | None) -> bool:
    """Whether services ``a`` match every flow services ``b`` match (None: ANY)."""
    if a is None:
        return True
    if b is None:
        return False
    for sb in b:
        usable = [sa for sa in a if sa.protocol == sb.protocol and not sa.source_ports]
        if any(not sa.ports for sa in usable):
            continue
        if not sb.ports:
            return False
        merged = _merge(r for sa in usable for r in sa.ports)
        if not all(any(lo <= blo and bhi <= hi for lo, hi in merged) for blo, bhi in sb.ports):
            return False
    return True


def _services_register(v: _Services) -> Iterable[Hashable]:
    keys: list[Hashable] = []
    for s in v:
        if s.source_ports:
            continue
        if not s.ports:
            keys.append(("all", s.protocol))
        for lo, hi in s.ports:
            if hi - lo < _SMALL_RANGE:
                keys += [("port", s.protocol, p) for p in range(lo, hi + 1)]
            else:
                keys.append(("range", s.protocol))
    return keys


def _services_witnesses(v: _Services) -> list[tuple[Hashable, ...]]:
    out: list[tuple[Hashable, ...]] = []
    for s in v:
        if not s.ports:
            out.append((("all", s.protocol),))
        else:
            out.append((("port", s.protocol, s.ports[0][0]), ("all", s.protocol),
                        ("range", s.protocol)))
    return out


def _ranges_meet(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> bool:
    if not a or not b:
        return True
    return any(alo <= bhi and blo <= ahi for alo, ahi in a for blo, bhi in b)


def _services_surely_overlap(a: _Services | None, b: _Services | None) -> bool:
    if a is None or b is None:
        return True
    return any(sa.protocol == sb.protocol and _ranges_meet(sa.ports, sb.ports)
               and _ranges_meet(sa.source_ports, sb.source_ports) for sa in a for sb in b)


# --------------------------------------------------------------------------- dimensions

V = TypeVar("V", bound=Hashable)


class _Dim(Generic[V]):
    """One dimension of every rule (applied-to, sources, destinations or services).

    Rules with equal values share a value id; an inverted index maps witnesses to the
    value ids containing them, so the supersets of a value are found from the index list
    of one witness instead of among every value. ``None`` is ANY, the superset of all.
    """

    def __init__(self, values: Iterable[V | None], *,
                 register: Callable[[V], Iterable[Hashable]],
                 witnesses: Callable[[V], list[tuple[Hashable, ...]]],
                 covers: Callable[[V | None, V | None], bool]) -> None:
        self.values: list[V | None] = []
        self.ids: list[int] = []
        self.rules_of: list[list[int]] = []  # rule orders per value id, ascending
        seen: dict[V | None, int] = {}
        for order, v in enumerate(values):
            vid = seen.get(v)
            if vid is None:
                vid = seen[v] = len(self.values)
                self.values.append(v)
                self.rules_of.append([])
            self.ids.append(vid)
            self.rules_of[vid].append(order)
        self.any_id = seen.get(None)
        self.index: dict[Hashable, list[int]] = defaultdict(list)
        for vid, v in enumerate(self.values):
            if v is not None:
                for key in set(register(v)):
                    self.index[key].append(vid)
        self._witnesses = witnesses
        self._covers = covers
        self._supersets: dict[int, frozenset[int]] = {}
        self._counts: dict[int, int] = {}

    def _size(self, keys: tuple[Hashable, ...]) -> int:
        return sum(len(self.index.get(k, ())) for k in keys)

    def supersets(self, vid: int) -> frozenset[int]:
        """The value ids whose value covers value ``vid`` (itself included)."""
        found = self._supersets.get(vid)
        if found is not None:
            return found
        v = self.values[vid]
        if v is None:
            result = {vid}
        else:
            alternatives = self._witnesses(v)
            if alternatives:
                best = min(alternatives, key=self._size)
                candidates: Iterable[int] = set(chain.from_iterable(
                    self.index.get(k, ()) for k in best))
            else:
                candidates = range(len(self.values))
            result = {c for c in candidates if self._covers(self.values[c], v)}
            if self.any_id is not None:
                result.add(self.any_id)
        found = self._supersets[vid] = frozenset(result)
        return found

    def count(self, vid: int) -> int:
        """How many rules (anywhere in the order) have a value covering value ``vid``."""
        n = self._counts.get(vid)
        if n is None:
            n = self._counts[vid] = sum(len(self.rules_of[s]) for s in self.supersets(vid))
        return n


# --------------------------------------------------------------------------- rule views


@dataclass(frozen=True)
class _View:
    """A rule as the lint compares it."""

    rule: CompiledRule
    at: frozenset[int]  # the ports it is enforced at (ANY: every endpoint)
    src: _Peers | None
    dst: _Peers | None
    dirs: frozenset[str]
    nothing: str | None  # why it matches nothing, else None

    @property
    def plain(self) -> bool:
        """Enabled and without excluded sides: the rules shadowing and conflicts compare."""
        r = self.rule
        return not (r.disabled or r.sources_excluded or r.destinations_excluded)


def _dirs(direction: str) -> frozenset[str]:
    return frozenset(("IN", "OUT")) if direction == "IN_OUT" else frozenset((direction,))


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _names(groups: Sequence[GroupMembers]) -> str:
    return ", ".join(_short(g.path) for g in groups)


def _why_nothing(r: CompiledRule, at: frozenset[int], src: _Peers | None,
                 dst: _Peers | None) -> str | None:
    """Why no flow can match the rule, or None (only what is certain)."""
    if not at:
        if r.applied_to is None:
            return None  # ANY in an inventory without ports: nothing to say yet
        where = ", ".join(_short(p) for p in r.applied_to_paths)
        return f"its applied-to ({where}) has no member ports, so it is enforced nowhere"
    if src is not None and src.empty and not r.sources_excluded and r.sources is not None:
        return f"its source groups ({_names(r.sources)}) are all empty"
    if dst is not None and dst.empty and not r.destinations_excluded \
            and r.destinations is not None:
        return f"its destination groups ({_names(r.destinations)}) are all empty"
    if r.sources_excluded or r.destinations_excluded:
        return None
    blind = []
    if "IN" in _dirs(r.direction):
        blind.append(dst is not None and at.isdisjoint(dst.endpoints))
    if "OUT" in _dirs(r.direction):
        blind.append(src is not None and at.isdisjoint(src.endpoints))
    if blind and all(blind):
        sides = {"IN": "destinations", "OUT": "sources", "IN_OUT": "sources and destinations"}
        way = {"IN": "to", "OUT": "from", "IN_OUT": "to or from"}
        return (f"none of the ports it is applied to are among its {sides[r.direction]}: an "
                f"{r.direction} rule only sees traffic {way[r.direction]} the port it is "
                "enforced at")
    return None


def _views(dfw: CompiledDfw) -> list[_View]:
    every = frozenset(range(len(dfw.endpoints)))
    cache: dict[tuple[str, ...], _Peers] = {}

    def peers(groups: tuple[GroupMembers, ...] | None) -> _Peers | None:
        if groups is None:
            return None
        key = tuple(g.path for g in groups)
        found = cache.get(key)
        if found is None:
            found = cache[key] = _Peers.of(groups)
        return found

    applied: dict[tuple[bool, tuple[str, ...]], frozenset[int]] = {}
    out = []
    for r in dfw.rules:
        key = (r.applied_to is None, r.applied_to_paths)
        at = applied.get(key)
        if at is None:
            at = applied[key] = every if r.applied_to is None else frozenset(r.applied_to)
        src, dst = peers(r.sources), peers(r.destinations)
        out.append(_View(r, at, src, dst, _dirs(r.direction), _why_nothing(r, at, src, dst)))
    return out


# --------------------------------------------------------------------------- analyses


def _shadowed(dfw: CompiledDfw, views: Sequence[_View]) -> list[Finding]:
    """``SHADOWED_RULE``: see the module docstring."""
    at_cache: dict[frozenset[int], _Peers] = {}
    at_dim: _Dim[_Peers] = _Dim((at_cache.setdefault(v.at, _Peers(v.at, ())) for v in views),
                                register=_peers_register, witnesses=_peers_witnesses,
                                covers=_peers_cover)
    src_dim: _Dim[_Peers] = _Dim((v.src for v in views), register=_peers_register,
                                 witnesses=_peers_witnesses, covers=_peers_cover)
    dst_dim: _Dim[_Peers] = _Dim((v.dst for v in views), register=_peers_register,
                                 witnesses=_peers_witnesses, covers=_peers_cover)
    svc_dim: _Dim[_Services] = _Dim((v.rule.services for v in views),
                                    register=_services_register,
                                    witnesses=_services_witnesses, covers=_services_cover)
    dims: tuple[_Dim[_Peers] | _Dim[_Services], ...] = (at_dim, src_dim, dst_dim, svc_dim)
    shadower = [v.plain and v.rule.action != JUMP and v.nothing is None for v in views]
    jumps = [v.rule.order for v in views if v.rule.action == JUMP and not v.rule.disabled]
    first_jump = min(jumps) if jumps else len(views)
    app = dfw.application_start

    findings = []
    for b in views:
        rb = b.rule
        if not b.plain or rb.is_default or b.nothing is not None or rb.order == 0:
            continue
        ids = [d.ids[rb.order] for d in dims]
        sups = [d.supersets(i) for d, i in zip(dims, ids, strict=True)]
        k = min(range(len(dims)), key=lambda j: dims[j].count(ids[j]))
        others = [j for j in range(len(dims)) if j != k]
        walk = heapq.merge(*(dims[k].rules_of[vid] for vid in sups[k]))
        for order in walk:
            if order >= rb.order:
                break
            if not shadower[order]:
                continue
            a = views[order]
            ra = a.rule
            if not a.dirs >= b.dirs:
                continue
            if first_jump < ra.order < app <= rb.order:
                continue  # a jump above may skip the earlier rule but not this one
            if any(dims[j].ids[order] not in sups[j] for j in others):
                continue
            if ra.action == rb.action:
                msg = (f"redundant: the earlier rule {ra.path} ({ra.action}) already matches "
                       "all of its traffic at the same ports with the same action")
            else:
                msg = (f"never matches: the earlier rule {ra.path} ({ra.action}) matches all "
                       f"of its traffic at the same ports, so its {rb.action} never applies")
            findings.append(Finding(SHADOWED_RULE, WARNING if ra.action != rb.action else INFO,
                                    rb.path, msg))
            break
    return findings


def _surely_overlap(a: _View, b: _View) -> bool:
    """Whether some flow surely matches both rules at one enforcement point."""
    dirs = a.dirs & b.dirs
    if not dirs or not _services_surely_overlap(a.rule.services, b.rule.services):
        return False
    points = a.at if a.at is b.at else a.at & b.at
    if not points:
        return False
    for d in dirs:
        # IN: the point is the destination; OUT: the point is the source.
        here_a, here_b = (a.dst, b.dst) if d == "IN" else (a.src, b.src)
        there_a, there_b = (a.src, b.src) if d == "IN" else (a.dst, b.dst)
        at = points
        for side in (here_a, here_b):
            if side is not None:
                at = at & side.endpoints
        if at and _other_end_overlaps(there_a, there_b, at):
            return True
    return False


def _other_end_overlaps(a: _Peers | None, b: _Peers | None, at: frozenset[int]) -> bool:
    """Whether both rules surely match one other end of a flow checked at a port of ``at``.

    The other end is an outside address, or an endpoint that is not the port itself (a
    port's traffic to itself never reaches the DFW).
    """
    if a is None and b is None:
        return True  # ANY includes every outside address
    if a is None or b is None:
        other = b if a is None else a
        assert other is not None
        shared, outside = other.endpoints, bool(other.flat)
    else:
        shared, outside = a.endpoints & b.endpoints, _meet(a.flat, b.flat)
    return outside or (bool(shared) and not (len(shared) == 1 and shared == at))


def _service_keys(services: _Services | None) -> tuple[list[Hashable], list[Hashable]]:
    """Index keys of a rule's services, and the keys its overlapping partners sit under.

    A partner overlaps only if it shares a protocol and a port: ANY services sit under
    ``any``; every service also sits under its protocol; small port ranges under each
    port, wide ones under ``range``, all ports under ``all``.
    """
    if services is None:
        return ["any"], ["every"]
    keys: list[Hashable] = []
    probes: list[Hashable] = ["any"]
    for sv in services:
        proto = sv.protocol
        keys.append(("proto", proto))
        if not sv.ports:
            keys.append(("all", proto))
            probes.append(("proto", proto))
            continue
        for lo, hi in sv.ports:
            if hi - lo < _SMALL_RANGE:
                ports = [("port", proto, p) for p in range(lo, hi + 1)]
                keys += ports
                probes += [*ports, ("all", proto), ("range", proto)]
            else:
                keys.append(("range", proto))
                probes.append(("proto", proto))
    return keys, probes


def _conflicts(views: Sequence[_View]) -> list[Finding]:
    """``CONFLICTING_SAME_PRIORITY``: see the module docstring."""
    buckets: dict[tuple[str, int], list[_View]] = defaultdict(list)
    for v in views:
        if v.plain and not v.rule.is_default and v.nothing is None:
            buckets[(v.rule.category, v.rule.policy_sequence)].append(v)
    findings = []
    for (category, sequence), members in sorted(buckets.items()):
        if len({v.rule.policy_path for v in members}) < 2 \
                or len({v.rule.action for v in members}) < 2:
            continue
        index: dict[Hashable, list[int]] = defaultdict(list)
        probes = []
        for i, v in enumerate(members):
            keys, probe = _service_keys(v.rule.services)
            for key in set(keys):
                index[key].append(i)
            probes.append(probe)
        for i, a in enumerate(members):
            ra = a.rule
            if probes[i] == ["every"]:
                partners: Iterable[int] = range(i + 1, len(members))
            else:
                partners = sorted({j for key in probes[i] for j in index.get(key, ()) if j > i})
            for j in partners:
                b = members[j]
                rb = b.rule
                if ra.policy_path == rb.policy_path or ra.action == rb.action:
                    continue
                if not _surely_overlap(a, b):
                    continue
                findings.append(Finding(
                    CONFLICTING_SAME_PRIORITY, ERROR, ra.path,
                    f"overlaps rule {rb.path} ({rb.action}) with a different action "
                    f"({ra.action}): security policies {_short(ra.policy_path)} and "
                    f"{_short(rb.policy_path)} are both {category} sequence_number "
                    f"{sequence}, and NSX leaves their order undefined (here "
                    f"{_short(ra.policy_path)} is evaluated first)"))
    return findings


def _matches_nothing(views: Sequence[_View]) -> list[Finding]:
    """``RULE_MATCHES_NOTHING``: see the module docstring."""
    return [Finding(RULE_MATCHES_NOTHING, WARNING, v.rule.path, f"matches nothing: {v.nothing}")
            for v in views if v.nothing is not None and not v.rule.disabled]


def _expression_paths(items: Iterable[object]) -> Iterable[str]:
    for item in items:
        if isinstance(item, PathExpression):
            yield from item.paths
        elif isinstance(item, NestedExpression):
            yield from _expression_paths(item.expressions)


def _group_users(inv: Inventory) -> dict[str, set[str]]:
    """Group path -> paths of the objects (rules, policies, groups, ...) referencing it."""
    users: dict[str, set[str]] = defaultdict(set)
    for path in inv:
        obj = inv[path]
        if isinstance(obj, SecurityPolicy):
            for p in obj.scope:
                if p != ANY:
                    users[p].add(obj.path)
            for rule in obj.rules:
                for p in (*rule.source_groups, *rule.destination_groups, *rule.scope):
                    if p != ANY:
                        users[p].add(rule.path)
        elif isinstance(obj, Group):
            for p in _expression_paths(obj.expression):
                if p != obj.path:
                    users[p].add(obj.path)
        else:
            for p in obj.references().values():
                users[p].add(obj.path)
    return users


def _groups(dfw: CompiledDfw, inv: Inventory) -> list[Finding]:
    """``EMPTY_GROUP`` and ``UNUSED_GROUP``: see the module docstring."""
    users = _group_users(inv)
    findings = []
    for g in inv.of_type(Group):
        used = sorted(users.get(g.path, ()))
        members = dfw.groups.get(g.path)
        if members is not None and _Peers.of((members,)).empty:
            if used:
                shown = ", ".join(used[:3]) + (f" and {len(used) - 3} more" if len(used) > 3
                                               else "")
                msg = f"no member endpoints and no addresses; used by {shown}"
            else:
                msg = "no member endpoints and no addresses; nothing uses it"
            findings.append(Finding(EMPTY_GROUP, WARNING if used else INFO, g.path, msg))
        if not used:
            findings.append(Finding(UNUSED_GROUP, INFO, g.path,
                                    "no rule, security-policy scope, group or other object "
                                    "references it"))
    return findings


def lint_dfw(dfw: CompiledDfw, inv: Inventory) -> list[Finding]:
    """Every finding on the DFW of ``inv`` (compiled as ``dfw``), sorted.

    Examples:
        >>> from sdn.policy.compiler import compile_dfw
        >>> lint_dfw(compile_dfw(Inventory([])), Inventory([]))
        []
    """
    views = _views(dfw)
    return sort_findings(chain(_shadowed(dfw, views), _conflicts(views),
                               _matches_nothing(views), _groups(dfw, inv)))
