"""Pydantic models of a PKS/TKGI network profile, in the JSON shape users write.

A network profile is what a network admin hands to ``tkgi create-network-profile``::

    {"name": "np", "description": "...",
     "parameters": {<top-level parameters>,
       "cni_configurations": {"type": "nsxt",
         "parameters": {<cni parameters>,
           "extensions": {"ncp": {"nsx_v3": {}, "coe": {}, "ha": {}, "k8s": {}},
                          "nsx-node-agent": {}}}}}}

Why these models look the way they do:

* Field names are the JSON keys (``Field(alias=...)`` where a key is not a Python
  identifier, e.g. ``nsx-node-agent``), and every field defaults to ``None`` meaning "not set
  in the profile". So ``model_dump(by_alias=True, exclude_none=True)`` gives back the user's
  JSON, and the update rules (section 2.4 of ``reference/nsx-ncp.md``) can tell "absent"
  from "set to a value".
* Models are frozen and reject unknown fields, like the NSX models in :mod:`sdn.model`: a
  typo such as ``pod_subnet_prefx`` is an error, not a silently ignored setting.
* Lists are stored as tuples (immutable) but serialised as lists, so a dump compares equal
  to the parsed JSON.
* Scalars are strict (``"24"`` is not an int, ``1`` is not a bool): TKGI's API is typed JSON.
* Each constrained field fails with exactly one error, so
  :func:`sdn.profiles.loading.parse_profile` reports one problem per mistake.

``extensions`` is documented as a pass-through of other ``ncp.ini`` / node-agent keys. The
keys section 2.3 documents are typed; any other key inside ``extensions.ncp.<section>`` and
inside ``extensions.nsx-node-agent`` is accepted as an ini-style value (a scalar or a list
of scalars; in ``nsx-node-agent`` also a whole section of them), because rejecting it would
break legitimate profiles that tune options the docs do not list. Unknown *sections* under
``extensions.ncp`` (only ``nsx_v3``, ``coe``, ``ha`` and ``k8s`` exist there) and unknown
keys directly under ``extensions`` are rejected: those are typos, never pass-through.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    field_validator,
)

from sdn.model.base import ID_PATTERN, NsxId

#: Range accepted for ``pod_subnet_prefix`` and ``node_subnet_prefix``. The docs give no
#: bounds; these are the sane ones for an IPv4 block carved per namespace (or per cluster):
#: /30 is the smallest subnet holding a gateway plus one address (/31 and /32 hold no
#: workload next to the segment gateway), and /16 is the size of a whole typical pod IP
#: block, so a larger per-namespace subnet would leave room for a single namespace.
MIN_SUBNET_PREFIX = 16
MAX_SUBNET_PREFIX = 30

#: ``nodes_dns`` holds at most this many servers (section 2.1).
MAX_NODES_DNS = 3

_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# --- reusable field types ---------------------------------------------------------------


def _list_check(max_items: int | None = None) -> AfterValidator:
    """A check of a whole list once its items are valid: non-empty, short enough, unique.

    Done after item validation (not with ``Field(min_length=...)``, which pydantic also
    reports when an item fails) so that one bad entry gives one problem.
    """

    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        if not values:
            raise ValueError("must not be empty")
        if max_items is not None and len(values) > max_items:
            raise ValueError(f"at most {max_items} entries allowed, got {len(values)}")
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"duplicate entries {dupes}")
        return values

    return AfterValidator(check)


def _as_list(values: Sequence[Any]) -> list[Any]:
    return list(values)


def _check_ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address") from None
    return value


def _check_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
    return value


def _check_ip_or_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address or CIDR ({exc})") from None
    return value


_NSX_ID_RE = re.compile(ID_PATTERN)


#: The validation context key that asks for the rules of a new profile (see
#: :func:`sdn.profiles.loading.parse_profile`).
NEW_PROFILE = "new_profile"


def _check_profile_name(value: str, info: ValidationInfo) -> str:
    """The name of a new profile is an NSX id: NSX's id characters only. Checked for new
    profiles only, so that one stored by an older version still reads."""
    if not (info.context or {}).get(NEW_PROFILE):
        return value
    if not _NSX_ID_RE.match(value):
        raise ValueError(f"{value!r} is not a valid profile name: letters, digits, '-', '_' "
                         "and '.' only, starting with a letter or digit, at most 255")
    return value


def _check_dns_label(value: str) -> str:
    if not _DNS_LABEL_RE.match(value):
        raise ValueError(f"{value!r} is not a DNS label (lowercase letters, digits, '-')")
    return value


StrictInt = Annotated[int, Field(strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]
NonEmptyStr = Annotated[str, Field(strict=True, min_length=1)]

#: A list of NSX object ids (IP blocks, pools): non-empty, no duplicates.
IdList = Annotated[
    tuple[NsxId, ...],
    _list_check(),
    PlainSerializer(_as_list, return_type=list[str]),
]
Ipv4Str = Annotated[str, Field(strict=True), AfterValidator(_check_ipv4)]
IpStr = Annotated[str, Field(strict=True), AfterValidator(_check_ip)]
IpOrCidrStr = Annotated[str, Field(strict=True), AfterValidator(_check_ip_or_cidr)]
SubnetPrefix = Annotated[int, Field(strict=True, ge=MIN_SUBNET_PREFIX, le=MAX_SUBNET_PREFIX)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]

IniScalar = str | int | float | bool
IniValue = IniScalar | tuple[IniScalar, ...]
IniSection = dict[str, IniValue]


def _is_ini_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _validate_ini_value(value: object) -> IniValue:
    if _is_ini_scalar(value):
        return value  # type: ignore[return-value]
    if isinstance(value, list | tuple) and all(_is_ini_scalar(v) for v in value):
        return tuple(value)
    raise ValueError("an ncp.ini value must be a string, number, boolean or a list of them")


def _validate_ini_value_or_section(value: object) -> IniValue | IniSection:
    if isinstance(value, dict):
        section: IniSection = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("section keys must be strings")
            try:
                section[key] = _validate_ini_value(item)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return section
    return _validate_ini_value(value)


def _serialize_ini(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return {k: _serialize_ini(v) for k, v in value.items()}
    return value


#: A pass-through ``ncp.ini`` value: a scalar or a list of scalars.
PassThroughValue = Annotated[
    IniValue, PlainValidator(_validate_ini_value), PlainSerializer(_serialize_ini)
]
#: A pass-through node-agent key: an ini value, or a whole ini section of them.
PassThroughEntry = Annotated[
    IniValue | IniSection,
    PlainValidator(_validate_ini_value_or_section),
    PlainSerializer(_serialize_ini),
]


def split_regex_list(value: str | tuple[str, ...]) -> tuple[str, ...]:
    """The regexes of a ``label_filtering_regex_list`` value, in order.

    ncp.ini writes list options as comma-separated strings (oslo.config ``ListOpt``); a
    profile may also give a JSON list. Both forms are accepted; in the string form a comma
    always separates, as it does in ncp.ini.

    Args:
        value: The string or tuple form.

    Returns:
        The non-empty, stripped regexes.

    >>> split_regex_list("^app.kubernetes.io/, ^tap-")
    ('^app.kubernetes.io/', '^tap-')
    """
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip() for item in items if item.strip())


def _validate_regex_list(value: object) -> str | tuple[str, ...]:
    if isinstance(value, str):
        result: str | tuple[str, ...] = value
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        result = tuple(value)
    else:
        raise ValueError("must be a list of regular expressions or a comma-separated string")
    for regex in split_regex_list(result):
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"{regex!r} is not a valid regular expression ({exc})") from None
    return result


#: ``label_filtering_regex_list``: a JSON list of regexes or one comma-separated string; the
#: form the user chose is kept so the profile round-trips.
RegexList = Annotated[
    str | tuple[str, ...],
    PlainValidator(_validate_regex_list),
    PlainSerializer(_serialize_ini),
]

# --- base classes -------------------------------------------------------------------------


class ProfileModel(BaseModel):
    """Base of the closed profile models: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PassThroughSection(BaseModel):
    """Base of the ``extensions`` sections: documented keys typed, other ini keys kept."""

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, PassThroughValue] = Field(init=False)

    def passthrough(self) -> dict[str, Any]:
        """The keys this section carries beyond the documented ones."""
        return dict(self.__pydantic_extra__ or {})


