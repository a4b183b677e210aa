"""The values one dimension of a rule takes, and how two of them compare.

A side (sources or destinations, or the ports a rule is applied to) is a :class:`Peers`:
member endpoints and outside-address terms, addresses as merged integer ranges. Services
are the compiled :class:`~sdn.policy.compiler.Service` tuples. For each kind of value:
whether one covers another (shadowing), whether two surely overlap (conflicts), and the
index keys (``register``) and witnesses that :class:`~sdn.policy.lint.index.Dim` uses to
find the values covering a value without comparing all of them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from itertools import islice

from pyroaring import FrozenBitMap

from sdn.policy.compiler import GroupMembers, Service
from sdn.policy.portspace import merge_ranges as merge

#: How many outside-address terms of a set are tried as the witness of its supersets.
WITNESS_SAMPLE = 8
#: Port ranges up to this many ports are indexed port by port; wider ones in one list.
SMALL_RANGE = 64
#: Address ranges spanning fewer /16s than this are indexed per /16; wider ones in one list.
WIDE = 256

#: An address range as integers (first, last), and a sorted list of disjoint ranges.
Range = tuple[int, int]
Ranges = tuple[Range, ...]
#: An outside-address term: an AND of criteria, each an OR of address ranges.
Term = tuple[Ranges, ...]


def address_ranges(nets: Iterable[IPv4Network]) -> Ranges:
    return tuple(merge((int(n.network_address), int(n.broadcast_address)) for n in nets))


def within(ranges: Iterable[Range], cover: Ranges) -> bool:
    """Every range inside one range of ``cover`` (merged, so this is exact)."""
    starts = [lo for lo, _ in cover]
    for lo, hi in ranges:
        i = bisect_right(starts, lo) - 1
        if i < 0 or cover[i][1] < hi:
            return False
    return True


def meet(a: Ranges, b: Ranges) -> bool:
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


#: A set of endpoint numbers as a compressed bitmap: a side of a realistic cluster's rule
#: selects up to a third of 100,000 pods, and tens of thousands of distinct sides held as
#: frozensets took 21 GiB; as bitmaps (union, containment and overlap in C) well under 1.
Members = FrozenBitMap


@dataclass(frozen=True)
class Peers:
    """The union of a rule's groups on one side: member endpoints and outside terms."""

    endpoints: Members
    outside: tuple[Term, ...]
    #: The union of the single-criterion terms (for containment and overlap).
    flat: Ranges = field(default=(), compare=False)

    @staticmethod
    def of(groups: Sequence[GroupMembers],
           members: Callable[[GroupMembers], Members] | None = None) -> Peers:
        """The side of ``groups``; ``members`` gives a group's endpoints as a bitmap (a
        caller that meets a group many times converts it once)."""
        maps = [members(g) if members is not None else Members(g.endpoints) for g in groups]
        endpoints = maps[0] if len(maps) == 1 else Members.union(*maps) if maps else Members()
        terms = (tuple(address_ranges(crit) for crit in term)
                 for g in groups for term in g.outside_terms)
        # a term with a criterion that matches no address matches nothing: dropped
        outside = tuple(dict.fromkeys(t for t in terms if t and all(t)))
        flat = tuple(merge(r for t in outside if len(t) == 1 for r in t[0]))
        return Peers(endpoints, outside, flat)

    @property
    def empty(self) -> bool:
        return not self.endpoints and not self.outside


def side_is_empty(group: GroupMembers) -> bool:
    """Whether one group's side is :attr:`Peers.empty` (no member endpoint, and every
    outside term has a criterion without an address), without building its ranges:
    the lint asks it of every group."""
    return not group.endpoints and not any(term and all(term) for term in group.outside_terms)


#: Above every address: ``(lo, _PAST)`` sorts after every range starting at ``lo``.
_PAST = 1 << 33


class Addresses:
    """The addresses of the inventory's ports, sorted: an outside witness must avoid them,
    and a CIDR range whose uncovered part holds only port addresses is still covered
    (those addresses are ports, compared as member endpoints instead)."""

    def __init__(self, ips: Iterable[int]) -> None:
        self.sorted = sorted(set(ips))

    def count(self, lo: int, hi: int) -> int:
        """How many port addresses lie in ``lo..hi``."""
        return bisect_right(self.sorted, hi) - bisect_left(self.sorted, lo)

    def first_free(self, ranges: Ranges) -> int | None:
        """The lowest address of ``ranges`` that is no port's, else None: past the run
        of consecutive port addresses starting at a range's first address, found by
        bisection (port addresses are distinct and sorted, so ``address - position``
        never decreases along them)."""
        ips = self.sorted
        for lo, hi in ranges:
            i = bisect_left(ips, lo)
            # the first j >= i where ips[j] is not lo + (j - i): the end of the run
            first, last = i, len(ips)
            while first < last:
                mid = (first + last) // 2
                if ips[mid] - mid == lo - i:
                    first = mid + 1
                else:
                    last = mid
            candidate = lo + (first - i)
            if candidate <= hi:
                return candidate
        return None


