"""Pictures of a trace: a table of hops and a one-line path for the terminal (the
topology picture with the path highlighted is :func:`sdn.render.pictures.topology_dot`).

The path line reads left to right the way the packet went, one token per component, with
a tunnel drawn as ``══▶`` and the end marked ``✓`` (delivered), ``✗`` (dropped) or ``↗``
(left the network).
"""

from __future__ import annotations

from sdn.traceflow.results import Disposition, Observation, Trace

Row = list[str]

_SHORT = {"TraceflowObservation" + k: v for k, v in {
    "ForwardedLogical": "forwarded", "ReceivedLogical": "received",
    "DroppedLogical": "DROPPED", "Delivered": "DELIVERED", "Forwarded": "tunnel out",
    "Received": "tunnel in"}.items()}


def _detail(o: Observation) -> str:
    parts = []
    if o.acl_rule_id is not None:
        parts.append(f"rule {o.acl_rule_id}")
    if o.route_prefix:
        via = " ".join(v for v in (o.next_hop_name, f"({o.next_hop})" if o.next_hop else "")
                       if v)
        parts.append(f"route {o.route_prefix} -> {via or '?'}")
    if o.translated_src_ip:
        parts.append(f"SNAT to {o.translated_src_ip}")
    if o.translated_dst_ip:
        parts.append(f"DNAT to {o.translated_dst_ip}")
    if o.remote_ip_address and o.dst_transport_node_name:
        parts.append(f"to {o.dst_transport_node_name} ({o.remote_ip_address})")
    if o.vni is not None:
        parts.append(f"vni {o.vni}")
    if o.reason:
        parts.append(f"reason {o.reason}")
    if o.message:
        parts.append(o.message)
    return "; ".join(parts)


def trace_rows(t: Trace) -> tuple[Row, list[Row]]:
    """Header and one row per observation."""
    rows = []
    for i, o in enumerate(t.observations, start=1):
        component: str = o.component_type or ""
        if o.component_sub_type:
            component += f"/{o.component_sub_type}"
        rows.append([str(i), str(o.sequence_no), o.transport_node_name,
                     _SHORT.get(o.resource_type, o.resource_type), component,
                     o.component_name or o.lport_name or "", _detail(o)])
    return ["#", "SEQ", "NODE", "OBSERVATION", "COMPONENT", "NAME", "DETAIL"], rows


def path_line(t: Trace, source: str) -> str:
    """The packet's way as one line."""
    tokens = [source]
    for o in t.observations:
        if o.resource_type == "TraceflowObservationForwarded":
            tokens.append(f"══▶ [{o.dst_transport_node_name}]")
        elif o.component_type == "LOAD_BALANCER" and o.resource_type.endswith(
                "ForwardedLogical"):
            tokens.append(f"{o.component_name} (DNAT to {o.translated_dst_ip}) ─▶")
        elif o.component_type == "DFW" and o.resource_type.endswith("ForwardedLogical"):
            tokens.append("─DFW✓─▶")
        elif o.component_type in ("LS", "LR", "NAT") and o.resource_type.endswith(
                "ForwardedLogical"):
            tokens.append(f"{o.component_name}" + (" (SNAT)" if o.component_type == "NAT"
                                                   else "") + " ─▶")
        elif o.resource_type == "TraceflowObservationDelivered":
            tokens.append(f"{o.lport_name or o.component_name} ✓")
        elif o.resource_type == "TraceflowObservationDroppedLogical":
            tokens.append(f"✗ {o.component_type} {o.reason}")
    if t.disposition is Disposition.EXITS_NETWORK:
        tokens.append("↗ outside")
    return " ".join(tokens)


def path_objects(t: Trace) -> list[str]:
    """Paths of the ports, segments and gateways the packet went through, in order."""
    out = [t.source_id]
    for o in t.observations:
        for path in (o.component_path, o.segment_port_path):
            if path and path not in out:
                out.append(path)
    return out
