"""Traceflow observations as NSX 4.x has them: only the fields NSX's schema gives each
observation type (lists written here by hand from NSX's Policy and Manager schemas), enum
values only from NSX's constants, addresses where NSX has addresses (tunnel endpoints from
the TEP pool, next hops), names only in tables."""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network, ip_address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sdn.graph.transit import TRANSIT
from sdn.render.traces import trace_rows
from sdn.traceflow import Observation, PacketSpec, TraceContext, trace
from sdn.traceflow.teps import DEFAULT_TEP_POOL, TepPlan
from sdn.traceflow.walk import EDGE_NODE
from tests.support.cli_runs import sample_inventory

GOLDEN = Path(__file__).parent / "golden"

_COMMON = {"resource_type", "sequence_no", "transport_node_id", "transport_node_name",
           "transport_node_type", "component_type", "component_sub_type", "component_name",
           "timestamp", "timestamp_micro", "site_path"}
#: NSX 4.x Policy API observation types (``PolicyTraceflowObservation*``; the physical
#: ones are the Manager types, the only ones NSX has).
POLICY = {
    "TraceflowObservationForwarded": _COMMON | {
        "local_ip_address", "remote_ip_address", "uplink_name", "vtep_label", "context",
        "dst_transport_node_id", "dst_transport_node_name"},
    "TraceflowObservationReceived": _COMMON | {
        "local_ip_address", "remote_ip_address", "uplink_name", "vtep_label"},
    "TraceflowObservationForwardedLogical": _COMMON | {
        "acl_rule_id", "acl_rule_path", "component_id", "component_path", "dst_component_id",
        "dst_component_name", "dst_component_path", "dst_component_type", "interface_path",
        "ipsec_vpn", "ipsec_vpn_path", "jumpto_rule_id", "jumpto_rule_path", "l2_rule_id",
        "l2_rule_path", "lport_id", "lport_name", "nat_rule_id", "nat_rule_path", "next_hop",
        "resend_type", "route_prefix", "segment_port_path", "service_index",
        "service_path_index", "service_ttl", "spoofguard_ip", "spoofguard_mac",
        "spoofguard_vlan_id", "svc_nh_mac", "translated_dst_ip", "translated_src_ip", "vlan",
        "vni"},
    "TraceflowObservationReceivedLogical": _COMMON | {
        "component_id", "component_path", "interface_path", "ipsec_vpn", "ipsec_vpn_path",
        "lport_id", "lport_name", "segment_port_path", "src_component_id",
        "src_component_name", "src_component_path", "src_component_type", "svc_mac", "vlan",
        "vni"},
    "TraceflowObservationDroppedLogical": _COMMON | {
        "acl_rule_id", "acl_rule_path", "arp_fail_reason", "component_id", "component_path",
        "interface_path", "ipsec_fail_reason", "jumpto_rule_id", "jumpto_rule_path",
        "l2_rule_id", "l2_rule_path", "lport_id", "lport_name", "nat_rule_id",
        "nat_rule_path", "reason", "segment_port_path", "service_path_index"},
    "TraceflowObservationDelivered": _COMMON | {
        "interface_path", "lport_id", "lport_name", "parent_port_path", "resolution_type",
        "segment_port_path", "target_mac", "vlan_id"},
}
#: The Manager API's ForwardedLogical (``/api/v1/traceflows/{id}/observations``).
MANAGER_FORWARDED_LOGICAL = _COMMON | {
    "acl_rule_id", "component_id", "dst_component_id", "dst_component_name",
    "dst_component_type", "ipsec_vpn", "jumpto_rule_id", "l2_rule_id", "lport_id",
    "lport_name", "nat_rule_id", "next_hop", "resend_type", "route_prefix", "service_index",
    "service_path_index", "service_ttl", "spoofguard_ip", "spoofguard_mac",
    "spoofguard_vlan_id", "svc_nh_mac", "translated_dst_ip", "translated_src_ip", "vlan",
    "vni"}
#: NSX's enumerations (TraceflowComponentType, component sub-types, transport node types,
#: drop reasons, resolution types) as far as traces here use them.
ENUMS = {
    "component_type": {"PHYSICAL", "LR", "LS", "DFW", "LOAD_BALANCER", "NAT", "SPOOFGUARD",
                       "DLB", "BRIDGE", "EDGE_TUNNEL", "UNKNOWN"},
    "component_sub_type": {"LR_TIER0", "LR_TIER1", "LR_VRF_TIER0", "VDR", "UNKNOWN"},
    "transport_node_type": {"ESX", "EDGE", "OTHERS", "RHELKVM", "UBUNTUKVM"},
    "reason": {"ARP_FAIL", "FW_RULE", "LB", "NAT", "NO_ROUTE", "SPOOFGUARD", "TTL_ZERO",
               "UNKNOWN"},
    "resolution_type": {"UNKNOWN", "ARP_SUPPRESSION_PORT_CACHE", "ARP_SUPPRESSION_TABLE",
                        "ARP_SUPPRESSION_CP_QUERY", "ARP_VM", "ARP_LRP"},
}


def _golden_observations() -> list[dict[str, Any]]:
    out = []
    for path in sorted(GOLDEN.glob("*.json")):
        data = json.loads(path.read_text())
        for t in (data, data.get("reply") or {}):
            out += t.get("observations", [])
    return out


