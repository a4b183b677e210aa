"""Planning one pool-backed network: a namespace's pod network or the cluster's nodes.

A network is a pool of subnets carved from IP blocks plus one address per member (pod or
node). The plan follows NCP:

* a network gets its first subnet when it is created, even with no members;
* members that exist keep their addresses (an address moves only if its subnet is gone);
* new members, in name order, take the lowest free address; when every subnet is full a
  further subnet is carved from the blocks, in block order (``ncp/subnet-1``, ...);
* addresses of members that left are held back for ``ip_reallocation_time``;
* when the blocks have no room left the remaining members get no address and the
  network is marked exhausted; nothing else is affected.

Subnets are never given back while the network exists (NCP does not shrink a namespace);
they return to the block, held back likewise, when the network is deleted.

What a new subnet may not take (:func:`subnet_carver`) and how long a released address or
subnet waits (:func:`held_back`) are decided here for both reconciles, the full one and
``ncp run``'s incremental one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from ncp.translate.settings import ClusterSettings
from sdn.ipam import AddressAllocator, Hold, SubnetAllocator, subnet_host_range
from sdn.model import IpBlock, IpPool, IpPoolBlockSubnet, ip_block_path

#: The scope of every hold on a block's subnet starts so.
_BLOCK_SCOPE = ip_block_path("")


@dataclass(frozen=True)
class CarvedSubnet:
    """A subnet of a network and the block it was carved from."""

    block_id: str
    cidr: IPv4Network


@dataclass
class NetworkPlan:
    """The outcome for one network."""

    subnets: list[CarvedSubnet] = field(default_factory=list)
    addresses: dict[str, IPv4Address] = field(default_factory=dict)
    unallocated: list[str] = field(default_factory=list)
    released: list[IPv4Address] = field(default_factory=list)
    exhausted: bool = False

    @property
    def realized(self) -> bool:
        """A network without any subnet cannot exist (no segment can be made for it)."""
        return bool(self.subnets)


def held_back(scope: str, released: IPv4Address | IPv4Network, *, now: float,
              settings: ClusterSettings) -> Hold:
    """The hold on a released address or subnet: nobody gets it for
    ``ip_reallocation_time`` (``scope`` is its pool's or block's path)."""
    return Hold(scope, IPv4Network(released), now + settings.ip_reallocation_time)


def subnet_carver(blocks: Iterable[IpBlock], pools: Iterable[IpPool], holds: Iterable[Hold],
                  now: float) -> SubnetAllocator:
    """The carver of a run's new subnets: from ``blocks``, never a subnet of ``pools`` (the
    ones that stay) nor one a block's hold covers."""
    taken = [sub.cidr for pool in pools for sub in pool.subnets
             if isinstance(sub, IpPoolBlockSubnet)]
    block_holds = [h for h in holds if h.scope.startswith(_BLOCK_SCOPE)]
    return SubnetAllocator([(b.id, b.cidr) for b in blocks], taken=taken, holds=block_holds,
                           now=now)


def _host_range(cidr: IPv4Network) -> tuple[int, int]:
    span = subnet_host_range(cidr)
    if span is None:  # prefixes are validated to /30 at most, so this cannot happen
        raise ValueError(f"{cidr} has no host addresses")
    return span


def plan_network(
    *,
    members: Sequence[str],
    existing_subnets: Sequence[CarvedSubnet],
    existing_addresses: Mapping[str, IPv4Address],
    block_ids: Sequence[str],
    prefix: int,
    carver: SubnetAllocator,
    holds: Sequence[Hold],
    now: float,
) -> NetworkPlan:
    """Plan subnets and addresses for ``members`` (see the module docstring).

    ``carver`` is shared by every network of the run, so carving is globally lowest-free;
    ``holds`` are the network pool's active holds.
    """
    plan = NetworkPlan(subnets=list(existing_subnets))
    if not plan.subnets:
        carved = carver.allocate(block_ids, prefix)
        if carved is None:
            plan.exhausted = True
            plan.unallocated = sorted(members)
            return plan
        plan.subnets.append(CarvedSubnet(*carved))
    wanted = set(members)
    kept: dict[str, IPv4Address] = {}
    for member, old in existing_addresses.items():
        if member in wanted and any(old in s.cidr for s in plan.subnets):
            kept[member] = old
        else:
            plan.released.append(old)
    allocator = AddressAllocator(
        [_host_range(s.cidr) for s in plan.subnets],
        used=[int(a) for a in kept.values()] + [int(a) for a in plan.released],
        holds=holds,
        now=now,
    )
    plan.addresses = dict(kept)
    for member in sorted(wanted - kept.keys()):
        address: IPv4Address | None = allocator.allocate()
        while address is None and not plan.exhausted:
            carved = carver.allocate(block_ids, prefix)
            if carved is None:
                plan.exhausted = True
                break
            plan.subnets.append(CarvedSubnet(*carved))
            allocator.add_range(*_host_range(carved[1]))
            address = allocator.allocate()
        if address is None:
            plan.unallocated.append(member)
        else:
            plan.addresses[member] = address
    return plan
