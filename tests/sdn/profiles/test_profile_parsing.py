"""Parsing network profiles: what is accepted, and the problems reported for what is not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sdn.errors import Problem, ProfileError
from sdn.profiles import (
    INVALID_VALUE,
    MALFORMED_PROFILE,
    UNKNOWN_FIELD,
    NetworkProfile,
    parse_profile,
)

PROFILES_DIR = Path(__file__).resolve().parents[3] / "topologies" / "profiles"
EXAMPLE_FILES = sorted(PROFILES_DIR.glob("*.json"))

#: The shape of the TKGI docs' "all parameters" illustration (MP-era UUID ids).
TKGI_ALL_PARAMETERS: dict[str, Any] = {
    "name": "example-network-profile",
    "description": "Example Network Profile with All Available Parameters",
    "parameters": {
        "lb_size": "large",
        "pod_ip_block_ids": ["ebe78a74-a5d5-4dde-ba76-9cf4067eee56"],
        "pod_subnet_prefix": 27,
        "pod_routable": True,
        "fip_pool_ids": ["ebe78a74-a5d5-4dde-ba76-9cf4067eee55"],
        "t0_router_id": "5a7a82b2-37e2-4d73-9cb1-97a8329e1a90",
        "master_vms_nsgroup_id": "9b8d535a-d3b6-4735-9fd0-56305c4a5293",
        "node_ip_block_ids": ["2250dc43-63c8-4bb8-b8cf-c6e45a9f6f9b"],
        "node_routable": True,
        "node_subnet_prefix": 20,
        "nodes_dns": ["8.8.8.8", "192.168.115.1", "192.168.116.1"],
        "dns_lookup_mode": "API_INGRESS",
        "ingress_prefix": "ingress",
        "single_tier_topology": True,
        "infrastructure_networks": ["30.0.0.0/24", "192.168.111.11"],
        "failover_mode": "PREEMPTIVE",
        "cni_configurations": {
            "type": "nsxt",
            "parameters": {
                "nsx_lb": True,
                "nsx_ingress_controller": True,
                "ingress_ip": "192.168.160.212",
                "ingress_persistence_settings": {
                    "persistence_type": "cookie",
                    "persistence_timeout": 1,
                },
                "x_forwarded_for": "insert",
                "max_l4_lb_service": 10,
                "l4_persistence_type": "source_ip",
                "l4_lb_algorithm": "round_robin",
                "lb_http_request_header_size": 1024,
                "lb_http_response_header_size": 4096,
                "lb_http_response_timeout": 60,
                "connect_retry_timeout": 220,
                "lb_connection_multiplexing_enabled": True,
                "lb_connection_multiplexing_number": 6,
                "client_ssl_profile": "default-balanced-client-ssl-profile",
                "top_firewall_section_marker": "section-id-top",
                "bottom_firewall_section_marker": "section-id-bottom",
                "log_settings": {
                    "log_level": "WARNING",
                    "log_firewall_traffic": "ALL",
                    "log_dropped_traffic": True,
                },
                "enable_err_crd": True,
                "enable_hostport": True,
                "enable_nodelocaldns": True,
            },
        },
    },
}

#: The shape of the TKGI docs' ``extensions`` examples (every key of section 2.3).
TKGI_EXTENSIONS: dict[str, Any] = {
    "name": "np-extensions",
    "description": "NCP and node agent tuning",
    "parameters": {
        "cni_configurations": {
            "type": "nsxt",
            "parameters": {
                "extensions": {
                    "ncp": {
                        "nsx_v3": {
                            "cluster_unavailable_retry": True,
                            "concurrent_connections": 10,
                            "conn_idle_timeout": 10,
                            "http_retries": 3,
                            "http_timeout": 10,
                            "l4_lb_auto_scaling": False,
                            "members_per_medium_lbs": 2000,
                            "members_per_small_lbs": 2000,
                            "natfirewallmatch": "MATCH_INTERNAL_ADDRESS",
                            "ncp_enforced_pool_member_limit": "ACTIVATE",
                            "relax_scale_validation": True,
                            "retries": 10,
                            "snat_rule_logging": "extended",
                        },
                        "coe": {"profiling": True},
                        "ha": {"heartbeat_period": 6, "master_timeout": 18},
                        "k8s": {
                            "enable_namespace_subnets": True,
                            "http_ingress_port": 80,
                            "https_ingress_port": 443,
                            "label_filtering_regex_list": ["^app.kubernetes.io/", "^tap"],
                            "lb_ip_allocation": "strict",
                            "statefulset_ip_range": True,
                        },
                    },
                    "nsx-node-agent": {"nsx_node_agent": {"connect_retry_timeout": 220}},
                },
            },
        },
    },
}

#: The smallest shape: a name and one parameter, as in the docs' single-topic examples.
TKGI_MINIMAL: dict[str, Any] = {
    "name": "np-lb-medium",
    "description": "Network profile for medium size NSX load balancer",
    "parameters": {"lb_size": "medium"},
}


def _with(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``base`` (default: a small valid profile) with ``value`` set at ``path``."""
    data = copy.deepcopy(base if base is not None else TKGI_MINIMAL)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return data


