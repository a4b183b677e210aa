"""What ``sdn path`` answers: the segments and gateways between two endpoints.

The endpoints are resolved as every question resolves them (:mod:`sdn.traceflow.targets`:
``NS/POD`` within ``--cluster``, ``CLUSTER/NS/POD``, a port path, a pod's address, an
outside address, ``svc:NS/NAME``); the path itself is the topology graph's
(:mod:`sdn.graph.paths`). A destination that is a virtual server (a cluster IP, a
LoadBalancer or Ingress VIP) has one path per backend its load balancer may pick, exactly
the backends traceflow's ``--all-backends`` walks; a destination address given without
``--dport`` uses the virtual server's port when it serves one (else
``UNKNOWN_SERVICE_PORT`` names them). From a pod the translation happens at the source (the
distributed load balancer, as traceflow has it); from outside, on the Tier-1 hosting the
load balancer.

Only names are looked up per cluster: an address is where the network puts it, so a pod's
address reaches that pod whichever cluster it belongs to, exactly as a packet would.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from sdn.errors import SdnError
from sdn.graph.paths import Hop, PathEnd, TopologyPath, path_from_outside, path_from_port
from sdn.model import LBService, Segment, SegmentPort
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.targets import (
    Source,
    Target,
    Translation,
    resolve_source,
    resolve_target,
    service_legs,
)
from sdn.traceflow.walk import TraceContext


@dataclass(frozen=True)
class PathLeg:
    """The path to one backend (``backend`` None: to the destination itself)."""

    backend: str | None
    path: TopologyPath


@dataclass(frozen=True)
class PathAnswer:
    """Every path of one question."""

    source: Source
    target: Target
    translation: Translation | None
    legs: tuple[PathLeg, ...]


def _only_port(ctx: TraceContext, source: Source, ip: IPv4Address, protocol: str) -> int | None:
    """The port of the virtual server(s) at ``ip`` that ``source`` reaches, when they
    serve one (None: ``ip`` is no virtual server's address).

    Raises:
        SdnError: ``UNKNOWN_SERVICE_PORT`` when they serve several.
    """
    ports = {port for (vip, port, proto) in ctx.outside_vips if vip == ip and proto == protocol}
    if source.port is not None:
        ports |= {port for (cluster, vip, port, proto) in ctx.vips
                  if cluster == source.cluster and vip == ip and proto == protocol}
    if len(ports) > 1:
        shown = sorted(ports)
        raise SdnError(f"{ip} is a virtual server serving {protocol} ports "
                       f"{', '.join(map(str, shown[:10]))}{', ...' if len(shown) > 10 else ''}"
                       "; pick one with --dport", code="UNKNOWN_SERVICE_PORT", obj=str(ip))
    return next(iter(ports), None)


def _lb_tier1(ctx: TraceContext, translation: Translation) -> str | None:
    lbs = ctx.inventory.get(translation.virtual_server.lb_service_path)
    return lbs.connectivity_path if isinstance(lbs, LBService) else None


def _path(ctx: TraceContext, source: Source, dst: IPv4Address,
          translation: Translation | None, vip: IPv4Address) -> TopologyPath:
    """The path from ``source`` to ``dst``; from outside through the load balancer's
    Tier-1 when there is one."""
    port = source.port or ctx.index.port_for_ip(source.ip)  # a node VM's address: its port
    if port is not None:
        return path_from_port(ctx.index, port.path, dst)
    via = _lb_tier1(ctx, translation) if translation is not None else None
    return path_from_outside(ctx.index, dst, via_tier1=via, vip=vip)


def path_answer(ctx: TraceContext, src: str, dst: str, *, cluster: str | None = None,
                protocol: str = "TCP", dport: int | None = None,
                http: HttpRequest | None = None) -> PathAnswer:
    """The paths from ``src`` to ``dst`` (module docstring).

    Raises:
        SdnError: the resolver's codes (``UNKNOWN_CLUSTER``, ``UNKNOWN_POD``,
            ``AMBIGUOUS_POD``, ``UNKNOWN_SERVICE``,
            ``UNKNOWN_SERVICE_PORT``, ``BAD_ARGUMENT``, ...).
    """
    source = resolve_source(ctx, src, cluster)
    if dport is None and protocol != "ICMP" and not dst.startswith("svc:"):
        try:
            address = IPv4Address(dst)
        except ValueError:
            address = None
        if address is not None:
            dport = _only_port(ctx, source, address, protocol)
    target = resolve_target(ctx, dst, source=source, cluster=cluster, protocol=protocol,
                            dport=dport)
    translation = service_legs(ctx, source, target, protocol, http)
    if translation is None:
        legs: tuple[PathLeg, ...] = (
            PathLeg(None, _path(ctx, source, target.ip, None, target.ip)),)
    else:
        legs = tuple(PathLeg(leg.name, _path(ctx, source, leg.ip, translation, target.ip))
                     for leg in translation.legs)
    return PathAnswer(source, target, translation, legs)


# --------------------------------------------------------------------------- JSON


def _hop_json(ctx: TraceContext, hop: Hop) -> dict[str, Any]:
    obj = ctx.inventory.get(hop.path)
    out: dict[str, Any] = {
        "resource_type": hop.kind,
        "id": obj.id if obj is not None else hop.path.rsplit("/", 1)[-1],
        "display_name": obj.display_name if obj is not None else None,
        "path": hop.path,
    }
    if isinstance(obj, SegmentPort):
        out["ip_addresses"] = [str(b.ip_address) for b in obj.address_bindings]
    if isinstance(obj, Segment):
        out["subnets"] = [{"gateway_address": str(s.gateway_address),
                           "network": str(s.network)} for s in obj.subnets]
    out["next"] = None if hop.relation is None else {
        "relation": hop.relation.value,
        "prefix": str(hop.prefix) if hop.prefix is not None else None}
    return out


def answer_json(ctx: TraceContext, answer: PathAnswer, dst_text: str) -> dict[str, Any]:
    """The ``-o json`` shape of ``sdn path`` (README, Commands)."""
    src, tgt, tr = answer.source, answer.target, answer.translation
    pool = tr.choice.pool if tr is not None else None
    return {
        "source": {"name": src.name, "ip": str(src.ip), "cluster": src.cluster,
                   "segment_port_path": src.port.path if src.port is not None else None},
        "destination": {
            "name": (tgt.pod.display_name or tgt.pod.id) if tgt.pod is not None else dst_text,
            "ip": str(tgt.ip), "port": tgt.port,
            "segment_port_path": tgt.pod.path if tgt.pod is not None else None,
            "virtual_server_path": tr.virtual_server.path if tr is not None else None,
            "pool_path": pool.path if pool is not None else None,
        },
        "paths": [{"backend": leg.backend, "ip": str(leg.path.destination),
                   "start": leg.path.start.value, "end": leg.path.end.value,
                   "hops": [_hop_json(ctx, h) for h in leg.path.hops]}
                  for leg in answer.legs],
    }


__all__ = ["PathAnswer", "PathEnd", "PathLeg", "answer_json", "path_answer"]
