"""A trace's result, shaped like NSX's Traceflow and its observations.

Observation types (``resource_type``): ``TraceflowObservationForwardedLogical``,
``...ReceivedLogical``, ``...DroppedLogical``, ``...Delivered``, and the physical
``...Forwarded`` / ``...Received`` when the packet crosses between transport nodes.
Fields keep NSX's names; only those that apply to an observation are set.

Counters: ``forwarded_count`` counts Forwarded and ForwardedLogical observations,
``received_count`` Received and ReceivedLogical, ``dropped_count`` the drops and
``delivered_count`` the deliveries; ``logical_counters`` the logical ones alone.
``disposition`` (our summary, DESIGN.md) says how the walk ended.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from sdn.traceflow.packets import PacketSpec


class Disposition(StrEnum):
    """How a trace ended."""

    DELIVERED = "DELIVERED"
    DROPPED = "DROPPED"
    EXITS_NETWORK = "EXITS_NETWORK"
    NO_ROUTE = "NO_ROUTE"
    LOOP = "LOOP"


class Observation(BaseModel):
    """One observation, with NSX's field names (unset fields are left out of JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource_type: str
    sequence_no: int
    transport_node_name: str
    transport_node_type: str = "ESX"
    component_type: str | None = None
    component_sub_type: str | None = None
    component_name: str | None = None
    component_path: str | None = None
    lport_name: str | None = None
    segment_port_path: str | None = None
    acl_rule_id: int | None = None
    acl_rule_path: str | None = None
    reason: str | None = None
    route_prefix: str | None = None
    next_hop: str | None = None
    nat_rule_path: str | None = None
    translated_src_ip: str | None = None
    translated_dst_ip: str | None = None
    vni: int | None = None
    local_ip_address: str | None = None
    remote_ip_address: str | None = None
    dst_transport_node_name: str | None = None
    target_mac: str | None = None
    resolution_type: str | None = None
    message: str | None = None

    @property
    def family(self) -> str:
        """forwarded, received, delivered or dropped."""
        name = self.resource_type.removeprefix("TraceflowObservation").removesuffix("Logical")
        return name.lower()

    def to_api(self) -> dict[str, Any]:
        """The observation as NSX returns it."""
        return self.model_dump(exclude_none=True)


class Trace(BaseModel):
    """One finished trace (and, with ``--bidirectional``, its reply)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_id: str
    packet: PacketSpec
    observations: tuple[Observation, ...]
    disposition: Disposition
    summary: str
    reply: Trace | None = None

    def counters(self, *, logical_only: bool = False) -> dict[str, int]:
        """NSX's counters, computed from the observations."""
        out = {"forwarded_count": 0, "received_count": 0, "delivered_count": 0,
               "dropped_count": 0}
        for o in self.observations:
            if logical_only and not o.resource_type.endswith("Logical") and \
                    o.family not in ("delivered",):
                continue
            out[f"{o.family}_count"] += 1
        return out

    def to_api(self) -> dict[str, Any]:
        """NSX's Traceflow result: state, counters, observations, plus the disposition."""
        data: dict[str, Any] = {
            "resource_type": "Traceflow", "source_id": self.source_id,
            "operation_state": "FINISHED", "request_status": "SUCCESS",
            "packet": self.packet.to_api(),
            "counters": self.counters(),
            "logical_counters": self.counters(logical_only=True),
            "observations": [o.to_api() for o in self.observations],
            "disposition": self.disposition.value,
            "summary": self.summary,
        }
        if self.reply is not None:
            data["reply"] = self.reply.to_api()
        return data
