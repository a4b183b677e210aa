"""Cluster-wide admin policies to NSX security policies, ordered around NetworkPolicy.

Kubernetes' network-policy-api (``policy.networking.k8s.io``) adds tiers around the
namespaced NetworkPolicy: **Admin** (AdminNetworkPolicy v1alpha1, ClusterNetworkPolicy
v1alpha2 with ``tier: Admin``) is evaluated first and can Allow, Deny or Pass (hand the
decision down); **Baseline** (BaselineAdminNetworkPolicy v1alpha1, ClusterNetworkPolicy with
``tier: Baseline``) only decides for pods that no NetworkPolicy selects. NSX's categories give
exactly that order (reference: nsx-ncp.md 4.1, 4.3):

* Admin-tier policies go to ``admin_category`` (``Environment``: before every Application
  rule), one SecurityPolicy each with ``sequence_number`` = ``spec.priority`` (0-1000, lower
  first). Allow/Accept → ALLOW, Deny → DROP, Pass → ``JUMP_TO_APPLICATION``, which skips
  the remaining admin rules to the Application category, where NetworkPolicies live.
* Baseline-tier policies go to ``Application`` with ``sequence_number`` =
  ``baseline_sequence_base`` + priority (a BaselineAdminNetworkPolicy has no priority: +0).
  The base (5000) is above NCP's NetworkPolicy isolation policies (2090), so a pod isolated
  by a NetworkPolicy is decided there and only a pod that no NetworkPolicy selects reaches
  the baseline. A ``Pass`` in the Baseline tier hands the flow to the Kubernetes default,
  which allows it, so it is ALLOW (JUMP_TO_APPLICATION would be a no-op there).
* Two policies with the same sequence number in one category are ordered by NSX
  non-deterministically; ``sdn``'s evaluator orders them by path, so equal priorities are
  decided by id: ``anp_...`` before ``banp_...`` before ``cnp_...``, then by name. The API
  says the behaviour of equal priorities is undefined, so this is one valid choice, and a
  stable one.

Rules keep their listed order (ingress rules, then egress; sequence 10, 20, ...): within a
policy the first matching rule wins, as the API specifies. Ingress rules are direction IN
with the peers as sources, egress rules direction OUT with the peers as destinations; every
rule applies to the subject group.

Selectors map to tag conditions as in :mod:`ncp.translate.networkpolicy` (both build with
:mod:`ncp.translate.dfwkit`), with one addition: groups that select pods through namespaces
also require the ``ncp/project`` tag, because the cluster's node ports carry ``ncp/cluster``
too and the API says nodes (host-network pods) are never subjects or pod peers. The egress
``nodes`` peer selects exactly those node ports: ``ncp/node_name`` present and
``ncp/project`` absent, plus the node label conditions; ``networks`` is an address
expression. ``domainNames`` has no NSX group form and is rejected (``UNSUPPORTED_PEER``), as
the API's "fail closed" asks of an implementation that cannot honour a peer.

Ports: v1alpha1 ``ports[]`` items ``portNumber {protocol, port}``, ``portRange {protocol,
start, end}`` and ``namedPort``; v1alpha2 ``protocols[]`` items ``tcp|udp|sctp:
{destinationPort: {number | range: {start, end}}}`` and ``destinationNamedPort`` (``ports`` is
also read on ClusterNetworkPolicy). Named ports (which name no protocol here) resolve against
the destination pods' container ports as in NetworkPolicy, one rule per (protocol, number).

Ids: ``anp_<cluster>_<name>``, ``banp_<cluster>_<name>``, ``cnp_<cluster>_<name>`` for the
policy; its groups add ``_subject``, ``_in<i>_peer<j>``, ``_eg<i>_peer<j>``, ``_in<i>_port<n>``.
The objects are cluster-scoped: tags are ``naming.base_tags(cluster)`` plus
``ncp/admin_policy=<kind>/<name>``.

Bad input: ``UNKNOWN_ACTION``, ``UNKNOWN_TIER``, ``INVALID_PRIORITY`` (outside 0-1000),
``INVALID_SUBJECT``, ``INVALID_PEER``, ``UNSUPPORTED_PEER``, ``INVALID_POLICY`` and the
selector, port and CIDR codes of NetworkPolicy; a bad policy yields no objects, one problem
named ``<Kind>/<name>``, and never affects the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.dfwkit.addresses import in_networks, parse_cidr
from ncp.translate.dfwkit.errors import ErrorCollector, PolicyInputError, translate_each
from ncp.translate.dfwkit.ports import PortSpec, check_port_name, check_port_number, check_protocol
from ncp.translate.dfwkit.rules import (
    SIDES,
    RuleDraft,
    Side,
    build_policy,
    expand_rule,
    make_group,
)
from ncp.translate.dfwkit.selectors import (
    ClusterView,
    PodPredicate,
    cluster_condition,
    conjunction,
    parse_selector,
    selector_conditions,
    selector_matches,
)
from ncp.translate.policyinputs import NamespaceInfo, PodInfo, PolicyTranslation
from sdn.model import (
    ANY,
    CATEGORY_ORDER,
    MAX_TAG_VALUE,
    Condition,
    Group,
    IPAddressExpression,
    SecurityPolicy,
)
from sdn.model.dfw import Category, Expression

__all__ = ["ADMIN_KINDS", "SCOPE_ADMIN_POLICY", "translate_admin_policies"]

#: Tag scope naming the admin policy an object was made for (``<kind>/<name>``).
SCOPE_ADMIN_POLICY = "ncp/admin_policy"


@dataclass(frozen=True)
class _Kind:
    prefix: str
    actions: Mapping[str, str]
    has_priority: bool
    has_tier: bool


_ADMIN_ACTIONS = {"Allow": "ALLOW", "Deny": "DROP", "Pass": "JUMP_TO_APPLICATION"}

#: The kinds read, with their id prefix and the actions they allow.
ADMIN_KINDS: Mapping[str, _Kind] = {
    "AdminNetworkPolicy": _Kind("anp", _ADMIN_ACTIONS, has_priority=True, has_tier=False),
    "BaselineAdminNetworkPolicy": _Kind("banp", {"Allow": "ALLOW", "Deny": "DROP"},
                                        has_priority=False, has_tier=False),
    "ClusterNetworkPolicy": _Kind("cnp", {"Accept": "ALLOW", "Deny": "DROP",
                                          "Pass": "JUMP_TO_APPLICATION"},
                                  has_priority=True, has_tier=True),
}

_L3_CATEGORIES = tuple(c for c in CATEGORY_ORDER if c != "Ethernet")


@dataclass(frozen=True)
class _Selection:
    """What a subject or peer selects: group criteria and the same as a pod predicate."""

    criteria: tuple[Expression, ...]
    selects: PodPredicate


def _project_exists() -> Condition:
    """The port belongs to a namespace (node ports have no ``ncp/project`` tag)."""
    return Condition(member_type="SegmentPort", value=f"{naming.SCOPE_PROJECT}|")


def _mapping(value: object, code: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyInputError(code, f"{where} is not a mapping")
    return value


def _one_field(value: Mapping[str, Any], allowed: Sequence[str], code: str, where: str) -> str:
    """The single field set in a one-of struct."""
    present = [k for k, v in value.items() if v is not None]
    unknown = [k for k in present if k not in allowed]
    if unknown or len(present) != 1:
        raise PolicyInputError(code, f"{where} must set exactly one of {', '.join(allowed)}"
                               + (f" (not {', '.join(map(str, unknown))})" if unknown else ""))
    return present[0]


class _AdminTranslator:
    """Translates one admin policy; raises :class:`PolicyInputError` on bad input."""

    def __init__(self, obj: K8sObject, kind: _Kind, cluster: str, view: ClusterView) -> None:
        self.obj = obj
        self.kind = kind
        self.cluster = cluster
        self.view = view
        self.prefix = f"{kind.prefix}_{cluster}_{obj.name}"
        owner = f"{obj.kind}/{obj.name}"
        if len(owner) > MAX_TAG_VALUE:
            raise PolicyInputError("NAME_TOO_LONG", f"tag {SCOPE_ADMIN_POLICY}={owner[:40]}... "
                                   f"would exceed {MAX_TAG_VALUE} characters")
        self.tags = (*naming.base_tags(cluster), naming.tag(SCOPE_ADMIN_POLICY, owner))

    # ----------------------------------------------------------------- selections

    def _pods(self, ns_selector: object, pod_selector: object, where: str) -> _Selection:
        """Pods matching a pod selector in namespaces matching a namespace selector."""
        spaces = parse_selector(ns_selector, f"{where}.namespaceSelector")
        pods = parse_selector(pod_selector, f"{where}.podSelector")
        labels_of = self.view.namespace_labels

        def selects(pod: PodInfo) -> bool:
            return (selector_matches(spaces, labels_of(pod.namespace))
                    and selector_matches(pods, pod.labels))

        criteria = (cluster_condition(self.cluster), _project_exists(),
                    *selector_conditions(spaces, "Segment"),
                    *selector_conditions(pods, "SegmentPort"))
        return _Selection(criteria, selects)

    def _namespaces(self, selector: object, where: str) -> _Selection:
        """Every pod of the namespaces a selector matches."""
        return self._pods(selector, None, where)

    def _namespaced_pods(self, value: object, where: str) -> _Selection:
        pods = _mapping(value, "INVALID_PEER", where)
        if pods.get("podSelector") is None:
            raise PolicyInputError("INVALID_PEER", f"{where} needs a podSelector")
        return self._pods(pods.get("namespaceSelector"), pods.get("podSelector"), where)

    def subject(self, spec: Mapping[str, Any]) -> _Selection:
        """The subject: ``namespaces`` or ``pods``."""
        subject = _mapping(spec.get("subject"), "INVALID_SUBJECT", "spec.subject")
        field = _one_field(subject, ("namespaces", "pods"), "INVALID_SUBJECT", "spec.subject")
        where = f"spec.subject.{field}"
        if field == "namespaces":
            return self._namespaces(subject[field], where)
        pods = _mapping(subject[field], "INVALID_SUBJECT", where)
        if pods.get("podSelector") is None:
            raise PolicyInputError("INVALID_SUBJECT", f"{where} needs a podSelector")
        return self._pods(pods.get("namespaceSelector"), pods.get("podSelector"), where)

    def peer(self, item: object, egress: bool, where: str) -> _Selection:
        """One ``from`` / ``to`` peer."""
        peer = _mapping(item, "INVALID_PEER", where)
        allowed = ("namespaces", "pods", "nodes", "networks", "domainNames") if egress \
            else ("namespaces", "pods")
        field = _one_field(peer, allowed, "INVALID_PEER", where)
        at = f"{where}.{field}"
        if field == "namespaces":
            return self._namespaces(peer[field], at)
        if field == "pods":
            return self._namespaced_pods(peer[field], at)
        if field == "nodes":
            nodes = parse_selector(peer[field], at)
            criteria = (cluster_condition(self.cluster),
                        Condition(member_type="SegmentPort", value=f"{naming.SCOPE_NODE}|"),
                        Condition(member_type="SegmentPort", scope_operator="NOTEQUALS",
                                  value=f"{naming.SCOPE_PROJECT}|"),
                        *selector_conditions(nodes, "SegmentPort"))
            return _Selection(criteria, lambda pod: False)  # nodes have no named ports
        if field == "networks":
            texts = peer[field]
            if not isinstance(texts, list) or not texts:
                raise PolicyInputError("INVALID_CIDR", f"{at} is not a list of CIDRs")
            networks = tuple(dict.fromkeys(parse_cidr(t, f"{at}[{n}]")
                                           for n, t in enumerate(texts)))
            expression = IPAddressExpression(ip_addresses=tuple(str(n) for n in networks))
            return _Selection((expression,), in_networks(networks))
        raise PolicyInputError("UNSUPPORTED_PEER",
                               f"{at}: domain name peers have no NSX group form here")

    # ----------------------------------------------------------------- ports

    def ports(self, rule: Mapping[str, Any], where: str, found: ErrorCollector) -> list[PortSpec]:
        """The rule's ports (``ports`` and, on ClusterNetworkPolicy, ``protocols``); the
        errors of every item go to ``found``."""
        specs: list[PortSpec] = []
        keys = ("ports", "protocols") if self.obj.kind == "ClusterNetworkPolicy" else ("ports",)
        for key in keys:
            items = rule.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                found.errors.append(PolicyInputError("INVALID_POLICY",
                                                     f"{where}.{key} is not a list"))
                continue
            for n, item in enumerate(items):
                at = f"{where}.{key}[{n}]"
                parse = self._port if key == "ports" else self._protocol
                spec = found.attempt(None, parse, item, at)
                if spec is not None:
                    specs.append(spec)
        return specs

    @staticmethod
    def _range(protocol: str, start: object, end: object, where: str) -> PortSpec:
        first = check_port_number(start, f"{where}.start")
        last = check_port_number(end, f"{where}.end")
        if first >= last:
            raise PolicyInputError("INVALID_PORT_RANGE",
                                   f"{where}: start {first} must be below end {last}")
        return PortSpec(protocol, first, last)

    def _port(self, item: object, where: str) -> PortSpec:
        """A v1alpha1 ``AdminNetworkPolicyPort``."""
        port = _mapping(item, "INVALID_PORT", where)
        field = _one_field(port, ("portNumber", "namedPort", "portRange"), "INVALID_PORT", where)
        at = f"{where}.{field}"
        if field == "namedPort":
            return PortSpec("", name=check_port_name(port[field], at))
        value = _mapping(port[field], "INVALID_PORT", at)
        protocol = check_protocol(value.get("protocol"), at)
        if field == "portNumber":
            return PortSpec(protocol, check_port_number(value.get("port"), at))
        return self._range(protocol, value.get("start"), value.get("end"), at)

    def _protocol(self, item: object, where: str) -> PortSpec:
        """A v1alpha2 ``ClusterNetworkPolicyProtocol``."""
        value = _mapping(item, "UNKNOWN_PROTOCOL", where)
        present = [k for k, v in value.items() if v is not None]
        known = ("tcp", "udp", "sctp", "destinationNamedPort")
        if len(present) != 1 or present[0] not in known:
            raise PolicyInputError("UNKNOWN_PROTOCOL",
                                   f"{where} must set exactly one of {', '.join(known)}")
        field = present[0]
        at = f"{where}.{field}"
        if field == "destinationNamedPort":
            return PortSpec("", name=check_port_name(value[field], at))
        protocol = field.upper()
        match = _mapping(value[field], "INVALID_PORT", at)
        port = match.get("destinationPort")
        if port is None:
            return PortSpec(protocol)
        port = _mapping(port, "INVALID_PORT", f"{at}.destinationPort")
        kind = _one_field(port, ("number", "range"), "INVALID_PORT", f"{at}.destinationPort")
        if kind == "number":
            return PortSpec(protocol, check_port_number(port["number"], f"{at}.destinationPort"))
        bounds = _mapping(port["range"], "INVALID_PORT", f"{at}.destinationPort.range")
        return self._range(protocol, bounds.get("start"), bounds.get("end"),
                           f"{at}.destinationPort.range")

    # ----------------------------------------------------------------- policy

    def tier(self, spec: Mapping[str, Any]) -> str:
        """``Admin`` or ``Baseline``."""
        if not self.kind.has_tier:
            return "Baseline" if self.kind.prefix == "banp" else "Admin"
        tier = spec.get("tier")
        if tier not in ("Admin", "Baseline"):
            raise PolicyInputError("UNKNOWN_TIER", f"spec.tier {tier!r} is not Admin or Baseline")
        return str(tier)

    def priority(self, spec: Mapping[str, Any]) -> int:
        """``spec.priority`` (0-1000); 0 for a kind without one."""
        if not self.kind.has_priority:
            return 0
        value = spec.get("priority")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            raise PolicyInputError("INVALID_PRIORITY",
                                   f"spec.priority {value!r} is not an integer in 0-1000")
        return value

    def action(self, rule: Mapping[str, Any], baseline: bool, where: str) -> str:
        """The NSX action of a rule (Pass in the Baseline tier: the default, ALLOW)."""
        action = rule.get("action")
        if not isinstance(action, str) or action not in self.kind.actions:
            raise PolicyInputError("UNKNOWN_ACTION", f"{where}.action {action!r} is not one of "
                                   f"{', '.join(self.kind.actions)}")
        nsx = self.kind.actions[action]
        return "ALLOW" if baseline and nsx == "JUMP_TO_APPLICATION" else nsx

    def translate(self, admin_category: Category,
                  baseline_base: int) -> tuple[list[Group], SecurityPolicy]:
        """The policy's groups and its security policy. Every part is parsed even after
        one fails, so that all of the policy's errors are reported at once."""
        spec = _mapping(self.obj.body.get("spec"), "INVALID_POLICY", "spec")
        found = ErrorCollector()
        baseline = found.attempt("Admin", self.tier, spec) == "Baseline"
        priority: int = found.attempt(0, self.priority, spec)
        subject_sel: _Selection = found.attempt(_Selection((), lambda p: False), self.subject,
                                                spec)
        subject = make_group(f"{self.prefix}_subject", conjunction(subject_sel.criteria),
                             self.tags)
        groups: list[Group] = [subject]
        drafts: list[RuleDraft] = []
        for side in SIDES:
            for i, item in enumerate(self._rules(spec, side, found)):
                rule_groups, rule_drafts = self._rule(side, i, item, found, baseline,
                                                      subject_sel)
                groups += rule_groups
                drafts += rule_drafts
        found.check()
        if baseline:
            category: Category = "Application"
            sequence = baseline_base + priority
        else:
            category, sequence = admin_category, priority
        policy = build_policy(policy_id=self.prefix, category=category,
                              sequence_number=sequence, scope=(subject.path,), drafts=drafts,
                              tags=self.tags)
        return groups, policy

    @staticmethod
    def _rules(spec: Mapping[str, Any], side: Side, found: ErrorCollector) -> list[Any]:
        """``spec.ingress`` or ``spec.egress`` (none when absent or not a list: the error
        goes to ``found``)."""
        rules = spec.get(side.key)
        if rules is None:
            return []
        if not isinstance(rules, list):
            found.errors.append(PolicyInputError("INVALID_POLICY",
                                                 f"spec.{side.key} is not a list"))
            return []
        return rules

    def _rule(self, side: Side, i: int, item: object, found: ErrorCollector, baseline: bool,
              subject: _Selection) -> tuple[list[Group], list[RuleDraft]]:
        """One ingress or egress rule: its peer and port groups and its rule drafts.

        Its action, peers and ports are all parsed (their errors go to ``found``); a policy
        with errors yields nothing, so then only its errors count.
        """
        where = f"spec.{side.key}[{i}]"
        rule = found.attempt(None, _mapping, item, "INVALID_POLICY", where)
        if rule is None:
            return [], []
        action: str = found.attempt("ALLOW", self.action, rule, baseline, where)
        items = rule.get(side.peers_key)
        if not isinstance(items, list) or not items:
            found.errors.append(PolicyInputError(
                "INVALID_PEER", f"{where}.{side.peers_key} must list at least one peer"))
            items = []
        peers = [found.attempt(None, self.peer, p, side.direction == "OUT",
                               f"{where}.{side.peers_key}[{j}]")
                 for j, p in enumerate(items)]
        ports = self.ports(rule, where, found)
        if found.errors:
            return [], []
        chosen = [p for p in peers if p is not None]
        peer_groups = [make_group(f"{self.prefix}_{side.short}{i}_peer{j}",
                                  conjunction(p.criteria), self.tags)
                       for j, p in enumerate(chosen)]
        paths = tuple(g.path for g in peer_groups)
        sources: tuple[str, ...]
        destinations: tuple[str, ...]
        receivers: Callable[[], Sequence[PodInfo]]
        if side.direction == "IN":
            sources, destinations = paths, (ANY,)
            receivers = self._selected([subject.selects])
        else:
            sources, destinations = (ANY,), paths
            receivers = self._selected([p.selects for p in chosen])
        name = rule.get("name")
        label = name if isinstance(name, str) and name else f"{side.key}-{i}"
        rule_drafts, port_groups = expand_rule(
            rule_id=f"{side.key}-{i}", display_name=label, action=action,
            direction=side.direction, sources=sources, destinations=destinations,
            ports=ports, destination_pods=receivers,
            port_group_prefix=f"{self.prefix}_{side.short}{i}", tags=self.tags)
        return peer_groups + port_groups, rule_drafts

    def _selected(self, predicates: Sequence[PodPredicate]) -> Callable[[], Sequence[PodInfo]]:
        return lambda: self.view.select(lambda pod: any(s(pod) for s in predicates))


