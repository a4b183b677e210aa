"""Every nftables table of every namespace of a realization, generated from the state
(pure: no I/O, no subprocess), and the atomic script between two of them.

The interface the realizer codes against (DESIGN.md, "Data plane"):

* :func:`rulesets` ``(inv, layout, firewall)``: namespace name -> :class:`Ruleset` (only
  namespaces with at least one table are listed; a namespace missing from a later run
  gets ``transaction(old, None)``);
* :func:`transaction` ``(old, new)``: one ``nft -f`` script, "" when equal;
* :func:`count` ``(old, new)``: chains, sets and elements created, changed or deleted;
* :meth:`Ruleset.to_json` / :meth:`Ruleset.from_json` for the record.

Tables, each in its own module (the naming contract: tables ``sdn_*``, every verdict rule
with ``counter`` and a comment the live tracer reads):

* ``inet sdn_dfw`` (:mod:`~sdn.dataplane.nftdfw`) in every namespace hosting ports' host
  ends: the distributed firewall, ``comment "rule <id>"`` and ``"stateful"``;
* ``bridge sdn_sg`` (:mod:`~sdn.dataplane.nftsg`) there too: SpoofGuard, ``"spoofguard"``;
* ``ip sdn_nat`` (:mod:`~sdn.dataplane.nftnat`) on gateways with NAT rules, ``"nat <id>"``;
* ``ip sdn_lb`` (:mod:`~sdn.dataplane.nftlb`) where virtual servers are translated (the
  pods' routers, and LB Tier-1s for outside clients), ``"lb <virtual server id>"``.
"""

from __future__ import annotations

from collections import defaultdict

from sdn.dataplane.layout import Layout, Port
from sdn.dataplane.nftdfw import Members, dfw_table
from sdn.dataplane.nftdiff import count, transaction
from sdn.dataplane.nftlb import lb_tables, outside_netns
from sdn.dataplane.nftmodel import Ruleset, Table, ruleset
from sdn.dataplane.nftnat import nat_tables
from sdn.dataplane.nftsg import spoofguard_table
from sdn.model import Inventory
from sdn.policy import Firewall
from sdn.traceflow.walk import TraceContext


def rulesets(inv: Inventory, layout: Layout, firewall: Firewall) -> dict[str, Ruleset]:
    """Each namespace's tables (module docstring); ``firewall`` is the compiled DFW of
    ``inv`` (or the query index's, which answers the same)."""
    ports: dict[str, list[Port]] = defaultdict(list)
    for port in layout.ports.values():
        ports[port.host_netns].append(port)
    tables: dict[str, list[Table]] = defaultdict(list)
    members = Members(firewall)
    ctx = TraceContext.build(inv, dfw=firewall)
    deferred = outside_netns(ctx, layout)
    for netns, local in ports.items():
        tables[netns] += [dfw_table(firewall, members, local, deferred=netns in deferred),
                          spoofguard_table(local)]
    for netns, table in nat_tables(inv, layout).items():
        tables[netns].append(table)
    for netns, table in lb_tables(ctx, layout, ports).items():
        tables[netns].append(table)
    return {netns: ruleset(found) for netns, found in sorted(tables.items())}


__all__ = ["Ruleset", "count", "rulesets", "transaction"]
