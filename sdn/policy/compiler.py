"""Compile an inventory's DFW into a form that evaluates flows quickly.

Compilation does the expensive, flow-independent work once:

1. **Endpoints.** Every segment port with an address becomes an endpoint with an index;
   inverted indexes map each tag (``scope``, ``value``) and each tag scope to the set of
   endpoints carrying it, on the port itself and on its segment (namespace labels).
2. **Groups.** A group's expression is an OR of AND-terms (see :mod:`sdn.model.dfw`);
   each criterion resolves to a set of endpoint indexes through the indexes, so a group
   becomes a ``frozenset`` of endpoints plus, for its purely address-based terms, the
   CIDRs that match addresses outside the inventory. Identical expressions are resolved
   once.
3. **Rules.** Security policies are ordered by category (Ethernet, Emergency,
   Infrastructure, Environment, Application), then ``sequence_number``, then path (NSX
   leaves equal sequence numbers unordered; sorting by path makes every answer
   independent of load order); rules likewise inside a policy. Each rule keeps its
   applied-to set (the rule's ``scope``, else the policy's, ``None`` for ANY), its source
   and destination groups, and its services as (protocol, port ranges).
4. **Signatures.** Each endpoint's signature is the set of groups it belongs to. Two
   endpoints with the same signature are indistinguishable to every rule, so reach
   evaluates one per class (pods with identical labels in one namespace share one).

The default rule: NSX's ``default-layer3-section`` policy, when present in the inventory,
is evaluated last; without it the default action is ``default_action`` (ALLOW, as NSX
ships it).
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import TypeVar

from sdn.gcpause import gc_paused
from sdn.model import (
    ANY,
    CATEGORY_ORDER,
    Condition,
    ConjunctionOperator,
    Group,
    ICMPTypeServiceEntry,
    Inventory,
    IPAddressExpression,
    IPProtocolServiceEntry,
    L4PortSetServiceEntry,
    NestedExpression,
    PathExpression,
    Rule,
    SecurityPolicy,
    Segment,
    SegmentPort,
)
from sdn.model import Service as NamedService
from sdn.model.values import port_bounds

#: The id of NSX's default layer-3 policy; evaluated after every other policy.
DEFAULT_SECTION_ID = "default-layer3-section"

PROTOCOL_NUMBERS = {"ICMP": 1, "TCP": 6, "UDP": 17, "SCTP": 132}


@dataclass(frozen=True)
class Endpoint:
    """One side of a flow: a port of the inventory (``index``) or an outside address."""

    ip: IPv4Address
    index: int | None = None
    path: str = ""
    name: str = ""
    #: The numbers of the member sets a port endpoint read from the query index belongs
    #: to (:class:`~sdn.policy.firewall.SetRef`); None when read from a compiled firewall,
    #: whose groups hold their members.
    classes: frozenset[int] | None = field(default=None, compare=False, repr=False)


_K = TypeVar("_K")

#: An AND of address criteria, each an OR of networks.
Term = tuple[tuple[IPv4Network, ...], ...]


def outside_match(terms: tuple[Term, ...], ip: IPv4Address) -> bool:
    """Whether an address outside the inventory matches a group's address terms."""
    return any(all(any(ip in n for n in crit) for crit in term) for term in terms)


@dataclass(frozen=True)
class GroupMembers:
    """A resolved group: its endpoints, and CIDR terms that match outside addresses."""

    path: str
    #: Mutable so that :mod:`sdn.policy.membership` can move one endpoint in or out in
    #: place; groups with the same expression share one set (their members are equal).
    endpoints: set[int]
    outside_terms: tuple[Term, ...] = ()

    def contains(self, ep: Endpoint) -> bool:
        """Whether the endpoint is a member."""
        if ep.index is not None:
            return ep.index in self.endpoints
        return outside_match(self.outside_terms, ep.ip)


