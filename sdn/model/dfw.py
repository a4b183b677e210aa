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
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sdn.model.base import NsxModel, PolicyResource

DOMAIN = "/infra/domains/default"

Category = Literal["Ethernet", "Emergency", "Infrastructure", "Environment", "Application"]

#: Categories in evaluation order (L2 first; L3 from Emergency to Application).
CATEGORY_ORDER: tuple[Category, ...] = (
    "Ethernet", "Emergency", "Infrastructure", "Environment", "Application")

Action = Literal["ALLOW", "DROP", "REJECT", "JUMP_TO_APPLICATION"]
Direction = Literal["IN", "OUT", "IN_OUT"]
ANY = "ANY"


class Condition(NsxModel):
    """A tag criterion on one member type."""

    resource_type: Literal["Condition"] = "Condition"
    member_type: Literal["SegmentPort", "Segment"]
    key: Literal["Tag"] = "Tag"
    operator: Literal["EQUALS", "NOTEQUALS", "IN", "NOTIN"] = "EQUALS"
    scope_operator: Literal["EQUALS", "NOTEQUALS"] = "EQUALS"
    value: str

    @model_validator(mode="after")
    def _has_scope(self) -> Condition:
        if "|" not in self.value:
            raise ValueError(f"tag condition value {self.value!r} is not 'scope|tag'")
        return self

    @property
    def scope(self) -> str:
        """The tag scope the condition looks at."""
        return self.value.split("|", 1)[0]

    @property
    def tag_values(self) -> tuple[str, ...]:
        """The tag value(s) after the ``|`` (comma-separated for IN / NOTIN)."""
        rest = self.value.split("|", 1)[1]
        if self.operator in ("IN", "NOTIN"):
            return tuple(v for v in rest.split(",") if v)
        return (rest,)


class ConjunctionOperator(NsxModel):
    """Joins the criteria around it."""

    resource_type: Literal["ConjunctionOperator"] = "ConjunctionOperator"
    conjunction_operator: Literal["AND", "OR"]


class IPAddressExpression(NsxModel):
    """Addresses and CIDRs (``ipBlock`` peers)."""

    resource_type: Literal["IPAddressExpression"] = "IPAddressExpression"
    ip_addresses: tuple[str, ...]


class PathExpression(NsxModel):
    """Members named by path: segments, ports or other groups."""

    resource_type: Literal["PathExpression"] = "PathExpression"
    paths: tuple[str, ...]


class NestedExpression(NsxModel):
    """A parenthesised sub-expression."""

    resource_type: Literal["NestedExpression"] = "NestedExpression"
    expressions: tuple[Expression, ...]


Expression = Annotated[
    Condition | ConjunctionOperator | IPAddressExpression | PathExpression | NestedExpression,
    Field(discriminator="resource_type"),
]
NestedExpression.model_rebuild()


class Group(PolicyResource):
    """A group; its members are computed from ``expression`` against the inventory."""

    resource_type: Literal["Group"] = "Group"
    expression: tuple[Expression, ...] = ()


class L4PortSetServiceEntry(NsxModel):
    """TCP/UDP/SCTP ports; each port is ``"80"`` or a range ``"8000-8080"``."""

    resource_type: Literal["L4PortSetServiceEntry"] = "L4PortSetServiceEntry"
    id: str = ""
    l4_protocol: Literal["TCP", "UDP", "SCTP"]
    destination_ports: tuple[str, ...] = ()
    source_ports: tuple[str, ...] = ()


class ICMPTypeServiceEntry(NsxModel):
    """ICMP, optionally one type."""

    resource_type: Literal["ICMPTypeServiceEntry"] = "ICMPTypeServiceEntry"
    id: str = ""
    protocol: Literal["ICMPv4", "ICMPv6"] = "ICMPv4"
    icmp_type: int | None = None


class IPProtocolServiceEntry(NsxModel):
    """Any IP protocol by number."""

    resource_type: Literal["IPProtocolServiceEntry"] = "IPProtocolServiceEntry"
    id: str = ""
    protocol_number: int = Field(ge=0, le=255)


ServiceEntry = Annotated[
    L4PortSetServiceEntry | ICMPTypeServiceEntry | IPProtocolServiceEntry,
    Field(discriminator="resource_type"),
]


class Rule(PolicyResource):
    """A firewall rule of a security policy; ``parent_path`` is the policy's path."""

    resource_type: Literal["Rule"] = "Rule"
    sequence_number: int = Field(default=0, ge=0, le=999_999)
    rule_id: int = Field(default=0, ge=0)
    source_groups: tuple[str, ...] = (ANY,)
    destination_groups: tuple[str, ...] = (ANY,)
    sources_excluded: bool = False
    destinations_excluded: bool = False
    services: tuple[str, ...] = (ANY,)
    service_entries: tuple[ServiceEntry, ...] = ()
    scope: tuple[str, ...] = (ANY,)
    action: Action = "ALLOW"
    direction: Direction = "IN_OUT"
    ip_protocol: Literal["IPV4", "IPV6", "IPV4_IPV6"] = "IPV4_IPV6"
    disabled: bool = False
    logged: bool = False


class SecurityPolicy(PolicyResource):
    """A security policy with its rules inline (NSX returns them as ``rules``)."""

    resource_type: Literal["SecurityPolicy"] = "SecurityPolicy"
    category: Category = "Application"
    sequence_number: int = Field(default=0, ge=0, le=999_999)
    scope: tuple[str, ...] = (ANY,)
    stateful: bool = True
    tcp_strict: bool = False
    rules: tuple[Rule, ...] = ()

    def references(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        for i, path in enumerate(self.scope):
            if path != ANY:
                refs[f"scope[{i}]"] = path
        for rule in self.rules:
            for field in ("source_groups", "destination_groups", "scope"):
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
