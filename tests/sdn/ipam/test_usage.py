"""Usage kept per revision (:func:`sdn.ipam.usage_of`, what the query index saves) gets
its holds at question time: a hold counts while it is active and not after."""

from __future__ import annotations

from ipaddress import IPv4Network

from sdn.ipam import Hold, usage_of, with_holds
from sdn.model import Inventory, IpBlock, IpPool

BLOCK = IpBlock(id="b", path="/infra/ip-blocks/b", cidr="10.0.0.0/16")
POOL = IpPool(id="p", path="/infra/ip-pools/p", subnets=[{
    "resource_type": "IpAddressPoolBlockSubnet", "id": "s", "cidr": "10.0.0.0/24", "size": 256,
    "ip_block_path": BLOCK.path}])
HOLDS = [Hold(BLOCK.path, IPv4Network("10.0.1.0/24"), until=100.0),
         Hold(POOL.path, IPv4Network("10.0.0.8/29"), until=50.0)]


def test_holds_count_while_active() -> None:
    usage = usage_of(Inventory([BLOCK, POOL]))
    assert [b.held_addresses for b in usage.blocks] == [0] and usage.pools[0].held == 0
    blocks, pools = with_holds(usage, HOLDS, now=10.0)
    assert blocks[0].held_addresses == 256 and pools[0].held == 8
    assert blocks[0].carved == usage.blocks[0].carved and blocks[0].used == 256
    blocks, pools = with_holds(usage, HOLDS, now=60.0)
    assert blocks[0].held_addresses == 256 and pools[0].held == 0
    blocks, pools = with_holds(usage, HOLDS, now=200.0)
    assert blocks[0].held_addresses == 0 and pools[0].held == 0
