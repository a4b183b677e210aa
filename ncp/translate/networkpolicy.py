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

NCP's documented limits (4.5) are checked apart, by
:func:`ncp.translate.networkpolicy_limits.lint_limits`, as warnings for ``sdn lint``; the
emulator itself translates such policies exactly.

What every policy kind shares (selectors, CIDRs, ports, groups, rule expansion, how errors
become problems) is in :mod:`ncp.translate.dfwkit`; this module is NetworkPolicy's shape
around it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.dfwkit.addresses import in_networks, ip_block_cidrs
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
    PodQuery,
    Selector,
    cluster_condition,
    conjunction,
    parse_selector,
    project_condition,
    selector_conditions,
)
from ncp.translate.policyinputs import NamespaceInfo, PodInfo, PolicyTranslation
from sdn.model import ANY, Group, IPAddressExpression, SecurityPolicy
from sdn.model.dfw import Expression

__all__ = ["SCOPE_NETWORK_POLICY", "parse_np_port", "translate_network_policies"]

#: Tag scope naming the NetworkPolicy an object was made for.
SCOPE_NETWORK_POLICY = "ncp/network_policy"


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
    #: The same selection as a query the view answers through its indexes (None for an
    #: ipBlock, which only ``selects`` tells).
    query: PodQuery | None = None


