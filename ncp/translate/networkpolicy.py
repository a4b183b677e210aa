"""Kubernetes NetworkPolicy to NSX distributed-firewall groups and security policies.

NCP in Policy mode (reference: nsx-ncp.md 4.3) puts NetworkPolicy into the *Application*
category, after every admin category, and its open-source twin nsx-operator (4.4) shows the
shape precisely. This module follows that shape, because ``sdn``'s evaluator, ``sdn explain``
and users' scripts read the objects it writes:

* per NetworkPolicy ``P`` in namespace ``N`` of cluster ``C`` a **target group**
  ``np_C_N_P_target`` (the pods ``spec.podSelector`` selects: cluster tag AND project tag AND
  the selector's conditions, all on ``SegmentPort``);
* an **allow policy** ``np_C_N_P_allow`` (``sequence_number`` 2010) with one ALLOW rule per
  ``ingress[]`` item (direction IN, sources = one group per ``from`` peer) and per ``egress[]``
  item (direction OUT, destinations = one group per ``to`` peer);
* an **isolation policy** ``np_C_N_P_isolation`` (2090) with one DROP rule per effective
  policy type. Every allow policy of the cluster sorts before every isolation policy, so a
  pod selected by several NetworkPolicies gets the union of their allows, as Kubernetes says.

Both policies and every rule apply to the target group (``scope``): NSX rejects a rule whose
source, destination and applied-to are all ANY (4.4, item 4), and an explicit rule scope keeps
``sdn explain`` honest about where a rule is enforced.

Selectors become tag conditions (semantics fixed in :mod:`sdn.model.dfw`): ``matchLabels`` and
``In`` / ``NotIn`` / ``Exists`` / ``DoesNotExist`` map one to one, in listed order, with
``matchLabels`` sorted by key. Pod labels are tags on a pod's ``SegmentPort``; namespace labels
are tags on the namespace's ``Segment``, so a ``namespaceSelector`` is a ``Segment`` condition
ANDed with the cluster's ``SegmentPort`` condition. An ``ipBlock`` is an
:class:`~sdn.model.IPAddressExpression` holding the CIDR minus its ``except`` entries,
decomposed into the fewest covering CIDRs (NSX groups cannot subtract). An empty label value
(``app: ""``) cannot be written as a condition (``scope|`` means "any value"), so it is
rejected with ``UNSUPPORTED_SELECTOR`` rather than silently widened.

Ports are ``L4PortSetServiceEntry`` items (``port``-``endPort`` as ``"start-end"``; no port: all
ports of the protocol); a rule with service entries has ``services: []``, because NSX ORs
``services`` with ``service_entries`` and ``["ANY"]`` would let everything through. A **named
port** has no NSX form: like NCP it is resolved against the container ports of the pods that
receive the traffic (ingress: the target pods; egress: the pods the ``to`` peers select, all
pods for an empty ``to``), one rule per distinct (protocol, number), id suffixed ``-<number>``
(``-<number>-<protocol>`` when one number resolves under two protocols), whose destination is
a group of exactly the pods whose port has that number. The result is exact for the pods
given; it is a snapshot that the caller recomputes when pods change, as NCP does.

Rule ``rule_id`` is content-derived (``zlib.crc32`` of the rule path, masked positive), not
NSX's global counter: it must be stable across runs for traceflow and explain output to be
reproducible.

Bad input never raises. A policy with a problem yields **no** objects at all (a half-applied
policy is worse than none: it could allow what the author meant to restrict) and one
:class:`~sdn.errors.Problem` named ``NetworkPolicy/<N>/<P>``; other policies are unaffected.
Codes: ``INVALID_POLICY`` (malformed structure), ``INVALID_POLICY_TYPE``, ``INVALID_PEER``
(a peer with no selector, or an ``ipBlock`` with a selector), ``INVALID_SELECTOR``,
``UNSUPPORTED_SELECTOR``, ``INVALID_CIDR``, ``EXCEPT_OUTSIDE_CIDR``, ``INVALID_PORT``,
``INVALID_PORT_RANGE``, ``UNKNOWN_PROTOCOL``, ``NAME_TOO_LONG`` (an NSX id over 255
characters) and ``DUPLICATE_OBJECT``.

:func:`lint_limits` reports NCP's documented limits (4.5) as warnings for ``sdn lint``; the
emulator itself translates such policies exactly.

The building blocks (selectors, ports, CIDRs, rule expansion) are public because
:mod:`ncp.translate.adminpolicy` maps AdminNetworkPolicy the same way.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from pydantic import ValidationError

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.policyinputs import NamespaceInfo, PodInfo, PolicyTranslation
from sdn.errors import Problem
from sdn.model import (
    ANY,
    Condition,
    ConjunctionOperator,
    Group,
    IPAddressExpression,
    L4PortSetServiceEntry,
    PathExpression,
    Rule,
    SecurityPolicy,
    Tag,
    group_path,
    rule_path,
    security_policy_path,
)
from sdn.model.dfw import DOMAIN, Category, Expression
from sdn.model.reporting import field_location

__all__ = [
    "SCOPE_NETWORK_POLICY",
    "ClusterView",
    "PodPredicate",
    "PolicyInputError",
    "PortSpec",
    "Requirement",
    "RuleDraft",
    "build_policy",
    "check_port_name",
    "check_port_number",
    "check_protocol",
    "cluster_condition",
    "conjunction",
    "content_rule_id",
    "expand_rule",
    "in_networks",
    "ip_block_cidrs",
    "lint_limits",
    "make_group",
    "nsx_error_messages",
    "parse_cidr",
    "parse_np_port",
    "parse_selector",
    "project_condition",
    "selector_conditions",
    "selector_matches",
    "translate_network_policies",
]

#: Tag scope naming the NetworkPolicy an object was made for.
SCOPE_NETWORK_POLICY = "ncp/network_policy"

PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_ID = 255

# NCP's documented limits (nsx-ncp.md 4.5).
LIMIT_MATCH_LABELS = 4
LIMIT_SELECTORS_PER_RULE = 5
LIMIT_NAMESPACES_PER_PEER = 5
LIMIT_PORTS_PER_POLICY = 12

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_KEY = re.compile(rf"(?:(?P<prefix>{_PREFIX})/)?(?P<name>{_NAME})")
_LABEL_VALUE = re.compile(_NAME)
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PodPredicate = Callable[[PodInfo], bool]


class PolicyInputError(Exception):
    """One thing wrong with a policy; the translators turn it into a :class:`Problem`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def errors(self) -> tuple[PolicyInputError, ...]:
        """Every error this one stands for (itself; see :class:`PolicyInputErrors`)."""
        return (self,)