@dataclass(frozen=True)
class Service:
    """One service entry: protocol number and destination port ranges (empty: all)."""

    protocol: int
    ports: tuple[tuple[int, int], ...] = ()
    source_ports: tuple[tuple[int, int], ...] = ()

    def matches(self, protocol: int, dport: int | None, sport: int | None) -> bool:
        if protocol != self.protocol:
            return False
        if self.ports and (dport is None or not any(a <= dport <= b for a, b in self.ports)):
            return False
        return not (self.source_ports and (
            sport is None or not any(a <= sport <= b for a, b in self.source_ports)))


@dataclass(frozen=True)
class CompiledRule:
    """A rule as evaluation needs it, with where it came from."""

    order: int
    category: str
    policy_path: str
    policy_sequence: int
    path: str
    rule_id: int
    sequence_number: int
    action: str
    direction: str
    applied_to: set[int] | None
    applied_to_paths: tuple[str, ...]
    sources: tuple[GroupMembers, ...] | None
    destinations: tuple[GroupMembers, ...] | None
    sources_excluded: bool
    destinations_excluded: bool
    services: tuple[Service, ...] | None
    disabled: bool
    is_default: bool = False

    def applies_at(self, index: int) -> bool:
        """Whether the rule is enforced at this endpoint's port."""
        return self.applied_to is None or index in self.applied_to


@dataclass
class CompiledDfw:
    """The evaluable DFW of one inventory revision."""

    revision: int
    endpoints: list[Endpoint]
    rules: list[CompiledRule]
    groups: dict[str, GroupMembers]
    default_action: str
    application_start: int
    by_ip: dict[IPv4Address, int] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)
    _signatures: list[frozenset[str]] | None = None
    #: Orders of the rules applied at each endpoint (beyond the ANY ones), sorted; kept
    #: current by :mod:`sdn.policy.membership`.
    rules_at: list[list[int]] = field(default_factory=list)
    #: Orders of the rules applied everywhere (applied-to ANY).
    rules_everywhere: list[int] = field(default_factory=list)
    _candidates: dict[tuple[int, str], list[CompiledRule]] = field(default_factory=dict)
    _classes: list[frozenset[int]] | None = None

    @property
    def signatures(self) -> list[frozenset[str]]:
        """Per endpoint, the set of groups it belongs to (its equivalence class for
        ``reach``). Computed on first use: with many wide address groups it is large
        (every endpoint times every group containing it), and only ``reach`` and the
        membership updater need it."""
        if self._signatures is None:
            member_of: list[set[str]] = [set() for _ in self.endpoints]
            for members in self.groups.values():
                for i in members.endpoints:
                    member_of[i].add(members.path)
            self._signatures = [frozenset(s) for s in member_of]
        return self._signatures

    @property
    def classes(self) -> list[frozenset[int]]:
        """Per endpoint, the distinct member sets it belongs to, by number: the same
        partition of the endpoints as :attr:`signatures` (groups with one expression
        share one member set, and an endpoint is in every group of a set it is in), but
        each set counted once instead of every group naming it. With 75,000 policies
        whose peers select half the cluster, thousands of groups share each wide set,
        and :attr:`signatures` would hold every endpoint times every one of them."""
        if self._classes is None:
            member_of: list[list[int]] = [[] for _ in self.endpoints]
            numbers = self.set_numbers()
            seen: set[int] = set()
            for members in self.groups.values():
                number = numbers[id(members.endpoints)]
                if number in seen:
                    continue
                seen.add(number)
                for i in members.endpoints:
                    member_of[i].append(number)
            self._classes = [frozenset(m) for m in member_of]
        return self._classes

    def set_numbers(self) -> dict[int, int]:
        """The number of each distinct member set (by ``id``), in the order of the groups
        first naming them: the numbers :attr:`classes` holds."""
        numbers: dict[int, int] = {}
        for members in self.groups.values():
            numbers.setdefault(id(members.endpoints), len(numbers))
        return numbers

    def forget_classes(self) -> None:
        """Drop :attr:`classes` after member sets changed (recomputed when next asked)."""
        self._classes = None

    def candidates(self, index: int, direction: str) -> list[CompiledRule]:
        """The rules enforced at one endpoint in one direction, in evaluation order.

        Built from the per-endpoint index and cached; evaluation then looks at a handful of
        rules instead of every rule of the DFW.
        """
        key = (index, direction)
        found = self._candidates.get(key)
        if found is None:
            orders = heapq.merge(self.rules_at[index], self.rules_everywhere)
            found = [r for r in (self.rules[o] for o in orders)
                     if r.direction == direction or r.direction == "IN_OUT"]
            self._candidates[key] = found
        return found

    def forget(self, index: int) -> None:
        """Drop cached candidates of an endpoint whose applied-to sets changed."""
        self._candidates.pop((index, "IN"), None)
        self._candidates.pop((index, "OUT"), None)

    def endpoint_for_ip(self, ip: IPv4Address) -> Endpoint:
        """The port endpoint owning ``ip``, else an outside endpoint."""
        index = self.by_ip.get(ip)
        return self.endpoints[index] if index is not None else Endpoint(ip=ip)

    @property
    def endpoint_count(self) -> int:
        """How many endpoints (ports with an address) there are."""
        return len(self.endpoints)

    def endpoint(self, index: int) -> Endpoint:
        """The endpoint with this index."""
        return self.endpoints[index]

    def endpoints_of(self, paths: Iterable[str]) -> dict[str, Endpoint]:
        """The endpoints of those port paths that have one, by path."""
        wanted = set(paths)
        return {ep.path: ep for ep in self.endpoints if ep.path in wanted}

    def classes_of(self, index: int) -> frozenset[int]:
        """The numbers of the member sets endpoint ``index`` belongs to."""
        return self.classes[index]


