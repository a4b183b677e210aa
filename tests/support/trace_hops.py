"""Read a traceflow trace as the hops of a topology path, and hold the two to each other.

A trace's *hop sequence* is the logical components it crosses, in order: the source port
(a trace from outside has none), every segment (``LS``) and gateway (``LR``, and ``NAT``
on the same gateway), and the port it is delivered to; a component seen twice in a row
(a segment received after a tunnel, a gateway's NAT then its routing) is one hop. The
physical tunnel, DFW and load balancer observations are not topology hops.
"""

from __future__ import annotations

from sdn.graph.paths import PathEnd, TopologyPath
from sdn.traceflow import Disposition, Trace

_DELIVERED = "TraceflowObservationDelivered"


def trace_hops(t: Trace) -> list[str]:
    """The Policy paths of the components ``t`` crosses (module docstring)."""
    hops = [] if t.source_id.startswith("outside:") else [t.source_id]
    for o in t.observations:
        if o.component_type not in ("LS", "LR", "NAT") and o.resource_type != _DELIVERED:
            continue
        path = o.component_path or o.segment_port_path
        if path and (not hops or hops[-1] != path):
            hops.append(path)
    return hops


def trace_routes(t: Trace) -> list[tuple[str, str]]:
    """``(gateway, route prefix)`` of every routing decision in ``t``."""
    return [(o.component_path or "", o.route_prefix) for o in t.observations
            if o.component_type == "LR" and o.route_prefix]


def path_routes(p: TopologyPath) -> list[tuple[str, str]]:
    """``(gateway, prefix)`` of every gateway hop of ``p`` that routes onward."""
    return [(h.path, str(h.prefix)) for h in p.hops
            if h.kind in ("Tier0", "Tier1") and h.prefix is not None]


#: A path's end as the trace of the same packet ends, for traces that are not dropped
#: by the firewall.
ENDS = {
    PathEnd.SEGMENT_PORT: (Disposition.DELIVERED, None),
    PathEnd.GATEWAY_INTERFACE: (Disposition.DELIVERED, None),
    PathEnd.ARP_FAIL: (Disposition.DROPPED, "ARP_FAIL"),
    PathEnd.EXITS_NETWORK: (Disposition.EXITS_NETWORK, None),
    PathEnd.NO_ROUTE: (Disposition.NO_ROUTE, None),
}


def dropped_by_firewall(t: Trace) -> bool:
    """Whether the DFW dropped ``t`` (then only the hops up to the drop are known)."""
    return t.disposition is Disposition.DROPPED and t.observations[-1].reason == "FW_RULE"


def assert_trace_follows_path(t: Trace, p: TopologyPath) -> None:
    """The trace crosses exactly the path's hops, routes by the same prefixes and ends the
    same way; a trace the DFW dropped crosses the path's first hops."""
    crossed, hops = trace_hops(t), p.nodes()
    if dropped_by_firewall(t):
        assert hops[:len(crossed)] == crossed, (t.summary, crossed, hops)
        return
    assert crossed == hops, (t.summary, crossed, hops)
    assert trace_routes(t) == path_routes(p), t.summary
    disposition, reason = ENDS[p.end]
    assert t.disposition is disposition, (t.summary, p.end)
    if reason is not None:
        assert t.observations[-1].reason == reason, t.summary
