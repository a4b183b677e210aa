"""Walk a packet through the NSX logical pipeline and record what NSX would observe.

The pipeline, in order (NSX-T's distributed datapath):

1. **Source port.** The trace is injected at a segment port; SpoofGuard drops a packet
   whose source address is not bound to that port (``SPOOFGUARD``).
2. **DFW, egress** at the source port (``OUT``), exactly as :mod:`sdn.policy` decides it:
   a drop ends the trace with ``FW_RULE`` and the rule's id and path.
3. **Segment** (``LS``): a destination on the segment's own subnets is switched there;
   anything else goes to the segment's gateway.
4. **Gateways** (``LR``, sub-type ``LR_TIER1`` / ``LR_TIER0``): each routes by
   longest-prefix match (:class:`~sdn.graph.TopologyIndex`), reporting ``route_prefix`` and
   ``next_hop``; TTL is decremented per gateway (``TTL_ZERO``); no route is ``NO_ROUTE``.
   East-west routing is distributed (it happens on the source's transport node).
5. **Load balancing** happens first, at the source: a packet to a virtual server (a
   cluster IP) is translated to one pool member (a hash of the flow picks it), observed as
   ``LOAD_BALANCER`` with ``translated_dst_ip``; the DFW then sees the translated flow. An
   L7 (Ingress) virtual server first picks the pool by its LB rules for the traced HTTP
   request (:mod:`sdn.traceflow.l7`), and the observation names the rule and the pool. A
   virtual server with no pool for the request, or an empty one, drops with reason ``LB``.
6. **NAT** when a packet leaves a gateway northbound (its default route, or the Tier-0's
   uplink): the gateway's SNAT rules apply in ``sequence_number`` order, on the gateway's
   service router, so the packet first crosses to the edge transport node. That is where
   NCP's namespace SNAT happens: on the Tier-0 (two-tier) or the shared Tier-1.
7. **Destination segment**: the destination address must be bound to a port there,
   else ``ARP_FAIL``. A port on another transport node means a tunnel hop
   (``Forwarded`` / ``Received`` physical observations, ``sequence_no`` + 1).
8. **DFW, ingress** at the destination port (``IN``), then **delivery**.

A trace leaving through the Tier-0 uplink ends ``EXITS_NETWORK``. Every walk has a hop
budget and remembers where it has been with which TTL: a revisit ends it with ``LOOP``.
Transport nodes: a pod's node (tag ``ncp/node_name``) hosts its port (an ``ESX``
transport node); service routers run on the edge node :data:`EDGE_NODE` (``EDGE``). A
node is known by (cluster, name): clusters sharing a state often share node names, and a
tunnel must name its own cluster's node. Tunnels are observed between the nodes' TEP
addresses (:mod:`sdn.traceflow.teps`, from :attr:`TraceContext.tep_pool`); a gateway's
``next_hop`` is an address (see :func:`next_hop_address`).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from sdn.errors import NotFoundError, TraceInputError
from sdn.graph import Route, TopologyIndex
from sdn.graph.transit import OUTSIDE_ADDRESS, TransitLink, transit_links
from sdn.model import (
    Inventory,
    LBPool,
    LBPoolMember,
    LBService,
    LBVirtualServer,
    NatRule,
    Segment,
    SegmentPort,
    Tier0,
    Tier1,
)
from sdn.model.values import port_bounds
from sdn.policy import Decision, Endpoint, Firewall, compile_dfw
from sdn.policy.evaluator import candidates, decide
from sdn.traceflow.l7 import HttpRequest, PoolChoice, choose_pool, is_l7
from sdn.traceflow.lookups import Lookups, NameMap, NodeKey, PathMap, SnatEntry
from sdn.traceflow.packets import PROTOCOL_NUMBERS, PacketSpec
from sdn.traceflow.results import Disposition, Observation, Trace
from sdn.traceflow.teps import DEFAULT_TEP_POOL, TepPlan

#: The transport node that runs service routers (NAT, uplinks).
EDGE_NODE = "edge-node-1"
#: NSX's default layer-3 rule, reported when no other rule decided.
DEFAULT_RULE_ID = 2
DEFAULT_RULE_PATH = ("/infra/domains/default/security-policies/default-layer3-section/"
                     "rules/default-layer3-rule")
HOP_BUDGET = 64

_Done = Callable[[Disposition, str], Trace]
#: A transport node is (cluster, node name) (:data:`~sdn.traceflow.lookups.NodeKey`). Node
#: names repeat across clusters (two clusters may both have ``node-a``), so the cluster is
#: part of a node's identity.
EDGE: NodeKey = (None, EDGE_NODE)

_FWD, _RCV = "TraceflowObservationForwardedLogical", "TraceflowObservationReceivedLogical"
_DROP, _DELIVERED = "TraceflowObservationDroppedLogical", "TraceflowObservationDelivered"


def vni_of(segment_path: str) -> int:
    """A stable overlay VNI per segment (NSX allocates them from 65536 up)."""
    return 65536 + zlib.crc32(segment_path.encode()) % 1_000_000


@dataclass
class TraceContext:
    """What a walk reads, built once per inventory revision."""

    inventory: Inventory
    index: TopologyIndex
    dfw: Firewall
    lookups: Lookups
    ports: Mapping[str, SegmentPort] = field(default_factory=dict)
    segments: Mapping[str, Segment] = field(default_factory=dict)
    snat: Mapping[str, _SnatTable] = field(default_factory=dict)
    by_name: Mapping[str, list[SegmentPort]] = field(default_factory=dict)
    node_ips: dict[NodeKey, str] = field(default_factory=dict)
    #: Virtual servers by (cluster, address, port, protocol), with their pools.
    vips: dict[tuple[str | None, IPv4Address, int, str],
               tuple[LBVirtualServer, LBPool | None]] = field(default_factory=dict)
    #: Virtual servers on a real (not distributed) LB service, reachable from outside, by
    #: (address, port, protocol).
    outside_vips: dict[tuple[IPv4Address, int, str],
                       tuple[LBVirtualServer, LBPool | None]] = field(default_factory=dict)
    #: Where the transport nodes' TEP addresses come from (:mod:`sdn.traceflow.teps`).
    tep_pool: IPv4Network = DEFAULT_TEP_POOL
    #: What a walk computes once per context: the TEP plan, the transit links.
    _memo: dict[str, object] = field(default_factory=dict, init=False, repr=False,
                                     compare=False)

    @classmethod
    def build(cls, inv: Inventory, *, dfw: Firewall | None = None,
              default_action: str = "ALLOW", lookups: Lookups | None = None) -> TraceContext:
        """Index an inventory for tracing (compiles its DFW unless one is given). With
        ``lookups`` of this revision (a cache kept them, :mod:`sdn.query`), ports and
        segments are read from the inventory only when a walk asks for them."""
        if lookups is None:
            index = TopologyIndex(inv)
            lookups = Lookups.of(inv, index)
        else:
            index = TopologyIndex(inv, lookups.routing)
        if dfw is None:
            dfw = compile_dfw(inv, default_action=default_action)
        ctx = cls(inv, index, dfw, lookups)
        ctx.ports = PathMap(lookups.port_paths, inv)
        ctx.segments = PathMap(lookups.segment_paths, inv)
        ctx.snat = _SnatTables(lookups.snat_rules, inv)
        ctx.by_name = NameMap(lookups.by_name, inv)
        ctx.node_ips = lookups.node_ips
        for vs in inv.of_type(LBVirtualServer):
            if not vs.enabled or vs.pool_path is None:
                continue
            # An L7 (Ingress) virtual server picks its pool per request (sdn.traceflow.l7).
            found = inv.get(vs.pool_path) if vs.pool_path else None
            pool = found if isinstance(found, LBPool) else None
            lbs = inv.get(vs.lb_service_path)
            outside = isinstance(lbs, LBService) and lbs.size != "DLB"
            for port in vs.ports:
                lo, hi = port_bounds(port)
                for number in range(lo, hi + 1):
                    ctx.vips[(vs.tag("ncp/cluster"), vs.ip_address, number, vs.protocol)] = (
                        vs, pool)
                    if outside:
                        ctx.outside_vips[(vs.ip_address, number, vs.protocol)] = (vs, pool)
        return ctx

    def virtual_server(self, cluster: str | None, ip: IPv4Address, port: int | None,
                       protocol: str) -> tuple[LBVirtualServer, LBPool | None] | None:
        """The virtual server a packet from ``cluster`` hits, if any: cluster IPs are
        local to their cluster (two clusters may use the same one); the VIPs of real LB
        services (LoadBalancer Services, Ingresses) are reachable from every cluster, as
        their Tier-1 advertises them to the shared Tier-0."""
        if port is None:
            return None
        hit = self.vips.get((cluster, ip, port, protocol))
        return hit if hit is not None else self.outside_vips.get((ip, port, protocol))

    def choose(self, vs: LBVirtualServer, pool: LBPool | None,
               http: HttpRequest | None = None) -> PoolChoice:
        """The pool a request through ``vs`` goes to: its own for an L4 virtual server,
        the one its LB rules pick for an L7 (Ingress) one (:mod:`sdn.traceflow.l7`)."""
        if is_l7(vs):
            return choose_pool(self.inventory, vs, http or HttpRequest())
        return PoolChoice(pool)

    def tep(self, node: NodeKey) -> str:
        """The TEP address of a transport node (the edge's included)."""
        plan = self._memo.get("teps")
        if not isinstance(plan, TepPlan):
            plan = self._memo["teps"] = TepPlan([*self.node_ips, EDGE], self.tep_pool)
        return plan.address(node)

    def transit(self) -> dict[str, TransitLink]:
        """The Tier-0/Tier-1 transit links (:mod:`sdn.graph.transit`), computed once."""
        found = self._memo.get("transit")
        if not isinstance(found, dict):
            found = self._memo["transit"] = transit_links(self.inventory)
        return found

    def node_of(self, port: SegmentPort) -> NodeKey:
        """The transport node hosting a port."""
        return (port.tag("ncp/cluster"), port.tag("ncp/node_name") or port.id)

    def clusters(self) -> list[str]:
        """The clusters that own ports in the inventory, sorted."""
        return list(self.lookups.clusters)

    def check_cluster(self, cluster: str | None) -> None:
        """Refuse a ``--cluster`` the state does not hold (``UNKNOWN_CLUSTER``)."""
        if cluster is None:
            return
        known = self.clusters()
        if cluster not in known:
            raise NotFoundError(f"no cluster {cluster!r} is synced (clusters: "
                                f"{', '.join(known) or 'none'})", code="UNKNOWN_CLUSTER",
                                obj=cluster)

    def namespaces(self, cluster: str | None = None) -> list[str]:
        """The namespaces (of ``cluster``) that have a segment, sorted."""
        return sorted({ns for ns, owner in self.lookups.segment_scopes
                       if cluster is None or owner == cluster})

    def _namespace_hint(self, namespace: str, cluster: str | None) -> str:
        """`` (no namespace ...; namespaces: ...)`` when the state holds no namespace of that
        name, so that a misspelt namespace is told apart from a misspelt pod; the code stays
        ``UNKNOWN_POD`` (scripts match on it)."""
        known = self.namespaces(cluster)
        if not namespace or namespace.startswith("/") or namespace in known or not known:
            return ""
        where = f"cluster {cluster!r}" if cluster is not None else "any synced cluster"
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        return f" (no namespace {namespace!r} in {where}; namespaces: {shown})"

    def port_by_name(self, name: str, cluster: str | None = None) -> SegmentPort:
        """A pod's port by ``NS/POD`` (within ``cluster`` when given), ``CLUSTER/NS/POD``,
        or a port path.

        Raises:
            NotFoundError: ``UNKNOWN_CLUSTER``, ``UNKNOWN_POD`` (naming the namespaces when
                the pod's is not one of them), or ``AMBIGUOUS_POD`` when
                ``NS/POD`` names pods of several clusters and no cluster was given.
        """
        if name in self.ports:
            return self.ports[name]
        self.check_cluster(cluster)
        matches = self.by_name.get(name, [])
        if not matches and name.count("/") == 2:
            prefix, _, rest = name.partition("/")
            if cluster is None or cluster == prefix:
                cluster, name = prefix, rest
                matches = self.by_name.get(name, [])
        if cluster is not None:
            matches = [p for p in matches if p.tag("ncp/cluster") == cluster]
        if not matches:
            # NS/POD (a CLUSTER/ prefix not taken stays a name)
            hint = self._namespace_hint(name.partition("/")[0], cluster) \
                if name.count("/") == 1 else ""
            where = f" in cluster {cluster}" if cluster is not None else ""
            raise NotFoundError(f"no pod {name!r}{where}{hint}", code="UNKNOWN_POD", obj=name)
        if len(matches) > 1:
            owners = sorted({p.tag("ncp/cluster") or "?" for p in matches})
            raise NotFoundError(f"{name!r} is a pod of clusters {', '.join(owners)}; pick one "
                                "with --cluster", code="AMBIGUOUS_POD", obj=name)
        return matches[0]


class _SnatTables(Mapping[str, "_SnatTable"]):
    """Each gateway's SNAT table, built from its entries the first time a walk crosses
    it."""

    def __init__(self, entries: Mapping[str, tuple[SnatEntry, ...]], inv: Inventory) -> None:
        self._entries = entries
        self._inv = inv
        self._built: dict[str, _SnatTable] = {}

    def __getitem__(self, gateway: str) -> _SnatTable:
        table = self._built.get(gateway)
        if table is None:
            table = self._built[gateway] = _SnatTable(self._entries[gateway], self._inv)
        return table

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class _SnatTable:
    """A gateway's SNAT rules, found by source address without scanning them all.

    Entries sit in a dict per source prefix length (NCP's rules are one per namespace
    subnet, so a handful of lengths); a lookup probes each length and, of the rules whose
    source matches, takes the first in NSX order (sequence number, then path), and parses
    only that rule.
    """

    def __init__(self, entries: tuple[SnatEntry, ...], inv: Inventory) -> None:
        self._inv = inv
        self.by_len: dict[int, dict[int, list[tuple[int, str]]]] = defaultdict(dict)
        self.any_source: list[tuple[int, str]] = []
        for sources, sequence, path in entries:
            if sources is None:
                self.any_source.append((sequence, path))
                continue
            for length, network in sources:
                self.by_len[length].setdefault(network, []).append((sequence, path))

    def lookup(self, src: IPv4Address) -> NatRule | None:
        value = int(src)
        found = list(self.any_source)
        for length, table in self.by_len.items():
            mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF if length else 0
            found += table.get(value & mask, [])
        if not found:
            return None
        rule = self._inv[min(found)[1]]
        return rule if isinstance(rule, NatRule) else None


class _Walk:
    """One walk's state: observations, the transport node, the sequence number."""

    def __init__(self, ctx: TraceContext, node: NodeKey) -> None:
        self.ctx = ctx
        self.obs: list[Observation] = []
        self.node = node
        self.seq = 0

    def add(self, resource_type: str, **fields: object) -> None:
        self.obs.append(Observation.model_validate(
            {"resource_type": resource_type, "sequence_no": self.seq,
             "transport_node_name": self.node[1],
             "transport_node_type": "EDGE" if self.node == EDGE else "ESX", **fields}))

    def tunnel(self, to_node: NodeKey) -> None:
        """A physical hop between transport nodes (Geneve tunnel), between their TEPs."""
        if to_node == self.node:
            return
        local, remote = self.ctx.tep(self.node), self.ctx.tep(to_node)
        self.add("TraceflowObservationForwarded", component_type="PHYSICAL",
                 local_ip_address=local, remote_ip_address=remote,
                 dst_transport_node_name=to_node[1])
        self.node, self.seq = to_node, self.seq + 1
        self.add("TraceflowObservationReceived", component_type="PHYSICAL",
                 local_ip_address=remote, remote_ip_address=local)

    def dfw(self, d: Decision, port: SegmentPort) -> bool:
        """Record a DFW decision; True when it lets the packet on."""
        rule_id = d.rule.rule_id if d.rule else DEFAULT_RULE_ID
        rule_path = d.rule.path if d.rule else DEFAULT_RULE_PATH
        common = {"component_type": "DFW", "component_name": "DFW", "lport_name":
                  port.display_name or port.id, "segment_port_path": port.path,
                  "acl_rule_id": rule_id, "acl_rule_path": rule_path}
        if d.allowed:
            self.add(_FWD, **common)
            return True
        self.add(_DROP, reason="FW_RULE", **common)
        return False


def backend_packet(pkt: PacketSpec, member: LBPoolMember) -> PacketSpec:
    """``pkt`` after the load balancer sent it to ``member``: the member's address, and
    its port (the Service's target port) in place of the service port."""
    return pkt.model_copy(update={"dst_ip": member.ip_address,
                                  "dst_port": int(member.port or pkt.dst_port or 0)})


def _chosen_text(choice: PoolChoice) -> str:
    if choice.rule is None or choice.pool is None:
        return ""
    return (f"LB rule {choice.rule} ({choice.rule_name}) selects pool "
            f"{choice.pool.display_name or choice.pool.id}; ")


def balance(w: _Walk, vs: LBVirtualServer, choice: PoolChoice, pkt: PacketSpec,
            backend: int | None, snat: IPv4Address | None = None) -> PacketSpec | None:
    """Record the load balancer's choice of backend (a hash of the flow, or member number
    ``backend``) from the pool ``choice`` names, and return the translated packet (from
    ``snat`` when the pool's SNAT automap translates the source too); None (a recorded
    drop) when no pool serves the request or the pool has no members."""
    pool = choice.pool
    members = pool.members if pool is not None else ()
    common = {"component_type": "LOAD_BALANCER", "component_name": vs.display_name or vs.id,
              "component_path": vs.path}
    if not members:
        w.add(_DROP, reason="LB", message=no_backend_reason(choice), **common)
        return None
    key = f"{pkt.src_ip}:{pkt.sport}>{pkt.dst_ip}:{pkt.dst_port}/{pkt.protocol}".encode()
    chosen = members[backend % len(members) if backend is not None
                     else zlib.crc32(key) % len(members)]
    note = f"; SNAT automap to the Tier-1's uplink {snat}" if snat is not None else ""
    w.add(_FWD, translated_dst_ip=str(chosen.ip_address),
          translated_src_ip=str(snat) if snat is not None else None,
          message=f"{_chosen_text(choice)}backend {chosen.display_name} port "
                  f"{chosen.port}{note}", **common)
    translated = backend_packet(pkt, chosen)
    return translated if snat is None else translated.model_copy(update={"src_ip": snat})


def no_backend_reason(choice: PoolChoice) -> str:
    """Why a virtual server served no backend: no pool for the request, or an empty one."""
    if choice.pool is None:
        return choice.why or "no pool serves the request"
    return f"{_chosen_text(choice)}the service has no ready backend"


def no_backend_text(vs: LBVirtualServer, choice: PoolChoice | None = None) -> str:
    """The summary of a trace dropped at a virtual server without a backend to send to."""
    why = no_backend_reason(choice) if choice is not None else "the service has no ready backend"
    return f"DROPPED at {vs.display_name or vs.id}: {why}"


def _router(obj: object) -> tuple[str, str]:
    return ("LR", "LR_TIER0") if isinstance(obj, Tier0) else ("LR", "LR_TIER1")


def trace(ctx: TraceContext, source: str, packet: PacketSpec, *,
          bidirectional: bool = False, backend: int | None = None,
          http: HttpRequest | None = None) -> Trace:
    """Walk ``packet`` from the port ``source`` (``NS/POD`` or a port path).

    A packet to a virtual server is translated to one pool member, chosen from a hash of
    the flow (``backend`` forces member number ``backend`` instead); an L7 virtual server
    picks the pool by ``http`` first.

    Raises:
        NotFoundError: the source names no port (``UNKNOWN_POD``).
        TraceInputError: the packet cannot be sent from there.
    """
    port = ctx.port_by_name(source)
    result = _walk(ctx, port, packet, backend=backend, http=http)
    if bidirectional and result.disposition is Disposition.DELIVERED:
        delivered = result.observations[-1].segment_port_path
        dst_port = ctx.ports.get(delivered or "")
        if dst_port is not None:
            # Through a virtual server the reply leaves the backend from its own address;
            # the client's host (where the distributed LB runs) maps it back to the VIP.
            reply_pkt = packet.reply()
            lb = [o for o in result.observations if o.component_type == "LOAD_BALANCER"]
            if lb and lb[0].translated_dst_ip:
                reply_pkt = reply_pkt.model_copy(update={
                    "src_ip": IPv4Address(lb[0].translated_dst_ip)})
            reply = _walk(ctx, dst_port, reply_pkt, stateful=True)
            result = result.model_copy(update={"reply": reply})
    return result


def trace_all_backends(ctx: TraceContext, source: str, packet: PacketSpec,
                       http: HttpRequest | None = None) -> list[Trace]:
    """One trace per pool member when the packet hits a virtual server (as ``ovn-trace``
    forks at a load balancer); a single trace otherwise."""
    port = ctx.port_by_name(source)
    hit = ctx.virtual_server(port.tag("ncp/cluster"), packet.dst_ip, packet.dst_port,
                             packet.protocol)
    pool = ctx.choose(*hit, http).pool if hit is not None else None
    count = len(pool.members) if pool is not None else 0
    if count <= 1:
        return [trace(ctx, source, packet, http=http)]
    return [trace(ctx, source, packet, backend=i, http=http) for i in range(count)]


def _walk(ctx: TraceContext, port: SegmentPort, original: PacketSpec, *,
          stateful: bool = False, backend: int | None = None,
          http: HttpRequest | None = None) -> Trace:
    w = _Walk(ctx, ctx.node_of(port))
    pkt = original
    proto = PROTOCOL_NUMBERS[pkt.protocol]
    name = port.display_name or port.id

    def done(disposition: Disposition, summary: str) -> Trace:
        return Trace(source_id=port.path, packet=original, observations=tuple(w.obs),
                     disposition=disposition, summary=summary)

    if not any(b.ip_address == pkt.src_ip for b in port.address_bindings):
        w.add(_DROP, component_type="SPOOFGUARD", component_name=name, reason="SPOOFGUARD",
              lport_name=name, segment_port_path=port.path,
              message=f"{pkt.src_ip} is not bound to the port")
        return done(Disposition.DROPPED, f"DROPPED at {name} by SpoofGuard: {pkt.src_ip} is "
                                         "not the port's address")
    hit = None if stateful else ctx.virtual_server(port.tag("ncp/cluster"), pkt.dst_ip,
                                                    pkt.dst_port, pkt.protocol)
    if hit is not None:
        vs, pool = hit
        choice = ctx.choose(vs, pool, http)
        balanced = balance(w, vs, choice, pkt, backend)
        if balanced is None:
            return done(Disposition.DROPPED, no_backend_text(vs, choice))
        pkt = balanced
    src_ep = ctx.dfw.endpoint_for_ip(pkt.src_ip)
    dst_ep = ctx.dfw.endpoint_for_ip(pkt.dst_ip)
    if src_ep.index is not None:
        if stateful:
            w.add(_FWD, component_type="DFW", component_name="DFW", lport_name=name,
                  segment_port_path=port.path, message="reply of an allowed connection")
        else:
            d = decide(ctx.dfw, candidates(ctx.dfw, src_ep.index, "OUT"), point="egress",
                       at=src_ep, src=src_ep, dst=dst_ep, proto=proto, dport=pkt.dst_port,
                       sport=pkt.sport)
            if not w.dfw(d, port):
                return done(Disposition.DROPPED, _drop_text(name, "egress", d))

    segment = ctx.segments.get(port.parent_path)
    if segment is None:
        raise TraceInputError(f"port {port.path} is on no segment", obj=port.path)
    return _forward(ctx, w, pkt, src_ep, dst_ep, ("segment", segment.path), stateful, done)


def _forward(ctx: TraceContext, w: _Walk, pkt: PacketSpec, src_ep: Endpoint,
             dst_ep: Endpoint, location: tuple[str, str], stateful: bool,
             done: _Done) -> Trace:
    """Switch and route from ``location`` (a segment or a gateway) until the packet is
    delivered, dropped, leaves through an uplink or loops."""
    src_ip, dst_ip, ttl = pkt.src_ip, pkt.dst_ip, pkt.ttl
    seen: set[tuple[str, str, int]] = set()
    for _hop in range(HOP_BUDGET):
        kind, path = location
        if (kind, path, ttl) in seen:
            break
        seen.add((kind, path, ttl))
        if kind == "segment":
            seg = ctx.segments[path]
            w.add(_FWD, component_type="LS", component_name=seg.id, component_path=seg.path,
                  vni=vni_of(seg.path))
            if any(dst_ip in s.network for s in seg.subnets):
                return _deliver(ctx, w, seg, pkt, src_ep, dst_ep, dst_ip, stateful, done)
            if seg.connectivity_path is None:
                w.add(_DROP, component_type="LS", component_name=seg.id, reason="NO_ROUTE",
                      message="the segment has no gateway")
                return done(Disposition.NO_ROUTE, f"NO_ROUTE: {seg.id} has no gateway")
            location = ("router", seg.connectivity_path)
            continue
        gw = ctx.inventory.get(path)
        ctype, sub = _router(gw)
        gw_id = path.rsplit("/", 1)[-1]
        if ttl <= 1:
            w.add(_DROP, component_type=ctype, component_sub_type=sub, component_name=gw_id,
                  component_path=path, reason="TTL_ZERO")
            return done(Disposition.DROPPED, f"DROPPED at {gw_id}: TTL exhausted")
        ttl -= 1
        route = ctx.index.route(path, dst_ip)
        if route is None:
            w.add(_DROP, component_type=ctype, component_sub_type=sub, component_name=gw_id,
                  component_path=path, reason="NO_ROUTE")
            return done(Disposition.NO_ROUTE, f"NO_ROUTE at {gw_id} for {dst_ip}")
        northbound = route.kind in ("default", "uplink")
        if northbound:
            table = ctx.snat.get(path)
            rule = table.lookup(src_ip) if table is not None else None
            if rule is not None or route.kind == "uplink":
                w.tunnel(EDGE)
            if rule is not None and rule.translated_network:
                w.add(_FWD, component_type="NAT", component_sub_type=sub,
                      component_name=gw_id, component_path=path, nat_rule_path=rule.path,
                      translated_src_ip=rule.translated_network)
                src_ip = IPv4Address(rule.translated_network.split("-")[0].split("/")[0])
        w.add(_FWD, component_type=ctype, component_sub_type=sub, component_name=gw_id,
              component_path=path, route_prefix=str(route.prefix),
              next_hop=next_hop_address(ctx, route, dst_ip),
              next_hop_name=route.next_hop.rsplit("/", 1)[-1])
        if route.kind == "uplink":
            via = f" (SNAT to {src_ip})" if src_ip != pkt.src_ip else " (no SNAT: routed)"
            return done(Disposition.EXITS_NETWORK,
                        f"EXITS_NETWORK through {gw_id}'s uplink{via}")
        nxt = ctx.inventory.get(route.next_hop)
        if isinstance(nxt, Segment):
            location = ("segment", nxt.path)
        elif isinstance(nxt, Tier0 | Tier1):
            location = ("router", nxt.path)
        else:
            w.add(_DROP, component_type=ctype, component_sub_type=sub, component_name=gw_id,
                  reason="NO_ROUTE", message=f"next hop {route.next_hop} does not exist")
            return done(Disposition.NO_ROUTE, f"NO_ROUTE at {gw_id}: next hop is missing")
    w.add(_DROP, component_type="LR", reason="UNKNOWN", message="forwarding loop")
    return done(Disposition.LOOP, "LOOP: the packet came back to where it had been")


def next_hop_address(ctx: TraceContext, route: Route, dst_ip: IPv4Address) -> str | None:
    """The address a gateway sends to along ``route``: on a connected segment the
    destination itself; toward a Tier-1 (a Tier-0's ``tier1`` route) that Tier-1's end
    of its transit link; toward the Tier-0 (a Tier-1's ``default`` route) the Tier-0's
    end; out of the uplink the upstream router. None when the link is unknown."""
    if route.kind == "connected":
        return str(dst_ip)
    if route.kind == "uplink":
        return str(OUTSIDE_ADDRESS.ip)
    if route.kind == "tier1":
        link = ctx.transit().get(route.next_hop)
        return str(link.tier1.ip) if link is not None else None
    link = ctx.transit().get(route.gateway)
    return str(link.tier0.ip) if link is not None else None


def _deliver(ctx: TraceContext, w: _Walk, seg: Segment, pkt: PacketSpec, src_ep: Endpoint,
             dst_ep: Endpoint, dst_ip: IPv4Address, stateful: bool, finish: _Done) -> Trace:
    """Switch on the destination segment, check ingress, deliver (or drop)."""
    target = ctx.index.port_for_ip(dst_ip)
    if target is None or target.parent_path != seg.path:
        gateway = next((s for s in seg.subnets if s.gateway_address.ip == dst_ip), None)
        if gateway is not None and seg.connectivity_path:
            w.add(_DELIVERED, component_type="LR", component_name=seg.connectivity_path.rsplit(
                "/", 1)[-1], component_path=seg.connectivity_path)
            return finish(Disposition.DELIVERED, f"DELIVERED to the gateway interface {dst_ip}")
        w.add(_DROP, component_type="LS", component_name=seg.id, component_path=seg.path,
              reason="ARP_FAIL", message=f"no port on {seg.id} has {dst_ip}")
        return finish(Disposition.DROPPED, f"DROPPED on {seg.id}: ARP failed, no port has {dst_ip}")
    w.tunnel(ctx.node_of(target))
    if w.obs and w.obs[-1].resource_type == "TraceflowObservationReceived":
        w.add(_RCV, component_type="LS", component_name=seg.id, component_path=seg.path,
              vni=vni_of(seg.path))
    name = target.display_name or target.id
    if dst_ep.index is not None:
        if stateful:
            w.add(_FWD, component_type="DFW", component_name="DFW", lport_name=name,
                  segment_port_path=target.path, message="reply of an allowed connection")
        else:
            proto = PROTOCOL_NUMBERS[pkt.protocol]
            d = decide(ctx.dfw, candidates(ctx.dfw, dst_ep.index, "IN"), point="ingress",
                       at=dst_ep, src=src_ep, dst=dst_ep, proto=proto, dport=pkt.dst_port,
                       sport=pkt.sport)
            if not w.dfw(d, target):
                return finish(Disposition.DROPPED, _drop_text(name, "ingress", d))
    mac = target.address_bindings[0].mac_address if target.address_bindings else None
    w.add(_DELIVERED, lport_name=name, segment_port_path=target.path, target_mac=mac,
          resolution_type="ARP_SUPPRESSION_PORT_CACHE")
    return finish(Disposition.DELIVERED, f"DELIVERED to {name}")


def _drop_text(where: str, point: str, d: Decision) -> str:
    if d.rule is None:
        return f"DROPPED at {where} {point} by the default rule"
    policy = d.rule.policy_path.rsplit("/", 1)[-1]
    return f"DROPPED at {where} {point} by rule {d.rule.rule_id} of security policy {policy}"