_Receivers = Callable[[], Sequence[PodInfo]]


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
            query = PodQuery(pods, namespace=self.namespace)
            criteria.append(project_condition(self.namespace))
        else:
            query = PodQuery(pods, spaces=parse_selector(ns_sel, f"{where}.namespaceSelector"))
            criteria += selector_conditions(query.spaces or (), "Segment")
        criteria += selector_conditions(pods, "SegmentPort")
        labels_of = self.view.namespace_labels

        def selects(pod: PodInfo) -> bool:
            return query.matches(pod, labels_of)

        return _Peer(make_group(group_id, conjunction(criteria), self.tags), selects, query)

    def translate(self, allow_sequence: int,
                  isolation_sequence: int) -> tuple[list[Group], list[SecurityPolicy]]:
        """The policy's groups and its allow and isolation policies.

        Every part is parsed even after one fails, so that all of a policy's errors are
        reported at once (:class:`ErrorCollector`); a policy with any error yields nothing.
        """
        spec = self._spec()
        found = ErrorCollector()
        target_selector: Selector = found.attempt(
            (), parse_selector, spec.get("podSelector"), "spec.podSelector")
        types: tuple[str, ...] = found.attempt((), _policy_types, spec)
        target = make_group(
            f"{self.prefix}_target",
            conjunction([cluster_condition(self.cluster), project_condition(self.namespace),
                         *selector_conditions(target_selector, "SegmentPort")]),
            self.tags)
        target_pods = self._target_pods(target_selector)
        groups: list[Group] = [target]
        drafts: list[RuleDraft] = []
        for side in SIDES:
            for i, item in enumerate(found.attempt([], _list, spec, side.key, "spec")):
                rule_groups, rule_drafts = self._rule(side, i, item, found, target_pods,
                                                      kept=side.policy_type in types)
                groups += rule_groups
                drafts += rule_drafts
        found.check()
        return groups, self._policies(types, drafts, (target.path,), allow_sequence,
                                      isolation_sequence)

    def _spec(self) -> Mapping[str, Any]:
        """``spec`` (a missing one is empty: the policy selects every pod for ingress)."""
        spec = self.obj.body.get("spec")
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise PolicyInputError("INVALID_POLICY", "spec is not a mapping")
        return spec

    def _target_pods(self, selector: Selector) -> _Receivers:
        """The pods the policy applies to, which receive its ingress (read lazily: only a
        named port needs them)."""
        query = PodQuery(selector, namespace=self.namespace)
        return lambda: self.view.select_any([query])

    def _rule(self, side: Side, i: int, item: object, found: ErrorCollector,
              target_pods: _Receivers, *, kept: bool) -> tuple[list[Group], list[RuleDraft]]:
        """One ``ingress`` or ``egress`` item: its peer and port groups and its rule drafts.

        Its peers and ports are parsed (their errors go to ``found``) even when nothing is
        kept: a rule of a type the policy does not have is validated but, as Kubernetes
        says, ignored; and a policy with errors yields nothing, so only its errors count.
        """
        where = f"spec.{side.key}[{i}]"
        if not isinstance(item, Mapping):
            found.errors.append(PolicyInputError("INVALID_POLICY", f"{where} is not a mapping"))
            return [], []
        prefix = f"{self.prefix}_{side.short}{i}"
        peers = self._peers(item, side, where, prefix, found)
        ports = self._ports(item, where, found)
        if not kept or found.errors:
            return [], []
        paths = tuple(p.group.path for p in peers) or (ANY,)
        sources: tuple[str, ...]
        destinations: tuple[str, ...]
        if side.direction == "IN":
            sources, destinations = paths, (ANY,)
            receivers = target_pods
        else:
            sources, destinations = (ANY,), paths
            receivers = self._peer_pods(peers)
        rule_drafts, port_groups = expand_rule(
            rule_id=f"{side.key}-{i}", display_name=f"{side.key}-{i}", action="ALLOW",
            direction=side.direction, sources=sources, destinations=destinations,
            ports=ports, destination_pods=receivers, port_group_prefix=prefix, tags=self.tags)
        return [*(p.group for p in peers), *port_groups], rule_drafts

    def _peers(self, item: Mapping[str, Any], side: Side, where: str, prefix: str,
               found: ErrorCollector) -> list[_Peer]:
        """The rule's ``from`` / ``to`` peers that parse (the errors of the others go to
        ``found``)."""
        peers: list[_Peer] = []
        for j, p in enumerate(found.attempt([], _list, item, side.peers_key, where)):
            peer = found.attempt(None, self.peer, p, f"{prefix}_peer{j}",
                                 f"{where}.{side.peers_key}[{j}]")
            if peer is not None:
                peers.append(peer)
        return peers

    @staticmethod
    def _ports(item: Mapping[str, Any], where: str, found: ErrorCollector) -> list[PortSpec]:
        """The rule's ports that parse (the errors of the others go to ``found``)."""
        ports: list[PortSpec] = []
        for k, p in enumerate(found.attempt([], _list, item, "ports", where)):
            port = found.attempt(None, parse_np_port, p, f"{where}.ports[{k}]")
            if port is not None:
                ports.append(port)
        return ports

    def _peer_pods(self, peers: Sequence[_Peer]) -> _Receivers:
        """The pods an egress rule can reach: those its peers select, or all for none."""
        if not peers:
            return lambda: self.view.pods
        queries = [p.query for p in peers if p.query is not None]
        predicates = [p.selects for p in peers if p.query is None]
        return lambda: self.view.select_any(queries, predicates)

    def _policies(self, types: Sequence[str], drafts: Sequence[RuleDraft], scope: tuple[str, ...],
                  allow_sequence: int, isolation_sequence: int) -> list[SecurityPolicy]:
        """The allow policy (the drafts) and the isolation policy (one DROP rule per
        effective policy type), both applied to the target group."""
        isolation = [RuleDraft(f"{t.lower()}-isolation", f"{t.lower()}-isolation", (ANY,), (ANY,),
                               (), "DROP", "IN" if t == "Ingress" else "OUT") for t in types]
        return [
            build_policy(policy_id=f"{self.prefix}_allow", category="Application",
                         sequence_number=allow_sequence, scope=scope, drafts=drafts,
                         tags=self.tags),
            build_policy(policy_id=f"{self.prefix}_isolation", category="Application",
                         sequence_number=isolation_sequence, scope=scope, drafts=isolation,
                         tags=self.tags),
        ]


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