def _problems(data: dict[str, Any] | str | bytes, source: str = "") -> list[Problem]:
    with pytest.raises(ProfileError) as info:
        parse_profile(data, source=source)
    return info.value.problems


# --- accepted ---------------------------------------------------------------------------


def test_example_profiles_exist() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {
        "shared-t1.json",
        "dedicated-t1.json",
        "routable-pods.json",
        "small-subnets.json",
    } <= names


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in EXAMPLE_FILES])
def test_example_profiles_parse(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    profile = parse_profile(text, source=path.name)
    assert profile.name == path.stem
    assert profile.description
    assert profile.to_json() == json.loads(text)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(TKGI_ALL_PARAMETERS, id="all-parameters"),
        pytest.param(TKGI_EXTENSIONS, id="extensions"),
        pytest.param(TKGI_MINIMAL, id="minimal"),
        pytest.param({"name": "np", "parameters": {}}, id="empty-parameters"),
        pytest.param(
            _with(
                "parameters.cni_configurations",
                {
                    "type": "nsxt",
                    "parameters": {
                        "extensions": {"ncp": {"k8s": {"label_filtering_regex_list": "^a/,^b/"}}}
                    },
                },
            ),
            id="regex-list-as-string",
        ),
        pytest.param(
            _with(
                "parameters.cni_configurations",
                {
                    "type": "nsxt",
                    "parameters": {
                        "extensions": {
                            "ncp": {
                                "nsx_v3": {"subnet_prefix": 26, "external_ip_pools": ["a", "b"]},
                                "k8s": {"baseline_policy_type": "allow_namespace"},
                            },
                            "nsx-node-agent": {"mtu": 1450, "coe": {"connect_retry_timeout": 220}},
                        }
                    },
                },
            ),
            id="extension-pass-through",
        ),
    ],
)
def test_documented_shapes_parse_and_round_trip(data: dict[str, Any]) -> None:
    profile = parse_profile(data)
    assert profile.model_dump(by_alias=True, exclude_none=True) == data
    assert profile.to_json() == data
    assert parse_profile(json.dumps(data)) == profile


def test_bytes_input() -> None:
    assert parse_profile(json.dumps(TKGI_MINIMAL).encode()).parameters.lb_size == "medium"


def test_models_are_frozen() -> None:
    profile = parse_profile(TKGI_ALL_PARAMETERS)
    with pytest.raises(ValueError, match="frozen"):
        profile.name = "other"  # type: ignore[misc]
    assert isinstance(profile.parameters.pod_ip_block_ids, tuple)


def test_extension_pass_through_keys_are_kept() -> None:
    data = _with(
        "parameters.cni_configurations",
        {
            "type": "nsxt",
            "parameters": {"extensions": {"ncp": {"nsx_v3": {"retries": 3, "redirects": 2}}}},
        },
    )
    profile = parse_profile(data)
    cni = profile.parameters.cni_configurations
    assert cni is not None and cni.parameters is not None
    ext = cni.parameters.extensions
    assert ext is not None and ext.ncp is not None and ext.ncp.nsx_v3 is not None
    assert ext.ncp.nsx_v3.retries == 3
    assert ext.ncp.nsx_v3.passthrough() == {"redirects": 2}