class PolicyInputErrors(PolicyInputError):
    """Several things wrong with one policy, each reported as its own problem."""

    def __init__(self, errors: Sequence[PolicyInputError]) -> None:
        super().__init__(errors[0].code, errors[0].message)
        self._errors = tuple(e for err in errors for e in err.errors)

    @property
    def errors(self) -> tuple[PolicyInputError, ...]:
        return self._errors


T = TypeVar("T")
D = TypeVar("D")


class ErrorCollector:
    """Collects a policy's errors so that one run reports all of them: each part is
    parsed with :meth:`attempt`, which keeps going after a failure with a stand-in value;
    :meth:`check` raises them all at the end."""

    def __init__(self) -> None:
        self.errors: list[PolicyInputError] = []

    def attempt(self, default: D, parse: Callable[..., T], *args: Any) -> T | D:
        """``parse(*args)``, or ``default`` after recording its error."""
        try:
            return parse(*args)
        except PolicyInputError as err:
            self.errors.append(err)
            return default

    def check(self) -> None:
        """Raise every error collected (one :class:`PolicyInputErrors`), if any."""
        if self.errors:
            raise PolicyInputErrors(self.errors)


# --------------------------------------------------------------------------- selectors


@dataclass(frozen=True)
class Requirement:
    """One requirement of a label selector.

    Attributes:
        key: The label key (the tag scope).
        operator: ``Equals`` (from ``matchLabels``), ``In``, ``NotIn``, ``Exists`` or
            ``DoesNotExist``.
        values: The values (one for ``Equals``, none for ``Exists`` / ``DoesNotExist``).
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod or namespace with these labels satisfies the requirement."""
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        value = _text(labels[self.key]) if present else None
        if self.operator == "NotIn":
            return value not in self.values
        return value in self.values

    def condition(self, member_type: str) -> Condition:
        """The NSX tag condition with the same meaning (see :mod:`sdn.model.dfw`)."""
        kind: Any = member_type
        if self.operator == "Equals":
            return Condition(member_type=kind, value=f"{self.key}|{self.values[0]}")
        if self.operator in ("In", "NotIn"):
            return Condition(member_type=kind, operator=self.operator.upper(),
                             value=f"{self.key}|{','.join(self.values)}")
        if self.operator == "Exists":
            return Condition(member_type=kind, value=f"{self.key}|")
        return Condition(member_type=kind, scope_operator="NOTEQUALS", value=f"{self.key}|")


Selector = tuple[Requirement, ...]


def _text(value: object) -> str:
    """A label value as the tags carry it (see :func:`ncp.translate.tags.label_tags`)."""
    return "" if value is None else str(value)


def _label_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise PolicyInputError("INVALID_SELECTOR", f"{where}: label key {key!r} is not a string")
    found = _LABEL_KEY.fullmatch(key)
    if (found is None or len(found["name"]) > 63
            or (found["prefix"] is not None and len(found["prefix"]) > 253)):
        raise PolicyInputError("INVALID_SELECTOR", f"{where}: {key!r} is not a valid label key")
    return key


def _label_value(value: object, where: str, key: str) -> str:
    if isinstance(value, Mapping | list):
        raise PolicyInputError("INVALID_SELECTOR", f"{where}: value of {key!r} is not a string")
    text = _text(value)
    if not text:
        raise PolicyInputError(
            "UNSUPPORTED_SELECTOR",
            f"{where}: an empty value for {key!r} cannot be matched by an NSX tag condition "
            f"('{key}|' means any value); use Exists or a non-empty value")
    if len(text) > 63 or _LABEL_VALUE.fullmatch(text) is None:
        raise PolicyInputError("INVALID_SELECTOR",
                               f"{where}: {text!r} is not a valid value for {key!r}")
    return text


