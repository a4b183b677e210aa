"""The admin's shared objects: the Tier-0, IP blocks and external pools.

They are created from the cluster config when missing and never deleted by a sync; an
existing object with the same id but a different CIDR is a conflict that makes the run
unusable (nothing is written), as are overlapping blocks and ids the profile names but
nothing provides.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from ncp.config import NcpConfig
from ncp.errors import UnusableInputError
from ncp.translate.naming import SCOPE_EXTERNAL, SCOPE_OWNER
from ncp.translate.settings import ClusterSettings
from sdn.errors import Problem
from sdn.model import (
    AllocationRange,
    Inventory,
    IpBlock,
    IpPool,
    IpPoolStaticSubnet,
    Tag,
    Tier0,
    ip_block_path,
    ip_pool_path,
    tier0_path,
)
from sdn.model.checks import validate_inventory


def _block(current: Inventory, block_id: str, cidr: IPv4Network,
           problems: list[Problem]) -> IpBlock:
    path = ip_block_path(block_id)
    existing = current.get(path)
    if isinstance(existing, IpBlock):
        if existing.cidr != cidr:
            problems.append(Problem("CONFIG_CONFLICT", path,
                                    f"config says {cidr}, the state has {existing.cidr}"))
        return existing
    return IpBlock(id=block_id, display_name=block_id, path=path, cidr=cidr)


def _pool(current: Inventory, pool_id: str, cidr: IPv4Network,
          ranges: tuple[AllocationRange, ...], problems: list[Problem],
          owner: str = "") -> IpPool:
    path = ip_pool_path(pool_id)
    existing = current.get(path)
    if isinstance(existing, IpPool):
        cidrs = [s.cidr for s in existing.subnets]
        if cidrs != [cidr]:
            problems.append(Problem("CONFIG_CONFLICT", path,
                                    f"config says {cidr}, the state has {cidrs}"))
        return existing
    tags: tuple[Tag, ...] = (Tag(scope=SCOPE_EXTERNAL, tag="true"),)
    if owner:
        tags += (Tag(scope=SCOPE_OWNER, tag=owner),)
    return IpPool(
        id=pool_id, display_name=pool_id, path=path, tags=tags,
        subnets=(IpPoolStaticSubnet(id=f"{pool_id}-subnet", cidr=cidr,
                                    allocation_ranges=ranges),),
    )


def shared_objects(config: NcpConfig, settings: ClusterSettings,
                   current: Inventory) -> dict[str, IpBlock | IpPool | Tier0]:
    """The shared objects this cluster needs, existing ones as they are.

    Raises:
        UnusableInputError: conflicting or overlapping blocks and pools, or a profile that
            names a block or pool that neither the config nor the state provides.
    """
    problems: list[Problem] = []
    out: dict[str, IpBlock | IpPool | Tier0] = {}
    t0 = tier0_path(settings.tier0)
    existing_t0 = current.get(t0)
    out[t0] = existing_t0 if isinstance(existing_t0, Tier0) else Tier0(
        id=settings.tier0, display_name=settings.tier0, path=t0)
    for b in config.all_blocks():
        obj = _block(current, b.id, b.cidr, problems)
        out[obj.path] = obj
    for p in config.all_pools():
        ranges = tuple(AllocationRange(start=lo, end=hi) for lo, hi in p.address_ranges())
        pool = _pool(current, p.id, p.cidr, ranges, problems, p.owner)
        out[pool.path] = pool
    wanted = [("pod_ip_block_ids", i, ip_block_path(i)) for i in settings.pod_block_ids]
    wanted += [("no_snat_ip_blocks", i, ip_block_path(i)) for i in settings.no_snat_block_ids]
    wanted += [("node_ip_block_ids", i, ip_block_path(i)) for i in settings.node_block_ids]
    wanted += [("fip_pool_ids", i, ip_pool_path(i)) for i in settings.fip_pool_ids]
    for field, ident, path in wanted:
        if path in out:
            continue
        found = current.get(path)
        if isinstance(found, IpBlock | IpPool):
            out[path] = found
        else:
            code = "UNKNOWN_IP_POOL" if field == "fip_pool_ids" else "UNKNOWN_IP_BLOCK"
            problems.append(Problem(code, ident, f"{field} names {ident}, which does not exist"))
    for block_id in settings.pod_block_ids + settings.no_snat_block_ids:
        block = out.get(ip_block_path(block_id))
        if isinstance(block, IpBlock) and block.cidr.prefixlen > settings.pod_subnet_prefix:
            problems.append(Problem(
                "BLOCK_TOO_SMALL", block.path,
                f"{block.cidr} cannot hold a /{settings.pod_subnet_prefix} pod subnet"))
    for block_id in settings.node_block_ids:
        block = out.get(ip_block_path(block_id))
        if isinstance(block, IpBlock) and block.cidr.prefixlen > settings.node_subnet_prefix:
            problems.append(Problem(
                "BLOCK_TOO_SMALL", block.path,
                f"{block.cidr} cannot hold a /{settings.node_subnet_prefix} node subnet"))
    # Overlaps among every block the manager will hold once this run is written.
    blocks = {o.path: o for o in current.values() if isinstance(o, IpBlock)}
    blocks.update({p: o for p, o in out.items() if isinstance(o, IpBlock)})
    problems += [p for p in validate_inventory(Inventory(blocks.values()))
                 if p.code == "OVERLAPPING_BLOCKS"]
    if problems:
        raise UnusableInputError(problems)
    return out