def gaps(ranges: Iterable[Range], cover: Ranges) -> Iterator[Range]:
    """The parts of ``ranges`` outside ``cover`` (both merged)."""
    for lo, hi in ranges:
        i = max(bisect_right(cover, (lo, _PAST)) - 1, 0)
        at = lo
        while at <= hi and i < len(cover):
            clo, chi = cover[i]
            if chi < at:
                i += 1
                continue
            if clo > at:
                yield (at, min(hi, clo - 1))
            at = chi + 1
            i += 1
        if at <= hi:
            yield (at, hi)


def within_but(ranges: Iterable[Range], cover: Ranges, ports: Addresses) -> bool:
    """Every address of ``ranges`` inside ``cover`` or a port's own: as the end of a flow
    a port's address is that port (compared as a member endpoint), never an outside
    address, so an uncovered part holding only port addresses uncovers nothing."""
    return all(ports.count(lo, hi) == hi - lo + 1 for lo, hi in gaps(ranges, cover))


def term_covered(term: Term, a: Peers, ports: Addresses | None = None) -> bool:
    """Every outside address of ``term`` matches ``a``'s outside terms: exactly for a
    term of one criterion against ``a``'s single-criterion terms (with ``ports``, the
    inventory's addresses left out; without, conservatively), conservatively for terms
    of several criteria (ANDs of CIDR lists)."""
    if any(within(crit, a.flat) for crit in term):
        return True
    if ports is not None and len(term) == 1 and within_but(term[0], a.flat, ports):
        return True
    return any(len(ta) > 1 and all(any(within(cb, ca) for cb in term) for ca in ta)
               for ta in a.outside)


def peers_cover(a: Peers | None, b: Peers | None, ports: Addresses | None = None) -> bool:
    """Whether side ``a`` matches everything side ``b`` matches (None: ANY); ``ports``:
    the inventory's addresses (see :func:`term_covered`)."""
    if a is None:
        return True
    if b is None:
        return False
    if not a.endpoints >= b.endpoints:
        return False
    return all(term_covered(t, a, ports) for t in b.outside)


def peers_register(v: Peers) -> Iterable[Hashable]:
    # an endpoint is its own key (an int; the other keys are tuples): millions of
    # registrations on a large cluster, and none of them allocates
    keys: list[Hashable] = list(v.endpoints)
    if v.outside:
        keys.append(("o",))
    for lo, hi in v.flat:
        first, last = lo >> 16, hi >> 16
        keys += ([("n16", k) for k in range(first, last + 1)] if last - first < WIDE
                 else [("wide",)])
    if any(len(t) > 1 for t in v.outside):
        keys.append(("multi",))
    return keys


def peers_witnesses(v: Peers) -> list[tuple[Hashable, ...]]:
    if v.endpoints:
        return [(i,) for i in v.endpoints]
    single = [t for t in v.outside if len(t) == 1]
    if single:
        # a cover holds each of these ranges inside its flat ranges or a multi-criterion term
        return [(("n16", t[0][0][0] >> 16), ("wide",), ("multi",))
                for t in islice(single, WITNESS_SAMPLE)]
    if v.outside:
        return [(("o",),)]
    return []


Services = tuple[Service, ...]


def services_cover(a: Services | None, b: Services | None) -> bool:
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
        merged = merge(r for sa in usable for r in sa.ports)
        if not all(any(lo <= blo and bhi <= hi for lo, hi in merged) for blo, bhi in sb.ports):
            return False
    return True


def services_register(v: Services) -> Iterable[Hashable]:
    keys: list[Hashable] = []
    for s in v:
        if s.source_ports:
            continue
        if not s.ports:
            keys.append(("all", s.protocol))
        for lo, hi in s.ports:
            if hi - lo < SMALL_RANGE:
                keys += [("port", s.protocol, p) for p in range(lo, hi + 1)]
            else:
                keys.append(("range", s.protocol))
    return keys


def services_witnesses(v: Services) -> list[tuple[Hashable, ...]]:
    out: list[tuple[Hashable, ...]] = []
    for s in v:
        if not s.ports:
            out.append((("all", s.protocol),))
        else:
            out.append((("port", s.protocol, s.ports[0][0]), ("all", s.protocol),
                        ("range", s.protocol)))
    return out


def ranges_meet(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> bool:
    if not a or not b:
        return True
    return any(alo <= bhi and blo <= ahi for alo, ahi in a for blo, bhi in b)


def services_surely_overlap(a: Services | None, b: Services | None) -> bool:
    if a is None or b is None:
        return True
    return any(sa.protocol == sb.protocol and ranges_meet(sa.ports, sb.ports)
               and ranges_meet(sa.source_ports, sb.source_ports) for sa in a for sb in b)

