"""`sdn show KIND -o json` prints NSX 4.x's objects: every kind's fields are fields NSX's
schema has for it, every object carries NSX's system fields, with their values.

The expected field lists are written here by hand from NSX 4.x's Policy API schema
(``PolicyConfigResource`` and each type's own properties), not derived from the code.
"""

from __future__ import annotations

import json
import uuid
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from sdn.cli import main as sdn_main
from sdn.model import (
    AllocationRange,
    IpAllocation,
    IpPool,
    IpPoolBlockSubnet,
    IpPoolStaticSubnet,
    LBCookiePersistenceProfile,
    LBHttpProfile,
    LBSourceIpPersistenceProfile,
    Tag,
)
from sdn.model.lb import LBSessionCookieTime
from sdn.store import ChangeSet, Store
from sdn.store.codec import to_stored
from tests.support.cli_runs import T0, run_main, sync_sample

#: NSX's ``PolicyConfigResource`` (every Policy object's common fields).
BASE = {
    "_create_time", "_create_user", "_last_modified_time", "_last_modified_user", "_links",
    "_protection", "_revision", "_schema", "_self", "_system_owned", "children",
    "description", "display_name", "id", "marked_for_delete", "origin_site_id", "overridden",
    "owner_id", "parent_path", "path", "realization_id", "relative_path", "remote_path",
    "resource_type", "tags", "unique_id",
}
#: The system fields every object must carry (the issue's list).
SYSTEM = {
    "_revision", "_create_time", "_create_user", "_last_modified_time", "_last_modified_user",
    "_protection", "_system_owned", "relative_path", "unique_id", "marked_for_delete",
    "overridden", "realization_id",
}
#: Each type's own properties in NSX 4.x's schema.
OWN: dict[str, set[str]] = {
    "Tier0": {"advanced_config", "arp_limit", "default_rule_logging", "dhcp_config_paths",
              "disable_firewall", "enable_rd_per_edge", "failover_mode", "federation_config",
              "force_whitelisting", "ha_mode", "internal_transit_subnets",
              "intersite_config", "ipv6_profile_paths", "multi_vrf_inter_sr_routing",
              "rd_admin_field", "stateful_services", "transit_subnets", "vrf_config",
              "vrf_transit_subnets"},
    "Tier1": {"arp_limit", "default_rule_logging", "dhcp_config_paths", "disable_firewall",
              "enable_standby_relocation", "failover_mode", "federation_config",
              "force_whitelisting", "ha_mode", "intersite_config", "ipv6_profile_paths",
              "pool_allocation", "qos_profile", "route_advertisement_rules",
              "route_advertisement_types", "tier0_path", "type"},
    "Segment": {"address_bindings", "admin_state", "advanced_config", "bridge_profiles",
                "connectivity_path", "dhcp_config_path", "domain_name", "evpn_segment",
                "evpn_tenant_config_path", "extra_configs", "federation_config",
                "l2_extension", "ls_id", "mac_pool_id", "metadata_proxy_paths", "overlay_id",
                "replication_mode", "subnets", "transport_zone_path", "type", "vlan_ids"},
    "SegmentPort": {"address_bindings", "admin_state", "attachment", "extra_configs",
                    "ignored_address_bindings", "init_state", "origin_id", "source_site_id"},
    "IpAddressBlock": {"cidr", "visibility"},
    "IpAddressPool": {"ip_release_delay", "pool_usage"},
    "IpAddressPoolBlockSubnet": {"auto_assign_gateway", "ip_block_path", "size", "start_ip"},
    "IpAddressPoolStaticSubnet": {"allocation_ranges", "cidr", "dns_nameservers",
                                  "dns_suffix", "gateway_ip"},
    "IpAddressAllocation": {"allocation_ip"},
    "PolicyNatRule": {"action", "destination_network", "enabled", "firewall_match", "logging",
                      "policy_based_vpn_mode", "scope", "sequence_number", "service",
                      "source_network", "translated_network", "translated_ports"},
    "Group": {"expression", "extended_expression", "group_type", "reference", "state"},
    "SecurityPolicy": {"application_connectivity_strategy", "category", "comments",
                       "connectivity_preference", "connectivity_strategy", "default_rule_id",
                       "internal_sequence_number", "is_default", "lock_modified_by",
                       "lock_modified_time", "locked", "logging_enabled", "rule_count",
                       "rules", "scheduler_path", "scope", "sequence_number", "stateful",
                       "tcp_strict"},
    "Rule": {"action", "destination_groups", "destinations_excluded", "direction",
             "disabled", "ip_protocol", "is_default", "logged", "notes", "profiles",
             "rule_id", "scope", "sequence_number", "service_entries", "services",
             "source_groups", "sources_excluded", "tag"},
    "LBService": {"access_log_enabled", "connectivity_path", "enabled", "error_log_level",
                  "relax_scale_validation", "size"},
    "LBVirtualServer": {"access_list_control", "access_log_enabled",
                        "application_profile_path", "client_ssl_profile_binding",
                        "default_pool_member_ports", "enabled", "ip_address",
                        "lb_persistence_profile_path", "lb_service_path",
                        "log_significant_event_only", "max_concurrent_connections",
                        "max_new_connection_rate", "pool_path", "ports", "rules",
                        "server_ssl_profile_binding", "sorry_pool_path"},
    "LBPool": {"active_monitor_paths", "algorithm", "member_group", "members",
               "min_active_members", "passive_monitor_path", "snat_translation",
               "tcp_multiplexing_enabled", "tcp_multiplexing_number"},
    "LBHttpProfile": {"http_redirect_to", "http_redirect_to_https", "idle_timeout", "ntlm",
                      "request_body_size", "request_header_size", "response_buffering",
                      "response_header_size", "response_timeout", "server_keep_alive",
                      "x_forwarded_for"},
    "LBCookiePersistenceProfile": {"cookie_domain", "cookie_fallback", "cookie_garble",
                                   "cookie_httponly", "cookie_mode", "cookie_name",
                                   "cookie_path", "cookie_secure", "cookie_time",
                                   "persistence_shared"},
    "LBSourceIpPersistenceProfile": {"ha_persistence_mirroring_enabled",
                                     "persistence_shared", "purge", "timeout"},
}
#: Nested (non-resource) types: their whole field lists.
NESTED: dict[str, set[str]] = {
    "SegmentSubnet": {"dhcp_config", "dhcp_ranges", "gateway_address", "network"},
    "PortAttachment": {"allocate_addresses", "app_id", "bms_interface_config", "context_id",
                       "context_type", "evpn_vlans", "hyperbus_mode", "id", "traffic_tag",
                       "type"},
    "PortAddressBindingEntry": {"ip_address", "mac_address", "vlan_id"},
    "LBPoolMember": {"admin_state", "backup_member", "display_name", "ip_address",
                     "max_concurrent_connections", "port", "weight"},
    "Tag": {"scope", "tag"},
}