# --- unknown fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(_with("labels", {}), "labels", id="top"),
        pytest.param(
            _with("parameters.pod_subnet_prefx", 24), "parameters.pod_subnet_prefx", id="parameters"
        ),
        pytest.param(
            _with("parameters.cni_configurations", {"type": "nsxt", "parameters": {"foo": 1}}),
            "parameters.cni_configurations.parameters.foo",
            id="cni-parameters",
        ),
        pytest.param(
            _with("parameters.cni_configurations", {"type": "nsxt", "extensions": {}}),
            "parameters.cni_configurations.extensions",
            id="cni-configurations",
        ),
        pytest.param(
            _with(
                "parameters.cni_configurations",
                {
                    "type": "nsxt",
                    "parameters": {"log_settings": {"log_level": "INFO", "log_format": "json"}},
                },
            ),
            "parameters.cni_configurations.parameters.log_settings.log_format",
            id="log-settings",
        ),
        pytest.param(
            _with(
                "parameters.cni_configurations",
                {
                    "type": "nsxt",
                    "parameters": {"extensions": {"ncp": {"nsx_kube_proxy": {"a": 1}}}},
                },
            ),
            "parameters.cni_configurations.parameters.extensions.ncp.nsx_kube_proxy",
            id="unknown-ncp-section",
        ),
        pytest.param(
            _with(
                "parameters.cni_configurations",
                {"type": "nsxt", "parameters": {"extensions": {"nsx_node_agent": {}}}},
            ),
            "parameters.cni_configurations.parameters.extensions.nsx_node_agent",
            id="node-agent-misspelt",
        ),
    ],
)
def test_unknown_field(data: dict[str, Any], path: str) -> None:
    problems = _problems(data)
    assert problems == [Problem(UNKNOWN_FIELD, data["name"], f"{path}: unknown field")]


# --- invalid values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        pytest.param("parameters.lb_size", "xlarge", "parameters.lb_size", id="lb_size"),
        pytest.param("parameters.lb_size", "SMALL", "parameters.lb_size", id="lb_size-case"),
        pytest.param(
            "parameters.pod_subnet_prefix", 31, "parameters.pod_subnet_prefix", id="prefix-too-long"
        ),
        pytest.param(
            "parameters.pod_subnet_prefix",
            15,
            "parameters.pod_subnet_prefix",
            id="prefix-too-short",
        ),
        pytest.param(
            "parameters.pod_subnet_prefix", "24", "parameters.pod_subnet_prefix", id="prefix-string"
        ),
        pytest.param(
            "parameters.node_subnet_prefix", 8, "parameters.node_subnet_prefix", id="node-prefix"
        ),
        pytest.param(
            "parameters.pod_routable", "true", "parameters.pod_routable", id="bool-string"
        ),
        pytest.param(
            "parameters.pod_ip_block_ids", [], "parameters.pod_ip_block_ids", id="empty-list"
        ),
        pytest.param(
            "parameters.pod_ip_block_ids",
            ["a", "a"],
            "parameters.pod_ip_block_ids",
            id="duplicate-ids",
        ),
        pytest.param(
            "parameters.pod_ip_block_ids",
            "ip-block-pods",
            "parameters.pod_ip_block_ids",
            id="ids-not-list",
        ),
        pytest.param(
            "parameters.fip_pool_ids", ["bad id"], "parameters.fip_pool_ids[0]", id="bad-id"
        ),
        pytest.param(
            "parameters.nodes_dns",
            ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"],
            "parameters.nodes_dns",
            id="dns-more-than-3",
        ),
        pytest.param(
            "parameters.nodes_dns",
            ["1.1.1.1", "dns.local"],
            "parameters.nodes_dns[1]",
            id="dns-not-ip",
        ),
        pytest.param(
            "parameters.nodes_dns", ["2001:db8::1"], "parameters.nodes_dns[0]", id="dns-ipv6"
        ),
        pytest.param(
            "parameters.dns_lookup_mode",
            "INGRESS",
            "parameters.dns_lookup_mode",
            id="dns_lookup_mode",
        ),
        pytest.param(
            "parameters.ingress_prefix",
            "ingress",
            "parameters.ingress_prefix",
            id="ingress_prefix-without-api-ingress",
        ),
        pytest.param(
            "parameters.failover_mode", "preemptive", "parameters.failover_mode", id="failover_mode"
        ),
        pytest.param(
            "parameters.infrastructure_networks",
            ["10.0.0.1/24"],
            "parameters.infrastructure_networks[0]",
            id="cidr-host-bits",
        ),
        pytest.param(
            "parameters.infrastructure_networks",
            ["10.0.0.300"],
            "parameters.infrastructure_networks[0]",
            id="bad-ip",
        ),
        pytest.param(
            "parameters.cni_configurations",
            {"type": "antrea"},
            "parameters.cni_configurations.type",
            id="cni-type",
        ),
        pytest.param(
            "parameters.cni_configurations",
            {"parameters": {}},
            "parameters.cni_configurations.type",
            id="cni-type-missing",
        ),
        pytest.param("name", "", "name", id="empty-name"),
        pytest.param("parameters", None, "parameters", id="parameters-null"),
    ],
)
def test_invalid_top_level_value(path: str, value: Any, where: str) -> None:
    problems = _problems(_with(path, value))
    assert len(problems) == 1, problems
    assert problems[0].code == INVALID_VALUE
    assert problems[0].message.startswith(f"{where}: "), problems[0].message


