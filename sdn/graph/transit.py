"""The Tier-0/Tier-1 transit addresses: one /31 of :data:`TRANSIT` per Tier-1 attached to
a Tier-0, the Tier-0 end even, the Tier-1 end odd; and the uplink network beyond the
Tier-0s with its upstream router (:data:`OUTSIDE_ADDRESS`).

Pure and shared: the realized data plane (:mod:`sdn.dataplane.layout`) puts these
addresses on the transit links, and the simulator (:mod:`sdn.traceflow.outside`) needs the
Tier-1's end because NSX's load balancer SNAT automap makes a pool's members see the
packet coming from it. Both must compute the same address, so it is computed here, once.

Choice where NSX is silent (it allocates from 100.64.0.0/16 in creation order, which a
state does not keep): the slot is a digest of the Tier-1's path, probing upward on a
collision, over every Tier-1 of the inventory in path order. The allocation does not
depend on which clusters are realized, and an address stays the same across changes
unless a Tier-1 added later collides with it in a lower slot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from sdn.model import Inventory, Tier0, Tier1

#: NSX's Tier-0/Tier-1 transit range: one /31 per Tier-1.
TRANSIT = IPv4Network("100.64.0.0/16")
#: The physical network the Tier-0 uplinks sit on (TEST-NET-1, never routed on the
#: internet), and the upstream router's address on it: the next hop of every Tier-0's
#: uplink, for the simulator's observations and the realized data plane alike.
UPLINK_NETWORK = IPv4Network("192.0.2.0/24")
OUTSIDE_ADDRESS = IPv4Interface("192.0.2.100/24")


@dataclass(frozen=True, slots=True)
class TransitLink:
    """The two ends of a Tier-1's transit /31."""

    tier0: IPv4Interface
    tier1: IPv4Interface


def transit_links(inv: Inventory) -> dict[str, TransitLink]:
    """Each Tier-1 path joined to a Tier-0 of ``inv``, with its transit /31 (module docs)."""
    slots = TRANSIT.num_addresses // 2
    taken: set[int] = set()
    found: dict[str, TransitLink] = {}
    for t1 in sorted(inv.of_type(Tier1), key=lambda t: t.path):
        if not isinstance(inv.get(t1.tier0_path or ""), Tier0):
            continue
        slot = int(hashlib.sha1(t1.path.encode()).hexdigest()[:8], 16) % slots
        while slot in taken:
            slot = (slot + 1) % slots
        taken.add(slot)
        base = int(TRANSIT.network_address) + 2 * slot
        found[t1.path] = TransitLink(IPv4Interface(f"{IPv4Address(base)}/31"),
                                     IPv4Interface(f"{IPv4Address(base + 1)}/31"))
    return found
