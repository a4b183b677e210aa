"""Exact connectivity: every allowed port of every pair, and what a change gains and loses.

``sdn reach`` answers one port at a time. Here every pair gets its whole answer: per
protocol, the exact set of destination ports the DFW lets through (TCP, UDP and SCTP as
port ranges; ICMP as one class), computed from rule boundaries (:mod:`sdn.policy.
portspace`), never by enumerating ports. The same first-match semantics as
:func:`~sdn.policy.evaluator.evaluate_flow` apply (egress at the source port, then
ingress at the destination port, ``JUMP_TO_APPLICATION``, the default rule, disabled
rules, excluded sources and destinations, rules without services matching every packet),
so a port this module allows is one ``sdn explain`` allows, rule for rule. SCTP is
answered as Kubernetes means it even where NCP warns that it does not enforce it (the
warning stays in ``sdn lint``).

Work is shared as ``reach`` shares it: endpoints with equal member sets
(:meth:`~sdn.policy.firewall.Firewall.classes_of`) are indistinguishable to every rule
(as source, destination and enforcement point), so each pair of classes is decided once;
and the port classes of a pair depend only on the two lists of rules that hold the pair,
which many pairs of classes share (:class:`~sdn.policy.portspace.PairSpace` remembers
them).

Endpoints are named by their port paths in arguments (``sources``, ``destinations``,
``endpoints``): paths are what both a compiled firewall and the query index find ports
by, and they are unique across clusters. Answers name a port by ``names[path]`` when
given, else by its display name (``NS/POD`` for a pod); an outside address is named by
a CIDR of its atom (:mod:`sdn.policy.outside`). A path with no endpoint is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any, NamedTuple

from sdn.gcpause import gc_paused
from sdn.policy.compiler import Endpoint
from sdn.policy.firewall import Firewall, FirewallRule
from sdn.policy.outside import atoms, named_networks
from sdn.policy.parties import PartyKeys
from sdn.policy.portspace import (
    NO_PORTS,
    PROTOCOLS,
    Outcome,
    PairSpace,
    PortRange,
    intersect_ranges,
    matching_rules,
    merge_ranges,
    subtract_ranges,
)

__all__ = ["Connection", "FlowChange", "Outcome", "PortRange", "connectivity",
           "delta_json", "pair_outcomes", "reachability_delta"]



@dataclass(frozen=True)
class Connection:
    """What one source may open to one destination over one protocol: the allowed
    destination ports (merged ranges; None for ICMP). ``src_ip``/``dst_ip`` are addresses
    a witness packet can use (a pod's address; for an outside CIDR, an address of its
    atom that no port owns): they do not take part in equality."""

    src: str
    dst: str
    protocol: str
    ports: tuple[PortRange, ...] | None
    src_ip: IPv4Address | None = field(default=None, compare=False)
    dst_ip: IPv4Address | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FlowChange:
    """Packets of one pair and protocol whose fate a change flips: ``rule`` is the path of
    the rule that now allows them (gained) or now denies them (lost); None: the default
    rule (or, for a port gone in the after state, no rule at all)."""

    src: str
    dst: str
    protocol: str
    ports: tuple[PortRange, ...] | None
    rule: str | None


def pair_outcomes(dfw: Firewall, src: Endpoint, dst: Endpoint) -> list[Outcome]:
    """Every packet class from ``src`` to ``dst`` (see :class:`Outcome`), protocols in
    the order TCP, UDP, SCTP, ICMP, classes of a protocol by their first port."""
    return list(_Decider(dfw).classes(src, dst))


class _Decider:
    """Port classes of pairs of one firewall, the rules at each endpoint read once."""

    def __init__(self, dfw: Firewall) -> None:
        self.dfw = dfw
        self.space = PairSpace(dfw.application_start, dfw.default_action)
        self._rules: dict[tuple[int, str], Sequence[FirewallRule]] = {}

    def rules(self, index: int, direction: str) -> Sequence[FirewallRule]:
        key = (index, direction)
        found = self._rules.get(key)
        if found is None:
            found = self._rules[key] = self.dfw.candidates(index, direction)
        return found

    def classes(self, src: Endpoint, dst: Endpoint) -> tuple[Outcome, ...]:
        egress = None if src.index is None else matching_rules(
            self.rules(src.index, "OUT"), src, dst)
        ingress = None if dst.index is None else matching_rules(
            self.rules(dst.index, "IN"), src, dst)
        return self.space.classes(egress, ingress)


def allowed_ports(classes: Iterable[Outcome]) -> dict[str, tuple[PortRange, ...]]:
    """Per protocol, the allowed ports (merged; ICMP as one pseudo-range); a protocol
    with nothing allowed is absent."""
    found: dict[str, list[PortRange]] = {}
    for c in classes:
        if c.allowed:
            found.setdefault(c.protocol, []).extend(c.ports or NO_PORTS)
    return {p: merge_ranges(found[p]) for p in PROTOCOLS if p in found}


class Member(NamedTuple):
    """One end of the pairs a :class:`Matrix` answers for: its name in answers, its
    endpoint (for an outside CIDR, its atom's representative) and its party: the class of
    ports with equal member sets, or the atom, that it is answered for with."""

    label: str
    endpoint: Endpoint
    party: int


def _endpoints(dfw: Firewall, paths: Iterable[str] | None) -> list[Endpoint]:
    if paths is None:
        return [dfw.endpoint(i) for i in range(dfw.endpoint_count)]
    return list(dfw.endpoints_of(paths).values())


def _label(ep: Endpoint, names: Mapping[str, str] | None) -> str:
    if names is not None and ep.path in names:
        return names[ep.path]
    return ep.name or ep.path


def _rank(label: str, ep: Endpoint) -> tuple[int, int, str]:
    """Answers list pods by name, then outside CIDRs by address."""
    if ep.index is None:
        return (1, int(IPv4Network(label).network_address), label)
    return (0, 0, label)


def _order(member: Member) -> tuple[int, int, str]:
    return _rank(member.label, member.endpoint)


class Matrix:
    """The ends of a connectivity question, sorted as answers list them
    (:attr:`sources`, :attr:`destinations`), and the answer for any two, decided once
    per pair of parties (see the module's doc). :func:`connectivity` walks it; a writer
    of millions of entries walks it itself, to format each pair of parties once."""

    def __init__(self, dfw: Firewall, *, sources: Iterable[str] | None = None,
                 destinations: Iterable[str] | None = None, outside: bool = True,
                 names: Mapping[str, str] | None = None) -> None:
        self._decider = _Decider(dfw)
        self.reps: list[Endpoint] = []
        self._answers: dict[tuple[int, int], dict[str, tuple[PortRange, ...]]] = {}
        by_class: dict[frozenset[int], int] = {}

        def members(eps: Iterable[Endpoint]) -> list[Member]:
            out = []
            for ep in eps:
                assert ep.index is not None
                key = dfw.classes_of(ep.index)
                party = by_class.get(key)
                if party is None:
                    party = by_class[key] = len(self.reps)
                    self.reps.append(ep)
                out.append(Member(_label(ep, names), ep, party))
            return out

        srcs = members(_endpoints(dfw, sources))
        dsts = srcs if sources is None and destinations is None else members(
            _endpoints(dfw, destinations))
        if outside:
            rules = [r for rep in self.reps if rep.index is not None
                     for r in (*self._decider.rules(rep.index, "OUT"),
                               *self._decider.rules(rep.index, "IN"))]
            extra = []
            for atom in atoms(named_networks(rules), dfw.endpoint_for_ip):
                extra += [Member(label, atom.endpoint, len(self.reps)) for label in atom.labels]
                self.reps.append(atom.endpoint)
            srcs, dsts = [*srcs, *extra], [*dsts, *extra]
        self.sources = sorted(srcs, key=_order)
        self.destinations = sorted(dsts, key=_order)
        self._keys = PartyKeys(self.reps, self._decider.rules)
        self._numbers: dict[tuple[int, int], int] = {}  # by the two rule lists' keys
        self._distinct: list[dict[str, tuple[PortRange, ...]]] = [{}]
        self._by_value: dict[tuple[tuple[str, tuple[PortRange, ...]], ...], int] = {(): 0}
        self._ingress: list[list[int]] | None = None

    @staticmethod
    def paired(src: Member, dst: Member) -> bool:
        """Whether the pair is answered for: not a port with itself, not two outside
        addresses (neither has an enforcement point)."""
        s, d = src.endpoint.index, dst.endpoint.index
        return s != d if s is not None else d is not None

    def row(self, src: Member) -> Iterator[Connection]:
        """The entries of ``src``: destinations in order, protocols in answer order."""
        for dst in self.destinations:
            if self.paired(src, dst):
                for protocol, ports in self.allowed(src, dst).items():
                    yield Connection(src.label, dst.label, protocol,
                                     None if protocol == "ICMP" else ports,
                                     src.endpoint.ip, dst.endpoint.ip)

    def connections(self) -> Iterator[Connection]:
        """Every entry: sources in order, each source's :meth:`row`."""
        for src in self.sources:
            yield from self.row(src)

    def allowed(self, src: Member, dst: Member) -> dict[str, tuple[PortRange, ...]]:
        """Per protocol, the ports ``src`` may open to ``dst`` (ICMP: ``((0, 0),)``);
        a protocol with nothing allowed is absent."""
        key = (src.party, dst.party)
        found = self._answers.get(key)
        if found is None:
            keys = self._keys
            found = self._answers[key] = self.answer(self._number(
                keys.egress(src.party)[dst.party], keys.ingress(dst.party)[src.party]))
        return found

    def answer(self, number: int) -> dict[str, tuple[PortRange, ...]]:
        """The answer numbered ``number`` (:meth:`numbers_from`); 0 is nothing allowed."""
        return self._distinct[number]

    def numbers_from(self, party: int) -> list[int]:
        """The numbers of the answers (:meth:`answer`) from a member of ``party`` to a
        member of each party (by party), for a writer that walks one source's
        destinations: one list index per destination instead of a call, and answers
        equal by value have one number, so it may format each once. An outside party's
        answer to an outside party is 0 (they are not paired)."""
        keys = self._keys
        if self._ingress is None:
            self._ingress = [keys.ingress(other) for other in range(len(self.reps))]
        egress, ingress, number = keys.egress(party), self._ingress, self._number
        if self.reps[party].index is None:
            return [0 if rep.index is None else number(egress[other], ingress[other][party])
                    for other, rep in enumerate(self.reps)]
        return [number(egress[other], ingress[other][party]) for other in range(len(egress))]

    def _number(self, egress: int, ingress: int) -> int:
        """The number of the answer of a pair held by the egress and ingress rule lists
        so numbered (:class:`~sdn.policy.parties.PartyKeys`), decided once per two
        lists."""
        pair = (egress, ingress)
        found = self._numbers.get(pair)
        if found is None:
            keys = self._keys
            answer = self._decider.space.allowed(keys.rules_of(egress),
                                                 keys.rules_of(ingress))
            value = tuple(answer.items())
            found = self._by_value.get(value)
            if found is None:
                found = self._by_value[value] = len(self._distinct)
                self._distinct.append(answer)
            self._numbers[pair] = found
        return found


def connectivity(dfw: Firewall, *, sources: Iterable[str] | None = None,
                 destinations: Iterable[str] | None = None, outside: bool = True,
                 names: Mapping[str, str] | None = None) -> Iterator[Connection]:
    """The allowed sets of every ordered pair from ``sources`` to ``destinations`` (port
    paths; None: every endpoint), self pairs left out, sorted by source, destination and
    protocol. With ``outside``, also the pairs between those ports and the outside atoms
    of the CIDRs the rules at them name (see :mod:`sdn.policy.outside`)."""
    return Matrix(dfw, sources=sources, destinations=destinations, outside=outside,
                  names=names).connections()


def _changes(before: tuple[Outcome, ...] | None, after: tuple[Outcome, ...] | None
             ) -> tuple[list[tuple[str, tuple[PortRange, ...], str | None]],
                        list[tuple[str, tuple[PortRange, ...], str | None]]]:
    """What one pair gains and loses, per protocol and deciding rule of the after state
    (None for a pair that does not exist on one side: nothing allowed there)."""
    was = allowed_ports(before or ())
    now = allowed_ports(after or ())
    gained: list[tuple[str, tuple[PortRange, ...], str | None]] = []
    lost: list[tuple[str, tuple[PortRange, ...], str | None]] = []
    for protocol in PROTOCOLS:
        plus = subtract_ranges(now.get(protocol, ()), was.get(protocol, ()))
        minus = subtract_ranges(was.get(protocol, ()), now.get(protocol, ()))
        if not plus and not minus:
            continue
        if after is None:
            lost.append((protocol, minus, None))
            continue
        for c in after:
            if c.protocol != protocol:
                continue
            part = intersect_ranges(c.ports or NO_PORTS, plus if c.allowed else minus)
            if part:
                (gained if c.allowed else lost).append(
                    (protocol, part, None if c.rule is None else c.rule.path))
    return gained, lost


def reachability_delta(before: Firewall, after: Firewall, *,
                       endpoints: Iterable[str] | None = None,
                       names: Mapping[str, str] | None = None
                       ) -> tuple[list[FlowChange], list[FlowChange]]:
    """The flows gained and lost from ``before`` to ``after``, over the pairs with at
    least one end in ``endpoints`` (port paths; None: every pair), ports matched across
    the two firewalls by path (a port on one side only has nothing allowed on the other).
    Pairs with the outside atoms of the CIDRs named by the rules at those ports count
    too. Each change names the after state's deciding rule."""
    with gc_paused():  # bounded bulk work beside a large heap (see sdn.gcpause)
        return _DeltaRun(before, after, names).run(endpoints)


@dataclass
class _Twin:
    """Ports answered for alike in both firewalls (equal member sets in each; a port
    missing from one side is None there), or one outside atom (in both)."""

    reps: tuple[Endpoint | None, Endpoint | None]
    members: list[tuple[str, Endpoint]] = field(default_factory=list)
    focus: list[tuple[str, Endpoint]] = field(default_factory=list)

    @property
    def outside(self) -> bool:
        rep = self.reps[0] or self.reps[1]
        return rep is not None and rep.index is None


class _DeltaRun:
    """One :func:`reachability_delta`: pairs of twins decided once in each firewall."""

    def __init__(self, before: Firewall, after: Firewall,
                 names: Mapping[str, str] | None) -> None:
        self.firewalls = (before, after)
        self.deciders = (_Decider(before), _Decider(after))
        self.names = names

    def run(self, endpoints: Iterable[str] | None
            ) -> tuple[list[FlowChange], list[FlowChange]]:
        focus = None if endpoints is None else set(endpoints)
        twins = self._twins(focus)
        twins += self._atoms([t for t in twins if t.focus])
        gained: list[tuple[Any, FlowChange]] = []
        lost: list[tuple[Any, FlowChange]] = []
        for near in twins:
            if not near.focus:
                continue
            for far in twins:
                if near.outside and far.outside:
                    continue
                self._emit(near, far, near.focus, far.members, gained, lost)
                chosen = {id(m) for m in far.focus}
                others = [m for m in far.members if id(m) not in chosen]
                if others:
                    self._emit(far, near, others, near.focus, gained, lost)
        gained.sort(key=lambda row: row[0])
        lost.sort(key=lambda row: row[0])
        return [c for _, c in gained], [c for _, c in lost]

    def _twins(self, focus: set[str] | None) -> list[_Twin]:
        before, after = self.firewalls
        sides = [{ep.path: ep for ep in _endpoints(dfw, None)} for dfw in self.firewalls]
        by_key: dict[tuple[frozenset[int] | None, frozenset[int] | None], _Twin] = {}
        for path in sorted(set(sides[0]) | set(sides[1])):
            b, a = sides[0].get(path), sides[1].get(path)
            key = (None if b is None or b.index is None else before.classes_of(b.index),
                   None if a is None or a.index is None else after.classes_of(a.index))
            twin = by_key.get(key)
            if twin is None:
                twin = by_key[key] = _Twin((b, a))
            ep = a or b
            assert ep is not None
            member = (_label(ep, self.names), ep)
            twin.members.append(member)
            if focus is None or path in focus:
                twin.focus.append(member)
        return list(by_key.values())

    def _atoms(self, near: list[_Twin]) -> list[_Twin]:
        rules: list[FirewallRule] = []
        for side, decider in enumerate(self.deciders):
            for twin in near:
                rep = twin.reps[side]
                if rep is not None and rep.index is not None:
                    rules += [*decider.rules(rep.index, "OUT"), *decider.rules(rep.index, "IN")]
        before, after = self.firewalls

        def owner(ip: IPv4Address) -> Endpoint:
            ep = before.endpoint_for_ip(ip)
            return ep if ep.index is not None else after.endpoint_for_ip(ip)

        return [_Twin((a.endpoint, a.endpoint), [(label, a.endpoint) for label in a.labels])
                for a in atoms(named_networks(rules), owner)]

    def _emit(self, src: _Twin, dst: _Twin, sources: list[tuple[str, Endpoint]],
              destinations: list[tuple[str, Endpoint]], gained: list[tuple[Any, FlowChange]],
              lost: list[tuple[Any, FlowChange]]) -> None:
        decided = [None if s is None or d is None else decider.classes(s, d)
                   for decider, s, d in zip(self.deciders, src.reps, dst.reps, strict=True)]
        plus, minus = _changes(decided[0], decided[1])
        if not plus and not minus:
            return
        for s_label, s_ep in sources:
            for d_label, d_ep in destinations:
                if s_ep.path == d_ep.path and s_ep.index is not None:
                    continue
                for into, found in ((gained, plus), (lost, minus)):
                    for protocol, ports, rule in found:
                        into.append(((_rank(s_label, s_ep), _rank(d_label, d_ep),
                                      PROTOCOLS.index(protocol), ports),
                                     FlowChange(s_label, d_label, protocol,
                                                None if protocol == "ICMP" else ports, rule)))


def change_json(c: FlowChange) -> dict[str, Any]:
    """One change as JSON: ``ports`` as ``[[lo, hi], ...]``, absent for ICMP."""
    out: dict[str, Any] = {"src": c.src, "dst": c.dst, "protocol": c.protocol}
    if c.ports is not None:
        out["ports"] = [list(r) for r in c.ports]
    out["rule"] = c.rule
    return out


def delta_json(gained: Sequence[FlowChange], lost: Sequence[FlowChange]) -> dict[str, Any]:
    """``{"gained": [{"src", "dst", "protocol", "ports", "rule"}], "lost": [...]}``."""
    return {"gained": [change_json(c) for c in gained],
            "lost": [change_json(c) for c in lost]}
