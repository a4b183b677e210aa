"""How full blocks and pools are, and which allocations nothing owns any more.

Read-only views over an inventory, for ``sdn ipam`` (shaped like
``calicoctl ipam show --show-blocks``) and ``sdn ipam check`` (like
``calicoctl ipam check``): an address allocated in a pool that no port, NAT rule or
virtual server uses is *leaked*; an address a port uses that no pool records is
*unrecorded*. Both are reported; neither is fixed silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network

from sdn.ipam.allocate import Hold, subnet_host_range
from sdn.model import (
    Inventory,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    IpPoolStaticSubnet,
    LBVirtualServer,
    NatRule,
    SegmentPort,
)


@dataclass(frozen=True)
class SubnetUsage:
    """One carved subnet: where it came from, who owns it, how many addresses are used."""

    cidr: IPv4Network
    block_path: str
    pool_path: str
    owner: str
    allocated: int
    capacity: int


@dataclass(frozen=True)
class BlockUsage:
    """One IP block: its size, what is carved, and what is held back after release."""

    path: str
    cidr: IPv4Network
    carved: tuple[SubnetUsage, ...]
    held_addresses: int

    @property
    def total(self) -> int:
        """Addresses in the block."""
        return self.cidr.num_addresses

    @property
    def used(self) -> int:
        """Addresses in carved subnets."""
        return sum(s.cidr.num_addresses for s in self.carved)

    @property
    def free(self) -> int:
        """Addresses neither carved nor held."""
        return self.total - self.used - self.held_addresses


@dataclass(frozen=True)
class PoolUsage:
    """One IP pool: allocatable addresses, allocated, held back, free."""

    path: str
    kind: str
    cidrs: tuple[IPv4Network, ...]
    capacity: int
    allocated: int
    held: int
    owner: str

    @property
    def free(self) -> int:
        """Addresses that can be allocated now."""
        return max(self.capacity - self.allocated - self.held, 0)


def _owner(pool: IpPool) -> str:
    project, cluster = pool.tag("ncp/project"), pool.tag("ncp/cluster")
    if project and cluster:
        return f"{cluster}/{project}"
    return cluster or "admin"


def _pool_capacity(pool: IpPool) -> int:
    total = 0
    for sub in pool.subnets:
        if isinstance(sub, IpPoolStaticSubnet):
            if sub.allocation_ranges:
                total += sum(int(r.end) - int(r.start) + 1 for r in sub.allocation_ranges)
            else:
                total += sub.cidr.num_addresses
        else:
            span = subnet_host_range(sub.cidr)
            total += (span[1] - span[0] + 1) if span else 0
    return total


def _held_in(holds: Iterable[Hold], scope: str, now: float) -> int:
    return sum(h.cidr.num_addresses for h in holds if h.scope == scope and h.active(now))


@dataclass(frozen=True)
class Usage:
    """Every block's and pool's usage as one revision fixes it, before holds (each
    ``held`` is 0): what the query index keeps per revision, since it takes every pool
    and its allocations to compute; holds expire with time, so :func:`with_holds` adds
    them at question time."""

    blocks: tuple[BlockUsage, ...]
    pools: tuple[PoolUsage, ...]


def _carved(inv: Inventory) -> dict[str, list[SubnetUsage]]:
    carved: dict[str, list[SubnetUsage]] = defaultdict(list)
    for pool in inv.of_type(IpPool):
        owner = _owner(pool)
        for sub in pool.subnets:
            if isinstance(sub, IpPoolBlockSubnet):
                used = sum(1 for a in pool.allocations if a.allocation_ip in sub.cidr)
                span = subnet_host_range(sub.cidr)
                carved[sub.ip_block_path].append(
                    SubnetUsage(
                        cidr=sub.cidr,
                        block_path=sub.ip_block_path,
                        pool_path=pool.path,
                        owner=owner,
                        allocated=used,
                        capacity=(span[1] - span[0] + 1) if span else 0,
                    )
                )
    return carved


def usage_of(inv: Inventory) -> Usage:
    """Every block (with its carved subnets and their owners) and every pool, in path
    order, without holds."""
    carved = _carved(inv)
    blocks = tuple(
        BlockUsage(
            path=b.path,
            cidr=b.cidr,
            carved=tuple(sorted(carved[b.path], key=lambda s: int(s.cidr.network_address))),
            held_addresses=0,
        )
        for b in inv.of_type(IpBlock)
    )
    pools = tuple(
        PoolUsage(
            path=p.path,
            kind="block" if any(isinstance(s, IpPoolBlockSubnet) for s in p.subnets) else "static",
            cidrs=tuple(s.cidr for s in p.subnets),
            capacity=_pool_capacity(p),
            allocated=len(p.allocations),
            held=0,
            owner=_owner(p),
        )
        for p in inv.of_type(IpPool)
    )
    return Usage(blocks, pools)


def with_holds(usage: Usage, holds: Iterable[Hold] = (), now: float = 0.0
               ) -> tuple[list[BlockUsage], list[PoolUsage]]:
    """``usage``'s blocks and pools with the addresses ``holds`` keep back at ``now``."""
    holds = list(holds)
    return ([replace(b, held_addresses=_held_in(holds, b.path, now)) for b in usage.blocks],
            [replace(p, held=_held_in(holds, p.path, now)) for p in usage.pools])