def parse_selector(value: object, where: str) -> Selector:
    """Parse a Kubernetes label selector; ``None`` and ``{}`` select everything.

    Args:
        value: The selector as parsed from YAML.
        where: Its location in the object, for messages (``spec.podSelector``).

    Returns:
        The requirements: ``matchLabels`` sorted by key, then ``matchExpressions`` in order.

    Raises:
        PolicyInputError: ``INVALID_SELECTOR`` for an unknown operator, ``In``/``NotIn``
            without values, ``Exists``/``DoesNotExist`` with values, or malformed keys and
            values; ``UNSUPPORTED_SELECTOR`` for an empty label value.
    """
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise PolicyInputError("INVALID_SELECTOR", f"{where} is not a label selector")
    requirements: list[Requirement] = []
    match_labels = value.get("matchLabels")
    if match_labels is not None:
        if not isinstance(match_labels, Mapping):
            raise PolicyInputError("INVALID_SELECTOR", f"{where}.matchLabels is not a mapping")
        for key in sorted(match_labels, key=str):
            label = _label_key(key, f"{where}.matchLabels")
            requirements.append(Requirement(
                label, "Equals", (_label_value(match_labels[key], f"{where}.matchLabels", label),)))
    expressions = value.get("matchExpressions")
    if expressions is not None:
        if not isinstance(expressions, list):
            raise PolicyInputError("INVALID_SELECTOR", f"{where}.matchExpressions is not a list")
        for n, expr in enumerate(expressions):
            at = f"{where}.matchExpressions[{n}]"
            if not isinstance(expr, Mapping):
                raise PolicyInputError("INVALID_SELECTOR", f"{at} is not a mapping")
            key = _label_key(expr.get("key"), at)
            operator = expr.get("operator")
            values = expr.get("values")
            if values is None:
                values = []
            if not isinstance(values, list):
                raise PolicyInputError("INVALID_SELECTOR", f"{at}.values is not a list")
            if operator in ("In", "NotIn"):
                if not values:
                    raise PolicyInputError("INVALID_SELECTOR",
                                           f"{at}: operator {operator} needs values")
            elif operator in ("Exists", "DoesNotExist"):
                if values:
                    raise PolicyInputError("INVALID_SELECTOR",
                                           f"{at}: operator {operator} takes no values")
            else:
                raise PolicyInputError("INVALID_SELECTOR", f"{at}: unknown operator {operator!r}")
            texts = tuple(dict.fromkeys(_label_value(v, at, key) for v in values))
            requirements.append(Requirement(key, str(operator), texts))
    return tuple(requirements)


def selector_matches(selector: Selector, labels: Mapping[str, str]) -> bool:
    """Whether labels satisfy every requirement (an empty selector matches everything)."""
    return all(r.matches(labels) for r in selector)


def selector_conditions(selector: Selector, member_type: str) -> list[Condition]:
    """The selector's requirements as tag conditions on ``member_type``."""
    return [r.condition(member_type) for r in selector]


def cluster_condition(cluster: str) -> Condition:
    """``ncp/cluster`` EQUALS the cluster, on ``SegmentPort``: every pod port of the cluster."""
    return Condition(member_type="SegmentPort", value=f"{naming.SCOPE_CLUSTER}|{cluster}")


def project_condition(namespace: str) -> Condition:
    """``ncp/project`` EQUALS the namespace, on ``SegmentPort``."""
    return Condition(member_type="SegmentPort", value=f"{naming.SCOPE_PROJECT}|{namespace}")


def conjunction(criteria: Sequence[Expression]) -> tuple[Expression, ...]:
    """The criteria joined by ``AND`` operators (one AND-term of a group expression)."""
    out: list[Expression] = []
    for n, criterion in enumerate(criteria):
        if n:
            out.append(ConjunctionOperator(conjunction_operator="AND"))
        out.append(criterion)
    return tuple(out)


# --------------------------------------------------------------------------- CIDRs


def parse_cidr(value: object, where: str) -> Network:
    """Parse a CIDR (host bits allowed, as Kubernetes allows them: normalised away).

    Raises:
        PolicyInputError: ``INVALID_CIDR`` when it is not ``address/prefix``.
    """
    if not isinstance(value, str) or "/" not in value:
        raise PolicyInputError("INVALID_CIDR", f"{where}: {value!r} is not a CIDR")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise PolicyInputError("INVALID_CIDR", f"{where}: {value!r} is not a CIDR") from None


def ip_block_cidrs(cidr: object, excepts: object, where: str) -> tuple[Network, ...]:
    """The addresses of an ``ipBlock``: ``cidr`` minus every ``except``, as few CIDRs as cover it.

    Args:
        cidr: ``ipBlock.cidr``.
        excepts: ``ipBlock.except`` (``None`` or a list of CIDRs).
        where: The block's location, for messages.

    Returns:
        The covering networks, sorted by address.

    Raises:
        PolicyInputError: ``INVALID_CIDR`` for a malformed CIDR; ``EXCEPT_OUTSIDE_CIDR`` for
            an ``except`` that is not a strict subset of ``cidr`` (Kubernetes' rule).
    """
    block = parse_cidr(cidr, f"{where}.cidr")
    if excepts is None:
        excepts = []
    if not isinstance(excepts, list):
        raise PolicyInputError("INVALID_CIDR", f"{where}.except is not a list")
    holes: list[Network] = []
    for n, text in enumerate(excepts):
        hole = parse_cidr(text, f"{where}.except[{n}]")
        if (hole.version != block.version or hole.prefixlen <= block.prefixlen
                or not hole.subnet_of(block)):  # type: ignore[arg-type]
            raise PolicyInputError("EXCEPT_OUTSIDE_CIDR",
                                   f"{where}.except[{n}]: {hole} is not inside {block}")
        holes.append(hole)
    parts: list[Network] = [block]
    for hole in holes:
        kept: list[Network] = []
        for part in parts:
            if part.subnet_of(hole):  # type: ignore[arg-type]
                continue
            if hole.subnet_of(part):  # type: ignore[arg-type]
                kept.extend(part.address_exclude(hole))  # type: ignore[arg-type]
            else:
                kept.append(part)
        parts = kept
    return tuple(sorted(ipaddress.collapse_addresses(parts)))  # type: ignore[type-var]


