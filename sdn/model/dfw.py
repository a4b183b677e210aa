"""Distributed firewall objects: groups, security policies and their rules.

Shapes follow the NSX Policy API (reference: nsx-ncp.md 1.9 and 4):

* a :class:`Group` (``/infra/domains/default/groups/<id>``) has an ``expression`` list of
  criteria joined by :class:`ConjunctionOperator` items. Here ``AND`` binds tighter than
  ``OR`` (a group is an OR of AND-terms), and a :class:`NestedExpression` is one
  parenthesised sub-expression. Criteria: a tag :class:`Condition` on a member type
  (``SegmentPort`` for pod labels, ``Segment`` for namespace labels), an
  :class:`IPAddressExpression` (addresses and CIDRs), a :class:`PathExpression`.
* a :class:`SecurityPolicy` (``/infra/domains/default/security-policies/<id>``) lives in a
  ``category``, is ordered by ``sequence_number`` and applies to its ``scope`` groups;
  its :class:`Rule` items are ordered by their own ``sequence_number``.

Tag condition semantics (NSX leaves the empty-tag and NOTIN corner cases to the reader;
these choices make Kubernetes selectors translate exactly):

* ``EQUALS`` with value ``scope|tag``: the member has that tag. ``scope|`` (empty tag):
  the member has any tag with that scope (label ``Exists``).
* ``scope_operator NOTEQUALS`` with value ``scope|``: no tag with that scope
  (``DoesNotExist``).
* ``IN`` with ``scope|v1,v2``: a tag with that scope and one of the values.
* ``NOTIN`` with ``scope|v1,v2``: no tag with that scope has one of the values (so an
  absent label matches, as Kubernetes ``NotIn`` does).

Every condition NSX takes is accepted (any of NSX's member types, keys and operators, so a
client's group is never refused for a criterion this model cannot see), but only tag
conditions on the objects this model has are evaluated: ``key: Tag`` with ``EQUALS``,
``NOTEQUALS``, ``IN`` or ``NOTIN`` on ``SegmentPort`` (or ``LogicalPort``, the Manager
API's name for the same port) and on ``Segment`` (or ``LogicalSwitch``). Any other
condition (a ``VirtualMachine``, ``IPSet``, ``Pod``... member type; a ``Name``,
``OSName``... key; a ``CONTAINS``, ``STARTSWITH``, ``ENDSWITH`` or ``MATCHES`` operator)
matches no member: it narrows an AND-term to nothing and adds nothing to an OR, which
is what NSX computes for members this inventory cannot have (:attr:`Condition.evaluated`).
A :class:`MACAddressExpression` or :class:`ExternalIDExpression` is accepted the same
way and matches no member either.

A :class:`Service` (``/infra/services/<id>``) is a named list of service entries; a rule
naming it in ``services`` matches what its entries match (with the rule's own
``service_entries``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sdn.model.base import (
    MAX_TAG_SCOPE,
    MAX_TAG_VALUE,
    NsxModel,
    OptionalNsxId,
    PolicyResource,
    SharedLeaf,
)
from sdn.model.values import AddressEntry, IcmpNumber, PathOrAny, PolicyPath, PortEntry

DOMAIN = "/infra/domains/default"

Category = Literal["Ethernet", "Emergency", "Infrastructure", "Environment", "Application"]

#: Categories in evaluation order (L2 first; L3 from Emergency to Application).
CATEGORY_ORDER: tuple[Category, ...] = (
    "Ethernet", "Emergency", "Infrastructure", "Environment", "Application")

Action = Literal["ALLOW", "DROP", "REJECT", "JUMP_TO_APPLICATION"]
Direction = Literal["IN", "OUT", "IN_OUT"]
ANY = "ANY"


#: NSX's condition member types (Policy API ``Condition.member_type``).
MemberType = Literal[
    "SegmentPort", "Segment", "LogicalPort", "LogicalSwitch", "IPSet", "VirtualMachine",
    "Pod", "Service", "Namespace", "TransportNode", "Group", "DVPG", "DVPort", "IPAddress",
    "KubernetesCluster", "KubernetesNamespace", "KubernetesService", "KubernetesIngress",
    "KubernetesGateway", "KubernetesNode", "AntreaEgress", "AntreaIPPool", "VpcSubnet",
    "VpcSubnetPort"]

#: NSX's condition keys and operators.
ConditionKey = Literal["Tag", "Name", "OSName", "ComputerName", "NodeType", "GroupType",
                       "ALL", "IPAddress", "PodCidr"]
ConditionOperator = Literal["EQUALS", "NOTEQUALS", "IN", "NOTIN", "CONTAINS", "STARTSWITH",
                            "ENDSWITH", "MATCHES"]

#: The member types whose tags this model has: a port's own, and its segment's.
PORT_MEMBER_TYPES = frozenset({"SegmentPort", "LogicalPort"})
SEGMENT_MEMBER_TYPES = frozenset({"Segment", "LogicalSwitch"})
_EVALUATED_OPERATORS = frozenset({"EQUALS", "NOTEQUALS", "IN", "NOTIN"})


class Condition(SharedLeaf):
    """A criterion on one member type (see the module docstring for what is evaluated)."""

    resource_type: Literal["Condition"] = "Condition"
    member_type: MemberType
    key: ConditionKey = "Tag"
    operator: ConditionOperator = "EQUALS"
    scope_operator: Literal["EQUALS", "NOTEQUALS"] = "EQUALS"
    value: str

    @property
    def on_ports(self) -> bool:
        """Whether it reads a port's own tags (``SegmentPort`` / ``LogicalPort``)."""
        return self.member_type in PORT_MEMBER_TYPES

    @property
    def evaluated(self) -> bool:
        """Whether this model evaluates it: a tag condition on ports or segments with an
        operator of the four tag semantics above. Any other matches no member."""
        return self.key == "Tag" and self.operator in _EVALUATED_OPERATORS and (
            self.member_type in PORT_MEMBER_TYPES or self.member_type in SEGMENT_MEMBER_TYPES)

    @model_validator(mode="after")
    def _has_scope(self) -> Condition:
        value, operator = self.value, self.operator
        if self.key != "Tag":
            return self  # names, OS names...: any text (not evaluated)
        bar = value.find("|")
        if bar < 0:
            raise PydanticCustomError(
                "invalid_condition", f"tag condition value {value!r} is not 'scope|tag'")
        listed = operator == "IN" or operator == "NOTIN"
        if len(value) <= MAX_TAG_SCOPE and not listed:
            return self  # the common case: too short to break a limit
        if bar > MAX_TAG_SCOPE:
            raise PydanticCustomError(
                "invalid_condition", f"tag condition scope {value[:40]!r}... is longer than "
                f"{MAX_TAG_SCOPE} characters")
        rest = value[bar + 1:]
        values = rest.split(",") if listed else [rest]
        if any(len(v) > MAX_TAG_VALUE for v in values):
            raise PydanticCustomError(
                "invalid_condition", f"a tag value of {value[:60]!r}... is longer than "
                f"{MAX_TAG_VALUE} characters")
        if listed and not any(values):
            raise PydanticCustomError(
                "invalid_condition", f"{operator} condition {value!r} lists no values")
        return self

    @property
    def scope(self) -> str:
        """The tag scope the condition looks at."""
        return self.value.split("|", 1)[0]

    @property
    def tag_values(self) -> tuple[str, ...]:
        """The tag value(s) after the ``|`` (comma-separated for IN / NOTIN)."""
        rest = self.value.partition("|")[2]
        if self.operator in ("IN", "NOTIN"):
            return tuple(v for v in rest.split(",") if v)
        return (rest,)