def block_usage(inv: Inventory, holds: Iterable[Hold] = (), now: float = 0.0) -> list[BlockUsage]:
    """Usage of every IP block, with each carved subnet and its owner."""
    return with_holds(usage_of(inv), holds, now)[0]


def pool_usage(inv: Inventory, holds: Iterable[Hold] = (), now: float = 0.0) -> list[PoolUsage]:
    """Usage of every IP pool: external pools and namespace pools alike."""
    return with_holds(usage_of(inv), holds, now)[1]


@dataclass(frozen=True, order=True)
class Orphan:
    """An address whose bookkeeping and use disagree."""

    kind: str  # LEAKED: allocated, unused; UNRECORDED: used, not allocated
    address: IPv4Address
    where: str
    detail: str


def _users(inv: Inventory) -> dict[IPv4Address, str]:
    users: dict[IPv4Address, str] = {}
    for port in inv.of_type(SegmentPort):
        for b in port.address_bindings:
            users[b.ip_address] = port.path
    for vs in inv.of_type(LBVirtualServer):
        users.setdefault(vs.ip_address, vs.path)
    for rule in inv.of_type(NatRule):
        target = rule.translated_network
        if target and "/" not in target and "-" not in target:  # a single address
            users[IPv4Address(target)] = rule.path
    return users


def find_orphans(inv: Inventory) -> list[Orphan]:
    """Allocations nothing uses, and used addresses no pool allocation records.

    Examples:
        >>> from sdn.model import IpPool, IpAllocation
        >>> pool = IpPool(id="p", path="/infra/ip-pools/p", subnets=[{
        ...     "resource_type": "IpAddressPoolStaticSubnet", "id": "s",
        ...     "cidr": "192.0.2.0/24"}], allocations=[IpAllocation(
        ...     id="gone", allocation_ip="192.0.2.7")])
        >>> [(o.kind, str(o.address)) for o in find_orphans(Inventory([pool]))]
        [('LEAKED', '192.0.2.7')]
    """
    users = _users(inv)
    recorded: set[IPv4Address] = set()
    orphans = []
    for pool in inv.of_type(IpPool):
        for alloc in pool.allocations:
            recorded.add(alloc.allocation_ip)
            if alloc.allocation_ip not in users:
                orphans.append(
                    Orphan("LEAKED", alloc.allocation_ip, f"{pool.path}/ip-allocations/{alloc.id}",
                           "allocated, but no port, NAT rule or virtual server uses it")
                )
    pooled = [
        (s.cidr, pool.path)
        for pool in inv.of_type(IpPool)
        for s in pool.subnets
    ]
    for address, user in users.items():
        if address in recorded:
            continue
        if any(address in cidr for cidr, _ in pooled):
            orphans.append(
                Orphan("UNRECORDED", address, user, "in use, but no pool allocation records it")
            )
    return sorted(orphans)