class _Index:
    """Inverted indexes from tags to endpoints (ports and their segments' tags).

    Each index entry is a ``frozenset`` built once, and each distinct criterion is answered
    once (:meth:`condition`, :meth:`addresses` remember their answers): tens of thousands of
    groups repeat the same few criteria (the cluster's tag, a namespace's), and copying a
    cluster-wide set for each of them made compiling a large inventory quadratic.
    """

    def __init__(self, inv: Inventory, ports: Sequence[SegmentPort]) -> None:
        self.all = frozenset(range(len(ports)))
        port_tag: dict[tuple[str, str], set[int]] = defaultdict(set)
        port_scope: dict[str, set[int]] = defaultdict(set)
        seg_tag: dict[tuple[str, str], set[int]] = defaultdict(set)
        seg_scope: dict[str, set[int]] = defaultdict(set)
        by_path: dict[str, set[int]] = defaultdict(set)
        self.ips: list[int] = []
        self._sorted: list[tuple[int, int]] | None = None
        self._sorted_ips: list[int] = []
        segments: dict[str, Segment | None] = {}
        for i, port in enumerate(ports):
            for t in port.tags:
                port_tag[(t.scope, t.tag)].add(i)
                port_scope[t.scope].add(i)
            seg_path = port.parent_path
            if seg_path not in segments:
                found = inv.get(seg_path)
                segments[seg_path] = found if isinstance(found, Segment) else None
            seg = segments[seg_path]
            if seg is not None:
                for t in seg.tags:
                    seg_tag[(t.scope, t.tag)].add(i)
                    seg_scope[t.scope].add(i)
            by_path[port.path].add(i)
            by_path[seg_path].add(i)
            self.ips.append(int(port.address_bindings[0].ip_address))
        self.port_tag = _frozen(port_tag)
        self.port_scope = _frozen(port_scope)
        self.seg_tag = _frozen(seg_tag)
        self.seg_scope = _frozen(seg_scope)
        self.by_path = _frozen(by_path)
        self._conditions: dict[tuple[str, str, str, str], frozenset[int]] = {}
        self._addresses: dict[tuple[IPv4Network, ...], frozenset[int]] = {}

    def condition(self, cond: Condition) -> frozenset[int]:
        key = (cond.member_type, cond.scope_operator, cond.operator, cond.value)
        found = self._conditions.get(key)
        if found is None:
            found = self._conditions[key] = self._condition(cond)
        return found

    def _condition(self, cond: Condition) -> frozenset[int]:
        if not cond.evaluated:
            return _NONE  # a criterion on members this inventory has none of
        tag_idx, scope_idx = ((self.port_tag, self.port_scope) if cond.on_ports
                              else (self.seg_tag, self.seg_scope))
        scope = cond.scope
        if cond.scope_operator == "NOTEQUALS":
            return self.all - scope_idx.get(scope, _NONE)
        values = cond.tag_values
        if cond.operator == "EQUALS":
            if values == ("",):
                return scope_idx.get(scope, _NONE)
            return tag_idx.get((scope, values[0]), _NONE)
        if cond.operator == "NOTEQUALS":
            return self.all - tag_idx.get((scope, values[0]), _NONE)
        hit: set[int] = set()
        for v in values:
            hit |= tag_idx.get((scope, v), _NONE)
        return frozenset(hit) if cond.operator == "IN" else self.all - hit

    def addresses(self, nets: tuple[IPv4Network, ...]) -> frozenset[int]:
        """Endpoints whose address lies in any of ``nets``: a binary search per network
        over the sorted addresses (a scan per ipBlock group made compiling quadratic)."""
        found = self._addresses.get(nets)
        if found is not None:
            return found
        if self._sorted is None:
            self._sorted = sorted((ip, i) for i, ip in enumerate(self.ips))
            self._sorted_ips = [ip for ip, _ in self._sorted]
        hit: set[int] = set()
        for n in nets:
            lo = bisect.bisect_left(self._sorted_ips, int(n.network_address))
            hi = bisect.bisect_right(self._sorted_ips, int(n.broadcast_address))
            hit.update(i for _, i in self._sorted[lo:hi])
        found = self._addresses[nets] = frozenset(hit)
        return found


