"""CIDRs and ``ipBlock`` peers, as NSX address expressions and as pod selections.

An ``ipBlock`` becomes an :class:`~sdn.model.IPAddressExpression` holding the CIDR minus its
``except`` entries, decomposed into the fewest covering CIDRs: NSX groups cannot subtract,
and a group that listed the ``except``s elsewhere would widen the peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ncp.translate.dfwkit.errors import PolicyInputError
from ncp.translate.dfwkit.selectors import PodPredicate
from ncp.translate.policyinputs import PodInfo

__all__ = ["Network", "in_networks", "ip_block_cidrs", "parse_cidr"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidr(value: object, where: str) -> Network:
    """Parse a CIDR (host bits allowed, as Kubernetes allows them: normalised away).

    Raises:
        PolicyInputError: ``INVALID_CIDR`` when it is not ``address/prefix``.
    """
    if not isinstance(value, str) or "/" not in value:
        raise PolicyInputError("INVALID_CIDR", f"{where}: {value!r} is not a CIDR")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise PolicyInputError("INVALID_CIDR", f"{where}: {value!r} is not a CIDR") from None


def ip_block_cidrs(cidr: object, excepts: object, where: str) -> tuple[Network, ...]:
    """The addresses of an ``ipBlock``: ``cidr`` minus every ``except``, as few CIDRs as cover it.

    Args:
        cidr: ``ipBlock.cidr``.
        excepts: ``ipBlock.except`` (``None`` or a list of CIDRs).
        where: The block's location, for messages.

    Returns:
        The covering networks, sorted by address.

    Raises:
        PolicyInputError: ``INVALID_CIDR`` for a malformed CIDR; ``EXCEPT_OUTSIDE_CIDR`` for
            an ``except`` that is not a strict subset of ``cidr`` (Kubernetes' rule).
    """
    block = parse_cidr(cidr, f"{where}.cidr")
    if excepts is None:
        excepts = []
    if not isinstance(excepts, list):
        raise PolicyInputError("INVALID_CIDR", f"{where}.except is not a list")
    holes: list[Network] = []
    for n, text in enumerate(excepts):
        hole = parse_cidr(text, f"{where}.except[{n}]")
        if (hole.version != block.version or hole.prefixlen <= block.prefixlen
                or not hole.subnet_of(block)):  # type: ignore[arg-type]
            raise PolicyInputError("EXCEPT_OUTSIDE_CIDR",
                                   f"{where}.except[{n}]: {hole} is not inside {block}")
        holes.append(hole)
    if isinstance(block, ipaddress.IPv4Network):
        return tuple(ipaddress.IPv4Network(part) for part in _v4_difference(
            (int(block.network_address), block.prefixlen),
            [(int(h.network_address), h.prefixlen) for h in holes]))
    parts: list[Network] = [block]
    for hole in holes:
        kept: list[Network] = []
        for part in parts:
            if part.subnet_of(hole):  # type: ignore[arg-type]
                continue
            if hole.subnet_of(part):  # type: ignore[arg-type]
                kept.extend(part.address_exclude(hole))  # type: ignore[arg-type]
            else:
                kept.append(part)
        parts = kept
    return tuple(sorted(ipaddress.collapse_addresses(parts)))  # type: ignore[type-var]


def _v4_difference(block: tuple[int, int],
                   holes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``block`` minus ``holes`` (``(address, prefix)`` pairs, each hole inside the block)
    as the largest aligned blocks, in address order: a block that meets no hole is kept
    whole, one inside a hole is dropped, any other is split in halves. The largest
    aligned blocks of a set are its one fewest-CIDRs cover, so this is what excluding
    each hole and collapsing gives, without building the networks in between."""
    base, prefix = block
    last = base + (1 << (32 - prefix)) - 1
    meeting = [(a, p) for a, p in holes if a <= last and a + (1 << (32 - p)) - 1 >= base]
    if not meeting:
        return [block]
    if any(p <= prefix for _, p in meeting):  # a hole covers the whole block
        return []
    half = 1 << (31 - prefix)
    return (_v4_difference((base, prefix + 1), meeting)
            + _v4_difference((base + half, prefix + 1), meeting))


def in_networks(networks: Sequence[Network]) -> PodPredicate:
    """A predicate: the pod's address is in one of the networks."""

    def contains(pod: PodInfo) -> bool:
        try:
            ip = ipaddress.ip_address(pod.ip)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    return contains
