"""What the kernel did with one traced packet, told as NSX Traceflow observations.

Input: the flow's trace events (:mod:`sdn.dataplane.nfttrace`) from the namespaces a live
traceflow watched, and a :class:`KernelView` saying what each namespace, interface and
comment stands for in the state. Output: a :class:`~sdn.traceflow.results.Trace` in the
simulator's vocabulary, so the two can be compared observation by observation.

How events become observations (the live tracer adds its own table ``sdn_trace`` with a
chain on every hook, :data:`HOOK_CHAINS`, so each namespace reports where the packet came in,
whether it was forwarded and where to, and whether it was taken in locally):

* namespaces are visited in the packet's order: the highest TTL seen first (a router
  decrements it), a router before a pod at the same TTL (a bridged packet);
* ``comment "spoofguard"`` dropping: ``DroppedLogical`` ``SPOOFGUARD`` at the source port;
* ``comment "lb <id>"``: ``LOAD_BALANCER`` with the member the kernel chose (the packet's
  destination at the next hook);
* ``comment "rule <id>"`` accepting or dropping: a ``DFW`` observation with that
  ``acl_rule_id``; the first decision of a trace from a pod is the source port's egress,
  later ones the destination port's ingress (the port owning the destination address);
* entering a router from a bridge: the source segment (``LS``); forwarded to another
  interface: the router (``LR``, ``next_hop`` the address it sent to: the next gateway's
  end of their transit link, the upstream router beyond an uplink, the destination on a
  segment, as the simulator says; the object's name stays in ``next_hop_name``),
  then the segment when that interface is a bridge; ``comment "nat <id>"`` translating:
  ``NAT`` with the address the packet left with;
* seen in the destination pod's namespace: ``Delivered``; leaving a Tier-0 by its uplink:
  ``EXITS_NETWORK``; taken in by a router: delivered to the gateway interface;
* a router that saw the packet come in and go nowhere: ``TTL_ZERO`` when it came with TTL
  1, dropped (reason ``UNKNOWN``) when a load balancer had just translated it, else
  ``NO_ROUTE``; a packet sent onto a segment with no port for its address: ``ARP_FAIL``;
  a drop by a rule that is no DFW rule, or a packet that vanished elsewhere: dropped,
  reason ``UNKNOWN``.

Observations the kernel cannot make are left out: tunnels between transport nodes (a
namespace is the "transport node" here, of NSX's ``transport_node_type`` ``OTHERS``),
route prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any, Literal

from sdn.dataplane.layout import Layout
from sdn.dataplane.nfttrace import PacketFields, TraceEvent
from sdn.graph.transit import OUTSIDE_ADDRESS, transit_links
from sdn.model import Inventory, LBPool, LBVirtualServer, NatRule, SecurityPolicy, Segment
from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Disposition, Observation, Trace
from sdn.traceflow.walk import DEFAULT_RULE_ID, DEFAULT_RULE_PATH, vni_of

#: The live tracer's own table, and its chain on each hook (priority: first on prerouting,
#: where it marks the flow for tracing; last on the others, so it sees what the hook did).
TRACE_TABLE = "sdn_trace"
HOOK_CHAINS = {"prerouting": "c_pre", "forward": "c_fwd", "input": "c_in",
               "postrouting": "c_post"}
#: A network namespace is no host or edge: NSX's ``OTHERS``.
NODE_TYPE = "OTHERS"

_FWD = "TraceflowObservationForwardedLogical"
_DROP, _DELIVERED = "TraceflowObservationDroppedLogical", "TraceflowObservationDelivered"

#: A NAT rule that translates (a no-SNAT rule returns instead): its action before the comment.
_TRANSLATES = re.compile(r'\b(?:snat|dnat)\b[^"]* to \S|\bmasquerade\b')

HopKind = Literal["segment", "router", "port", "outside"]


@dataclass(frozen=True, slots=True)
class Hop:
    """What an interface of a namespace leads to: a segment (a bridge), a router (a
    transit link), a port (a host end of a pod's veth) or the outside network."""

    kind: HopKind
    path: str = ""


@dataclass(frozen=True, slots=True)
class RouterView:
    """A router namespace: the gateway's path, its id and kind."""

    path: str
    kind: str  # tier0, tier1 or isolated

    @property
    def id(self) -> str:
        """The gateway's id (the last part of its path)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def sub_type(self) -> str:
        """NSX's ``component_sub_type`` of the router."""
        return "LR_TIER0" if self.kind == "tier0" else "LR_TIER1"


@dataclass(frozen=True, slots=True)
class PortView:
    """A realized port as observations name it."""

    path: str
    name: str
    ip: IPv4Address
    mac: str
    netns: str
    segment: str


@dataclass(frozen=True)
class KernelView:
    """What kernel names stand for in the state (:meth:`of` builds it from a layout)."""

    routers: Mapping[str, RouterView]
    ports: Mapping[str, PortView]
    links: Mapping[tuple[str, str], Hop]
    segments: Mapping[str, str] = field(default_factory=dict)
    rules: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    nat_rules: Mapping[tuple[str, str], str] = field(default_factory=dict)
    virtual_servers: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    members: Mapping[tuple[str, IPv4Address], str] = field(default_factory=dict)
    outside: str = ""
    #: The address a router sends to when it forwards to another router, by (router
    #: path, next router path): the far end of their transit link.
    next_hops: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def of(cls, layout: Layout, inv: Inventory) -> KernelView:
        """The view of a realized ``layout`` of ``inv``."""
        routers = {r.netns: RouterView(r.path, r.kind) for r in layout.routers.values()}
        segments = {s.path: s.id for s in inv.of_type(Segment)}
        ports = {}
        links: dict[tuple[str, str], Hop] = {}
        for p in layout.ports.values():
            seg_port = inv.get(p.path)
            name = getattr(seg_port, "display_name", None) or p.path.rsplit("/", 1)[-1]
            ports[p.path] = PortView(p.path, name, p.ip.ip, p.mac, p.netns, p.segment)
            links[(p.host_netns, p.host_interface)] = Hop("port", p.path)
        for b in layout.bridges.values():
            links[(b.netns, b.name)] = Hop("segment", b.segment)
        by_netns = {r.netns: r.path for r in layout.routers.values()}
        for link in layout.links:
            if link.b_bridge is not None:  # a Tier-0's uplink on the outside network
                links[(link.a_netns, link.a_interface)] = Hop("outside")
            else:
                links[(link.a_netns, link.a_interface)] = Hop("router", by_netns[link.b_netns])
                links[(link.b_netns, link.b_interface)] = Hop("router", by_netns[link.a_netns])
        rules = {r.rule_id: (r.path, pol.id) for pol in inv.of_type(SecurityPolicy)
                 for r in pol.rules}
        nat = {(r.gateway_path, r.id): r.path for r in inv.of_type(NatRule)}
        vss = {vs.id: (vs.path, vs.display_name or vs.id) for vs in inv.of_type(LBVirtualServer)}
        members = {}
        for vs in inv.of_type(LBVirtualServer):
            pool = inv.get(vs.pool_path or "")
            for m in pool.members if isinstance(pool, LBPool) else ():
                members[(vs.id, m.ip_address)] = f"backend {m.display_name} port {m.port}"
        hops = {}
        for t1, ends in transit_links(inv).items():
            t0 = getattr(inv.get(t1), "tier0_path", None) or ""
            hops[(t1, t0)] = str(ends.tier0.ip)
            hops[(t0, t1)] = str(ends.tier1.ip)
        return cls(routers, ports, links, segments, rules, nat, vss, members,
                   layout.outside.netns, hops)

    def port_at(self, ip: IPv4Address | None) -> PortView | None:
        """The realized port with address ``ip``."""
        return next((p for p in self.ports.values() if p.ip == ip), None)

    def pod_netns(self) -> dict[str, PortView]:
        """Ports by their namespace."""
        return {p.netns: p for p in self.ports.values()}


@dataclass
class _Visit:
    """One namespace's events for the flow, summarised."""

    netns: str
    events: list[TraceEvent]
    entry: PacketFields | None = None
    forwarded: PacketFields | None = None
    posted: PacketFields | None = None
    local: bool = False

    @property
    def top_ttl(self) -> int:
        ttls = [e.packet.ttl for e in self.events if e.packet is not None and e.packet.ttl]
        return max(ttls, default=0)


def _visits(events: Iterable[TraceEvent], view: KernelView) -> list[_Visit]:
    """The flow's events per namespace, in the order the packet went (module docs)."""
    by_netns: dict[str, _Visit] = {}
    arrival: dict[str, int] = {}
    for e in events:
        visit = by_netns.setdefault(e.netns, _Visit(e.netns, []))
        arrival.setdefault(e.netns, len(arrival))
        visit.events.append(e)
        if e.kind != "packet" or e.packet is None:
            continue
        visit.entry = visit.entry or e.packet
        if e.table == TRACE_TABLE and e.family != "bridge":
            if e.chain == HOOK_CHAINS["forward"]:
                visit.forwarded = e.packet
            elif e.chain == HOOK_CHAINS["postrouting"]:
                visit.posted = e.packet
            elif e.chain == HOOK_CHAINS["input"]:
                visit.local = True
    return sorted(by_netns.values(), key=lambda v: (-v.top_ttl, v.netns not in view.routers,
                                                      arrival[v.netns]))


class _Builder:
    """One trace's observations, added in the simulator's order."""

    def __init__(self, view: KernelView, packet: PacketSpec, source: PortView | None) -> None:
        self.view, self.packet, self.source = view, packet, source
        self.obs: list[Observation] = []
        self.seq = 0
        self.node = source.netns if source is not None else ""
        self.decisions = 0
        self.source_segment_seen = False

    def add(self, resource_type: str, **fields: Any) -> None:
        self.obs.append(Observation(resource_type=resource_type, sequence_no=self.seq,
                                    transport_node_name=self.node,
                                    transport_node_type=NODE_TYPE, **fields))

    def done(self, disposition: Disposition, summary: str) -> Trace:
        source_id = self.source.path if self.source else f"outside:{self.packet.src_ip}"
        return Trace(source_id=source_id, packet=self.packet, observations=tuple(self.obs),
                     disposition=disposition, summary=summary)

    def segment(self, path: str) -> None:
        seg_id = self.view.segments.get(path, path.rsplit("/", 1)[-1])
        self.add(_FWD, component_type="LS", component_name=seg_id, component_path=path,
                 vni=vni_of(path))

    def entered(self, visit: _Visit) -> str | None:
        """The segment the packet came into a router from (by a port of its bridge, or
        the bridge itself), if it came from one."""
        hop = self.view.links.get((visit.netns, visit.entry.iif or "")) if visit.entry \
            else None
        if hop is not None and hop.kind == "port":
            port = self.view.ports.get(hop.path)
            return port.segment if port is not None else None
        return hop.path if hop is not None and hop.kind == "segment" else None

    def dfw(self, e: TraceEvent, at: PacketFields | None) -> Trace | None:
        """A DFW decision (``comment "rule <id>"``); the trace's end when it drops."""
        egress = self.decisions == 0 and self.source is not None
        self.decisions += 1
        port = self.source if egress else self.view.port_at(at.daddr if at else None)
        rule_id = int(e.mark[1])
        path, policy = self.view.rules.get(rule_id, ("", ""))
        if rule_id == DEFAULT_RULE_ID:
            path, policy = DEFAULT_RULE_PATH, ""
        common: dict[str, Any] = {"component_type": "DFW", "component_name": "DFW",
                                  "acl_rule_id": rule_id, "acl_rule_path": path or None}
        if port is not None:
            common |= {"lport_name": port.name, "segment_port_path": port.path}
        if not e.final:
            self.add(_FWD, **common)
            return None
        self.add(_DROP, reason="FW_RULE", **common)
        point = "egress" if egress else "ingress"
        where = port.name if port is not None else e.netns
        by = (f"rule {rule_id} of security policy {policy}" if policy
              else "the default rule" if rule_id == DEFAULT_RULE_ID else f"rule {rule_id}")
        return self.done(Disposition.DROPPED, f"DROPPED at {where} {point} by {by}")

    def dropped(self, e: TraceEvent, router: RouterView) -> Trace:
        """A drop by anything but a DFW rule (SpoofGuard, or a rule we do not name)."""
        if e.mark[0] == "spoofguard" and self.source is not None:
            name = self.source.name
            self.add(_DROP, component_type="SPOOFGUARD", component_name=name,
                     reason="SPOOFGUARD", lport_name=name, segment_port_path=self.source.path,
                     message=f"{self.packet.src_ip} is not bound to the port")
            return self.done(Disposition.DROPPED, f"DROPPED at {name} by SpoofGuard: "
                             f"{self.packet.src_ip} is not the port's address")
        what = e.comment or e.rule or f"{e.family} {e.table} {e.chain} policy"
        self.add(_DROP, component_type="LR", component_sub_type=router.sub_type,
                 component_name=router.id, component_path=router.path, reason="UNKNOWN",
                 message=f"dropped by {what}")
        return self.done(Disposition.DROPPED, f"DROPPED at {router.id} by {what}")

    def balanced(self, e: TraceEvent, visit: _Visit) -> None:
        """``comment "lb <id>"``: the member is where the packet went next."""
        vs_id = e.mark[1]
        path, name = self.view.virtual_servers.get(vs_id, ("", vs_id))
        after = [x.packet.daddr for x in visit.events if x.packet is not None
                 and x.packet.daddr is not None and x.packet.daddr != self.packet.dst_ip]
        member = after[0] if after else None
        self.add(_FWD, component_type="LOAD_BALANCER", component_name=name,
                 component_path=path or None,
                 translated_dst_ip=str(member) if member else None,
                 message=self.view.members.get((vs_id, member)) if member else None)

    def routed(self, router: RouterView, visit: _Visit, nat: TraceEvent | None) -> Hop:
        """The router forwarded the packet out of another interface: NAT (when a rule of
        ours translated it), the router, and the segment it went onto."""
        out = visit.forwarded.oif if visit.forwarded else None
        hop = self.view.links.get((visit.netns, out or ""), Hop("outside"))
        if nat is not None:
            sent = visit.posted.saddr if visit.posted else None
            translated = str(sent) if sent and sent != self.packet.src_ip \
                else nat.rule.split(" to ", 1)[-1].split()[0] if nat.rule else None
            self.add(_FWD, component_type="NAT", component_sub_type=router.sub_type,
                     component_name=router.id, component_path=router.path,
                     nat_rule_path=self.view.nat_rules.get((router.path, nat.mark[1])),
                     translated_src_ip=translated)
        name = "uplink" if hop.kind == "outside" else hop.path.rsplit("/", 1)[-1]
        sent_to = visit.forwarded.daddr if visit.forwarded else None
        address = str(OUTSIDE_ADDRESS.ip) if hop.kind == "outside" \
            else self.view.next_hops.get((router.path, hop.path)) if hop.kind == "router" \
            else str(sent_to) if sent_to is not None else None
        self.add(_FWD, component_type="LR", component_sub_type=router.sub_type,
                 component_name=router.id, component_path=router.path, next_hop=address,
                 next_hop_name=name)
        if hop.kind == "segment":
            self.segment(hop.path)
        return hop


@dataclass
class _Seen:
    """What one router did to the packet, by kind (the kernel's order within a namespace
    is not the simulator's: the DFW egress check happens at ``forward``, after routing)."""

    spoofguard: TraceEvent | None = None
    lb: TraceEvent | None = None
    nat: TraceEvent | None = None
    drop: TraceEvent | None = None
    decisions: list[tuple[TraceEvent, PacketFields | None]] = field(default_factory=list)

    @classmethod
    def of(cls, visit: _Visit) -> _Seen:
        seen = cls()
        current: PacketFields | None = None
        for e in visit.events:
            kind = e.mark[0]
            if e.packet is not None:
                current = e.packet
            elif e.kind == "rule" and kind == "rule" and e.mark[1].isdigit() \
                    and e.verdict in ("accept", "drop"):
                seen.decisions.append((e, current))
            elif e.kind == "rule" and kind == "lb":
                seen.lb = seen.lb or e
            elif e.kind == "rule" and kind == "nat" and _TRANSLATES.search(e.rule or ""):
                seen.nat = seen.nat or e
            elif kind == "spoofguard" and e.final:
                seen.spoofguard = e
            elif e.final or (e.kind == "policy" and e.verdict == "drop"):
                seen.drop = seen.drop or e
        return seen


def _router_visit(b: _Builder, router: RouterView, visit: _Visit) -> Trace | None:
    """Add one router's observations in the simulator's order (LB, DFW egress, source
    segment, NAT, router, next segment, DFW ingress); the trace when it ended there."""
    seen = _Seen.of(visit)
    if seen.spoofguard is not None:
        return b.dropped(seen.spoofguard, router)
    if seen.lb is not None:
        b.balanced(seen.lb, visit)
    decisions = iter(seen.decisions)
    if b.decisions == 0 and b.source is not None:
        for e, at in decisions:
            ended = b.dfw(e, at)
            if ended is not None:
                return ended
            break
    entered = b.entered(visit)
    if not b.source_segment_seen and entered is not None:
        b.segment(entered)
        b.source_segment_seen = True
    if seen.drop is not None:
        return b.dropped(seen.drop, router)
    forwarded = visit.forwarded
    hop = b.routed(router, visit, seen.nat) \
        if forwarded is not None and forwarded.oif != forwarded.iif else None
    for e, at in decisions:
        ended = b.dfw(e, at)
        if ended is not None:
            return ended
    if hop is not None and hop.kind == "outside" and router.kind == "tier0":
        sent = visit.posted.saddr if visit.posted else None
        via = f" (SNAT to {sent})" if sent and sent != b.packet.src_ip else " (no SNAT: routed)"
        return b.done(Disposition.EXITS_NETWORK,
                      f"EXITS_NETWORK through {router.id}'s uplink{via}")
    if forwarded is None and visit.local:
        b.add(_DELIVERED, component_type="LR", component_name=router.id,
              component_path=router.path)
        return b.done(Disposition.DELIVERED,
                      f"DELIVERED to the gateway interface {b.packet.dst_ip}")
    if forwarded is None and visit.posted is None:
        return _stopped(b, router, visit, seen)
    return None


def _stopped(b: _Builder, router: RouterView, visit: _Visit, seen: _Seen) -> Trace:
    """The packet came into a router and went nowhere: its TTL ran out, no route took it,
    or (after a load balancer's translation) it vanished."""
    common = {"component_type": "LR", "component_sub_type": router.sub_type,
              "component_name": router.id, "component_path": router.path}
    ttl = visit.entry.ttl if visit.entry else None
    if ttl is not None and ttl <= 1:
        b.add(_DROP, reason="TTL_ZERO", **common)
        return b.done(Disposition.DROPPED, f"DROPPED at {router.id}: TTL exhausted")
    if seen.lb is not None:
        b.add(_DROP, reason="UNKNOWN", message="no hop after the load balancer's "
              "translation", **common)
        return b.done(Disposition.DROPPED, f"DROPPED at {router.id} after the load "
                                           "balancer's translation")
    b.add(_DROP, reason="NO_ROUTE", **common)
    return b.done(Disposition.NO_ROUTE, f"NO_ROUTE at {router.id} for {b.packet.dst_ip}")


def observe(events: Iterable[TraceEvent], view: KernelView, packet: PacketSpec,
            source: PortView | None) -> Trace:
    """The trace of ``packet`` sent from ``source`` (None: from outside) as the kernel
    reported it in ``events`` (already narrowed to the flow, :func:`~sdn.dataplane.
    nfttrace.of_flow`)."""
    b = _Builder(view, packet, source)
    pods = view.pod_netns()
    last: _Visit | None = None
    for visit in _visits(events, view):
        b.node = visit.netns
        router = view.routers.get(visit.netns)
        if router is not None:
            ended = _router_visit(b, router, visit)
            if ended is not None:
                return ended
        elif visit.netns in pods and (source is None or visit.netns != source.netns):
            port = pods[visit.netns]
            b.add(_DELIVERED, lport_name=port.name, segment_port_path=port.path,
                  target_mac=visit.entry.ether_daddr if visit.entry else port.mac)
            return b.done(Disposition.DELIVERED, f"DELIVERED to {port.name}")
        last = visit
        b.seq += 1
    return _lost(b, last)


def _lost(b: _Builder, last: _Visit | None) -> Trace:
    """No hop said what became of the packet."""
    hop = None
    if last is not None and last.forwarded is not None:
        hop = b.view.links.get((last.netns, last.forwarded.oif or ""))
    if hop is not None and hop.kind == "segment" and b.view.port_at(b.packet.dst_ip) is None:
        seg_id = b.view.segments.get(hop.path, hop.path.rsplit("/", 1)[-1])
        b.add(_DROP, component_type="LS", component_name=seg_id, component_path=hop.path,
              reason="ARP_FAIL", message=f"no port on {seg_id} has {b.packet.dst_ip}")
        return b.done(Disposition.DROPPED,
                      f"DROPPED on {seg_id}: ARP failed, no port has {b.packet.dst_ip}")
    where = last.netns if last is not None else "the source"
    b.add(_DROP, reason="UNKNOWN", message=f"the kernel reported no hop after {where}")
    return b.done(Disposition.DROPPED, f"DROPPED after {where}: the kernel reported no "
                                       "further hop")
