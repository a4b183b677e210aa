"""Which rules hold each pair of parties, for all pairs at once, by splitting bitmasks.

A *party* is a class of ports with equal member sets, or one outside atom: every rule
treats the members of a party alike. The packets of a pair of parties are decided by the
enabled rules at the source's egress whose sources hold the source and destinations hold
the destination, and likewise at the destination's ingress (:mod:`sdn.policy.portspace`
then cuts the ports). Testing every rule against every pair costs rules x pairs: at
1,000 pods (600 parties, 360,000 pairs) that was most of ``sdn connectivity``.

Instead, each rule's sides become bitmasks over the parties (one membership test per
group and party, remembered per group), and for one source party the destinations are
split rule by rule: the parties a rule's destinations hold take the rule, the others do
not. What is left is a few groups of destinations, each with one list of rules, found
with a couple of big-integer operations per rule instead of a test per destination
(:meth:`PartyKeys.egress`); the ingress of one destination party splits the sources the
same way (:meth:`PartyKeys.ingress`). A pair's rules are then two list lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from sdn.policy.compiler import Endpoint
from sdn.policy.firewall import FirewallRule, MemberSet

#: A list of rules that holds a pair at one enforcement point, by number
#: (:meth:`PartyKeys.rules_of`); None: no enforcement point (an outside address).
Key = int


def bits(mask: int) -> Iterator[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class PartyKeys:
    """The rule lists holding each pair of ``reps`` (parties by number), at egress and at
    ingress, computed a party at a time (see the module's doc). ``rules_at(index,
    direction)`` gives the candidates at a port."""

    def __init__(self, reps: Sequence[Endpoint],
                 rules_at: Callable[[int, str], Sequence[FirewallRule]]) -> None:
        self.reps = reps
        self.rules_at = rules_at
        self.everyone = (1 << len(reps)) - 1
        self._groups: dict[int, tuple[MemberSet, int]] = {}  # id -> (group kept alive, mask)
        self._sides: dict[tuple[int, int], tuple[FirewallRule, int]] = {}  # kept alive
        self._keys: dict[tuple[int, ...] | None, Key] = {}
        self._lists: list[tuple[FirewallRule, ...] | None] = []
        self._egress: dict[int, list[Key]] = {}
        self._ingress: dict[int, list[Key]] = {}

    def rules_of(self, key: Key) -> tuple[FirewallRule, ...] | None:
        """The rule list numbered ``key``."""
        return self._lists[key]

    def _key(self, rules: tuple[FirewallRule, ...] | None) -> Key:
        orders = None if rules is None else tuple(r.order for r in rules)
        found = self._keys.get(orders)
        if found is None:
            found = self._keys[orders] = len(self._lists)
            self._lists.append(rules)
        return found

    def _group(self, group: MemberSet) -> int:
        found = self._groups.get(id(group))
        if found is None:
            mask = 0
            for n, rep in enumerate(self.reps):
                if group.contains(rep):
                    mask |= 1 << n
            found = self._groups[id(group)] = (group, mask)
        return found[1]

    def side(self, rule: FirewallRule, sources: bool) -> int:
        """The parties the rule's sources (or destinations) hold, exclusion applied."""
        key = (id(rule), int(sources))
        known = self._sides.get(key)
        if known is not None:
            return known[1]
        groups = rule.sources if sources else rule.destinations
        excluded = rule.sources_excluded if sources else rule.destinations_excluded
        if groups is None:
            mask = self.everyone
        else:
            mask = 0
            for g in groups:
                mask |= self._group(g)
            if excluded:
                mask = self.everyone & ~mask
        self._sides[key] = (rule, mask)
        return mask

    def _split(self, party: int, direction: str) -> list[Key]:
        """Per party on the other end, the key of the rules at ``party`` holding the
        pair (``party`` the source for OUT, the destination for IN)."""
        rep = self.reps[party]
        out = [0] * len(self.reps)
        if rep.index is None:
            out[:] = [self._key(None)] * len(self.reps)
            return out
        here, there = (True, False) if direction == "OUT" else (False, True)
        groups: list[tuple[int, tuple[FirewallRule, ...]]] = [(self.everyone, ())]
        for rule in self.rules_at(rep.index, direction):
            if rule.disabled or not self.side(rule, here) >> party & 1:
                continue
            mask = self.side(rule, there)
            split = []
            for members, rules in groups:
                taking = members & mask
                if taking:
                    split.append((taking, (*rules, rule)))
                if members != taking:
                    split.append((members & ~mask, rules))
            groups = split
        for members, rules in groups:
            key = self._key(rules)
            for n in bits(members):
                out[n] = key
        return out

    def egress(self, src: int) -> list[Key]:
        """Per destination party, the key of the egress rules of ``src`` holding the
        pair."""
        found = self._egress.get(src)
        if found is None:
            found = self._egress[src] = self._split(src, "OUT")
        return found

    def ingress(self, dst: int) -> list[Key]:
        """Per source party, the key of the ingress rules of ``dst`` holding the pair."""
        found = self._ingress.get(dst)
        if found is None:
            found = self._ingress[dst] = self._split(dst, "IN")
        return found
