"""The outside addresses connectivity answers for: atoms of the CIDRs policies name.

An address outside the inventory is told apart by rules only through the address terms
of their groups (``ipBlock`` peers become :class:`~sdn.model.IPAddressExpression`\\ s
holding the CIDR minus its ``except`` entries). Cutting the address space at the ends of
every network those terms name leaves intervals inside which every term matches all
addresses or none; intervals inside the same networks form one *atom*, and every address
of an atom is treated alike by every rule. So one representative address per atom
answers for all of it, and an atom is reported as the CIDRs that cover it exactly.

Choices, named: only addresses some policy names are answered for (the rest of the
world, named by no rule, is left out, as it was never asked about); an atom's CIDRs may
cover addresses of ports (a policy's ``10.0.0.0/8`` holds the pods), but the atom stands
for its addresses that belong to no port: those are the outside addresses, the pods
being answered for by name. An outside address has no enforcement point of its own, so
only the rules at the pods decide its flows, and pairs of two outside addresses are not
answered for. Atoms are made from the rules at the pods asked about, so asking about
fewer pods can make coarser atoms (never different answers per address).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, summarize_address_range

from sdn.policy.compiler import Endpoint
from sdn.policy.firewall import FirewallRule

#: How many addresses of an atom are tried for one that no port owns.
TRIES = 64


@dataclass(frozen=True)
class Atom:
    """Outside addresses every rule treats alike: the CIDRs covering them, and the one
    address that stands for all of them (owned by no port)."""

    cidrs: tuple[IPv4Network, ...]
    endpoint: Endpoint

    @property
    def labels(self) -> tuple[str, ...]:
        """The CIDRs as an answer names them."""
        return tuple(str(n) for n in self.cidrs)


def named_networks(rules: Iterable[FirewallRule]) -> set[IPv4Network]:
    """Every network the address terms of the rules' sources and destinations name."""
    nets: set[IPv4Network] = set()
    seen: set[int] = set()
    for rule in rules:
        for side in (rule.sources, rule.destinations):
            for group in side or ():
                if id(group) in seen:
                    continue
                seen.add(id(group))
                for term in group.outside_terms:
                    for crit in term:
                        nets.update(crit)
    return nets


def atoms(nets: Iterable[IPv4Network],
          owner: Callable[[IPv4Address], Endpoint]) -> list[Atom]:
    """The atoms of the addresses ``nets`` cover (see the module's doc), in address
    order; ``owner`` is :meth:`~sdn.policy.firewall.Firewall.endpoint_for_ip`, used to
    pick a representative no port owns (an atom all of whose tried addresses are ports'
    is left out)."""
    spans = sorted({(int(n.network_address), int(n.broadcast_address) + 1) for n in nets})
    if not spans:
        return []
    bounds = sorted({b for span in spans for b in span})
    # A sweep over the boundaries: the networks holding each interval.
    inside: dict[frozenset[int], list[tuple[int, int]]] = {}
    active: set[int] = set()
    opening: dict[int, list[int]] = {}
    closing: dict[int, list[int]] = {}
    for i, (lo, end) in enumerate(spans):
        opening.setdefault(lo, []).append(i)
        closing.setdefault(end, []).append(i)
    for n, b in enumerate(bounds[:-1]):
        active.difference_update(closing.get(b, ()))
        active.update(opening.get(b, ()))
        if active:
            inside.setdefault(frozenset(active), []).append((b, bounds[n + 1] - 1))
    out = []
    for intervals in inside.values():
        rep = _representative(intervals, owner)
        if rep is None:
            continue
        cidrs = tuple(net for lo, hi in intervals
                      for net in summarize_address_range(IPv4Address(lo), IPv4Address(hi)))
        out.append(Atom(cidrs, rep))
    return sorted(out, key=lambda a: int(a.cidrs[0].network_address))


def _representative(intervals: list[tuple[int, int]],
                    owner: Callable[[IPv4Address], Endpoint]) -> Endpoint | None:
    """The first address of the atom no port owns (a block's network address last: as a
    packet's source or destination it reads oddly, though it is as good a witness)."""
    tried = 0
    for lo, hi in intervals:
        first = lo + 1 if hi - lo >= 3 else lo
        for ip in (*range(first, min(hi, first + TRIES) + 1), lo):
            ep = owner(IPv4Address(ip))
            if ep.index is None:
                return ep
            tried += 1
            if tried >= TRIES:
                return None
    return None
