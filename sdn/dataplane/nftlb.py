"""Load balancing as ``table ip sdn_lb``: virtual servers translated where the simulator
translates them (:mod:`sdn.traceflow.walk` step 5, :mod:`sdn.traceflow.outside`).

* **At the source.** A pod's packet to a virtual server is translated on the pod's own
  router (the first hop), before the DFW sees it: ``lb_pre`` (nat prerouting) looks the
  source up in ``m_src`` (the local ports) and goes to the chain of the port's cluster,
  ``vips_<digest>``: the cluster's own virtual servers (ClusterIPs on the distributed LB,
  and its LoadBalancer/Ingress VIPs) and every other cluster's LoadBalancer/Ingress VIPs,
  the own cluster's winning on the same address and port (``TraceContext.virtual_server``).
  No SNAT: the member sees the pod, as the simulator has it. Known difference: a pod
  whose packet is translated to itself (its own Service, the member chosen being the
  client) is delivered by NSX and the simulator, not here. The translated packet would
  have to be bridged back out of the port it came in by (br_netfilter bridges a DNAT to
  the same bridge; the bridge's hairpin is off), and even with hairpin the pod would
  drop a packet from its own address and answer itself over loopback; Kubernetes'
  kube-proxy masquerades such flows, which would make the member see the gateway instead
  of itself. Not realized (tests/sdn/dataplane/test_lb_parity.py pins the difference).
* **From outside.** On the Tier-1 of a real (non-distributed) LB service, packets arriving
  on its uplink go to ``vips_outside``: its VIPs, translated the same way; when the pool's
  ``snat_translation`` is ``LBSnatAutoMap``, ``lb_post`` (nat postrouting, priority 90:
  before namespace SNAT) translates the source to the Tier-1's transit address, as NSX's
  automap does and the simulator has it (:mod:`sdn.traceflow.outside` point 3). A pod's
  packet to such a VIP is translated at its own router without SNAT (first point), as the
  simulator's east-west walk has it too; on NSX it would reach the LB on the Tier-1's
  service router and be automapped there.

One rule per (virtual server, address, protocol) with its ports, ``comment "lb <vs id>"``:
``dnat`` to the pool's members, each with its port (the Service's target port; a member
without one keeps the packet's port), or ``drop`` when no member can serve (an empty pool,
or an Ingress whose rules pick no pool for a request without ``Host``). Members are the
pool's members as the simulator lists them; an L7 virtual server uses the pool its LB
rules pick for a request to the VIP itself (nft sees no HTTP). Member choice, by the
pool's algorithm: ``ROUND_ROBIN`` ``numgen inc``; ``IP_HASH`` or a source-IP persistence
profile ``jhash ip saddr``; ``WEIGHTED_ROUND_ROBIN`` ``numgen inc`` over members repeated
by weight; ``LEAST_CONNECTION`` (no nft equivalent) as ``ROUND_ROBIN`` and
``WEIGHTED_LEAST_CONNECTION`` as ``WEIGHTED_ROUND_ROBIN``. The simulator picks from a hash
of the flow: which member answers may differ, that one of the pool's does not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address

from sdn.dataplane.layout import TIER1_UPLINK, Layout, Port
from sdn.dataplane.nftmodel import Chain, Match, NamedSet, Rule, Table, comment_for, digest
from sdn.model import LBPool, LBPoolMember, LBService, LBVirtualServer
from sdn.traceflow.walk import TraceContext

TABLE = "sdn_lb"
_Hits = Mapping[tuple[IPv4Address, int, str], tuple[LBVirtualServer, LBPool | None]]
PROTOCOLS = {"TCP": "tcp", "UDP": "udp"}


def lb_tables(ctx: TraceContext, layout: Layout,
              ports_by_netns: Mapping[str, Sequence[Port]]) -> dict[str, Table]:
    """The LB table of every namespace that translates something."""
    per_cluster: dict[str | None, dict[tuple[IPv4Address, int, str],
                                       tuple[LBVirtualServer, LBPool | None]]] = defaultdict(dict)
    for (cluster, ip, number, protocol), hit in ctx.vips.items():
        per_cluster[cluster][(ip, number, protocol)] = hit
    outside = _outside_by_netns(ctx, layout)
    out: dict[str, Table] = {}
    for netns in sorted(set(ports_by_netns) | set(outside)):
        chains: list[Chain] = []
        pre: list[Rule] = []
        sources: list[tuple[str, str]] = []
        for cluster in sorted({p.cluster for p in ports_by_netns.get(netns, ())},
                              key=lambda c: c or ""):
            hits = {**ctx.outside_vips, **per_cluster.get(cluster, {})}
            if not hits:
                continue
            name = "vips_" + digest(cluster or "")
            chains.append(Chain(name, _translations(ctx, hits)))
            sources += [(str(p.ip.ip), f"goto {name}") for p in ports_by_netns[netns]
                        if p.cluster == cluster]
        sources = list(dict(reversed(sources)).items())  # one per address: the first
        if sources:
            pre.append(Rule(verdict="ip saddr vmap @m_src"))
        if netns in outside:
            vips, transit = outside[netns]
            pre.append(Rule((Match("iifname", (f'"{TIER1_UPLINK}"',)),), "goto vips_outside"))
            chains.append(Chain("vips_outside", _translations(ctx, vips)))
            chains.append(Chain("lb_post", _automap(ctx, vips, transit),
                                "type nat hook postrouting priority 90; policy accept;"))
        if not pre:
            continue
        chains.append(Chain("lb_pre", tuple(pre),
                            "type nat hook prerouting priority dstnat; policy accept;"))
        sets = (NamedSet("m_src", "ipv4_addr : verdict",
                         tuple(sorted(sources, key=lambda e: int(IPv4Address(e[0])))),
                         map=True),) if sources else ()
        out[netns] = Table("ip", TABLE, sets, tuple(sorted(chains, key=lambda c: c.name)))
    return out


def outside_netns(ctx: TraceContext, layout: Layout) -> set[str]:
    """The namespaces translating VIPs for clients outside NSX (their Tier-1s')."""
    return set(_outside_by_netns(ctx, layout))


def _outside_by_netns(ctx: TraceContext, layout: Layout) -> dict[str, tuple[_Hits, str]]:
    """Per LB Tier-1 namespace reachable from outside: its VIPs and transit address."""
    found: dict[str, dict[tuple[IPv4Address, int, str],
                          tuple[LBVirtualServer, LBPool | None]]] = defaultdict(dict)
    transit: dict[str, str] = {}
    for key, (vs, pool) in ctx.outside_vips.items():
        lbs = ctx.inventory.get(vs.lb_service_path)
        t1 = lbs.connectivity_path if isinstance(lbs, LBService) else None
        if t1 is None or t1 not in layout.transit or t1 not in layout.routers:
            continue
        netns = layout.routers[t1].netns
        found[netns][key] = (vs, pool)
        transit[netns] = str(layout.transit[t1].ip)
    return {netns: (hits, transit[netns]) for netns, hits in found.items()}


def _grouped(hits: _Hits) -> list[tuple[LBVirtualServer, LBPool | None, IPv4Address, str,
                                        list[tuple[int, int]]]]:
    """Hits as (virtual server, pool, address, protocol, port ranges), in address order."""
    ports: dict[tuple[str, IPv4Address, str], list[int]] = defaultdict(list)
    seen: dict[str, tuple[LBVirtualServer, LBPool | None]] = {}
    for (ip, number, protocol), (vs, pool) in hits.items():
        ports[(vs.path, ip, protocol)].append(number)
        seen[vs.path] = (vs, pool)
    out = []
    for (path, ip, protocol), numbers in ports.items():
        ranges: list[tuple[int, int]] = []
        for n in sorted(numbers):
            if ranges and n == ranges[-1][1] + 1:
                ranges[-1] = (ranges[-1][0], n)
            else:
                ranges.append((n, n))
        out.append((*seen[path], ip, protocol, ranges))
    return sorted(out, key=lambda g: (int(g[2]), g[3], g[4][0]))


def _match(ip: IPv4Address, protocol: str, ranges: Sequence[tuple[int, int]],
           original: bool = False) -> tuple[Match, ...]:
    values = tuple(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)
    if original:
        return (Match("ct original ip daddr", (str(ip),)),
                Match("meta l4proto", (PROTOCOLS[protocol],)),
                Match("ct original proto-dst", values))
    return (Match("ip daddr", (str(ip),)), Match("meta l4proto", (PROTOCOLS[protocol],)),
            Match("th dport", values))


def _translations(ctx: TraceContext, hits: _Hits) -> tuple[Rule, ...]:
    rules = []
    for vs, pool, ip, protocol, ranges in _grouped(hits):
        chosen = ctx.choose(vs, pool).pool
        members = chosen.members if chosen is not None else ()
        comment = comment_for("lb", vs.id)
        if not members or chosen is None:
            rules.append(Rule(_match(ip, protocol, ranges), "drop", comment=comment))
            continue
        single = ranges[0][0] if len(ranges) == 1 and ranges[0][0] == ranges[0][1] else None
        rules.append(Rule(_match(ip, protocol, ranges), "",
                          (dnat(chosen, vs, members, single),), comment))
    return tuple(rules)


def dnat(pool: LBPool, vs: LBVirtualServer, members: Sequence[LBPoolMember],
         port: int | None) -> str:
    """The ``dnat`` statement choosing one of ``members`` (module docstring); ``port``
    is the virtual server's port when the rule serves exactly one."""
    def target(m: LBPoolMember) -> str:
        number = m.port or (str(port) if port is not None else "")
        return f"{m.ip_address} . {number}" if with_ports else str(m.ip_address)

    with_ports = all(m.port for m in members) or port is not None
    if len(members) == 1:
        return "dnat ip to " + target(members[0]).replace(" . ", ":")
    weighted = pool.algorithm.startswith("WEIGHTED_")
    slots = [m for m in members for _ in range(m.weight if weighted else 1)]
    hashed = pool.algorithm == "IP_HASH" or vs.lb_persistence_profile_path is not None
    selector = "jhash ip saddr" if hashed else "numgen inc"
    entries = ", ".join(f"{i} : {target(m)}" for i, m in enumerate(slots))
    return f"dnat ip to {selector} mod {len(slots)} map {{ {entries} }}"


def _automap(ctx: TraceContext, hits: _Hits, transit: str) -> tuple[Rule, ...]:
    rules = []
    for vs, pool, ip, protocol, ranges in _grouped(hits):
        chosen = ctx.choose(vs, pool).pool
        if chosen is not None and chosen.members \
                and chosen.snat_translation.type == "LBSnatAutoMap":
            rules.append(Rule((Match("iifname", (f'"{TIER1_UPLINK}"',)),
                               *_match(ip, protocol, ranges, original=True)),
                              "", (f"snat ip to {transit}",), comment_for("lb", vs.id)))
    return tuple(rules)