def in_networks(networks: Sequence[Network]) -> PodPredicate:
    """A predicate: the pod's address is in one of the networks."""

    def contains(pod: PodInfo) -> bool:
        try:
            ip = ipaddress.ip_address(pod.ip)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    return contains


# --------------------------------------------------------------------------- ports


@dataclass(frozen=True)
class PortSpec:
    """One port item of a rule.

    Attributes:
        protocol: ``TCP``, ``UDP`` or ``SCTP``; ``""`` for a named port of any protocol
            (AdminNetworkPolicy's ``namedPort``).
        start: First port, or None for every port of the protocol (or a named port).
        end: Last port of a range (None: just ``start``).
        name: The port name of a named port (``""`` otherwise).
    """

    protocol: str
    start: int | None = None
    end: int | None = None
    name: str = ""

    def entry(self) -> L4PortSetServiceEntry:
        """The service entry of a numbered (not named) port item."""
        if self.start is None:
            ports: tuple[str, ...] = ()
        elif self.end is None or self.end == self.start:
            ports = (str(self.start),)
        else:
            ports = (f"{self.start}-{self.end}",)
        return L4PortSetServiceEntry(l4_protocol=self.protocol,
                                     destination_ports=ports)


def check_protocol(value: object, where: str) -> str:
    """The protocol (default TCP); ``UNKNOWN_PROTOCOL`` unless TCP, UDP or SCTP."""
    if value is None:
        return "TCP"
    if value not in PROTOCOLS:
        raise PolicyInputError("UNKNOWN_PROTOCOL",
                               f"{where}: protocol {value!r} is not TCP, UDP or SCTP")
    return str(value)