CNI = "parameters.cni_configurations.parameters"


@pytest.mark.parametrize(
    ("params", "where"),
    [
        pytest.param({"x_forwarded_for": "INSERT"}, "x_forwarded_for", id="x_forwarded_for"),
        pytest.param({"l4_lb_algorithm": "random"}, "l4_lb_algorithm", id="l4_lb_algorithm"),
        pytest.param(
            {"l4_persistence_type": "cookie"}, "l4_persistence_type", id="l4_persistence_type"
        ),
        pytest.param({"max_l4_lb_service": 0}, "max_l4_lb_service", id="max_l4_lb_service"),
        pytest.param({"ingress_ip": "not-an-ip"}, "ingress_ip", id="ingress_ip"),
        pytest.param(
            {"ingress_persistence_settings": {"persistence_type": "session"}},
            "ingress_persistence_settings.persistence_type",
            id="persistence_type",
        ),
        pytest.param(
            {"ingress_persistence_settings": {"persistence_timeout": -1}},
            "ingress_persistence_settings.persistence_timeout",
            id="persistence_timeout",
        ),
        pytest.param(
            {"log_settings": {"log_level": "TRACE"}}, "log_settings.log_level", id="log_level"
        ),
        pytest.param(
            {"log_settings": {"log_firewall_traffic": "NONE"}},
            "log_settings.log_firewall_traffic",
            id="log_firewall_traffic",
        ),
        pytest.param({"log_settings": "INFO"}, "log_settings", id="log_settings-not-object"),
        pytest.param({"nsx_lb": 1}, "nsx_lb", id="nsx_lb-int"),
        pytest.param(
            {"extensions": {"ncp": {"k8s": {"lb_ip_allocation": "loose"}}}},
            "extensions.ncp.k8s.lb_ip_allocation",
            id="lb_ip_allocation",
        ),
        pytest.param(
            {"extensions": {"ncp": {"k8s": {"http_ingress_port": 70000}}}},
            "extensions.ncp.k8s.http_ingress_port",
            id="ingress-port",
        ),
        pytest.param(
            {"extensions": {"ncp": {"k8s": {"label_filtering_regex_list": ["(a"]}}}},
            "extensions.ncp.k8s.label_filtering_regex_list",
            id="bad-regex",
        ),
        pytest.param(
            {"extensions": {"ncp": {"k8s": {"label_filtering_regex_list": 5}}}},
            "extensions.ncp.k8s.label_filtering_regex_list",
            id="regex-list-type",
        ),
        pytest.param(
            {"extensions": {"ncp": {"nsx_v3": {"members_per_small_lbs": 7501}}}},
            "extensions.ncp.nsx_v3.members_per_small_lbs",
            id="members-per-lbs",
        ),
        pytest.param(
            {"extensions": {"ncp": {"nsx_v3": {"http_timeout": 4}}}},
            "extensions.ncp.nsx_v3.http_timeout",
            id="http_timeout-min",
        ),
        pytest.param(
            {"extensions": {"ncp": {"nsx_v3": {"snat_rule_logging": "all"}}}},
            "extensions.ncp.nsx_v3.snat_rule_logging",
            id="snat_rule_logging",
        ),
        pytest.param(
            {"extensions": {"ncp": {"coe": {"enable_snat": {"x": 1}}}}},
            "extensions.ncp.coe.enable_snat",
            id="pass-through-object",
        ),
        pytest.param(
            {"extensions": {"nsx-node-agent": {"nsx_node_agent": {"connect_retry_timeout": -5}}}},
            "extensions.nsx-node-agent.nsx_node_agent.connect_retry_timeout",
            id="node-agent-timeout",
        ),
    ],
)
def test_invalid_cni_value(params: dict[str, Any], where: str) -> None:
    data = _with("parameters.cni_configurations", {"type": "nsxt", "parameters": params})
    problems = _problems(data)
    assert len(problems) == 1, problems
    assert problems[0].code == INVALID_VALUE
    assert problems[0].message.startswith(f"{CNI}.{where}: "), problems[0].message