class ConjunctionOperator(SharedLeaf):
    """Joins the criteria around it."""

    resource_type: Literal["ConjunctionOperator"] = "ConjunctionOperator"
    conjunction_operator: Literal["AND", "OR"]


class IPAddressExpression(NsxModel):
    """Addresses, CIDRs and ranges (``ipBlock`` peers); see :mod:`sdn.model.values`."""

    resource_type: Literal["IPAddressExpression"] = "IPAddressExpression"
    ip_addresses: tuple[AddressEntry, ...]

    @model_validator(mode="after")
    def _not_empty(self) -> IPAddressExpression:
        if not self.ip_addresses:
            raise PydanticCustomError("invalid_address", "ip_addresses lists no address")
        return self


class PathExpression(NsxModel):
    """Members named by path: segments, ports or other groups."""

    resource_type: Literal["PathExpression"] = "PathExpression"
    paths: tuple[PolicyPath, ...]


class NestedExpression(NsxModel):
    """A parenthesised sub-expression."""

    resource_type: Literal["NestedExpression"] = "NestedExpression"
    expressions: tuple[Expression, ...]

    @field_validator("expressions")
    @classmethod
    def _alternates(cls, items: tuple[Expression, ...]) -> tuple[Expression, ...]:
        _check_alternation(items)
        return items


