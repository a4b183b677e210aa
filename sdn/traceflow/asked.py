"""A traceflow as a person asks for one: source and destination by name, protocol and
port, turned into a packet and walked. ``sdn traceflow`` and the web page's traceflow form
both come through here, so the two give the same trace for the same question (one
walker: :func:`~sdn.traceflow.walk.trace`, or :func:`~sdn.traceflow.outside.
trace_from_outside` for a source outside NSX).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from sdn.errors import SdnError
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.outside import trace_from_outside
from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Trace
from sdn.traceflow.targets import Source, Target, resolve_source, resolve_target
from sdn.traceflow.walk import TraceContext, trace

#: The destination port of a TCP/UDP/SCTP question that names none (and whose
#: destination, a service with one port, does not give it either).
DEFAULT_DPORT = 80


@dataclass(frozen=True)
class Question:
    """What was asked, resolved: the endpoints and the packet to send."""

    source: Source
    target: Target
    packet: PacketSpec


def ask(ctx: TraceContext, src: str, dst: str, *, cluster: str | None, protocol: str,
        dport: int | None, sport: int | None = None, ttl: int = 64) -> Question:
    """Resolve ``src`` and ``dst`` (as ``--src``/``--dst`` take them) and build the packet.

    Raises:
        SdnError: the resolvers' codes (``UNKNOWN_POD``, ``UNKNOWN_SERVICE``, ...) and
            ``INVALID_PACKET`` for a field the packet refuses.
    """
    source = resolve_source(ctx, src, cluster)
    target = resolve_target(ctx, dst, source=source, cluster=cluster, protocol=protocol,
                            dport=dport)
    port = target.port
    if port is None and protocol != "ICMP":
        port = DEFAULT_DPORT
    try:
        pkt = PacketSpec(src_ip=source.ip, dst_ip=target.ip, protocol=protocol, dst_port=port,
                         src_port=sport, ttl=ttl)
    except ValidationError as err:
        msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'packet'}: {e['msg']}"
                         for e in err.errors())
        raise SdnError(msgs, code="INVALID_PACKET", obj="packet") from err
    return Question(source, target, pkt)


def walk(ctx: TraceContext, q: Question, *, http: HttpRequest,
         bidirectional: bool = False) -> Trace:
    """The packet walked from the source's port, or from outside NSX when the source is
    an address no port owns."""
    if q.source.port is None:
        return trace_from_outside(ctx, q.packet, http=http)
    return trace(ctx, q.source.port.path, q.packet, bidirectional=bidirectional, http=http)
