"""A trace's result, shaped like NSX's Traceflow and its observations.

Observation types (``resource_type``): ``TraceflowObservationForwardedLogical``,
``...ReceivedLogical``, ``...DroppedLogical``, ``...Delivered``, and the physical
``...Forwarded`` / ``...Received`` when the packet crosses between transport nodes.
Fields keep NSX's names; only those that apply to an observation are set.

What an observation says in JSON is exactly NSX's (:meth:`Observation.to_api`): only the
fields NSX's schema gives its ``resource_type`` (the Policy API's
``PolicyTraceflowObservation*`` types, or the Manager API's ``TraceflowObservation*``
ones), and enumerations only from NSX's constants (the ``Literal`` types below, checked
when an observation is made). Where NSX has addresses, observations carry addresses:
``next_hop`` is the next router's interface address (a transit address between
gateways, the upstream router beyond a Tier-0's uplink, the destination itself on a
connected segment), ``local_ip_address``/``remote_ip_address`` the tunnel endpoints
(:mod:`sdn.traceflow.teps`). What the tables print beside them (``next_hop_name``, the
``message`` of a drop, a gateway delivery's ``component_path``) stays on the model and
out of the JSON.

Counters: ``forwarded_count`` counts Forwarded and ForwardedLogical observations,
``received_count`` Received and ReceivedLogical, ``dropped_count`` the drops and
``delivered_count`` the deliveries; ``logical_counters`` the logical ones alone.
``disposition`` (our summary, DESIGN.md) says how the walk ended.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from sdn.traceflow.packets import PacketSpec


class Disposition(StrEnum):
    """How a trace ended."""

    DELIVERED = "DELIVERED"
    DROPPED = "DROPPED"
    EXITS_NETWORK = "EXITS_NETWORK"
    NO_ROUTE = "NO_ROUTE"
    LOOP = "LOOP"


#: NSX's observation types (``TraceflowObservationType``) this engine reports.
ObservationType = Literal[
    "TraceflowObservationForwarded", "TraceflowObservationReceived",
    "TraceflowObservationDelivered", "TraceflowObservationDropped",
    "TraceflowObservationForwardedLogical", "TraceflowObservationReceivedLogical",
    "TraceflowObservationDroppedLogical"]
#: NSX's ``TraceflowComponentType`` values.
ComponentType = Literal[
    "PHYSICAL", "LR", "LS", "DFW", "BRIDGE", "EDGE_TUNNEL", "EDGE_HOSTSWITCH",
    "EDGE_RTEP_TUNNEL", "FW_BRIDGE", "LOAD_BALANCER", "DLB", "NAT", "IPSEC",
    "SERVICE_INSERTION", "SPOOFGUARD", "HOST_SWITCH", "VMC", "EDGE_FW", "UNKNOWN"]
#: NSX's ``TraceflowComponentSubType`` values (those of gateways and edges).
ComponentSubType = Literal[
    "LR_TIER0", "LR_TIER1", "LR_VRF_TIER0", "LR_KNI", "LS_TRANSIT", "VDR", "EDGE_UPLINK",
    "UNKNOWN"]
#: NSX's transport node types (hosts, edges, and ``OTHERS`` for what is neither).
TransportNodeType = Literal["ESX", "EDGE", "RHELKVM", "UBUNTUKVM", "OTHERS"]
#: NSX's drop reasons (``TraceflowObservationDroppedLogical.reason``) this engine reports.
DropReason = Literal["ARP_FAIL", "FW_RULE", "LB", "NAT", "NO_ROUTE", "SPOOFGUARD",
                     "TTL_ZERO", "UNKNOWN"]
#: NSX's ARP resolution types of a delivery.
ResolutionType = Literal["UNKNOWN", "ARP_SUPPRESSION_PORT_CACHE", "ARP_SUPPRESSION_TABLE",
                         "ARP_SUPPRESSION_CP_QUERY", "ARP_VM", "ARP_LRP"]

_COMMON = ("resource_type", "sequence_no", "transport_node_id", "transport_node_name",
           "transport_node_type", "component_type", "component_sub_type", "component_name",
           "timestamp", "timestamp_micro", "site_path")
_TUNNEL = ("local_ip_address", "remote_ip_address", "uplink_name", "vtep_label")
#: Per observation type, the fields NSX's Policy API schema gives it
#: (``PolicyTraceflowObservation*``; the physical ones have no Policy variant).
POLICY_FIELDS: dict[str, frozenset[str]] = {
    "TraceflowObservationForwarded": frozenset(
        (*_COMMON, *_TUNNEL, "context", "dst_transport_node_id", "dst_transport_node_name")),
    "TraceflowObservationReceived": frozenset((*_COMMON, *_TUNNEL)),
    "TraceflowObservationForwardedLogical": frozenset((
        *_COMMON, "acl_rule_id", "acl_rule_path", "component_id", "component_path",
        "dst_component_id", "dst_component_name", "dst_component_path", "dst_component_type",
        "interface_path", "ipsec_vpn", "ipsec_vpn_path", "jumpto_rule_id",
        "jumpto_rule_path", "l2_rule_id", "l2_rule_path", "lport_id", "lport_name",
        "nat_rule_id", "nat_rule_path", "next_hop", "resend_type", "route_prefix",
        "segment_port_path", "service_index", "service_path_index", "service_ttl",
        "spoofguard_ip", "spoofguard_mac", "spoofguard_vlan_id", "svc_nh_mac",
        "translated_dst_ip", "translated_src_ip", "vlan", "vni")),
    "TraceflowObservationReceivedLogical": frozenset((
        *_COMMON, "component_id", "component_path", "interface_path", "ipsec_vpn",
        "ipsec_vpn_path", "lport_id", "lport_name", "segment_port_path", "src_component_id",
        "src_component_name", "src_component_path", "src_component_type", "svc_mac", "vlan",
        "vni")),
    "TraceflowObservationDroppedLogical": frozenset((
        *_COMMON, "acl_rule_id", "acl_rule_path", "arp_fail_reason", "component_id",
        "component_path", "interface_path", "ipsec_fail_reason", "jumpto_rule_id",
        "jumpto_rule_path", "l2_rule_id", "l2_rule_path", "lport_id", "lport_name",
        "nat_rule_id", "nat_rule_path", "reason", "segment_port_path",
        "service_path_index")),
    "TraceflowObservationDropped": frozenset((
        *_COMMON, "acl_rule_id", "acl_rule_path", "arp_fail_reason", "interface_path",
        "ipsec_fail_reason", "jumpto_rule_id", "l2_rule_id", "lport_id", "lport_name",
        "nat_rule_id", "nat_rule_path", "reason", "segment_port_path")),
    "TraceflowObservationDelivered": frozenset((
        *_COMMON, "interface_path", "lport_id", "lport_name", "parent_port_path",
        "resolution_type", "segment_port_path", "target_mac", "vlan_id")),
}
#: The Manager API's variants (``/api/v1/traceflows/{id}/observations``): no ``*_path``
#: fields, which the Policy API added.
MANAGER_FIELDS: dict[str, frozenset[str]] = {
    kind: frozenset(f for f in fields if not f.endswith("_path"))
    for kind, fields in POLICY_FIELDS.items()}


class Observation(BaseModel):
    """One observation, with NSX's field names (unset fields are left out of JSON, and
    so are the fields NSX does not give its type: see the module's doc)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource_type: ObservationType
    sequence_no: int
    transport_node_name: str
    transport_node_type: TransportNodeType = "ESX"
    component_type: ComponentType | None = None
    component_sub_type: ComponentSubType | None = None
    component_name: str | None = None
    component_path: str | None = None
    lport_name: str | None = None
    segment_port_path: str | None = None
    acl_rule_id: int | None = None
    acl_rule_path: str | None = None
    reason: DropReason | None = None
    route_prefix: str | None = None
    next_hop: str | None = None
    #: The name of what ``next_hop`` is (a gateway, ``uplink``): for tables, not JSON.
    next_hop_name: str | None = None
    nat_rule_path: str | None = None
    translated_src_ip: str | None = None
    translated_dst_ip: str | None = None
    vni: int | None = None
    local_ip_address: str | None = None
    remote_ip_address: str | None = None
    dst_transport_node_name: str | None = None
    target_mac: str | None = None
    resolution_type: ResolutionType | None = None
    #: Why, in words (a drop's cause, the LB's choice): for tables, not JSON.
    message: str | None = None

    @property
    def family(self) -> str:
        """forwarded, received, delivered or dropped."""
        name = self.resource_type.removeprefix("TraceflowObservation").removesuffix("Logical")
        return name.lower()

    def to_api(self, api: Literal["policy", "manager"] = "policy") -> dict[str, Any]:
        """The observation as NSX's Policy API (or Manager API) returns it: the set
        fields its type has there."""
        fields = (POLICY_FIELDS if api == "policy" else MANAGER_FIELDS)[self.resource_type]
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if k in fields}


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
