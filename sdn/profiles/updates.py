"""The update rules for moving a cluster from one network profile to another.

Profiles are immutable: "updating" a cluster's network means creating a new profile and
running ``tkgi update-cluster --network-profile NEW``. TKGI then checks the new profile
against the old one (``reference/nsx-ncp.md`` section 2.4); :func:`check_update`
emulates that check:

1. A field empty in the old profile is ignored, even if the new one sets it (a cluster
   created without, say, ``nodes_dns`` may get one later).
2. A field empty in the new profile is ignored (it keeps the current value).
3. Otherwise only fields marked Updatable in tables 2.1 and 2.2 may change.
4. List fields marked append/reorder-only may gain and reorder entries but never lose one.

"Empty" means not set (absent or ``null``). The models reject empty lists and strings, so
there is no other kind of empty value to consider.

The Updatable columns are encoded as data in :data:`UPDATE_RULES`, keyed by the field's
dotted path under ``parameters``. Readings of the rows that the docs leave open:

* ``name`` and ``description`` (Updatable column empty, "-") are the profile's identity, not cluster
  configuration; a new profile always has a new name. They are not compared.
* ``nsx_ingress_controller`` and ``enable_err_crd`` (Updatable column empty, "-"): 2.4 says only
  *Updatable* fields may change, and these are not marked so; they are fixed.
* ``top_firewall_section_marker`` / ``bottom_firewall_section_marker``: table 2.2 says
  "yes", but the DFW page says DFW rule configuration cannot be modified on an existing
  cluster (NCP's sections already sit between the old markers). The more specific statement
  wins: they are fixed. Setting them on a cluster that had none is still allowed (rule 1).
* ``cni_configurations`` is Updatable as a whole, but the rows of table 2.2 inside it have
  their own rules (``ingress_ip`` is not updatable), so the container itself imposes
  nothing and its fields are checked one by one. ``extensions`` is a pass-through and
  updatable as a whole.
* ``node_ip_block_ids`` is "add only; must keep original set": the new list must contain
  every original block. As the wording speaks of a set, the order is not checked, which
  makes the check the same as append/reorder; the rule stays distinct to record the doc.
* ``nodes_dns`` is plainly Updatable (not append-only): DNS servers may be replaced.

Removing an entry from an append/reorder list fails with ``FIELD_CONFLICT`` and the message
TKGI prints, ``field pod_ip_block_ids has conflict``. Changing a fixed field fails with
``FIELD_NOT_UPDATABLE``. Deleting a profile in use is refused elsewhere (the store).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel

from sdn.errors import Problem
from sdn.profiles.model import NetworkProfile

FIELD_NOT_UPDATABLE = "FIELD_NOT_UPDATABLE"
FIELD_CONFLICT = "FIELD_CONFLICT"


class UpdateRule(StrEnum):
    """How a field may change between the old and the new profile of a cluster."""

    #: May change freely.
    UPDATABLE = "updatable"
    #: Must not change once set.
    FIXED = "fixed"
    #: A list that may gain and reorder entries, never lose one.
    APPEND_REORDER = "append_reorder"
    #: A list that may gain entries and must keep the original set.
    ADD_ONLY = "add_only"
    #: A container whose own fields carry the rules; nothing to check on it.
    CONTAINER = "container"


_CNI = "cni_configurations.parameters."

#: The Updatable columns of tables 2.1 and 2.2, by dotted path under ``parameters``.
UPDATE_RULES: Mapping[str, UpdateRule] = MappingProxyType(
    {
        # table 2.1, top-level parameters
        "lb_size": UpdateRule.FIXED,
        "pod_ip_block_ids": UpdateRule.APPEND_REORDER,
        "pod_subnet_prefix": UpdateRule.FIXED,
        "pod_routable": UpdateRule.FIXED,
        "fip_pool_ids": UpdateRule.APPEND_REORDER,
        "t0_router_id": UpdateRule.FIXED,
        "master_vms_nsgroup_id": UpdateRule.FIXED,
        "node_ip_block_ids": UpdateRule.ADD_ONLY,
        "node_routable": UpdateRule.FIXED,
        "node_subnet_prefix": UpdateRule.FIXED,
        "nodes_dns": UpdateRule.UPDATABLE,
        "dns_lookup_mode": UpdateRule.FIXED,
        "ingress_prefix": UpdateRule.FIXED,
        "single_tier_topology": UpdateRule.FIXED,
        "infrastructure_networks": UpdateRule.FIXED,
        "failover_mode": UpdateRule.FIXED,
        "cni_configurations": UpdateRule.CONTAINER,
        "cni_configurations.type": UpdateRule.FIXED,
        "cni_configurations.parameters": UpdateRule.CONTAINER,
        # table 2.2, cni_configurations.parameters
        _CNI + "nsx_lb": UpdateRule.UPDATABLE,
        _CNI + "nsx_ingress_controller": UpdateRule.FIXED,
        _CNI + "ingress_ip": UpdateRule.FIXED,
        _CNI + "ingress_persistence_settings": UpdateRule.UPDATABLE,
        _CNI + "x_forwarded_for": UpdateRule.UPDATABLE,
        _CNI + "max_l4_lb_service": UpdateRule.UPDATABLE,
        _CNI + "l4_persistence_type": UpdateRule.UPDATABLE,
        _CNI + "l4_lb_algorithm": UpdateRule.UPDATABLE,
        _CNI + "lb_http_request_header_size": UpdateRule.UPDATABLE,
        _CNI + "lb_http_response_header_size": UpdateRule.UPDATABLE,
        _CNI + "lb_http_response_timeout": UpdateRule.UPDATABLE,
        _CNI + "connect_retry_timeout": UpdateRule.UPDATABLE,
        _CNI + "lb_connection_multiplexing_enabled": UpdateRule.UPDATABLE,
        _CNI + "lb_connection_multiplexing_number": UpdateRule.UPDATABLE,
        _CNI + "client_ssl_profile": UpdateRule.UPDATABLE,
        _CNI + "top_firewall_section_marker": UpdateRule.FIXED,
        _CNI + "bottom_firewall_section_marker": UpdateRule.FIXED,
        _CNI + "log_settings": UpdateRule.UPDATABLE,
        _CNI + "enable_err_crd": UpdateRule.FIXED,
        _CNI + "enable_hostport": UpdateRule.UPDATABLE,
        _CNI + "enable_nodelocaldns": UpdateRule.UPDATABLE,
        _CNI + "extensions": UpdateRule.UPDATABLE,
    }
)


def check_update(old: NetworkProfile, new: NetworkProfile) -> list[Problem]:
    """Check that a cluster on profile ``old`` may move to profile ``new``.

    Args:
        old: The profile the cluster uses now.
        new: The profile it should use.

    Returns:
        One problem per field that breaks a rule, in :data:`UPDATE_RULES` order, each
        named after ``new``; empty when the update is allowed.

    >>> from sdn.profiles.loading import parse_profile
    >>> old = parse_profile({"name": "a", "parameters": {"pod_ip_block_ids": ["b1", "b2"]}})
    >>> new = parse_profile({"name": "b", "parameters": {"pod_ip_block_ids": ["b2"]}})
    >>> [str(p) for p in check_update(old, new)]
    ['FIELD_CONFLICT b: field pod_ip_block_ids has conflict']
    """
    problems: list[Problem] = []
    for path, rule in UPDATE_RULES.items():
        before = field_value(old.parameters, path)
        after = field_value(new.parameters, path)
        if before is None or after is None:
            continue  # rules 1 and 2: empty in old or in new is ignored
        message = _violation(path, rule, before, after)
        if message is not None:
            code = FIELD_NOT_UPDATABLE if rule is UpdateRule.FIXED else FIELD_CONFLICT
            problems.append(Problem(code, new.name, message))
    return problems


def field_value(model: BaseModel | None, path: str) -> object:
    """The value at a dotted attribute path, or None when any step is unset.

    Args:
        model: Where to start (e.g. a profile's ``parameters``).
        path: Field names separated by dots (Python names, not JSON aliases).

    Returns:
        The value, or None.
    """
    value: object = model
    for name in path.split("."):
        if value is None:
            return None
        value = getattr(value, name)
    return value


def _violation(path: str, rule: UpdateRule, before: object, after: object) -> str | None:
    if rule is UpdateRule.FIXED:
        if before != after:
            return f"field {path} is not updatable ({_show(before)} -> {_show(after)})"
        return None
    if rule in (UpdateRule.APPEND_REORDER, UpdateRule.ADD_ONLY):
        assert isinstance(before, tuple) and isinstance(after, tuple)
        if not set(before) <= set(after):
            return f"field {path} has conflict"
        return None
    return None  # UPDATABLE, CONTAINER


def _show(value: object) -> str:
    if isinstance(value, BaseModel):
        return repr(value.model_dump(mode="json", by_alias=True, exclude_none=True))
    if isinstance(value, tuple):
        return repr(list(value))
    return repr(value)