#: A MAC address as NSX takes it in an expression (either case).
MacText = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")]


class MACAddressExpression(NsxModel):
    """Members by MAC address: accepted, not evaluated (matches no member)."""

    resource_type: Literal["MACAddressExpression"] = "MACAddressExpression"
    mac_addresses: tuple[MacText, ...]


class ExternalIDExpression(NsxModel):
    """Members by their compute manager's id (VMs, their NICs...): accepted, not
    evaluated (this inventory has no such members)."""

    resource_type: Literal["ExternalIDExpression"] = "ExternalIDExpression"
    member_type: Literal["VirtualMachine", "VirtualNetworkInterface",
                         "CloudNativeServiceInstance", "PhysicalServer"] = "VirtualMachine"
    external_ids: tuple[str, ...]


Expression = Annotated[
    Condition | ConjunctionOperator | IPAddressExpression | PathExpression | NestedExpression
    | MACAddressExpression | ExternalIDExpression,
    Field(discriminator="resource_type"),
]
NestedExpression.model_rebuild()


def _check_alternation(items: tuple[Expression, ...]) -> None:
    """NSX's shape of an expression list: criteria separated by conjunction operators."""
    if len(items) % 2 == 1 and all(type(i) is ConjunctionOperator for i in items[1::2]) \
            and not any(type(i) is ConjunctionOperator for i in items[0::2]):
        return  # the common case
    for n, item in enumerate(items):
        operator = isinstance(item, ConjunctionOperator)
        if operator != (n % 2 == 1) or (operator and n == len(items) - 1):
            raise PydanticCustomError(
                "invalid_expression", f"item {n} ({item.resource_type}): criteria and "
                "ConjunctionOperator items must alternate, starting and ending with a criterion")


