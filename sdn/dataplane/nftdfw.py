"""The distributed firewall of one namespace as ``table inet sdn_dfw``, deciding every
flow exactly as :mod:`sdn.policy` does (same rule, same order, same default).

Where NSX enforces at each vNIC, Linux sees a port's traffic in the namespace holding the
host ends of the veths (br_netfilter hands bridged frames to the inet hooks; the spike,
section 2). Every port is pinned to its address by SpoofGuard, so dispatch is by address:

* ``dfw_out`` (hook forward, priority 0) and ``dfw_local`` (hook input: a port's packets
  to a gateway address of this router; the simulator evaluates their egress too) look up
  the source in the map ``m_egress`` of the local ports; ``dfw_in`` (hook postrouting,
  priority 200: after DNAT and SNAT) looks up the destination in ``m_ingress``. Two base
  chains because ``accept`` in a jumped chain ends its whole base chain: egress accepted,
  ingress still runs; ``drop`` is final. A port not local to this namespace is in neither
  map, so a cross-router flow is checked leaving at its source's router and arriving at
  its destination's.
* each starts with ``ct state established,related accept`` (``"stateful"``): replies of an
  allowed connection pass unevaluated, as the simulator assumes.
* a map element jumps to the port's *sequence* chain ``seq_<out|in>_<digest>`` (ports
  with the same sequence share it): ``jump pol_<digest>_<out|in>`` per security policy
  with a rule enforced at the port, in NSX order, then the default rule
  (``comment "rule 2"``, :data:`~sdn.traceflow.walk.DEFAULT_RULE_ID`).
* one chain per (security policy, direction) holds its rules in order; a rule whose
  applied-to covers only some of the local ports jumping there also matches the port's
  address (``ip saddr``/``ip daddr @g_...``). Falling off a policy chain is "no rule of
  this policy matched": the next policy runs, first match holds.
* sources and destinations are named interval sets ``g_<digest of the elements>``
  (identical sets shared); a group holds its member ports' addresses and, for addresses
  no port has, its CIDR terms (exactly :meth:`GroupMembers.contains`).
* services: ``meta l4proto`` with ``th dport``/``th sport`` sets, one nft rule per
  (protocol, source ports) of the rule's entries, all with the rule's comment.
* ``JUMP_TO_APPLICATION`` sets bit 0 of the packet mark and returns; every policy chain
  before the Application category starts with ``meta mark & 1 == 1 return``, so the rest
  of them is skipped (the base chains clear the bit first). In the Application category
  it changes nothing and is left out, as disabled rules and rules without a service that
  can match are.
* verdicts: ALLOW ``accept``, DROP ``drop``, REJECT ``reject`` (a TCP reset or an ICMP
  unreachable, as NSX answers), except in the deferred ingress below.
* where: egress at ``forward`` priority 0 (and ``input`` for the router's own
  addresses), ingress at ``forward`` priority 10: a base chain's ``accept`` ends only that
  chain, so egress allowing lets ingress decide, and ``reject`` is valid at forward.
  Bridged traffic goes through both (br_netfilter). One exception, the **deferred
  ingress**: on the Tier-1 of a load balancer reachable from outside, a packet that came
  in on the uplink and was translated here (``ct status dnat``: a VIP's member) may still
  get the SNAT automap at postrouting (:mod:`sdn.dataplane.nftlb`), and NSX judges the
  member's ingress with the translated source. ``dfw_in`` marks it
  (:data:`DEFERRED_MARK`) and ``dfw_in_lb`` (postrouting priority 200, after every NAT)
  judges it with chains of its own. nftables refuses ``reject`` under postrouting, so a
  REJECT there is a ``drop``: a client outside NSX whose packet to a VIP is rejected at
  the member waits for a timeout instead of being refused (a known difference from NSX
  and the simulator, for that path only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from ipaddress import IPv4Address

from sdn.dataplane import nftaddr
from sdn.dataplane.layout import TIER1_UPLINK, Port
from sdn.dataplane.nftmodel import Chain, Match, NamedSet, Rule, Table, comment_for, digest
from sdn.policy import Firewall, FirewallRule
from sdn.policy.compiler import GroupMembers, Service, Term
from sdn.policy.firewall import MemberSet
from sdn.policy.portspace import intersect_ranges as intersect
from sdn.traceflow.walk import DEFAULT_RULE_ID

TABLE = "sdn_dfw"
#: The bit of the packet mark that says "JUMP_TO_APPLICATION matched".
JUMPED = "0x00000001"
PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 132: "sctp"}
#: (NSX direction, chain suffix, the address that names the port, map, base chains).
DIRECTIONS = (
    ("OUT", "out", "ip saddr", "m_egress",
     (("dfw_out", "forward", 0), ("dfw_local", "input", 0))),
    ("IN", "in", "ip daddr", "m_ingress", (("dfw_in", "forward", 10),)),
)
#: The ingress of flows a VIP reached from outside translated in this namespace, judged
#: after the SNAT automap (module docstring): its own chains, where REJECT is a drop.
DEFERRED_CHAIN = "dfw_in_lb"
DEFERRED = ("IN", "inlb", "ip daddr", "m_ingress_lb", ((DEFERRED_CHAIN, "postrouting", 200),))
#: The bit of the packet mark that says "ingress deferred to postrouting".
DEFERRED_MARK = "0x00000002"


class Members:
    """Address sets of groups, computed once per firewall for every namespace."""

    def __init__(self, firewall: Firewall) -> None:
        self.firewall = firewall
        self.endpoints = [firewall.endpoint(i) for i in range(firewall.endpoint_count)]
        self.port_ips = sorted(int(e.ip) for e in self.endpoints)
        self._groups: dict[str, tuple[nftaddr.Intervals, nftaddr.Intervals]] = {}

    def _group(self, g: MemberSet) -> tuple[nftaddr.Intervals, nftaddr.Intervals]:
        """(member ports' addresses, the group's CIDR terms)."""
        found = self._groups.get(g.path)
        if found is None:
            if isinstance(g, GroupMembers):
                ips = [int(self.endpoints[i].ip) for i in g.endpoints]
            else:
                ips = [int(e.ip) for e in self.endpoints if g.contains(e)]
            outside = nftaddr.union(
                iv for term in g.outside_terms
                for iv in _term(term))
            found = self._groups[g.path] = (nftaddr.of_points(ips), outside)
        return found

    def addresses(self, groups: Sequence[MemberSet]) -> nftaddr.Intervals:
        """The addresses any of ``groups`` matches: member ports, and addresses of their
        CIDR terms that belong to no port."""
        members = [iv for g in groups for iv in self._group(g)[0]]
        outside = nftaddr.union(iv for g in groups for iv in self._group(g)[1])
        return nftaddr.union([*members, *nftaddr.without(outside, self.port_ips)])


def _term(term: Term) -> nftaddr.Intervals:
    """An AND of criteria, each an OR of networks."""
    found: nftaddr.Intervals | None = None
    for crit in term:
        nets = nftaddr.of_networks(crit)
        found = nets if found is None else intersect(found, nets)
    return found or ()


class _Sets:
    """The named sets of one table, shared by content."""

    def __init__(self) -> None:
        self.sets: dict[str, tuple[str, ...]] = {}

    def name(self, addresses: nftaddr.Intervals) -> str:
        elements = nftaddr.elements(addresses)
        name = "g_" + digest(",".join(elements))
        self.sets[name] = elements
        return name

    def declared(self) -> list[NamedSet]:
        return [NamedSet(n, "ipv4_addr", tuple((e, "") for e in elements), "interval")
                for n, elements in sorted(self.sets.items())]


def dfw_table(firewall: Firewall, members: Members, ports: Sequence[Port], *,
              deferred: bool = False) -> Table:
    """``table inet sdn_dfw`` of the namespace hosting ``ports`` (module docstring);
    ``deferred``: the namespace translates VIPs for clients outside NSX."""
    endpoints = firewall.endpoints_of(p.path for p in ports)
    # one port per address (two ports sharing one, an inconsistent state the model
    # checks report, would make the maps refuse the table): the first by path
    by_ip: dict[str, int | None] = {}
    for p in sorted(ports, key=lambda p: p.path):
        if p.path in endpoints and endpoints[p.path].index is not None:
            by_ip.setdefault(str(p.ip.ip), endpoints[p.path].index)
    local = sorted(by_ip.items())
    sets = _Sets()
    chains: dict[str, Chain] = {}
    maps: list[NamedSet] = []
    for direction, suffix, key, map_name, bases in DIRECTIONS + ((DEFERRED,) if deferred
                                                                 else ()):
        rejects = suffix != DEFERRED[1]
        elements = _direction(firewall, members, sets, chains, local, direction, suffix, key,
                              rejects)
        maps.append(NamedSet(map_name, "ipv4_addr : verdict", elements, map=True))
        for name, hook, priority in bases:
            chains[name] = Chain(name, (
                Rule((Match("ct state", ("established,related",)),), "accept",
                     comment="stateful"),
                *_deferral(name, deferred),
                Rule(statements=(f"meta mark set meta mark & 0x{0xFFFFFFFE:08x}",)),
                Rule(verdict=f"{key} vmap @{map_name}")),
                f"type filter hook {hook} priority {priority}; policy accept;")
    return Table("inet", TABLE, (*sets.declared(), *maps),
                 tuple(chains[n] for n in sorted(chains)))


def _deferral(base: str, deferred: bool) -> tuple[Rule, ...]:
    """What hands a VIP's translated packet from outside over from ``dfw_in`` to
    ``dfw_in_lb`` (module docstring), and lets ``dfw_in_lb`` judge only those."""
    if not deferred or base not in ("dfw_in", DEFERRED_CHAIN):
        return ()
    # ``return`` from a base chain is its policy, accept: no decision, nothing to name
    if base == "dfw_in":
        return (Rule((Match("iifname", (f'"{TIER1_UPLINK}"',)), Match("ct status", ("dnat",))),
                     "return", (f"meta mark set meta mark | {DEFERRED_MARK}",)),)
    return (Rule((Match(f"meta mark & {DEFERRED_MARK} ==", ("0x00000000",)),), "return"),)


def _direction(firewall: Firewall, members: Members, sets: _Sets, chains: dict[str, Chain],
               local: Sequence[tuple[str, int | None]], direction: str, suffix: str,
               key: str, rejects: bool) -> tuple[tuple[str, str], ...]:
    """The policy and sequence chains of one direction; the map's elements."""
    rules: dict[str, dict[int, FirewallRule]] = defaultdict(dict)
    where: dict[int, set[str]] = defaultdict(set)
    jumpers: dict[str, set[str]] = defaultdict(set)
    sequences: dict[str, list[str]] = {}
    for ip, index in local:
        assert index is not None
        policies: list[str] = []
        for r in firewall.candidates(index, direction):
            rules[r.policy_path][r.order] = r
            where[r.order].add(ip)
            jumpers[r.policy_path].add(ip)
            if r.policy_path not in policies:
                policies.append(r.policy_path)
        sequences[ip] = policies
    for policy, found in rules.items():
        name = _policy_chain(policy, suffix)
        body: list[Rule] = []
        if min(found) < firewall.application_start:
            body.append(Rule((Match(f"meta mark & {JUMPED} ==", (JUMPED,)),), "return"))
        for order in sorted(found):
            scope = None if where[order] == jumpers[policy] else sets.name(
                nftaddr.of_points(int(_ip(a)) for a in where[order]))
            body += _rules(found[order], firewall, members, sets, scope, key, rejects)
        chains[name] = Chain(name, tuple(body))
    default = Rule(verdict=_verdict(firewall.default_action, rejects),
                   comment=comment_for("rule", str(DEFAULT_RULE_ID)))
    elements = []
    for ip, policies in sequences.items():
        jumps = tuple(Rule(verdict=f"jump {_policy_chain(p, suffix)}") for p in policies)
        name = f"seq_{suffix}_" + digest(" ".join(r.verdict for r in jumps))
        chains[name] = Chain(name, (*jumps, default))
        elements.append((ip, f"jump {name}"))
    return tuple(sorted(elements, key=lambda e: int(_ip(e[0]))))


