"""A simulated trace and a live one side by side: do they agree, and where do they first
differ (``sdn traceflow --compare``).

They *agree* (the issue's contract) when they end the same way (``disposition``) and, on a
drop, their Dropped observations name the same ``acl_rule_id``. The *first difference* is
looked for over what both can observe, in order: each observation's kind, component,
name, port, rule id and reason, and the SNAT address. Left out: tunnels between transport
nodes and the segment received after one (the kernel has no transport nodes), the
transport node, sequence numbers, route prefixes, and the load balancer's member (the
kernel picks at random or round robin, the simulator by a hash of the flow).
"""

from __future__ import annotations

from typing import Any

from sdn.traceflow.results import Observation, Trace

_KEY = ("resource_type", "component_type", "component_sub_type", "component_name",
        "segment_port_path", "acl_rule_id", "reason", "translated_src_ip")
#: Only the simulator can observe these: tunnels between transport nodes, and receiving
#: a segment at the tunnel's far end.
_TUNNEL = ("TraceflowObservationForwarded", "TraceflowObservationReceived",
           "TraceflowObservationReceivedLogical")


def _comparable(t: Trace) -> list[Observation]:
    return [o for o in t.observations if o.resource_type not in _TUNNEL]


def _key(o: Observation) -> dict[str, Any]:
    return {f: getattr(o, f) for f in _KEY if getattr(o, f) is not None}


def _dropped_rule(t: Trace) -> int | None:
    drops = [o for o in t.observations if o.family == "dropped"]
    return drops[-1].acl_rule_id if drops else None


def agree(simulated: Trace, live: Trace) -> bool:
    """The issue's contract: same disposition, and on a drop the same ``acl_rule_id``."""
    return simulated.disposition == live.disposition \
        and _dropped_rule(simulated) == _dropped_rule(live)


def first_difference(simulated: Trace, live: Trace) -> dict[str, Any] | None:
    """Where the two first differ (module docs): the observation number (from 1) and both
    sides' comparable fields (None past a trace's end), else the dispositions; None when
    nothing differs."""
    sim, kern = _comparable(simulated), _comparable(live)
    for i in range(max(len(sim), len(kern))):
        a = _key(sim[i]) if i < len(sim) else None
        b = _key(kern[i]) if i < len(kern) else None
        if a != b:
            return {"observation": i + 1, "simulated": a, "live": b}
    if simulated.disposition != live.disposition:
        return {"observation": None, "simulated": {"disposition": simulated.disposition.value},
                "live": {"disposition": live.disposition.value}}
    return None


def comparison(simulated: Trace, live: Trace) -> dict[str, Any]:
    """``--compare -o json``: both traces, whether they agree, their first difference."""
    return {"agree": agree(simulated, live),
            "first_difference": first_difference(simulated, live),
            "simulated": simulated.to_api(), "live": live.to_api()}
