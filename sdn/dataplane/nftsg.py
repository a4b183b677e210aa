"""SpoofGuard of one namespace as ``table bridge sdn_sg``: a port sends only from its
bound IPv4 address and MAC (spike section 2, proved: a spoofed address and a spoofed MAC
were both dropped, the real frame passed).

The bridge family sees the exact port (``iifname`` is the host end of the veth), at
prerouting priority -300, before br_netfilter hands the frame to the inet hooks where the
DFW dispatches by address: that dispatch is sound only because this table pins every
port to its address. IPv4 frames and ARP must carry the port's (interface, MAC, address);
anything else from a port (IPv6 included: the data path is IPv4 only) is dropped with
``comment "spoofguard"``. Frames from elsewhere (the bridge itself) pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from sdn.dataplane.layout import Port
from sdn.dataplane.nftmodel import Chain, Match, NamedSet, Rule, Table

TABLE = "sdn_sg"
_BINDING = "ifname . ether_addr . ipv4_addr : verdict"


def spoofguard_table(ports: Sequence[Port]) -> Table:
    """``table bridge sdn_sg`` of the namespace hosting ``ports``."""
    ordered = sorted(ports, key=lambda p: p.host_interface)
    bound = tuple((f'"{p.host_interface}" . {p.mac} . {p.ip.ip}', "accept") for p in ordered)
    sets = (
        NamedSet("s_ports", "ifname", tuple((f'"{p.host_interface}"', "") for p in ordered)),
        NamedSet("m_ip", _BINDING, bound, map=True),
        NamedSet("m_arp", _BINDING, bound, map=True),
    )
    chain = Chain("sg_in", (
        Rule((Match("iifname", ("@s_ports",), negate=True),), "accept"),
        Rule((Match("ether type", ("ip",)),), "iifname . ether saddr . ip saddr vmap @m_ip"),
        Rule((Match("ether type", ("arp",)),),
             "iifname . ether saddr . arp saddr ip vmap @m_arp"),
        Rule(verdict="drop", comment="spoofguard"),
    ), "type filter hook prerouting priority -300; policy accept;")
    return Table("bridge", TABLE, sets, (chain,))
