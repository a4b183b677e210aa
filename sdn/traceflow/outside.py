"""Traces that start outside NSX: a client beyond the Tier-0 uplink reaching a VIP.

NSX's own Traceflow injects only at logical ports; troubleshooters still ask "can the
internet reach my LoadBalancer service, and which pod answers?". This walk answers it in
the same vocabulary, with these choices (documented, not NSX's):

1. The packet is *received* on the Tier-0's uplink, on the edge node
   :data:`~sdn.traceflow.walk.EDGE_NODE`.
   Which Tier-0: the one above the Tier-1 hosting the virtual server's LB service when
   the destination is a VIP, else the only Tier-0 with a non-default route to it. The
   walk assumes the upstream router delivers the packet there: NAT-mode pod subnets are
   not advertised north, so a real client would need a static route to reach a pod.
2. The Tier-0 forwards a VIP to the LB's Tier-1 (the Tier-1 advertises its LB VIPs,
   ``TIER1_LB_VIP``), where the LB picks a member from a hash of the flow (or member
   ``backend``), exactly as for east-west traffic.
3. With the pool's SNAT automap, backends see the Tier-1's uplink address, as on NSX:
   its end of the Tier-0/Tier-1 transit /31 (:mod:`sdn.graph.transit`, the address the
   realized data plane gives it too). The ``LOAD_BALANCER`` observation carries it as
   ``translated_src_ip`` and the DFW at the backend is evaluated with it, so a policy
   admitting the client's ``ipBlock`` but not the transit range drops the packet there.
   Without automap the backend sees the client's address.
4. Only virtual servers on a real (non-distributed) LB service are reachable from
   outside: cluster IPs (the DLB) are not.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from sdn.errors import TraceInputError
from sdn.model import LBPool, LBService, LBVirtualServer, Tier0, Tier1
from sdn.policy import Endpoint
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Disposition, Trace
from sdn.traceflow.walk import (
    _DROP,
    _FWD,
    _RCV,
    EDGE,
    TraceContext,
    _forward,
    _Walk,
    balance,
    no_backend_text,
)


def external_virtual_server(ctx: TraceContext, packet: PacketSpec,
                            ) -> tuple[LBVirtualServer, LBPool | None, Tier1] | None:
    """The non-distributed virtual server (and its pool and Tier-1) ``packet`` hits."""
    if packet.dst_port is None:
        return None
    hit = ctx.outside_vips.get((packet.dst_ip, packet.dst_port, packet.protocol))
    if hit is None:
        return None
    vs, pool = hit
    lbs = ctx.inventory.get(vs.lb_service_path)
    t1 = ctx.inventory.get(lbs.connectivity_path or "") if isinstance(lbs, LBService) else None
    return (vs, pool, t1) if isinstance(t1, Tier1) else None


def _entry_tier0(ctx: TraceContext, dst: IPv4Address) -> Tier0:
    found = []
    for t0 in ctx.inventory.of_type(Tier0):
        route = ctx.index.route(t0.path, dst)
        if route is not None and route.kind not in ("default", "uplink"):
            found.append(t0)
    if len(found) != 1:
        raise TraceInputError(
            f"{dst} is no VIP and {'no' if not found else 'more than one'} Tier-0 routes it "
            "inside NSX; an outside source can reach VIPs and routable addresses",
            obj=str(dst))
    return found[0]


def _received(w: _Walk, t0: Tier0, packet: PacketSpec) -> None:
    w.add(_RCV, component_type="LR", component_sub_type="LR_TIER0", component_name=t0.id,
          component_path=t0.path, message=f"from {packet.src_ip} on the uplink")


def trace_from_outside(ctx: TraceContext, packet: PacketSpec, *,
                       backend: int | None = None, http: HttpRequest | None = None) -> Trace:
    """Walk ``packet`` from an address outside NSX into the topology (module docstring).

    Raises:
        TraceInputError: the source is inside NSX, or nothing routes the destination in.
    """
    if ctx.dfw.endpoint_for_ip(packet.src_ip).index is not None \
            or ctx.index.port_for_ip(packet.src_ip) is not None:
        raise TraceInputError(f"{packet.src_ip} belongs to a port inside NSX; pass the pod "
                              "as --src", obj=str(packet.src_ip))
    w = _Walk(ctx, EDGE)
    source = f"outside:{packet.src_ip}"

    def done(disposition: Disposition, summary: str) -> Trace:
        return Trace(source_id=source, packet=packet, observations=tuple(w.obs),
                     disposition=disposition, summary=summary)

    hit = external_virtual_server(ctx, packet)
    if hit is None:
        t0 = _entry_tier0(ctx, packet.dst_ip)
        _received(w, t0, packet)
        return _forward(ctx, w, packet, Endpoint(ip=packet.src_ip),
                        ctx.dfw.endpoint_for_ip(packet.dst_ip), ("router", t0.path), False,
                        done)
    vs, pool, t1 = hit
    upstream = ctx.inventory.get(t1.tier0_path or "")
    if not isinstance(upstream, Tier0):
        w.add(_DROP, component_type="LR", component_sub_type="LR_TIER1", component_name=t1.id,
              component_path=t1.path, reason="NO_ROUTE",
              message="the LB's Tier-1 has no Tier-0: its VIP is not reachable from outside")
        return done(Disposition.NO_ROUTE, f"NO_ROUTE: {t1.id} is not attached to a Tier-0")
    t0 = upstream
    _received(w, t0, packet)
    link = ctx.transit().get(t1.path)
    w.add(_FWD, component_type="LR", component_sub_type="LR_TIER0", component_name=t0.id,
          component_path=t0.path, route_prefix=f"{packet.dst_ip}/32",
          next_hop=str(link.tier1.ip) if link is not None else None, next_hop_name=t1.id,
          message="LB VIP advertised by the Tier-1")
    choice = ctx.choose(vs, pool, http)
    chosen = choice.pool
    snat = link.tier1.ip if link is not None and chosen is not None \
        and chosen.snat_translation.type == "LBSnatAutoMap" else None
    inner = balance(w, vs, choice, packet, backend, snat)
    if inner is None:
        return done(Disposition.DROPPED, no_backend_text(vs, choice))
    return _forward(ctx, w, inner, Endpoint(ip=inner.src_ip),
                    ctx.dfw.endpoint_for_ip(inner.dst_ip), ("router", t1.path), False,
                    done)