def check_port_number(value: object, where: str) -> int:
    """A port number; ``INVALID_PORT`` unless an integer in 1-65535."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PolicyInputError("INVALID_PORT", f"{where}: port {value!r} is not in 1-65535")
    return value


def check_port_name(value: object, where: str) -> str:
    """A named port; ``INVALID_PORT`` unless a valid IANA service name (as Kubernetes)."""
    if (not isinstance(value, str) or len(value) > 15 or "--" in value
            or _PORT_NAME.fullmatch(value) is None or not re.search("[a-z]", value)):
        raise PolicyInputError(
            "INVALID_PORT",
            f"{where}: port {value!r} is neither a number in 1-65535 nor a port name")
    return value


def parse_np_port(item: object, where: str) -> PortSpec:
    """Parse one ``NetworkPolicyPort`` (``protocol``, ``port``, ``endPort``).

    Raises:
        PolicyInputError: ``UNKNOWN_PROTOCOL``, ``INVALID_PORT`` (outside 1-65535 or a bad
            name), ``INVALID_PORT_RANGE`` (``endPort`` below ``port``, or with a named port
            or without a port).
    """
    if not isinstance(item, Mapping):
        raise PolicyInputError("INVALID_POLICY", f"{where} is not a mapping")
    protocol = check_protocol(item.get("protocol"), where)
    port = item.get("port")
    end = item.get("endPort")
    if port is None:
        if end is not None:
            raise PolicyInputError("INVALID_PORT_RANGE", f"{where}: endPort needs a port")
        return PortSpec(protocol)
    if isinstance(port, str):
        name = check_port_name(port, where)
        if end is not None:
            raise PolicyInputError("INVALID_PORT_RANGE",
                                   f"{where}: endPort cannot be used with named port {name!r}")
        return PortSpec(protocol, name=name)
    start = check_port_number(port, where)
    if end is None:
        return PortSpec(protocol, start)
    last = check_port_number(end, f"{where}.endPort")
    if last < start:
        raise PolicyInputError("INVALID_PORT_RANGE",
                               f"{where}: endPort {last} is below port {start}")
    return PortSpec(protocol, start, last)


# --------------------------------------------------------------------------- objects


def content_rule_id(path: str) -> int:
    """A stable positive rule number derived from the rule's path.

    NSX numbers rules from a global counter; here the number must not depend on creation
    order, so it is ``crc32(path)`` masked to 31 bits (never 0).
    """
    return (zlib.crc32(path.encode()) & 0x7FFFFFFF) or 1


def _check_id(object_id: str) -> str:
    if len(object_id) > MAX_ID:
        raise PolicyInputError(
            "NAME_TOO_LONG",
            f"NSX id {object_id[:40]}... would be {len(object_id)} characters; NSX allows "
            f"{MAX_ID}")
    return object_id


def make_group(group_id: str, expression: Sequence[Expression], tags: Sequence[Tag]) -> Group:
    """A group in the default domain (display name = id, as NSX defaults it)."""
    _check_id(group_id)
    return Group(id=group_id, display_name=group_id, path=group_path(group_id),
                 parent_path=DOMAIN, expression=tuple(expression), tags=tuple(tags))


@dataclass(frozen=True)
class RuleDraft:
    """A rule before it has its place in a policy (sequence number, path, rule_id)."""

    id: str
    display_name: str
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    entries: tuple[L4PortSetServiceEntry, ...]
    action: str
    direction: str


def build_policy(*, policy_id: str, category: Category, sequence_number: int,
                 scope: tuple[str, ...], drafts: Sequence[RuleDraft],
                 tags: Sequence[Tag]) -> SecurityPolicy:
    """A security policy whose rules are the drafts in order (sequence 10, 20, ...).

    Every rule gets ``scope`` as its own applied-to, and ``services: []`` when it has service
    entries (``["ANY"]`` otherwise).
    """
    _check_id(policy_id)
    policy_path = security_policy_path(policy_id)
    rules = []
    for position, draft in enumerate(drafts, start=1):
        _check_id(draft.id)
        path = rule_path(policy_id, draft.id)
        rules.append(Rule(
            id=draft.id, display_name=draft.display_name, path=path, parent_path=policy_path,
            sequence_number=10 * position, rule_id=content_rule_id(path),
            source_groups=draft.sources, destination_groups=draft.destinations,
            services=() if draft.entries else (ANY,), service_entries=draft.entries,
            scope=scope, action=draft.action, direction=draft.direction,
            tags=tuple(tags),
        ))
    return SecurityPolicy(id=policy_id, display_name=policy_id, path=policy_path,
                          parent_path=DOMAIN, category=category,
                          sequence_number=sequence_number, scope=scope, rules=tuple(rules),
                          tags=tuple(tags))


class ClusterView:
    """The cluster's pods and namespace labels, for selections made in Python.

    Only pods with a segment port take part (a pod without one is in no group). Pods are
    kept in (namespace, name) order so that everything derived from them is deterministic.
    """

    def __init__(self, pods: Sequence[PodInfo], namespaces: Sequence[NamespaceInfo]) -> None:
        self._all_pods = pods
        self._all_namespaces = namespaces

    @cached_property
    def pods(self) -> list[PodInfo]:
        """The pods with a port, sorted; read only when a selection needs them (named
        ports), so that a firewall without named ports does not depend on pods (see
        :class:`~ncp.translate.policyinputs.Tracked`)."""
        return sorted((p for p in self._all_pods if p.port_path),
                      key=lambda p: (p.namespace, p.name))

    @cached_property
    def namespaces(self) -> list[NamespaceInfo]:
        """The namespaces, sorted; read only when a selection needs them."""
        return sorted(self._all_namespaces, key=lambda n: n.name)

    @cached_property
    def _ns_labels(self) -> dict[str, Mapping[str, str]]:
        return {n.name: n.labels for n in self._all_namespaces}

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        """The labels of a namespace (none for an unknown one)."""
        return self._ns_labels.get(name, {})

    def select(self, predicate: PodPredicate) -> list[PodInfo]:
        """The pods satisfying the predicate, in (namespace, name) order."""
        return [p for p in self.pods if predicate(p)]


def expand_rule(*, rule_id: str, display_name: str, action: str, direction: str,
                sources: tuple[str, ...], destinations: tuple[str, ...],
                ports: Sequence[PortSpec], destination_pods: Callable[[], Sequence[PodInfo]],
                port_group_prefix: str, tags: Sequence[Tag],
                ) -> tuple[list[RuleDraft], list[Group]]:
    """One policy rule's NSX rules: numbered ports in one rule, named ports resolved.

    Args:
        rule_id: Id of the rule for the numbered ports (``ingress-0``).
        display_name: Its display name.
        action: NSX action.
        direction: ``IN`` or ``OUT``.
        sources: Source group paths (or ``("ANY",)``).
        destinations: Destination group paths (or ``("ANY",)``).
        ports: The rule's ports; empty for every port and protocol.
        destination_pods: The pods that can receive the traffic (called only when a port
            is named).
        port_group_prefix: Prefix of the groups made for resolved named ports.
        tags: Tags of the groups made.

    Returns:
        The rule drafts (the numbered-port rule first, when there is one, then one per
        resolved (protocol, number) in number order) and the groups they need.
    """
    numbered = list(dict.fromkeys(p.entry() for p in ports if not p.name))
    named = [p for p in ports if p.name]
    drafts: list[RuleDraft] = []
    groups: list[Group] = []
    if not ports or numbered:
        drafts.append(RuleDraft(rule_id, display_name, sources, destinations, tuple(numbered),
                                action, direction))
    if not named:
        return drafts, groups
    resolved: dict[tuple[str, int], set[str]] = {}
    for pod in destination_pods():
        for port_name, protocol, number in pod.container_ports:
            if any(spec.name == port_name and spec.protocol in ("", protocol) for spec in named):
                resolved.setdefault((protocol, number), set()).add(pod.port_path)
    clashes = Counter(number for _, number in resolved)
    for protocol, number in sorted(resolved, key=lambda key: (key[1], key[0])):
        suffix = str(number) if clashes[number] == 1 else f"{number}-{protocol.lower()}"
        group = make_group(f"{port_group_prefix}_port{suffix}",
                           (PathExpression(paths=tuple(sorted(resolved[(protocol, number)]))),),
                           tags)
        groups.append(group)
        entry = PortSpec(protocol, number).entry()
        drafts.append(RuleDraft(f"{rule_id}-{suffix}", f"{display_name}-{suffix}", sources,
                                (group.path,), (entry,), action, direction))
    return drafts, groups


# --------------------------------------------------------------------------- NetworkPolicy


def _list(container: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyInputError("INVALID_POLICY", f"{where}.{key} is not a list")
    return value


def _policy_types(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Effective policy types: as given, else Ingress plus Egress when egress rules exist."""
    given = spec.get("policyTypes")
    if given is None or given == []:
        return ("Ingress", "Egress") if spec.get("egress") else ("Ingress",)
    if not isinstance(given, list):
        raise PolicyInputError("INVALID_POLICY_TYPE", "spec.policyTypes is not a list")
    for value in given:
        if value not in ("Ingress", "Egress"):
            raise PolicyInputError("INVALID_POLICY_TYPE",
                                   f"spec.policyTypes: {value!r} is not Ingress or Egress")
    return tuple(t for t in ("Ingress", "Egress") if t in given)


