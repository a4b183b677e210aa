"""NCP's documented NetworkPolicy limits (nsx-ncp.md 4.5), checked for ``sdn lint``.

The emulator translates a policy beyond these limits exactly, as Kubernetes means it; real
NCP rejects or mishandles it. So the limits are not translation errors but warnings, kept
apart from the translator (:mod:`ncp.translate.networkpolicy`): the translation stays the
specification's, and ``sdn lint`` tells the user what NCP would do differently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ncp.objects import K8sObject
from ncp.translate.dfwkit.errors import PolicyInputError
from ncp.translate.dfwkit.selectors import ClusterView, parse_selector
from ncp.translate.policyinputs import NamespaceInfo
from sdn.errors import Problem

__all__ = [
    "LIMIT_MATCH_LABELS",
    "LIMIT_NAMESPACES_PER_PEER",
    "LIMIT_PORTS_PER_POLICY",
    "LIMIT_SELECTORS_PER_RULE",
    "lint_limits",
]

LIMIT_MATCH_LABELS = 4
LIMIT_SELECTORS_PER_RULE = 5
LIMIT_NAMESPACES_PER_PEER = 5
LIMIT_PORTS_PER_POLICY = 12


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
            checked). Read only when a peer has both selectors, so that the caller can tell
            whether the findings depend on them (:class:`~ncp.translate.policyinputs.Tracked`).

    Returns:
        The warnings, sorted.
    """
    view = ClusterView((), namespaces)
    problems: list[Problem] = []
    for obj in sorted((p for p in policies if p.kind == "NetworkPolicy"),
                      key=lambda p: (p.namespace, p.name, p.source)):
        problems += _PolicyLimits(obj, namespaces, view).findings()
    return sorted(problems)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


class _PolicyLimits:
    """The limit checks of one NetworkPolicy, its warnings named after it."""

    def __init__(self, obj: K8sObject, namespaces: Sequence[NamespaceInfo],
                 view: ClusterView) -> None:
        self.obj = obj
        self.name = f"NetworkPolicy/{obj.namespace}/{obj.name}"
        self.namespaces = namespaces
        self.view = view
        self.problems: list[Problem] = []

    def warn(self, code: str, message: str) -> None:
        """Record one warning on the policy."""
        self.problems.append(Problem(code, self.name, message))

    def findings(self) -> list[Problem]:
        """Every warning of the policy: its selectors, each rule, then its ports in total."""
        spec = _mapping(self.obj.body.get("spec"))
        self.match_labels(spec.get("podSelector"), "spec.podSelector")
        ports: list[Mapping[str, Any]] = []
        for key, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(_items(spec.get(key))):
                ports += self.rule(_mapping(rule), f"spec.{key}[{i}]", key, peers_key)
        if len(ports) > LIMIT_PORTS_PER_POLICY:
            self.warn("TOO_MANY_PORTS", f"{len(ports)} port entries; more than "
                      f"{LIMIT_PORTS_PER_POLICY} broke NCP restarts (NSX error 60513)")
        if any(p.get("protocol") == "SCTP" for p in ports):
            self.warn("SCTP_UNSUPPORTED_BY_NCP", "SCTP ports are not supported by NCP")
        return self.problems

    def match_labels(self, selector: object, where: str) -> None:
        """``TOO_MANY_MATCH_LABELS`` for a selector with more than NCP takes."""
        count = len(_mapping(_mapping(selector).get("matchLabels")))
        if count > LIMIT_MATCH_LABELS:
            self.warn("TOO_MANY_MATCH_LABELS", f"{where} has {count} matchLabels; NCP supports "
                      f"at most {LIMIT_MATCH_LABELS}")

    def rule(self, rule: Mapping[str, Any], where: str, key: str,
             peers_key: str) -> list[Mapping[str, Any]]:
        """The checks of one ingress or egress rule; returns its port entries (the policy's
        limits count them all)."""
        peers = _items(rule.get(peers_key))
        selectors = sum(self.peer(_mapping(peer), f"{where}.{peers_key}[{j}]")
                        for j, peer in enumerate(peers))
        if selectors > LIMIT_SELECTORS_PER_RULE:
            self.warn("TOO_MANY_SELECTORS", f"{where} has {selectors} selectors; NCP "
                      f"supports at most {LIMIT_SELECTORS_PER_RULE} per rule")
        ports = [_mapping(p) for p in _items(rule.get("ports"))]
        if key == "egress" and not peers and any(isinstance(p.get("port"), str) for p in ports):
            self.warn("NAMED_PORT_EGRESS_TO_ALL", f"{where} allows every destination on a "
                      "named port; NCP does not support named ports in allow-all egress")
        return ports

    def peer(self, peer: Mapping[str, Any], at: str) -> int:
        """The checks of one peer; returns how many selectors it has (NCP's per-rule limit
        counts pod and namespace selectors alike)."""
        selectors = 0
        for sel in ("podSelector", "namespaceSelector"):
            if peer.get(sel) is not None:
                selectors += 1
                self.match_labels(peer.get(sel), f"{at}.{sel}")
        if (peer.get("podSelector") is not None
                and peer.get("namespaceSelector") is not None and self.namespaces):
            self.namespace_count(peer.get("namespaceSelector"), at)
        return selectors

    def namespace_count(self, selector: object, at: str) -> None:
        """``TOO_MANY_NAMESPACES`` when a namespace selector that comes with a pod selector
        matches more namespaces than NCP supports (a malformed one is the translation's to
        report)."""
        try:
            spaces = parse_selector(selector, at)
        except PolicyInputError:
            return
        count = len(self.view.namespace_positions(spaces))
        if count > LIMIT_NAMESPACES_PER_PEER:
            self.warn("TOO_MANY_NAMESPACES",
                      f"{at}.namespaceSelector matches {count} namespaces; with a "
                      f"podSelector NCP supports at most {LIMIT_NAMESPACES_PER_PEER}")
