"""The network profile update rules (reference/nsx-ncp.md section 2.4)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from sdn.errors import Problem
from sdn.profiles import (
    FIELD_CONFLICT,
    FIELD_NOT_UPDATABLE,
    UPDATE_RULES,
    CniConfigurations,
    CniParameters,
    NetworkProfile,
    ProfileParameters,
    UpdateRule,
    check_update,
    parse_profile,
)

BASE: dict[str, Any] = {
    "lb_size": "small",
    "pod_ip_block_ids": ["ip-block-pods", "ip-block-pods-2"],
    "pod_subnet_prefix": 24,
    "pod_routable": False,
    "fip_pool_ids": ["ip-pool-snat", "ip-pool-lb"],
    "t0_router_id": "t0-gateway",
    "node_ip_block_ids": ["ip-block-nodes"],
    "node_subnet_prefix": 24,
    "nodes_dns": ["10.0.0.2"],
    "single_tier_topology": True,
    "failover_mode": "PREEMPTIVE",
    "cni_configurations": {
        "type": "nsxt",
        "parameters": {
            "nsx_lb": True,
            "ingress_ip": "192.0.2.10",
            "x_forwarded_for": "insert",
            "top_firewall_section_marker": "section-top",
            "log_settings": {"log_level": "INFO"},
            "extensions": {"ncp": {"nsx_v3": {"http_timeout": 10}}},
        },
    },
}


def profile(name: str, **changes: Any) -> NetworkProfile:
    """A profile from BASE; a change of None removes the field, ``cni__x`` sets a cni one."""
    params = copy.deepcopy(BASE)
    cni = params["cni_configurations"]["parameters"]
    for key, value in changes.items():
        target, field = (cni, key[5:]) if key.startswith("cni__") else (params, key)
        if value is None:
            target.pop(field, None)
        else:
            target[field] = value
    return parse_profile({"name": name, "parameters": params})


def _conflict(field: str) -> tuple[str, str]:
    return (FIELD_CONFLICT, f"field {field} has conflict")


CASES = [
    # unchanged
    pytest.param({}, {}, [], id="identical"),
    # pod_ip_block_ids: append/reorder only
    pytest.param(
        {},
        {"pod_ip_block_ids": ["ip-block-pods", "ip-block-pods-2", "ip-block-3"]},
        [],
        id="pod-blocks-append",
    ),
    pytest.param(
        {}, {"pod_ip_block_ids": ["ip-block-pods-2", "ip-block-pods"]}, [], id="pod-blocks-reorder"
    ),
    pytest.param(
        {},
        {"pod_ip_block_ids": ["ip-block-3", "ip-block-pods-2", "ip-block-pods"]},
        [],
        id="pod-blocks-insert-and-reorder",
    ),
    pytest.param(
        {},
        {"pod_ip_block_ids": ["ip-block-pods"]},
        [_conflict("pod_ip_block_ids")],
        id="pod-blocks-removal",
    ),
    pytest.param(
        {},
        {"pod_ip_block_ids": ["ip-block-other"]},
        [_conflict("pod_ip_block_ids")],
        id="pod-blocks-replaced",
    ),
    # fip_pool_ids: append/reorder only
    pytest.param(
        {},
        {"fip_pool_ids": ["ip-pool-lb", "ip-pool-snat", "ip-pool-3"]},
        [],
        id="fip-pools-append-reorder",
    ),
    pytest.param(
        {}, {"fip_pool_ids": ["ip-pool-lb"]}, [_conflict("fip_pool_ids")], id="fip-pools-removal"
    ),
    # node_ip_block_ids: add only, keep the original set
    pytest.param(
        {}, {"node_ip_block_ids": ["ip-block-nodes", "ip-block-nodes-2"]}, [], id="node-blocks-add"
    ),
    pytest.param(
        {},
        {"node_ip_block_ids": ["ip-block-nodes-2"]},
        [_conflict("node_ip_block_ids")],
        id="node-blocks-replaced",
    ),
    # nodes_dns: updatable, not append-only
    pytest.param({}, {"nodes_dns": ["10.0.0.3"]}, [], id="nodes-dns-replaced"),
    # non-updatable top-level fields
    pytest.param(
        {},
        {"lb_size": "medium"},
        [(FIELD_NOT_UPDATABLE, "field lb_size is not updatable ('small' -> 'medium')")],
        id="lb-size",
    ),
    pytest.param(
        {},
        {"pod_subnet_prefix": 27},
        [(FIELD_NOT_UPDATABLE, "field pod_subnet_prefix is not updatable (24 -> 27)")],
        id="pod-subnet-prefix",
    ),
    pytest.param(
        {},
        {"pod_routable": True},
        [(FIELD_NOT_UPDATABLE, "field pod_routable is not updatable (False -> True)")],
        id="pod-routable",
    ),
    pytest.param(
        {},
        {"single_tier_topology": False},
        [(FIELD_NOT_UPDATABLE, "field single_tier_topology is not updatable (True -> False)")],
        id="single-tier",
    ),
    pytest.param(
        {},
        {"t0_router_id": "t0-other"},
        [(FIELD_NOT_UPDATABLE, "field t0_router_id is not updatable ('t0-gateway' -> 't0-other')")],
        id="t0",
    ),
    pytest.param(
        {},
        {"failover_mode": "NON_PREEMPTIVE"},
        [
            (
                FIELD_NOT_UPDATABLE,
                "field failover_mode is not updatable ('PREEMPTIVE' -> 'NON_PREEMPTIVE')",
            )
        ],
        id="failover-mode",
    ),
    # cni_configurations: updatable fields change freely, ingress_ip and markers do not
    pytest.param(
        {},
        {
            "cni__nsx_lb": False,
            "cni__x_forwarded_for": "replace",
            "cni__log_settings": {"log_level": "DEBUG"},
            "cni__extensions": {"ncp": {"nsx_v3": {"http_timeout": 30}}},
        },
        [],
        id="cni-updatable",
    ),
    pytest.param(
        {},
        {"cni__ingress_ip": "192.0.2.11"},
        [
            (
                FIELD_NOT_UPDATABLE,
                "field cni_configurations.parameters.ingress_ip is not "
                "updatable ('192.0.2.10' -> '192.0.2.11')",
            )
        ],
        id="cni-ingress-ip",
    ),
    pytest.param(
        {},
        {"cni__top_firewall_section_marker": "section-other"},
        [
            (
                FIELD_NOT_UPDATABLE,
                "field cni_configurations.parameters."
                "top_firewall_section_marker is not updatable "
                "('section-top' -> 'section-other')",
            )
        ],
        id="cni-firewall-marker",
    ),
    # empty in old: ignored even if set in new
    pytest.param({"lb_size": None}, {"lb_size": "large"}, [], id="empty-old-lb-size"),
    pytest.param(
        {"pod_ip_block_ids": None},
        {"pod_ip_block_ids": ["ip-block-x"]},
        [],
        id="empty-old-pod-blocks",
    ),
    pytest.param(
        {"cni__ingress_ip": None}, {"cni__ingress_ip": "192.0.2.99"}, [], id="empty-old-ingress-ip"
    ),
    pytest.param(
        {"cni__bottom_firewall_section_marker": None},
        {"cni__bottom_firewall_section_marker": "section-bottom"},
        [],
        id="empty-old-marker",
    ),
    # empty in new: ignored
    pytest.param({}, {"lb_size": None}, [], id="empty-new-lb-size"),
    pytest.param({}, {"pod_ip_block_ids": None, "fip_pool_ids": None}, [], id="empty-new-lists"),
    pytest.param({}, {"cni_configurations": None}, [], id="empty-new-cni"),
    # several at once, in rule order
    pytest.param(
        {},
        {"pod_ip_block_ids": ["ip-block-pods-2"], "lb_size": "large"},
        [
            (FIELD_NOT_UPDATABLE, "field lb_size is not updatable ('small' -> 'large')"),
            _conflict("pod_ip_block_ids"),
        ],
        id="several",
    ),
]


@pytest.mark.parametrize(("old_changes", "new_changes", "expected"), CASES)
def test_check_update(
    old_changes: dict[str, Any], new_changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    old = profile("old", **old_changes)
    new = profile("new", **new_changes)
    assert check_update(old, new) == [Problem(code, "new", msg) for code, msg in expected]


def test_pod_ip_block_ids_conflict_message_is_tkgi_s() -> None:
    old = profile("old")
    new = profile("new", pod_ip_block_ids=["ip-block-pods-2"])
    assert [str(p) for p in check_update(old, new)] == [
        "FIELD_CONFLICT new: field pod_ip_block_ids has conflict"
    ]


def test_name_and_description_are_not_compared() -> None:
    old = parse_profile({"name": "a", "description": "one", "parameters": {}})
    new = parse_profile({"name": "b", "description": "two", "parameters": {}})
    assert check_update(old, new) == []


def _field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name in model.model_fields:
        paths.add(prefix + name)
    return paths


def test_every_documented_field_has_a_rule() -> None:
    expected = (
        _field_paths(ProfileParameters)
        | _field_paths(CniConfigurations, "cni_configurations.")
        | _field_paths(CniParameters, "cni_configurations.parameters.")
    )
    assert set(UPDATE_RULES) == expected


@pytest.mark.parametrize(
    ("field", "rule"),
    [
        pytest.param("pod_ip_block_ids", UpdateRule.APPEND_REORDER, id="pod_ip_block_ids"),
        pytest.param("fip_pool_ids", UpdateRule.APPEND_REORDER, id="fip_pool_ids"),
        pytest.param("node_ip_block_ids", UpdateRule.ADD_ONLY, id="node_ip_block_ids"),
        pytest.param("nodes_dns", UpdateRule.UPDATABLE, id="nodes_dns"),
        pytest.param("lb_size", UpdateRule.FIXED, id="lb_size"),
        pytest.param(
            "cni_configurations.parameters.extensions", UpdateRule.UPDATABLE, id="extensions"
        ),
        pytest.param("cni_configurations.parameters.ingress_ip", UpdateRule.FIXED, id="ingress_ip"),
    ],
)
def test_rule_table(field: str, rule: UpdateRule) -> None:
    assert UPDATE_RULES[field] is rule


# --- property: append/reorder never conflicts, removal always does --------------------------

_ids = st.lists(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=6, unique=True
)
LIST_FIELDS = ["pod_ip_block_ids", "fip_pool_ids", "node_ip_block_ids"]


def _with_list(name: str, field: str, values: list[str]) -> NetworkProfile:
    return parse_profile({"name": name, "parameters": {field: values}})


@given(field=st.sampled_from(LIST_FIELDS), old=_ids, extra=_ids, data=st.data())
def test_append_and_reorder_never_conflict(
    field: str, old: list[str], extra: list[str], data: st.DataObject
) -> None:
    added = [x for x in extra if x not in old]
    new = data.draw(st.permutations(old + added))
    assert check_update(_with_list("old", field, old), _with_list("new", field, new)) == []


@given(field=st.sampled_from(LIST_FIELDS), old=_ids, extra=_ids, data=st.data())
def test_removing_any_element_always_conflicts(
    field: str, old: list[str], extra: list[str], data: st.DataObject
) -> None:
    removed = data.draw(st.sampled_from(old))
    kept = [x for x in old if x != removed]
    added = [x for x in extra if x not in old] or [removed + "-new"]
    new = data.draw(st.permutations(kept + added))
    problems = check_update(_with_list("old", field, old), _with_list("new", field, new))
    assert problems == [Problem(FIELD_CONFLICT, "new", f"field {field} has conflict")]