KINDS = {
    "tier-0s": "Tier0", "tier-1s": "Tier1", "segments": "Segment",
    "segment-ports": "SegmentPort", "ip-blocks": "IpAddressBlock",
    "ip-pools": "IpAddressPool", "nat-rules": "PolicyNatRule", "groups": "Group",
    "security-policies": "SecurityPolicy", "lb-services": "LBService",
    "lb-virtual-servers": "LBVirtualServer", "lb-pools": "LBPool",
    "lb-app-profiles": "LBHttpProfile",
    "lb-cookie-persistence-profiles": "LBCookiePersistenceProfile",
    "lb-source-ip-persistence-profiles": "LBSourceIpPersistenceProfile",
    "ip-subnets": None, "ip-allocations": "IpAddressAllocation",
}
ADMIN_POOL = "/infra/ip-pools/admin-pool"


def _admin_objects() -> list[Any]:
    """What no sample makes: LB profiles, a pool with a static subnet and a plain
    allocation, all the admin's own."""
    profile = "/infra/lb-app-profiles/xff"
    return [
        LBHttpProfile(id="xff", path=profile, x_forwarded_for="INSERT"),
        LBCookiePersistenceProfile(id="cookie", path="/infra/lb-persistence-profiles/cookie",
                                   cookie_time=LBSessionCookieTime(cookie_max_idle=60)),
        LBSourceIpPersistenceProfile(id="srcip", path="/infra/lb-persistence-profiles/srcip"),
        IpPool(id="admin-pool", path=ADMIN_POOL, subnets=(
            IpPoolStaticSubnet(id="s1", cidr=IPv4Network("198.51.100.0/24"),
                               allocation_ranges=(AllocationRange(
                                   start=IPv4Address("198.51.100.10"),
                                   end=IPv4Address("198.51.100.20")),),
                               gateway_ip=IPv4Address("198.51.100.1")),
            IpPoolBlockSubnet(id="b1", ip_block_path="/infra/ip-blocks/ip-block-pods", size=16,
                              cidr=IPv4Network("172.16.250.0/28"))),
            allocations=(IpAllocation(id="manual", allocation_ip=IPv4Address("198.51.100.10"),
                                      tags=(Tag(scope="owner", tag="me"),)),)),
    ]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The multi-tenant and LB-heavy samples, and the admin's objects no sample makes."""
    path = tmp_path_factory.mktemp("shapes") / "state.db"
    sync_sample(path, "multi-tenant", "--cluster-name", "mt")
    sync_sample(path, "lb-heavy", "--cluster-name", "lbh")
    with Store.open(path) as store:
        store.apply(ChangeSet(upserts=[to_stored(o) for o in _admin_objects()], at=T0 + 5,
                              user="admin"))
    return path


def _show(state: Path, kind: str) -> list[dict[str, Any]]:
    code, out, err = run_main(sdn_main, "show", kind, "-o", "json", "--state", state)
    assert code == 0, err
    data: list[dict[str, Any]] = json.loads(out)
    return data