# --- extensions (section 2.3) -------------------------------------------------------------


class NcpNsxV3Extension(PassThroughSection):
    """``extensions.ncp.nsx_v3``: NSX client and LB scale options of ncp.ini ``[nsx_v3]``."""

    cluster_unavailable_retry: StrictBool | None = None
    concurrent_connections: PositiveInt | None = None
    conn_idle_timeout: PositiveInt | None = None
    http_retries: NonNegativeInt | None = None
    #: ncp.ini: "minimum 5 seconds".
    http_timeout: Annotated[int, Field(strict=True, ge=5)] | None = None
    l4_lb_auto_scaling: StrictBool | None = None
    #: ncp.ini: "The value should be in range [1, 7500]".
    members_per_medium_lbs: Annotated[int, Field(strict=True, ge=1, le=7500)] | None = None
    members_per_small_lbs: Annotated[int, Field(strict=True, ge=1, le=7500)] | None = None
    natfirewallmatch: (
        Literal["MATCH_EXTERNAL_ADDRESS", "MATCH_INTERNAL_ADDRESS", "BYPASS"] | None
    ) = None
    ncp_enforced_pool_member_limit: Literal["ACTIVATE", "DEACTIVATE"] | None = None
    relax_scale_validation: StrictBool | None = None
    retries: NonNegativeInt | None = None
    snat_rule_logging: Literal["none", "basic", "extended"] | None = None