class Group(PolicyResource):
    """A group; its members are computed from ``expression`` against the inventory."""

    resource_type: Literal["Group"] = "Group"
    expression: tuple[Expression, ...] = ()

    @field_validator("expression")
    @classmethod
    def _alternates(cls, items: tuple[Expression, ...]) -> tuple[Expression, ...]:
        _check_alternation(items)
        return items

    def references(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        _path_references(self.expression, "expression", refs)
        return refs


def _path_references(items: tuple[Expression, ...], where: str, refs: dict[str, str]) -> None:
    for n, item in enumerate(items):
        if isinstance(item, PathExpression):
            for i, path in enumerate(item.paths):
                refs[f"{where}[{n}].paths[{i}]"] = path
        elif isinstance(item, NestedExpression):
            _path_references(item.expressions, f"{where}[{n}].expressions", refs)


class L4PortSetServiceEntry(SharedLeaf):
    """TCP/UDP/SCTP ports; each port is ``"80"`` or a range ``"8000-8080"``."""

    resource_type: Literal["L4PortSetServiceEntry"] = "L4PortSetServiceEntry"
    id: OptionalNsxId = ""
    l4_protocol: Literal["TCP", "UDP", "SCTP"]
    destination_ports: tuple[PortEntry, ...] = ()
    source_ports: tuple[PortEntry, ...] = ()


class ICMPTypeServiceEntry(NsxModel):
    """ICMP, optionally one type (and, with a type, one code). The evaluator matches the
    protocol only: flows carry no ICMP type."""

    resource_type: Literal["ICMPTypeServiceEntry"] = "ICMPTypeServiceEntry"
    id: OptionalNsxId = ""
    protocol: Literal["ICMPv4", "ICMPv6"] = "ICMPv4"
    icmp_type: IcmpNumber | None = None
    icmp_code: IcmpNumber | None = None

    @model_validator(mode="after")
    def _code_needs_type(self) -> ICMPTypeServiceEntry:
        if self.icmp_code is not None and self.icmp_type is None:
            raise PydanticCustomError("invalid_icmp", "icmp_code needs an icmp_type")
        return self


class IPProtocolServiceEntry(NsxModel):
    """Any IP protocol by number."""

    resource_type: Literal["IPProtocolServiceEntry"] = "IPProtocolServiceEntry"
    id: OptionalNsxId = ""
    protocol_number: int = Field(ge=0, le=255)


ServiceEntry = Annotated[
    L4PortSetServiceEntry | ICMPTypeServiceEntry | IPProtocolServiceEntry,
    Field(discriminator="resource_type"),
]


class Service(PolicyResource):
    """A named service (``/infra/services/<id>``): what its entries match, for rules that
    name it in ``services``. NSX requires at least one entry."""

    resource_type: Literal["Service"] = "Service"
    parent_path: str = "/infra"
    service_type: Literal["NON_ETHER", "ETHER"] = "NON_ETHER"
    service_entries: tuple[ServiceEntry, ...] = Field(min_length=1)


def _check_any_alone(values: tuple[str, ...]) -> tuple[str, ...]:
    """NSX: ``ANY`` stands alone in a group, service or scope list."""
    if ANY in values and len(values) > 1:
        raise PydanticCustomError("invalid_any", "'ANY' cannot be listed with paths")
    return values


class Rule(PolicyResource):
    """A firewall rule of a security policy; ``parent_path`` is the policy's path."""

    resource_type: Literal["Rule"] = "Rule"
    sequence_number: int = Field(default=0, ge=0, le=999_999)
    rule_id: int = Field(default=0, ge=0)
    source_groups: tuple[PathOrAny, ...] = (ANY,)
    destination_groups: tuple[PathOrAny, ...] = (ANY,)
    sources_excluded: bool = False
    destinations_excluded: bool = False
    services: tuple[PathOrAny, ...] = (ANY,)
    service_entries: tuple[ServiceEntry, ...] = ()
    scope: tuple[PathOrAny, ...] = (ANY,)
    action: Action = "ALLOW"
    direction: Direction = "IN_OUT"
    ip_protocol: Literal["IPV4", "IPV6", "IPV4_IPV6"] = "IPV4_IPV6"
    disabled: bool = False
    logged: bool = False

    _any_alone = field_validator("source_groups", "destination_groups", "services",
                                 "scope")(_check_any_alone)


class SecurityPolicy(PolicyResource):
    """A security policy with its rules inline (NSX returns them as ``rules``)."""

    resource_type: Literal["SecurityPolicy"] = "SecurityPolicy"
    category: Category = "Application"
    sequence_number: int = Field(default=0, ge=0, le=999_999)
    scope: tuple[PathOrAny, ...] = (ANY,)
    stateful: bool = True
    tcp_strict: bool = False
    rules: tuple[Rule, ...] = ()

    _any_alone = field_validator("scope")(_check_any_alone)

    @field_validator("rules")
    @classmethod
    def _distinct_rules(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise PydanticCustomError("duplicate_rule", f"rule id {rule.id!r} is given twice")
            seen.add(rule.id)
        return rules

    @model_validator(mode="after")
    def _rules_under_policy(self) -> SecurityPolicy:
        for rule in self.rules:
            if rule.parent_path != self.path or rule.path != f"{self.path}/rules/{rule.id}":
                raise PydanticCustomError(
                    "rule_path", f"rule {rule.id!r}: path {rule.path!r} / parent_path "
                    f"{rule.parent_path!r} are not under the policy's path {self.path!r}")
        return self

    def references(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        for i, path in enumerate(self.scope):
            if path != ANY:
                refs[f"scope[{i}]"] = path
        for rule in self.rules:
            for field in ("source_groups", "destination_groups", "scope", "services"):
                for i, path in enumerate(getattr(rule, field)):
                    if path != ANY:
                        refs[f"rules[{rule.id}].{field}[{i}]"] = path
        return refs


def group_path(group_id: str) -> str:
    """The Policy path of a group in the default domain."""
    return f"{DOMAIN}/groups/{group_id}"


def security_policy_path(policy_id: str) -> str:
    """The Policy path of a security policy in the default domain."""
    return f"{DOMAIN}/security-policies/{policy_id}"


def rule_path(policy_id: str, rule_id: str) -> str:
    """The Policy path of a rule."""
    return f"{security_policy_path(policy_id)}/rules/{rule_id}"


def service_path(service_id: str) -> str:
    """The Policy path of a named service."""
    return f"/infra/services/{service_id}"