@dataclass(frozen=True)
class _Peer:
    group: Group
    selects: PodPredicate


class _NetworkPolicyTranslator:
    """Translates one NetworkPolicy; raises :class:`PolicyInputError` on bad input."""

    def __init__(self, obj: K8sObject, cluster: str, view: ClusterView) -> None:
        self.obj = obj
        self.cluster = cluster
        self.view = view
        self.namespace = obj.namespace
        self.prefix = f"np_{cluster}_{obj.namespace}_{obj.name}"
        self.tags = (*naming.base_tags(cluster, obj.namespace),
                     naming.tag(SCOPE_NETWORK_POLICY, obj.name))

    def peer(self, item: object, group_id: str, where: str) -> _Peer:
        """One ``from`` / ``to`` peer as a group and a pod predicate."""
        if not isinstance(item, Mapping):
            raise PolicyInputError("INVALID_PEER", f"{where} is not a mapping")
        pod_sel = item.get("podSelector")
        ns_sel = item.get("namespaceSelector")
        block = item.get("ipBlock")
        if block is not None:
            if pod_sel is not None or ns_sel is not None:
                raise PolicyInputError("INVALID_PEER",
                                       f"{where}: ipBlock cannot be combined with a selector")
            if not isinstance(block, Mapping):
                raise PolicyInputError("INVALID_CIDR", f"{where}.ipBlock is not a mapping")
            networks = ip_block_cidrs(block.get("cidr"), block.get("except"), f"{where}.ipBlock")
            expression = (IPAddressExpression(ip_addresses=tuple(str(n) for n in networks)),)
            return _Peer(make_group(group_id, expression, self.tags), in_networks(networks))
        if pod_sel is None and ns_sel is None:
            raise PolicyInputError("INVALID_PEER",
                                   f"{where} has no podSelector, namespaceSelector or ipBlock")
        pods = parse_selector(pod_sel, f"{where}.podSelector")
        criteria: list[Expression] = [cluster_condition(self.cluster)]
        if ns_sel is None:
            namespace = self.namespace
            criteria.append(project_condition(namespace))
            criteria += selector_conditions(pods, "SegmentPort")

            def selects(pod: PodInfo) -> bool:
                return pod.namespace == namespace and selector_matches(pods, pod.labels)
        else:
            spaces = parse_selector(ns_sel, f"{where}.namespaceSelector")
            criteria += selector_conditions(spaces, "Segment")
            criteria += selector_conditions(pods, "SegmentPort")
            labels_of = self.view.namespace_labels

            def selects(pod: PodInfo) -> bool:
                return (selector_matches(spaces, labels_of(pod.namespace))
                        and selector_matches(pods, pod.labels))

        return _Peer(make_group(group_id, conjunction(criteria), self.tags), selects)

    def translate(self, allow_sequence: int,
                  isolation_sequence: int) -> tuple[list[Group], list[SecurityPolicy]]:
        """The policy's groups and its allow and isolation policies.

        Every part is parsed even after one fails, so that all of a policy's errors are
        reported at once (:class:`ErrorCollector`); a policy with any error yields nothing.
        """
        spec = self.obj.body.get("spec")
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise PolicyInputError("INVALID_POLICY", "spec is not a mapping")
        found = ErrorCollector()
        target_selector: Selector = found.attempt(
            (), parse_selector, spec.get("podSelector"), "spec.podSelector")
        types: tuple[str, ...] = found.attempt((), _policy_types, spec)
        target = make_group(
            f"{self.prefix}_target",
            conjunction([cluster_condition(self.cluster), project_condition(self.namespace),
                         *selector_conditions(target_selector, "SegmentPort")]),
            self.tags)
        scope = (target.path,)
        namespace = self.namespace

        def target_pods() -> list[PodInfo]:
            return self.view.select(lambda p: p.namespace == namespace
                                    and selector_matches(target_selector, p.labels))

        groups: list[Group] = [target]
        drafts: list[RuleDraft] = []
        for direction, key, peers_key, short in (("IN", "ingress", "from", "in"),
                                                 ("OUT", "egress", "to", "eg")):
            kept = ("Ingress" if direction == "IN" else "Egress") in types
            for i, item in enumerate(found.attempt([], _list, spec, key, "spec")):
                where = f"spec.{key}[{i}]"
                if not isinstance(item, Mapping):
                    found.errors.append(PolicyInputError("INVALID_POLICY",
                                                         f"{where} is not a mapping"))
                    continue
                peers: list[_Peer] = []
                for j, p in enumerate(found.attempt([], _list, item, peers_key, where)):
                    peer = found.attempt(None, self.peer, p, f"{self.prefix}_{short}{i}_peer{j}",
                                         f"{where}.{peers_key}[{j}]")
                    if peer is not None:
                        peers.append(peer)
                ports: list[PortSpec] = []
                for k, p in enumerate(found.attempt([], _list, item, "ports", where)):
                    port = found.attempt(None, parse_np_port, p, f"{where}.ports[{k}]")
                    if port is not None:
                        ports.append(port)
                if not kept or found.errors:
                    # validated, but Kubernetes ignores rules of an absent type (and a
                    # policy with errors yields nothing: only its errors are collected)
                    continue
                paths = tuple(p.group.path for p in peers) or (ANY,)
                sources: tuple[str, ...]
                destinations: tuple[str, ...]
                if direction == "IN":
                    sources, destinations = paths, (ANY,)
                    receivers: Callable[[], Sequence[PodInfo]] = target_pods
                else:
                    sources, destinations = (ANY,), paths
                    receivers = self._peer_pods(peers)
                rule_drafts, port_groups = expand_rule(
                    rule_id=f"{key}-{i}", display_name=f"{key}-{i}", action="ALLOW",
                    direction=direction, sources=sources, destinations=destinations,
                    ports=ports, destination_pods=receivers,
                    port_group_prefix=f"{self.prefix}_{short}{i}", tags=self.tags)
                groups += [p.group for p in peers] + port_groups
                drafts += rule_drafts
        found.check()
        isolation = [RuleDraft(f"{t.lower()}-isolation", f"{t.lower()}-isolation", (ANY,), (ANY,),
                               (), "DROP", "IN" if t == "Ingress" else "OUT") for t in types]
        policies = [
            build_policy(policy_id=f"{self.prefix}_allow", category="Application",
                         sequence_number=allow_sequence, scope=scope, drafts=drafts,
                         tags=self.tags),
            build_policy(policy_id=f"{self.prefix}_isolation", category="Application",
                         sequence_number=isolation_sequence, scope=scope, drafts=isolation,
                         tags=self.tags),
        ]
        return groups, policies

    def _peer_pods(self, peers: Sequence[_Peer]) -> Callable[[], Sequence[PodInfo]]:
        """The pods an egress rule can reach: those its peers select, or all for none."""
        predicates = [p.selects for p in peers]
        if not predicates:
            return lambda: self.view.pods
        return lambda: self.view.select(lambda pod: any(s(pod) for s in predicates))