class NcpCoeExtension(PassThroughSection):
    """``extensions.ncp.coe``: ncp.ini ``[coe]`` (the TKGI example sets ``profiling``)."""

    profiling: StrictBool | None = None
    connect_retry_timeout: NonNegativeInt | None = None


class NcpHaExtension(PassThroughSection):
    """``extensions.ncp.ha``: leader election timing of ncp.ini ``[ha]``."""

    master_timeout: PositiveInt | None = None
    heartbeat_period: PositiveInt | None = None
    update_timeout: PositiveInt | None = None


class NcpK8sExtension(PassThroughSection):
    """``extensions.ncp.k8s``: Kubernetes adaptor options of ncp.ini ``[k8s]``."""

    enable_namespace_subnets: StrictBool | None = None
    http_ingress_port: Port | None = None
    https_ingress_port: Port | None = None
    label_filtering_regex_list: RegexList | None = None
    lb_ip_allocation: Literal["relaxed", "strict"] | None = None
    statefulset_ip_range: StrictBool | None = None


class NcpExtensions(ProfileModel):
    """``extensions.ncp``: exactly the four ncp.ini sections TKGI passes through."""

    nsx_v3: NcpNsxV3Extension | None = None
    coe: NcpCoeExtension | None = None
    ha: NcpHaExtension | None = None
    k8s: NcpK8sExtension | None = None


class NodeAgentSection(PassThroughSection):
    """``extensions.nsx-node-agent.nsx_node_agent``: the node agent's own ini section."""

    #: Section 2.3: ``nsx_node_agent.connect_retry_timeout`` (default 220 s).
    connect_retry_timeout: NonNegativeInt | None = None


class NodeAgentExtensions(BaseModel):
    """``extensions.nsx-node-agent``: the node agent's config, a pass-through.

    The documented key (``nsx_node_agent.connect_retry_timeout``) is typed; any other key is
    kept, either an ini section (an object of ini values, e.g. ``coe``) or a single value.
    """

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, PassThroughEntry] = Field(init=False)

    nsx_node_agent: NodeAgentSection | None = None


class Extensions(ProfileModel):
    """``cni_configurations.parameters.extensions``."""

    ncp: NcpExtensions | None = None
    nsx_node_agent: NodeAgentExtensions | None = Field(default=None, alias="nsx-node-agent")


# --- cni_configurations (section 2.2) -----------------------------------------------------


class IngressPersistenceSettings(ProfileModel):
    """``ingress_persistence_settings``: L7 persistence of the ingress virtual servers."""

    persistence_type: Literal["none", "cookie", "source_ip"] | None = None
    persistence_timeout: PositiveInt | None = None


class LogSettings(ProfileModel):
    """``log_settings``: NCP log level and DFW logging."""

    log_level: Literal["INFO", "WARNING", "DEBUG", "ERROR", "CRITICAL"] | None = None
    log_firewall_traffic: Literal["ALL", "ALLOW", "DENY"] | None = None
    #: Deprecated in favour of ``log_firewall_traffic``.
    log_dropped_traffic: StrictBool | None = None