def _ip(text: str) -> int:
    return int(IPv4Address(text))


def _policy_chain(policy_path: str, suffix: str) -> str:
    return f"pol_{digest(policy_path)}_{suffix}"


def _verdict(action: str, rejects: bool) -> str:
    if action == "ALLOW":
        return "accept"
    return "reject" if action == "REJECT" and rejects else "drop"


def _rules(rule: FirewallRule, firewall: Firewall, members: Members, sets: _Sets,
           scope: str | None, key: str, rejects: bool) -> list[Rule]:
    """The nft rules of one NSX rule (none when it can change no decision)."""
    jump = rule.action == "JUMP_TO_APPLICATION"
    if rule.disabled or (jump and rule.order >= firewall.application_start):
        return []
    matches: list[Match] = []
    if scope is not None:
        matches.append(Match(key, (f"@{scope}",)))
    if rule.sources is not None:
        matches.append(Match("ip saddr", (f"@{sets.name(members.addresses(rule.sources))}",),
                             rule.sources_excluded))
    if rule.destinations is not None:
        matches.append(Match("ip daddr",
                             (f"@{sets.name(members.addresses(rule.destinations))}",),
                             rule.destinations_excluded))
    comment = comment_for("rule", str(rule.rule_id))
    statements = (f"meta mark set meta mark | {JUMPED}",) if jump else ()
    verdict = "return" if jump else _verdict(rule.action, rejects)
    return [Rule((*matches, *extra), verdict, statements, comment)
            for extra in service_matches(rule.services)]


def service_matches(services: tuple[Service, ...] | None) -> list[tuple[Match, ...]]:
    """Alternatives of the services (one per protocol and source ports; none can match
    when a rule lists services that are all unknown)."""
    if services is None:
        return [()]
    grouped: dict[tuple[int, tuple[tuple[int, int], ...]], list[tuple[int, int]] | None] = {}
    for s in services:
        k = (s.protocol, s.source_ports)
        if not s.ports:
            grouped[k] = None
        elif k not in grouped:
            grouped[k] = list(s.ports)
        elif grouped[k] is not None:
            grouped[k] = [*(grouped[k] or []), *s.ports]
    out = []
    for (protocol, sports), dports in grouped.items():
        found = [Match("meta l4proto", (PROTOCOL_NAMES.get(protocol, str(protocol)),))]
        if dports is not None:
            found.append(Match("th dport", _ports(dports)))
        if sports:
            found.append(Match("th sport", _ports(sports)))
        out.append(tuple(found))
    return out


def _ports(ranges: Sequence[tuple[int, int]]) -> tuple[str, ...]:
    return tuple(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in nftaddr.union(ranges))