def nsx_error_messages(err: ValidationError) -> list[str]:
    """One message per field of the NSX objects that validation refused, for translated
    input (each becomes its own problem)."""
    return [f"the NSX objects would be invalid: {field_location(e.get('loc', ()))}: "
            f"{e.get('msg', '')}" for e in err.errors(include_url=False)]


def translate_network_policies(
    policies: Sequence[K8sObject],
    *,
    cluster: str,
    pods: Sequence[PodInfo],
    namespaces: Sequence[NamespaceInfo],
    allow_sequence: int = 2010,
    isolation_sequence: int = 2090,
) -> PolicyTranslation:
    """Translate NetworkPolicies into NSX groups and security policies (module docstring).

    Args:
        policies: The objects; only ``kind: NetworkPolicy`` ones are read, others ignored.
        cluster: The cluster name (``ncp/cluster`` tag value, part of every id).
        pods: The cluster's pods, for named ports.
        namespaces: The cluster's namespaces, for named ports behind namespace selectors.
        allow_sequence: ``sequence_number`` of every allow policy.
        isolation_sequence: ``sequence_number`` of every isolation policy.

    Returns:
        Groups and policies in (namespace, name) order of the NetworkPolicies, each policy's
        groups in rule order; problems sorted. The same input in any order gives the same
        result.
    """
    view = ClusterView(pods, namespaces)
    return translate_each(
        [p for p in policies if p.kind == "NetworkPolicy"],
        key=lambda p: (p.namespace, p.name),
        name=lambda p: f"NetworkPolicy/{p.namespace}/{p.name}",
        translate=lambda p: _NetworkPolicyTranslator(p, cluster, view).translate(
            allow_sequence, isolation_sequence))