class CniParameters(ProfileModel):
    """``cni_configurations.parameters``: NCP behaviour for the cluster."""

    nsx_lb: StrictBool | None = None
    #: Deprecated by TKGI.
    nsx_ingress_controller: StrictBool | None = None
    ingress_ip: IpStr | None = None
    ingress_persistence_settings: IngressPersistenceSettings | None = None
    x_forwarded_for: Literal["none", "insert", "replace"] | None = None
    max_l4_lb_service: PositiveInt | None = None
    l4_persistence_type: Literal["source_ip"] | None = None
    l4_lb_algorithm: (
        Literal["round_robin", "least_connection", "ip_hash", "weighted_round_robin"] | None
    ) = None
    lb_http_request_header_size: PositiveInt | None = None
    lb_http_response_header_size: PositiveInt | None = None
    lb_http_response_timeout: PositiveInt | None = None
    connect_retry_timeout: NonNegativeInt | None = None
    lb_connection_multiplexing_enabled: StrictBool | None = None
    lb_connection_multiplexing_number: PositiveInt | None = None
    client_ssl_profile: NsxId | None = None
    #: MP mode only: NCP creates its DFW sections between the two marker sections.
    top_firewall_section_marker: NsxId | None = None
    bottom_firewall_section_marker: NsxId | None = None
    log_settings: LogSettings | None = None
    enable_err_crd: StrictBool | None = None
    enable_hostport: StrictBool | None = None
    enable_nodelocaldns: StrictBool | None = None
    extensions: Extensions | None = None


class CniConfigurations(ProfileModel):
    """``cni_configurations``: the CNI is always NSX (``type: nsxt``) for network profiles."""

    type: Literal["nsxt"]
    parameters: CniParameters | None = None


# --- top level (section 2.1) --------------------------------------------------------------


class ProfileParameters(ProfileModel):
    """``parameters``: topology, IPAM, routing and LB sizing of a cluster."""

    lb_size: Literal["small", "medium", "large"] | None = None
    pod_ip_block_ids: IdList | None = None
    pod_subnet_prefix: SubnetPrefix | None = None
    pod_routable: StrictBool | None = None
    fip_pool_ids: IdList | None = None
    t0_router_id: NsxId | None = None
    master_vms_nsgroup_id: NsxId | None = None
    node_ip_block_ids: IdList | None = None
    node_routable: StrictBool | None = None
    node_subnet_prefix: SubnetPrefix | None = None
    nodes_dns: (
        Annotated[
            tuple[Ipv4Str, ...],
            _list_check(MAX_NODES_DNS),
            PlainSerializer(_as_list, return_type=list[str]),
        ]
        | None
    ) = None
    dns_lookup_mode: Literal["API", "API_INGRESS"] | None = None
    #: Only meaningful with ``dns_lookup_mode: API_INGRESS`` (checked below).
    ingress_prefix: Annotated[str, Field(strict=True), AfterValidator(_check_dns_label)] | None = (
        None
    )
    single_tier_topology: StrictBool | None = None
    infrastructure_networks: (
        Annotated[
            tuple[IpOrCidrStr, ...],
            _list_check(),
            PlainSerializer(_as_list, return_type=list[str]),
        ]
        | None
    ) = None
    failover_mode: Literal["PREEMPTIVE", "NON_PREEMPTIVE"] | None = None
    cni_configurations: CniConfigurations | None = None

    @field_validator("ingress_prefix")
    @classmethod
    def _ingress_prefix_needs_api_ingress(cls, value: str, info: ValidationInfo) -> str:
        if "dns_lookup_mode" not in info.data:
            return value  # dns_lookup_mode itself is invalid, and reported on its own
        mode = info.data["dns_lookup_mode"]
        if mode != "API_INGRESS":
            raise ValueError(f"requires dns_lookup_mode API_INGRESS (got {mode!r})")
        return value


class NetworkProfile(ProfileModel):
    """A PKS/TKGI network profile: a name, a description and its parameters."""

    name: Annotated[str, Field(strict=True, min_length=1), AfterValidator(_check_profile_name)]
    description: Annotated[str, Field(strict=True)] | None = None
    parameters: ProfileParameters

    def to_json(self) -> dict[str, Any]:
        """The profile in the user's JSON shape (only the fields that are set)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