def translate_admin_policies(
    objects: Sequence[K8sObject],
    *,
    cluster: str,
    pods: Sequence[PodInfo],
    namespaces: Sequence[NamespaceInfo],
    admin_category: str = "Environment",
    baseline_sequence_base: int = 5000,
) -> PolicyTranslation:
    """Translate AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy.

    Args:
        objects: The objects; only the three kinds are read, others ignored.
        cluster: The cluster name (``ncp/cluster`` tag value, part of every id).
        pods: The cluster's pods, for named ports.
        namespaces: The cluster's namespaces, for named ports behind namespace selectors.
        admin_category: The NSX category of Admin-tier policies (an L3 category).
        baseline_sequence_base: Added to a Baseline-tier priority to get its
            ``sequence_number`` in the Application category; keep it above NetworkPolicy's
            isolation sequence (2090).

    Returns:
        Groups and policies ordered by kind, then name; problems sorted.

    Raises:
        ValueError: ``admin_category`` is not an L3 category (a caller's mistake, not input).
    """
    if admin_category not in _L3_CATEGORIES:
        raise ValueError(f"admin_category {admin_category!r} is not one of "
                         f"{', '.join(_L3_CATEGORIES)}")
    category: Category = admin_category
    view = ClusterView(pods, namespaces)

    def translate(obj: K8sObject) -> tuple[list[Group], list[SecurityPolicy]]:
        got_groups, policy = _AdminTranslator(obj, ADMIN_KINDS[obj.kind], cluster,
                                              view).translate(category, baseline_sequence_base)
        return got_groups, [policy]
    return translate_each([o for o in objects if o.kind in ADMIN_KINDS],
                          key=lambda o: (o.kind, o.name), name=lambda o: f"{o.kind}/{o.name}",
                          translate=translate)
