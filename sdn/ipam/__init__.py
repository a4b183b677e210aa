"""IPAM: subnet carving and address allocation, pure and deterministic.

Nothing here reads a clock or a database: the caller passes ``now`` and what is taken,
and gets back the lowest free subnet or address. Lowest-free is NCP's observable
behaviour with ``use_ip_blocks_in_order`` and makes every run reproducible.
"""

from sdn.ipam.allocate import (
    AddressAllocator,
    Hold,
    SubnetAllocator,
    first_free,
    pool_address_ranges,
    subnet_host_range,
)
from sdn.ipam.usage import (
    BlockUsage,
    Orphan,
    PoolUsage,
    SubnetUsage,
    Usage,
    block_usage,
    find_orphans,
    pool_usage,
    usage_of,
    with_holds,
)

__all__ = [
    "AddressAllocator",
    "BlockUsage",
    "Hold",
    "Orphan",
    "PoolUsage",
    "SubnetAllocator",
    "SubnetUsage",
    "Usage",
    "block_usage",
    "find_orphans",
    "first_free",
    "pool_address_ranges",
    "pool_usage",
    "subnet_host_range",
    "usage_of",
    "with_holds",
]