_NONE: frozenset[int] = frozenset()


def _frozen(index: dict[_K, set[int]]) -> dict[_K, frozenset[int]]:
    return {key: frozenset(members) for key, members in index.items()}


def expression_terms(items: Sequence[object]) -> list[list[object]]:
    """A group expression as OR of AND-terms (NSX: AND binds tighter than OR); empty
    terms dropped."""
    terms: list[list[object]] = [[]]
    for item in items:
        if isinstance(item, ConjunctionOperator):
            if item.conjunction_operator == "OR":
                terms.append([])
        else:
            terms[-1].append(item)
    return [t for t in terms if t]


def _networks(texts: Iterable[str]) -> tuple[IPv4Network, ...]:
    """IPv4 networks of an address expression; IPv6 entries match nothing here (the
    emulator's datapath is IPv4 only)."""
    out: list[IPv4Network] = []
    for text in texts:
        if ":" in text:
            continue
        if "-" in text:
            lo, hi = (IPv4Address(p) for p in text.split("-", 1))
            out += list(_summarize(lo, hi))
        else:
            out.append(IPv4Network(text, strict=False))
    return tuple(out)


def _summarize(lo: IPv4Address, hi: IPv4Address) -> Iterable[IPv4Network]:
    from ipaddress import summarize_address_range

    return summarize_address_range(lo, hi)