def test_missing_name_and_parameters() -> None:
    problems = _problems({"description": "no name"}, source="np.json")
    assert problems == [
        Problem(INVALID_VALUE, "np.json", "name: field required"),
        Problem(INVALID_VALUE, "np.json", "parameters: field required"),
    ]


def test_all_problems_reported_at_once() -> None:
    data = {
        "name": "broken",
        "parameters": {
            "lb_size": "huge",
            "pod_subnet_prefix": 33,
            "cni_configurations": {"type": "nsxt", "parameters": {"foo": True}},
        },
    }
    problems = _problems(json.dumps(data), source="broken.json")
    assert problems == [
        Problem(
            INVALID_VALUE,
            "broken",
            "parameters.lb_size: Input should be 'small', 'medium' or 'large' (got 'huge')",
        ),
        Problem(
            INVALID_VALUE,
            "broken",
            "parameters.pod_subnet_prefix: Input should be less than or equal to 30 (got 33)",
        ),
        Problem(
            UNKNOWN_FIELD, "broken", "parameters.cni_configurations.parameters.foo: unknown field"
        ),
    ]


def test_error_carries_code_name_and_problems() -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(_with("parameters.lb_size", "tiny"))
    err = info.value
    assert err.code == "INVALID_PROFILE"
    assert err.obj == "np-lb-medium"
    assert "1 problem" in str(err)


# --- malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"name": "np", "parameters": {', id="truncated"),
        pytest.param("{'name': 'np'}", id="single-quotes"),
        pytest.param('{"name": "np",}', id="trailing-comma"),
        pytest.param("", id="empty"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param("[]", id="array"),
        pytest.param("null", id="null"),
    ],
)
def test_malformed_profile(text: str | bytes) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(text, source="np.json")
    assert info.value.code == MALFORMED_PROFILE
    assert [p.code for p in info.value.problems] == [MALFORMED_PROFILE]
    assert info.value.problems[0].obj == "np.json"


def test_malformed_message_has_position() -> None:
    problems = _problems('{\n  "name": "np"\n  "parameters": {}\n}', source="np.json")
    assert problems[0].message.startswith("invalid JSON at line 3 column 3")


def test_unnamed_profile_without_source() -> None:
    problems = _problems({"parameters": {}})
    assert problems == [Problem(INVALID_VALUE, "<profile>", "name: field required")]


def test_round_trip_through_model() -> None:
    profile = parse_profile(TKGI_ALL_PARAMETERS)
    again = NetworkProfile.model_validate(profile.model_dump(by_alias=True, exclude_none=True))
    assert again == profile
