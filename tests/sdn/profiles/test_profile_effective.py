"""Topology settings: installation defaults overlaid with a network profile."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sdn.profiles import (
    DEFAULT_TOPOLOGY,
    SETTING_SOURCES,
    TopologySettings,
    parse_profile,
    topology_settings,
)

PROFILES_DIR = Path(__file__).resolve().parents[3] / "topologies" / "profiles"

DEFAULTS = TopologySettings(
    pod_ip_block_ids=("tile-pods",),
    pod_subnet_prefix=24,
    fip_pool_ids=("tile-fip",),
    t0_router_id="tile-t0",
    single_tier_topology=True,
    lb_size="small",
    nodes_dns=("10.0.0.2",),
    node_ip_block_ids=("tile-nodes",),
    label_filtering_regex_list=("^default/",),
)


def _cni(params: dict[str, Any]) -> dict[str, Any]:
    return {"cni_configurations": {"type": "nsxt", "parameters": params}}


def _k8s(value: Any) -> dict[str, Any]:
    return _cni({"extensions": {"ncp": {"k8s": {"label_filtering_regex_list": value}}}})


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        pytest.param({}, {}, id="empty-profile-keeps-defaults"),
        pytest.param({"pod_subnet_prefix": 27}, {"pod_subnet_prefix": 27}, id="prefix"),
        pytest.param(
            {"pod_ip_block_ids": ["a", "b"], "fip_pool_ids": ["p"]},
            {"pod_ip_block_ids": ("a", "b"), "fip_pool_ids": ("p",)},
            id="lists-become-tuples",
        ),
        pytest.param(
            {
                "pod_routable": True,
                "node_routable": True,
                "node_subnet_prefix": 26,
                "node_ip_block_ids": ["n"],
            },
            {
                "pod_routable": True,
                "node_routable": True,
                "node_subnet_prefix": 26,
                "node_ip_block_ids": ("n",),
            },
            id="routable",
        ),
        pytest.param(
            {
                "single_tier_topology": False,
                "lb_size": "large",
                "t0_router_id": "t0-b",
                "failover_mode": "NON_PREEMPTIVE",
                "nodes_dns": ["1.1.1.1", "8.8.8.8"],
            },
            {
                "single_tier_topology": False,
                "lb_size": "large",
                "t0_router_id": "t0-b",
                "failover_mode": "NON_PREEMPTIVE",
                "nodes_dns": ("1.1.1.1", "8.8.8.8"),
            },
            id="topology",
        ),
        pytest.param(
            _cni(
                {
                    "nsx_lb": False,
                    "top_firewall_section_marker": "top",
                    "bottom_firewall_section_marker": "bottom",
                }
            ),
            {
                "nsx_lb": False,
                "top_firewall_section_marker": "top",
                "bottom_firewall_section_marker": "bottom",
            },
            id="cni",
        ),
        pytest.param(_cni({}), {}, id="empty-cni"),
        pytest.param(
            _k8s(["^a/", "^b/"]), {"label_filtering_regex_list": ("^a/", "^b/")}, id="regex-list"
        ),
        pytest.param(
            _k8s("^a/, ^b/,"),
            {"label_filtering_regex_list": ("^a/", "^b/")},
            id="regex-comma-string",
        ),
    ],
)
def test_overlay(parameters: dict[str, Any], expected: dict[str, Any]) -> None:
    profile = parse_profile({"name": "np", "parameters": parameters})
    assert topology_settings(profile, DEFAULTS) == dataclasses.replace(DEFAULTS, **expected)


def test_no_profile_gives_defaults() -> None:
    assert topology_settings(None, DEFAULTS) is DEFAULTS
    assert topology_settings(None) == DEFAULT_TOPOLOGY


def test_default_topology_is_tkgi_s() -> None:
    d = DEFAULT_TOPOLOGY
    assert (d.single_tier_topology, d.pod_subnet_prefix, d.lb_size, d.nsx_lb) == (
        True,
        24,
        "small",
        True,
    )
    assert d.t0_router_id == "t0-gateway"
    assert d.failover_mode == "PREEMPTIVE"


def test_settings_are_frozen_and_hashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.lb_size = "large"  # type: ignore[misc]
    assert hash(DEFAULTS) == hash(dataclasses.replace(DEFAULTS))


def test_every_setting_has_a_source() -> None:
    assert set(SETTING_SOURCES) == {f.name for f in dataclasses.fields(TopologySettings)}


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        pytest.param(
            "shared-t1.json",
            {"single_tier_topology": True, "pod_subnet_prefix": 24, "lb_size": "small"},
            id="shared-t1",
        ),
        pytest.param(
            "dedicated-t1.json",
            {
                "single_tier_topology": False,
                "lb_size": "medium",
                "pod_ip_block_ids": ("ip-block-pods",),
                "fip_pool_ids": ("ip-pool-snat",),
            },
            id="dedicated-t1",
        ),
        pytest.param(
            "routable-pods.json",
            {"pod_routable": True, "pod_ip_block_ids": ("ip-block-pods-routable",)},
            id="routable-pods",
        ),
        pytest.param("small-subnets.json", {"pod_subnet_prefix": 27}, id="small-subnets"),
    ],
)
def test_example_profiles_settings(file: str, expected: dict[str, Any]) -> None:
    text = (PROFILES_DIR / file).read_text(encoding="utf-8")
    settings = topology_settings(parse_profile(text, source=file), DEFAULTS)
    for name, value in expected.items():
        assert getattr(settings, name) == value, name
    assert settings.t0_router_id == "t0-gateway"
