"""Cross-object checks: every relationship problem in an inventory, all at once.

Field validators check one object; these check how objects relate. Like faucet's
``check_config`` they return a list of :class:`~sdn.errors.Problem` values instead of
stopping at the first, so a user fixes everything in one pass.

Codes:

* ``DANGLING_REFERENCE``: a path field names an object that does not exist.
* ``WRONG_REFERENCE_TYPE``: it names an object of the wrong kind.
* ``PATH_MISMATCH``: ``path`` does not end in ``id`` or does not sit under ``parent_path``.
* ``OVERLAPPING_BLOCKS``: two IP blocks share addresses.
* ``SUBNET_OUTSIDE_BLOCK``: a pool's block subnet is not inside the block it names.
* ``OVERLAPPING_SUBNETS``: two carved subnets share addresses.
* ``ADDRESS_OUTSIDE_POOL``: an allocation is in none of its pool's subnets or ranges.
* ``ADDRESS_OUTSIDE_SEGMENT``: a port's address is in none of its segment's subnets.
* ``DUPLICATE_ADDRESS``: one address is allocated or bound twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from sdn.errors import Problem
from sdn.model.base import PolicyResource
from sdn.model.inventory import Inventory
from sdn.model.ipam import IpBlock, IpPool, IpPoolBlockSubnet, IpPoolStaticSubnet
from sdn.model.segments import Segment, SegmentPort

#: Which kinds each reference field may point at.
_REFERENCE_TYPES: dict[str, tuple[str, ...]] = {
    "tier0_path": ("Tier0",),
    "connectivity_path": ("Tier0", "Tier1"),
    "parent_path": ("Segment",),
    "gateway": ("Tier0", "Tier1"),
    "ip_block_path": ("IpAddressBlock",),
    "address_pool_paths": ("IpAddressPool",),
    "scope": ("Group",),
    "source_groups": ("Group",),
    "destination_groups": ("Group",),
    "lb_service_path": ("LBService",),
    "pool_path": ("LBPool",),
    "application_profile_path": ("LBHttpProfile",),
    "lb_persistence_profile_path": ("LBCookiePersistenceProfile",
                                    "LBSourceIpPersistenceProfile"),
    # Named services are not modelled: no Service object exists, so every such path
    # dangles (and a rule is never silently widened to ANY services).
    "services": ("Service",),
    ".paths[": ("Segment", "SegmentPort", "Group"),
}


def _expected_types(field: str) -> tuple[str, ...]:
    found = _EXPECTED.get(field)
    if found is None:
        found = next((types for key, types in _REFERENCE_TYPES.items() if key in field), ())
        if len(_EXPECTED) >= _EXPECTED_LIMIT:
            _EXPECTED.clear()
        _EXPECTED[field] = found
    return found


#: :func:`_expected_types` by field name: a large inventory repeats a few thousand names
#: (``rules[ingress-0].source_groups[0]``, ...) hundreds of thousands of times.
_EXPECTED: dict[str, tuple[str, ...]] = {}
_EXPECTED_LIMIT = 100_000


def check_references(inv: Inventory, objects: Iterable[PolicyResource]) -> list[Problem]:
    """The reference and path problems of ``objects`` (in ``inv``): what
    :func:`validate_inventory` finds on them, for groups, security policies and services,
    whose validity depends on nothing else (a write of a few of them checks those few)."""
    problems = []
    for obj in objects:
        for field, target in obj.references().items():
            found = inv.get(target)
            if found is None:
                problems.append(
                    Problem("DANGLING_REFERENCE", obj.path, f"{field} names missing {target}")
                )
            elif found.resource_type not in _expected_types(field):
                problems.append(
                    Problem(
                        "WRONG_REFERENCE_TYPE",
                        obj.path,
                        f"{field} names {target}, a {found.resource_type}",
                    )
                )
        if not obj.path.endswith("/" + obj.id) or not obj.path.startswith(obj.parent_path + "/"):
            problems.append(
                Problem("PATH_MISMATCH", obj.path, f"id {obj.id!r} / parent {obj.parent_path!r}")
            )
    return problems


def _overlaps(items: list[tuple[IPv4Network, str]], code: str, what: str) -> list[Problem]:
    """Report every pair of overlapping networks in one sorted sweep."""
    problems = []
    ordered = sorted(items, key=lambda x: (int(x[0].network_address), -x[0].prefixlen, x[1]))
    reach: tuple[int, str] | None = None  # highest end seen so far and who owns it
    for net, owner in ordered:
        start, end = int(net.network_address), int(net.broadcast_address)
        if reach is not None and start <= reach[0]:
            problems.append(Problem(code, owner, f"{what} {net} overlaps {reach[1]}"))
        if reach is None or end > reach[0]:
            reach = (end, owner)
    return problems


def _check_blocks_and_pools(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    blocks = inv.of_type(IpBlock)
    problems += _overlaps([(b.cidr, b.path) for b in blocks], "OVERLAPPING_BLOCKS", "block")
    carved: dict[str, list[tuple[IPv4Network, str]]] = defaultdict(list)
    owner_of_ip: dict[IPv4Address, str] = {}
    for pool in inv.of_type(IpPool):
        for sub in pool.subnets:
            where = f"{pool.path}/ip-subnets/{sub.id}"
            if isinstance(sub, IpPoolBlockSubnet):
                block = inv.get(sub.ip_block_path)
                if isinstance(block, IpBlock) and not sub.cidr.subnet_of(block.cidr):
                    problems.append(
                        Problem("SUBNET_OUTSIDE_BLOCK", where, f"{sub.cidr} not in {block.cidr}")
                    )
                carved[sub.ip_block_path].append((sub.cidr, where))
        for alloc in pool.allocations:
            where = f"{pool.path}/ip-allocations/{alloc.id}"
            if not _in_pool(pool, alloc.allocation_ip):
                problems.append(
                    Problem("ADDRESS_OUTSIDE_POOL", where, f"{alloc.allocation_ip} not in pool")
                )
            other = owner_of_ip.get(alloc.allocation_ip)
            if other is not None:
                problems.append(Problem("DUPLICATE_ADDRESS", where,
                                        f"{alloc.allocation_ip} also allocated at {other}"))
            owner_of_ip[alloc.allocation_ip] = where
    for block_path in sorted(carved):
        problems += _overlaps(carved[block_path], "OVERLAPPING_SUBNETS", "subnet")
    return problems


def _in_pool(pool: IpPool, ip: IPv4Address) -> bool:
    for sub in pool.subnets:
        if isinstance(sub, IpPoolStaticSubnet) and sub.allocation_ranges:
            if any(int(r.start) <= int(ip) <= int(r.end) for r in sub.allocation_ranges):
                return True
        elif ip in sub.cidr:
            return True
    return False


def _check_ports(inv: Inventory) -> list[Problem]:
    problems = []
    bound: dict[IPv4Address, str] = {}
    for port in inv.of_type(SegmentPort):
        segment = inv.get(port.parent_path)
        for binding in port.address_bindings:
            ip = binding.ip_address
            if isinstance(segment, Segment) and not any(ip in s.network for s in segment.subnets):
                problems.append(
                    Problem("ADDRESS_OUTSIDE_SEGMENT", port.path, f"{ip} not in {segment.path}")
                )
            if ip in bound:
                problems.append(
                    Problem("DUPLICATE_ADDRESS", port.path, f"{ip} also bound to {bound[ip]}")
                )
            bound[ip] = port.path
    return problems


def validate_inventory(inv: Inventory) -> list[Problem]:
    """Every cross-object problem in ``inv``, sorted; an empty list means consistent.

    Examples:
        >>> from sdn.model import IpBlock
        >>> a = IpBlock(id="a", path="/infra/ip-blocks/a", cidr="10.0.0.0/16")
        >>> b = IpBlock(id="b", path="/infra/ip-blocks/b", cidr="10.0.128.0/17")
        >>> [p.code for p in validate_inventory(Inventory([a, b]))]
        ['OVERLAPPING_BLOCKS']
    """
    problems = check_references(inv, inv.values()) + _check_blocks_and_pools(inv) + \
        _check_ports(inv)
    return sorted(problems)


__all__ = ["check_references", "validate_inventory"]