def translate_each(
    objects: Sequence[K8sObject], *, key: Callable[[K8sObject], tuple[str, str]],
    name: Callable[[K8sObject], str],
    translate: Callable[[K8sObject], tuple[Sequence[Group], Sequence[SecurityPolicy]]],
) -> PolicyTranslation:
    """Translate policy objects one by one in ``key`` order (then source): a repeated key
    is DUPLICATE_OBJECT (the first is kept); a bad object becomes a problem on it and
    yields nothing, the others are translated."""
    groups: list[Group] = []
    out: list[SecurityPolicy] = []
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for obj in sorted(objects, key=lambda o: (*key(o), o.source)):
        where = name(obj)
        if key(obj) in seen:
            problems.append(Problem("DUPLICATE_OBJECT", where,
                                    f"given again in {obj.source}; the first is kept"))
            continue
        seen.add(key(obj))
        try:
            got_groups, got_policies = translate(obj)
        except PolicyInputError as err:
            problems += [Problem(e.code, where, e.message) for e in err.errors]
            continue
        except ValidationError as err:
            problems += [Problem("INVALID_POLICY", where, m) for m in nsx_error_messages(err)]
            continue
        groups += got_groups
        out += got_policies
    return PolicyTranslation(tuple(groups), tuple(out), tuple(sorted(problems)))


# --------------------------------------------------------------------------- limits


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def lint_limits(policies: Sequence[K8sObject], *,
                namespaces: Sequence[NamespaceInfo] = ()) -> list[Problem]:
    """NCP's documented NetworkPolicy limits (nsx-ncp.md 4.5), as warnings.

    The emulator translates such policies exactly; real NCP rejects or mishandles them, so
    ``sdn lint`` warns. Malformed parts are skipped here (the translation reports them).

    Codes: ``TOO_MANY_MATCH_LABELS`` (a selector with more than 4 ``matchLabels``),
    ``TOO_MANY_SELECTORS`` (more than 5 pod and namespace selectors in one rule),
    ``TOO_MANY_NAMESPACES`` (a peer with both selectors whose namespace selector matches
    more than 5 of ``namespaces``), ``TOO_MANY_PORTS`` (more than 12 port entries in one
    policy), ``SCTP_UNSUPPORTED_BY_NCP`` and ``NAMED_PORT_EGRESS_TO_ALL`` (a named port in an
    egress rule without ``to``: allow-all egress with named ports is unsupported).

    Args:
        policies: The objects; only NetworkPolicies are read.
        namespaces: The cluster's namespaces (without them ``TOO_MANY_NAMESPACES`` is not
            checked).

    Returns:
        The warnings, sorted.
    """
    view = ClusterView((), namespaces)
    problems: list[Problem] = []
    for obj in sorted((p for p in policies if p.kind == "NetworkPolicy"),
                      key=lambda p: (p.namespace, p.name, p.source)):
        name = f"NetworkPolicy/{obj.namespace}/{obj.name}"

        def warn(code: str, message: str, name: str = name) -> None:
            problems.append(Problem(code, name, message))

        def check_labels(selector: object, where: str) -> None:
            count = len(_mapping(_mapping(selector).get("matchLabels")))
            if count > LIMIT_MATCH_LABELS:
                warn("TOO_MANY_MATCH_LABELS", f"{where} has {count} matchLabels; NCP supports "
                     f"at most {LIMIT_MATCH_LABELS}")

        spec = _mapping(obj.body.get("spec"))
        check_labels(spec.get("podSelector"), "spec.podSelector")
        port_count = 0
        sctp = False
        for key, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(_items(spec.get(key))):
                where = f"spec.{key}[{i}]"
                rule = _mapping(rule)
                selectors = 0
                peers = _items(rule.get(peers_key))
                for j, peer in enumerate(peers):
                    peer = _mapping(peer)
                    at = f"{where}.{peers_key}[{j}]"
                    for sel in ("podSelector", "namespaceSelector"):
                        if peer.get(sel) is not None:
                            selectors += 1
                            check_labels(peer.get(sel), f"{at}.{sel}")
                    if (peer.get("podSelector") is not None
                            and peer.get("namespaceSelector") is not None and namespaces):
                        try:
                            spaces = parse_selector(peer.get("namespaceSelector"), at)
                        except PolicyInputError:
                            continue
                        count = sum(selector_matches(spaces, n.labels) for n in view.namespaces)
                        if count > LIMIT_NAMESPACES_PER_PEER:
                            warn("TOO_MANY_NAMESPACES",
                                 f"{at}.namespaceSelector matches {count} namespaces; with a "
                                 f"podSelector NCP supports at most {LIMIT_NAMESPACES_PER_PEER}")
                if selectors > LIMIT_SELECTORS_PER_RULE:
                    warn("TOO_MANY_SELECTORS", f"{where} has {selectors} selectors; NCP "
                         f"supports at most {LIMIT_SELECTORS_PER_RULE} per rule")
                ports = [_mapping(p) for p in _items(rule.get("ports"))]
                port_count += len(ports)
                sctp = sctp or any(p.get("protocol") == "SCTP" for p in ports)
                if key == "egress" and not peers and any(isinstance(p.get("port"), str)
                                                         for p in ports):
                    warn("NAMED_PORT_EGRESS_TO_ALL", f"{where} allows every destination on a "
                         "named port; NCP does not support named ports in allow-all egress")
        if port_count > LIMIT_PORTS_PER_POLICY:
            warn("TOO_MANY_PORTS", f"{port_count} port entries; more than "
                 f"{LIMIT_PORTS_PER_POLICY} broke NCP restarts (NSX error 60513)")
        if sctp:
            warn("SCTP_UNSUPPORTED_BY_NCP", "SCTP ports are not supported by NCP")
    return sorted(problems)

