"""A gateway's NAT rules as ``table ip sdn_nat`` in its router namespace.

NCP puts namespace SNAT on the Tier-0 (two-tier topology) or on the shared Tier-1; the
rules apply where the simulator applies them (:mod:`sdn.traceflow.walk`, step 6): to
packets leaving the gateway northbound, which on Linux is the gateway's ``uplink``
(the Tier-0's to the outside network, a Tier-1's transit link to its Tier-0; a Tier-1
without a Tier-0 has no way north and gets no table). Rules in NSX order (sequence number,
then path), first match: ``SNAT`` translates to the first address of its translated
network (the simulator's choice: a pool's first address), ``NO_SNAT`` (and a SNAT rule
without a translated network) ``return``\\ s, so a later rule does not translate;
disabled rules and other actions (DNAT, REFLEXIVE: NCP makes none) are left out.
"""

from __future__ import annotations

from sdn.dataplane.layout import TIER0_UPLINK, TIER1_UPLINK, Layout
from sdn.dataplane.nftmodel import Chain, Match, Rule, Table, comment_for
from sdn.model import Inventory, NatRule

TABLE = "sdn_nat"


def nat_tables(inv: Inventory, layout: Layout) -> dict[str, Table]:
    """The NAT table of every router namespace whose gateway has NAT rules."""
    by_gateway: dict[str, list[NatRule]] = {}
    for rule in inv.of_type(NatRule):
        if rule.enabled and rule.action in ("SNAT", "NO_SNAT"):
            by_gateway.setdefault(rule.gateway_path, []).append(rule)
    out = {}
    for path, rules in sorted(by_gateway.items()):
        uplink = _northbound(layout, path)
        if uplink is None:
            continue
        ordered = sorted(rules, key=lambda r: (r.sequence_number, r.path))
        out[layout.routers[path].netns] = Table("ip", TABLE, (), (Chain(
            "snat_out", tuple(_rule(r, uplink) for r in ordered),
            "type nat hook postrouting priority srcnat; policy accept;"),))
    return out


def _northbound(layout: Layout, path: str) -> str | None:
    """The interface a gateway's northbound traffic leaves by, if it has one."""
    if path in layout.uplinks:
        return TIER0_UPLINK
    if path in layout.transit:
        return TIER1_UPLINK
    return None


def networks(text: str | None) -> tuple[str, ...]:
    """A NAT network (address, CIDR, range ``a-b``, comma list) as nft values."""
    return tuple(item.strip() for item in text.split(",")) if text else ()


def _rule(rule: NatRule, uplink: str) -> Rule:
    matches = [Match("oifname", (f'"{uplink}"',))]
    if rule.source_network:
        matches.append(Match("ip saddr", networks(rule.source_network)))
    if rule.destination_network:
        matches.append(Match("ip daddr", networks(rule.destination_network)))
    comment = comment_for("nat", rule.id)
    translated = networks(rule.translated_network)
    if rule.action == "NO_SNAT" or not translated:
        return Rule(tuple(matches), "return", comment=comment)
    first = translated[0].split("-")[0].split("/")[0]
    return Rule(tuple(matches), "", (f"snat ip to {first}",), comment)