class _Resolver:
    """Resolves group expressions, memoised by their JSON text and by group path."""

    def __init__(self, inv: Inventory, index: _Index) -> None:
        self.inv = inv
        self.index = index
        self.by_text: dict[tuple[object, ...], tuple[set[int], tuple[Term, ...]]] = {}
        self.by_path: dict[str, GroupMembers] = {}
        self.resolving: set[str] = set()
        self.nets: dict[tuple[object, ...], tuple[IPv4Network, ...]] = {}

    def group(self, path: str) -> GroupMembers:
        found = self.by_path.get(path)
        if found is not None:
            return found
        obj = self.inv.get(path)
        if not isinstance(obj, Group) or path in self.resolving:
            members = GroupMembers(path, set())  # missing or cyclic: no members
        else:
            self.resolving.add(path)
            # Equal expressions (frozen models compare and hash by value) share one set.
            key = tuple(obj.expression)
            if key not in self.by_text:
                found_set, found_outside = self.expression(obj.expression)
                self.by_text[key] = (set(found_set), found_outside)
            endpoints, outside = self.by_text[key]
            members = GroupMembers(path, endpoints, outside)
            self.resolving.discard(path)
        self.by_path[path] = members
        return members

    def expression(self, items: Sequence[object]) -> tuple[frozenset[int], tuple[Term, ...]]:
        """OR of AND-terms; returns the member endpoints and the outside-address terms."""
        members: set[int] = set()
        outside: list[Term] = []
        for term in expression_terms(items):
            resolved = [self.criterion(c) for c in term]
            members |= frozenset.intersection(*(got for got, _ in resolved))
            # Addresses outside the inventory can only match terms made of address
            # criteria alone (a tag or path criterion never matches them).
            if all(nets is not None for _, nets in resolved):
                outside.append(tuple(nets for _, nets in resolved if nets is not None))
        return frozenset(members), tuple(outside)

    def criterion(self, crit: object) -> tuple[frozenset[int], tuple[IPv4Network, ...] | None]:
        """Endpoints matching one criterion, and its networks if it is address-based."""
        if isinstance(crit, Condition):
            return self.index.condition(crit), None
        if isinstance(crit, IPAddressExpression):
            nets = self.nets.get(crit.ip_addresses)
            if nets is None:
                nets = self.nets[crit.ip_addresses] = _networks(crit.ip_addresses)
            return self.index.addresses(nets), nets
        if isinstance(crit, PathExpression):
            hit: set[int] = set()
            for p in crit.paths:
                if p in self.index.by_path:
                    hit |= self.index.by_path[p]
                elif isinstance(self.inv.get(p), Group):
                    hit |= self.group(p).endpoints
            return frozenset(hit), None
        if isinstance(crit, NestedExpression):
            got, outside = self.expression(crit.expressions)
            flat = tuple(n for term in outside if len(term) == 1 for n in term[0])
            pure = len(outside) > 0 and all(len(term) == 1 for term in outside)
            return got, (flat if pure else None)
        return frozenset(), None


def _ranges(ports: Sequence[str]) -> tuple[tuple[int, int], ...]:
    return tuple(port_bounds(p) for p in ports)


def _services(rule: Rule, inv: Inventory) -> tuple[Service, ...] | None:
    """What a rule's services match: None for any. A rule naming services matches their
    entries and its own ``service_entries``; a named service that is missing matches
    nothing (a rule is never widened to any service by a dangling name)."""
    entries = list(rule.service_entries)
    named = [p for p in rule.services if p != ANY]
    for path in named:
        found = inv.get(path)
        if isinstance(found, NamedService):
            entries += found.service_entries
    if not entries and not named:
        return None  # services ANY, or no services and no entries
    out = []
    for entry in entries:
        if isinstance(entry, L4PortSetServiceEntry):
            out.append(Service(PROTOCOL_NUMBERS[entry.l4_protocol],
                               _ranges(entry.destination_ports), _ranges(entry.source_ports)))
        elif isinstance(entry, ICMPTypeServiceEntry):
            out.append(Service(1))
        elif isinstance(entry, IPProtocolServiceEntry):
            out.append(Service(entry.protocol_number))
    return tuple(out)