@pytest.mark.parametrize("obs", _golden_observations(), ids=lambda o: o["resource_type"])
def test_every_golden_observation_has_only_nsx_fields_and_values(obs: dict[str, Any]) -> None:
    assert not set(obs) - POLICY[obs["resource_type"]], set(obs) - POLICY[obs["resource_type"]]
    for field, allowed in ENUMS.items():
        if field in obs:
            assert obs[field] in allowed, (field, obs[field])
    for field in ("next_hop", "local_ip_address", "remote_ip_address"):
        if field in obs:
            ip_address(obs[field])  # an address, never a name


def test_the_manager_shape_has_no_paths() -> None:
    o = Observation(resource_type="TraceflowObservationForwardedLogical", sequence_no=0,
                    transport_node_name="n", component_type="LR", component_path="/infra/x",
                    next_hop="100.64.0.1", next_hop_name="t0", message="why")
    assert set(o.to_api("manager")) <= MANAGER_FORWARDED_LOGICAL
    assert "component_path" not in o.to_api("manager")
    assert o.to_api()["component_path"] == "/infra/x"
    assert "message" not in o.to_api() and "next_hop_name" not in o.to_api()


@pytest.mark.parametrize(("field", "value"), [
    ("transport_node_type", "NETNS"), ("component_type", "GATEWAY"),
    ("component_sub_type", "TIER1"), ("reason", "DENIED"), ("resolution_type", "ARP"),
    ("resource_type", "TraceflowObservationSomething"),
])
def test_values_outside_nsx_enums_are_refused(field: str, value: str) -> None:
    fields: dict[str, Any] = {"resource_type": "TraceflowObservationDroppedLogical",
                              "sequence_no": 0, "transport_node_name": "n", field: value}
    with pytest.raises(ValidationError):
        Observation.model_validate(fields)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> TraceContext:
    return TraceContext.build(sample_inventory(tmp_path_factory.mktemp("mt"), "multi-tenant"))


def _trace(ctx: TraceContext, src: str, dst: str, port: int = 8443) -> Any:
    source = ctx.port_by_name(src)
    target = ctx.port_by_name(dst) if "/" in dst else None
    ip = target.address_bindings[0].ip_address if target else IPv4Address(dst)
    pkt = PacketSpec(src_ip=source.address_bindings[0].ip_address, dst_ip=ip, dst_port=port)
    return trace(ctx, source.path, pkt)


def test_tunnels_join_teps_of_the_pool_and_routers_name_addresses(ctx: TraceContext) -> None:
    t = _trace(ctx, "shop/frontend-0", "203.0.113.7", 443)
    tunnel = [o for o in t.observations if o.resource_type == "TraceflowObservationForwarded"]
    assert tunnel and all(ip_address(o.local_ip_address or "") in DEFAULT_TEP_POOL and
                          ip_address(o.remote_ip_address or "") in DEFAULT_TEP_POOL
                          for o in tunnel)
    edge = [o for o in t.observations if o.transport_node_name == EDGE_NODE]
    assert edge and {o.transport_node_type for o in edge} == {"EDGE"}
    routers = [o for o in t.observations if o.route_prefix]
    t1, t0 = routers[0], routers[-1]
    assert ip_address(t1.next_hop or "") in TRANSIT and t1.next_hop_name == "t0-gateway"
    assert (t0.next_hop, t0.next_hop_name) == ("192.0.2.100", "uplink")
    _header, rows = trace_rows(t)
    detail = [r[-1] for r in rows if "route" in r[-1]]
    assert detail[0] == f"route 0.0.0.0/0 -> t0-gateway ({t1.next_hop})"


def test_a_connected_route_sends_to_the_destination(ctx: TraceContext) -> None:
    t = _trace(ctx, "shop/frontend-0", "payments/api-0")
    last_router = [o for o in t.observations if o.route_prefix][-1]
    assert last_router.next_hop == str(t.packet.dst_ip)


def test_the_tep_pool_is_the_callers(ctx: TraceContext) -> None:
    pool = IPv4Network("10.254.0.0/24")
    t = _trace(replace(ctx, tep_pool=pool), "shop/frontend-0", "payments/api-0")
    ends = [ip_address(a) for o in t.observations if o.local_ip_address
            for a in (o.local_ip_address, o.remote_ip_address or "")]
    assert ends and all(a in pool for a in ends)
    assert _trace(ctx, "shop/frontend-0", "payments/api-0").to_api() != t.to_api()


_nodes = st.sets(st.tuples(st.sampled_from([None, "a", "b"]),
                           st.text(alphabet="nodex-12", min_size=1, max_size=5)),
                 max_size=40)


@given(_nodes, _nodes, st.sampled_from(["10.0.0.0/26", "192.168.0.0/16", "172.30.0.0/29"]))
def test_teps_are_distinct_in_the_pool_and_stable(nodes: set[Any], more: set[Any],
                                                  cidr: str) -> None:
    pool = IPv4Network(cidr)
    if len(nodes | more) > pool.num_addresses - 2:
        with pytest.raises(ValueError):
            TepPlan(nodes | more, pool)
        return
    plan = TepPlan(nodes, pool)
    addresses = [IPv4Address(plan.address(n)) for n in sorted(nodes, key=str)]
    assert len(set(addresses)) == len(addresses)
    assert all(a in pool and a not in (pool.network_address, pool.broadcast_address)
               for a in addresses)
    assert [plan.address(n) for n in sorted(nodes, key=str)] == \
        [TepPlan(sorted(nodes, key=str, reverse=True), pool).address(n)
         for n in sorted(nodes, key=str)]
    for node in more - nodes:  # a node the plan does not list takes a free address
        assert IPv4Address(plan.address(node)) not in addresses
