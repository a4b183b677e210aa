"""IPv4 address sets as sorted disjoint integer intervals, and their nft elements.

Why intervals: a group matches a port's address by membership and any other address by
its CIDR terms (``sdn.policy.compiler``: an AND of ORs of networks), and an nft interval
set must hold disjoint elements. Unions, intersections and removing single addresses are
exact on intervals, so the set matches exactly the addresses the simulator's group does.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, summarize_address_range

from sdn.policy.portspace import intersect_ranges as intersect
from sdn.policy.portspace import merge_ranges as union

__all__ = ["Intervals", "intersect", "union"]

#: Sorted, disjoint, non-adjacent closed intervals of IPv4 addresses as integers (the
#: connectivity answers' port ranges are the same shape: :func:`union` and :func:`intersect`
#: are theirs).
Intervals = tuple[tuple[int, int], ...]


def of_networks(nets: Iterable[IPv4Network]) -> Intervals:
    """The addresses of ``nets``."""
    return union((int(n.network_address), int(n.broadcast_address)) for n in nets)


def of_points(points: Iterable[int]) -> Intervals:
    """Single addresses."""
    return union((p, p) for p in points)


def without(a: Intervals, points: Sequence[int]) -> Intervals:
    """``a`` minus the addresses ``points`` (sorted)."""
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        start = lo
        for p in points[bisect.bisect_left(points, lo):bisect.bisect_right(points, hi)]:
            if start <= p - 1:
                out.append((start, p - 1))
            start = p + 1
        if start <= hi:
            out.append((start, hi))
    return tuple(out)


def contains(a: Intervals, address: int) -> bool:
    """Whether ``address`` is in ``a``."""
    i = bisect.bisect_right(a, (address, 0xFFFFFFFF)) - 1
    return i >= 0 and a[i][0] <= address <= a[i][1]


def elements(a: Intervals) -> tuple[str, ...]:
    """nft set elements for ``a``: an address, a CIDR when the interval is one, else a
    range ``lo-hi``.

    >>> elements(((167772160, 167772415), (167772417, 167772417), (167772420, 167772430)))
    ('10.0.0.0/24', '10.0.1.1', '10.0.1.4-10.0.1.14')
    """
    out = []
    for lo, hi in a:
        if lo == hi:
            out.append(str(IPv4Address(lo)))
            continue
        nets = list(summarize_address_range(IPv4Address(lo), IPv4Address(hi)))
        out.append(str(nets[0]) if len(nets) == 1 else f"{IPv4Address(lo)}-{IPv4Address(hi)}")
    return tuple(out)


def parse(element: str) -> tuple[int, int]:
    """The interval of one element :func:`elements` made (address, CIDR or range)."""
    if "-" in element:
        lo, hi = element.split("-", 1)
        return int(IPv4Address(lo)), int(IPv4Address(hi))
    net = IPv4Network(element, strict=False)
    return int(net.network_address), int(net.broadcast_address)