def policy_order(p: SecurityPolicy) -> tuple[int, int, int, str]:
    """Where a policy stands in NSX's evaluation: by category, then sequence number (path
    breaks ties), NCP's default section last."""
    is_default = p.id == DEFAULT_SECTION_ID
    return (int(is_default), CATEGORY_ORDER.index(p.category), p.sequence_number, p.path)


def rule_order(r: Rule) -> tuple[int, str]:
    """Where a rule stands within its policy: sequence number, then path."""
    return (r.sequence_number, r.path)


def compile_dfw(inv: Inventory, *, default_action: str = "ALLOW",
                reuse: dict[str, GroupMembers] | None = None) -> CompiledDfw:
    """Compile the inventory's groups and security policies (see the module docstring).

    ``reuse``: groups already resolved, by path, taken as they are (a what-if compiles
    the firewall after a change from the one before: :mod:`sdn.policy.whatif`); the
    caller vouches that their members are this inventory's, endpoint for endpoint.

    The cyclic garbage collector is paused meanwhile: compiling allocates millions of
    small objects and makes no cycles, and with a large inventory loaded each full
    collection walks all of it again.
    """
    with gc_paused():
        return _compile(inv, default_action, reuse or {})


def _compile(inv: Inventory, default_action: str,
             reuse: dict[str, GroupMembers]) -> CompiledDfw:
    ports = [p for p in inv.of_type(SegmentPort) if p.address_bindings]
    index = _Index(inv, ports)
    resolver = _Resolver(inv, index)
    resolver.by_path.update(reuse)
    endpoints = [
        Endpoint(ip=p.address_bindings[0].ip_address, index=i, path=p.path,
                 name=p.display_name or p.id)
        for i, p in enumerate(ports)
    ]
    for g in inv.of_type(Group):
        resolver.group(g.path)

    def groups_of(paths: Sequence[str]) -> tuple[GroupMembers, ...] | None:
        if not paths or ANY in paths:
            return None
        return tuple(resolver.group(p) for p in paths)

    def applied(paths: Sequence[str]) -> set[int] | None:
        resolved = groups_of(paths)
        if resolved is None:
            return None
        return set().union(*(g.endpoints for g in resolved))

    rules: list[CompiledRule] = []
    application_start = -1
    for policy in sorted(inv.of_type(SecurityPolicy), key=policy_order):
        is_default = policy.id == DEFAULT_SECTION_ID
        if policy.category == "Application" and application_start < 0 and not is_default:
            application_start = len(rules)
        for rule in sorted(policy.rules, key=rule_order):
            scope = rule.scope if rule.scope and ANY not in rule.scope else policy.scope
            rules.append(CompiledRule(
                order=len(rules), category=policy.category, policy_path=policy.path,
                policy_sequence=policy.sequence_number, path=rule.path, rule_id=rule.rule_id,
                sequence_number=rule.sequence_number, action=rule.action,
                direction=rule.direction, applied_to=applied(scope),
                applied_to_paths=tuple(p for p in scope if p != ANY),
                sources=groups_of(rule.source_groups),
                destinations=groups_of(rule.destination_groups),
                sources_excluded=rule.sources_excluded,
                destinations_excluded=rule.destinations_excluded,
                services=_services(rule, inv), disabled=rule.disabled, is_default=is_default,
            ))
    if application_start < 0:
        application_start = next((r.order for r in rules if r.is_default), len(rules))
    compiled = CompiledDfw(
        revision=inv.revision, endpoints=endpoints, rules=rules, groups=resolver.by_path,
        default_action=default_action, application_start=application_start,
    )
    compiled.by_ip = {ep.ip: i for i, ep in enumerate(endpoints)}
    compiled.by_name = {ep.name: i for i, ep in enumerate(endpoints)}
    compiled.rules_at = [[] for _ in endpoints]
    for r in rules:
        if r.applied_to is None:
            compiled.rules_everywhere.append(r.order)
        else:
            for i in r.applied_to:
                compiled.rules_at[i].append(r.order)  # rules are in order: lists stay sorted
    return compiled