def _own(item: dict[str, Any], kind: str) -> set[str]:
    rtype = KINDS[kind] or str(item["resource_type"])
    return OWN[rtype]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_has_only_nsx_fields_and_all_system_fields(state: Path, kind: str) -> None:
    items = _show(state, kind)
    assert items, f"the state holds no {kind}"
    for item in items:
        if KINDS[kind] is not None:
            assert item["resource_type"] == KINDS[kind]
        extra = set(item) - BASE - _own(item, kind)
        assert not extra, (kind, item["path"], extra)
        assert set(item) >= SYSTEM, (kind, item["path"], SYSTEM - set(item))
        for rule in item.get("rules", []) if kind == "security-policies" else []:
            assert not set(rule) - BASE - OWN["Rule"], set(rule) - BASE - OWN["Rule"]
            assert set(rule) >= SYSTEM


def test_the_subnet_kinds_are_both_nsx_subnet_types(state: Path) -> None:
    kinds = {s["resource_type"] for s in _show(state, "ip-subnets")}
    assert kinds == {"IpAddressPoolBlockSubnet", "IpAddressPoolStaticSubnet"}
    block = next(s for s in _show(state, "ip-subnets")
                 if s["path"] == f"{ADMIN_POOL}/ip-subnets/b1")
    assert "cidr" not in block  # realized state in NSX, not intent
    assert block["parent_path"] == ADMIN_POOL and block["size"] == 16


@pytest.mark.parametrize(("where", "nested"), [
    pytest.param(("segments", "subnets"), "SegmentSubnet", id="segment-subnet"),
    pytest.param(("segment-ports", "attachment"), "PortAttachment", id="port-attachment"),
    pytest.param(("segment-ports", "address_bindings"), "PortAddressBindingEntry",
                 id="address-binding"),
    pytest.param(("lb-pools", "members"), "LBPoolMember", id="pool-member"),
    pytest.param(("segments", "tags"), "Tag", id="tag"),
])
def test_nested_types_have_only_nsx_fields(state: Path, where: tuple[str, str],
                                          nested: str) -> None:
    kind, field = where
    seen = 0
    for item in _show(state, kind):
        value = item.get(field)
        for entry in value if isinstance(value, list) else [value] if value else []:
            seen += 1
            assert not set(entry) - NESTED[nested], (item["path"], set(entry) - NESTED[nested])
    assert seen


def test_system_field_values(state: Path) -> None:
    ports = _show(state, "segment-ports")
    port = next(p for p in ports if any(t["scope"] == "ncp/cluster" for t in p["tags"]))
    assert port["relative_path"] == port["id"]
    assert uuid.UUID(port["unique_id"]).version == 5
    assert port["realization_id"] == port["unique_id"]
    assert len({p["unique_id"] for p in ports}) == len(ports)
    assert (port["_system_owned"], port["marked_for_delete"], port["overridden"]) == (
        False, False, False)
    cluster = next(t["tag"] for t in port["tags"] if t["scope"] == "ncp/cluster")
    assert port["_protection"] == "REQUIRE_OVERRIDE"
    assert port["_create_user"] == port["_last_modified_user"] == f"ncp-{cluster}"
    assert port["_create_time"] == int(T0 * 1000) and port["_revision"] == 0
    profile = next(p for p in _show(state, "lb-app-profiles") if p["id"] == "xff")
    assert (profile["_protection"], profile["_create_user"], profile["_create_time"]) == (
        "NOT_PROTECTED", "admin", int((T0 + 5) * 1000))


def test_pool_children_are_listed_under_their_pool(state: Path) -> None:
    (manual,) = [a for a in _show(state, "ip-allocations") if a["id"] == "manual"]
    assert manual["path"] == f"{ADMIN_POOL}/ip-allocations/manual"
    assert (manual["allocation_ip"], manual["parent_path"], manual["_protection"]) == (
        "198.51.100.10", ADMIN_POOL, "NOT_PROTECTED")
    ncp_owned = [a for a in _show(state, "ip-allocations")
                 if any(t["scope"] == "ncp/cluster" for t in a["tags"])]
    assert ncp_owned and all(a["_protection"] == "REQUIRE_OVERRIDE" for a in ncp_owned)
    pools = {p["path"] for p in _show(state, "ip-pools")}
    assert all(a["parent_path"] in pools for a in _show(state, "ip-allocations"))


def test_an_unnamed_object_shows_its_id_as_display_name(state: Path) -> None:
    """NSX defaults ``display_name`` to the id."""
    (pool,) = [p for p in _show(state, "ip-pools") if p["path"] == ADMIN_POOL]
    assert pool["display_name"] == "admin-pool"


def test_reads_are_byte_identical(state: Path) -> None:
    for kind in KINDS:
        first = run_main(sdn_main, "show", kind, "-o", "json", "--state", state)
        assert run_main(sdn_main, "show", kind, "-o", "json", "--state",
                        state) == first, kind
        yaml = run_main(sdn_main, "show", kind, "-o", "yaml", "--state", state)
        assert yaml[0] == 0 and yaml == run_main(sdn_main, "show", kind, "-o",
                                                 "yaml", "--state", state)
