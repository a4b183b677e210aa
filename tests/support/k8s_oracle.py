"""A naive, independent oracle for Kubernetes network-policy semantics.

Why this exists
===============
The project translates Kubernetes policies into NSX distributed-firewall rules. To test
that translation we need an answer key that shares *no code* with it: this module never
imports ``sdn`` or ``ncp``. It is written straight from the API documentation, reads
policies as plain dicts (exactly as YAML manifests parse), loops over everything, caches
nothing and is meant to be checked by reading. Speed is irrelevant: a 9-pod cluster is
evaluated in milliseconds.

It answers one question: may a *new connection* from ``src`` to ``dst`` on
``protocol``/``port`` be opened? Replies of an allowed connection are out of scope (every
API involved says replies are implicitly allowed).

Sources (paraphrased, not quoted)
=================================
* NetworkPolicy: ``networking.k8s.io/v1`` API reference (``NetworkPolicySpec``,
  ``NetworkPolicyPeer``, ``NetworkPolicyPort``, ``IPBlock``), the "Network Policies"
  concepts page and the API-server defaulting function ``SetDefaults_NetworkPolicy``.
* AdminNetworkPolicy / BaselineAdminNetworkPolicy: ``policy.networking.k8s.io/v1alpha1``
  Go types in kubernetes-sigs/network-policy-api (``adminnetworkpolicy_types.go``,
  ``baselineadminnetworkpolicy_types.go``, ``shared_types.go``), and the policy-assistant
  simulator in the same repository (``cmd/policy-assistant/pkg/matcher``) where the types
  are silent.
* ClusterNetworkPolicy: ``policy.networking.k8s.io/v1alpha2`` Go types
  (``clusternetworkpolicy_types.go``).
* Label selectors: ``metav1.LabelSelector`` documentation.

Semantic rules implemented, each with the spec statement it comes from
=====================================================================

Label selectors
---------------
S1. matchLabels and matchExpressions are ANDed; every requirement must hold ("The result
    of matchLabels and matchExpressions are ANDed").
S2. An empty selector ``{}`` selects everything; a null selector selects nothing ("An
    empty label selector matches all objects. A null label selector matches no objects").
    ``label_selector_matches(None, ...)`` is therefore ``False``; callers handle fields
    whose *absence* means something else (see N5, A4).
S3. Operators: ``In`` (key present and value listed), ``NotIn`` (key absent, or value not
    listed; the apimachinery selector treats a missing key as satisfying NotIn),
    ``Exists``, ``DoesNotExist``. Any other operator is invalid for a LabelSelector.

NetworkPolicy (networking.k8s.io/v1)
------------------------------------
N1. A policy applies to the pods of its own namespace that ``spec.podSelector`` selects;
    an empty podSelector selects every pod of the namespace ("An empty podSelector selects
    all pods in this namespace").
N2. policyTypes defaulting: when ``policyTypes`` is absent or empty, every policy affects
    Ingress, and it affects Egress too if it has a non-empty ``egress`` list ("policies
    that contain an egress section are assumed to affect egress, and all policies
    (whether or not they contain an ingress section) are assumed to affect ingress"). The
    API server's defaulting tests ``len(spec.egress) != 0``, so ``egress: []`` does NOT
    add Egress.
N3. Isolation is per direction: a pod is isolated for ingress (egress) iff at least one
    policy selecting it lists Ingress (Egress) in its policyTypes. A non-isolated
    direction allows everything ("By default, a pod is non-isolated for ingress/egress").
N4. Policies are additive: traffic in an isolated direction is allowed iff at least one
    rule of at least one policy that selects the pod for that direction allows it ("the
    traffic matches at least one ingress rule across all of the NetworkPolicy objects
    whose podSelector matches the pod"). A policy with no rules for a direction it
    affects allows nothing ("serves solely to ensure that the pods it selects are
    isolated").
N5. Rules: a rule matches when its peers match AND its ports match. An absent or empty
    ``from``/``to`` matches every peer; absent or empty ``ports`` matches every port
    ("If this field is empty or missing, this rule matches all sources/destinations",
    "...matches all ports").
N6. Peers: ``podSelector`` alone selects pods in the policy's namespace;
    ``namespaceSelector`` alone selects all pods in the selected namespaces; both in ONE
    peer select the matching pods in the matching namespaces (AND); separate peers are
    ORed. ``ipBlock`` cannot be combined with the selectors, and a peer must set at least
    one field (both rejected by validation; the oracle raises ``ValueError``).
N7. ipBlock: the remote address must be inside ``cidr`` and outside every ``except`` CIDR.
N8. Ports: ``protocol`` defaults to TCP; if ``port`` is absent every port of that protocol
    matches; a numeric ``port`` with ``endPort`` matches the inclusive range
    ``port..endPort``; ``endPort`` is invalid without a numeric port or below ``port``
    (``ValueError``). "If present, only traffic on the specified protocol AND port will be
    matched."
N9. Named ports are resolved on the *destination* pod (for ingress the policy's own pod,
    for egress the peer pod): the named port matches when the destination pod has a
    container port with that name whose protocol and number equal the traffic's, and the
    policy port's protocol (default TCP) equals the traffic protocol.
N10. A connection needs both the egress verdict at the source and the ingress verdict at
    the destination ("For a connection from a source pod to a destination pod to be
    allowed, both the egress policy on the source pod and the ingress policy on the
    destination pod need to allow the connection").

AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)
------------------------------------------------------
A1. ``priority`` is 0..1000; lower values are evaluated first ("the lowest priority, 0,
    corresponds to the highest importance"). Values outside the range raise ``ValueError``.
A2. Within one policy the rules of a direction are evaluated in the order they are
    written; the first matching rule decides ("a rule that appears at the top of the
    ingress/egress rules would take the highest precedence").
A3. Actions: ``Allow`` allows regardless of NetworkPolicy and BANP; ``Deny`` denies
    before NetworkPolicy/BANP are consulted; ``Pass`` skips all remaining ANP rules and
    hands the decision to NetworkPolicy, or, if no NetworkPolicy selects the pod, to the
    BANP.
A4. Subject: exactly one of ``namespaces`` (a namespace selector: all pods in matching
    namespaces) or ``pods`` (``namespaceSelector`` AND ``podSelector``; either one absent
    means empty = all, because they are non-pointer fields).
A5. Peers: exactly one field per peer. Ingress peers: ``namespaces``, ``pods``. Egress
    peers: also ``networks`` (CIDRs), ``nodes``, ``domainNames``. The peers of a rule are
    ORed. A rule matches when one peer matches AND its ports match.
A6. Ports: absent means all ports ("If Ports is not set then the rule does not filter
    traffic via port"). Entries: ``portNumber {protocol, port}``, ``namedPort``,
    ``portRange {protocol, start, end}`` (inclusive); protocol defaults to TCP.
A7. "Fail closed": a peer with no field set, or one this oracle does not know, makes an
    ``Allow`` rule match nothing and turns a ``Deny``/``Pass`` rule into "deny all". The
    same treatment is applied to a port entry that does not set exactly one known field.
A8. An ANP with no rules for a direction does not affect that direction.

BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)
--------------------------------------------------------------
B1. A singleton; actions ``Allow`` and ``Deny`` only (``Pass`` raises ``ValueError``).
B2. It is consulted only for traffic not decided by the Admin tier (no match, or Pass)
    AND only for a pod that no NetworkPolicy isolates in that direction ("rules applied
    to the selected pods if they are not matched by any AdminNetworkPolicy or
    NetworkPolicy rules"; NetworkPolicy "always makes a final decision for selected
    pods").
B3. Subject, peers, ports and in-order rule evaluation as for ANP (A2, A4-A7).

ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2)
--------------------------------------------------------
C1. ``spec.tier`` is ``Admin`` or ``Baseline``; ``spec.priority`` 0..1000, lower first.
C2. Tier order: Admin tier, then NetworkPolicy, then Baseline tier (only for pods not
    selected by a NetworkPolicy for that direction), then the Kubernetes default: allow.
C3. Actions ``Accept`` and ``Deny`` are final; ``Pass`` skips the rest of the current
    tier and continues with the next tier. ``Pass`` is only meaningful in the Admin tier;
    a Baseline-tier ``Pass`` raises ``ValueError``.
C4. Subject and peers as for ANP (A4, A5, A7).
C5. ``protocols`` (current v1alpha2): absent or empty matches all traffic; entries are
    ``tcp``/``udp``/``sctp`` with an optional ``destinationPort`` of ``number`` or
    ``range {start, end}`` (inclusive), or ``destinationNamedPort`` (resolved on the
    destination pod as in N9, protocol taken from the container port).
C6. ``networks`` peers are checked against pod IPs too ("cluster-internal traffic will be
    checked against the rule as well").

Choices where the specifications are silent (or say "implementation-defined")
============================================================================
X1. Equal priorities in the Admin tier (ANP vs ANP, CNP vs CNP, ANP vs CNP): ordered by
    ``metadata.name`` ascending; at equal priority and name an ANP precedes a CNP. (The
    specs call this undefined; admins must avoid it.)
X2. BANP versus Baseline-tier CNPs (two API versions that are not meant to coexist):
    Baseline CNPs by (priority, name) first, the BANP last, as if its priority were
    infinite.
X3. Traffic a pod sends to itself is always allowed and never evaluated. ``matrix`` only
    lists distinct pods.
X4. Host-network pods, node traffic ("traffic from the pod's local node is always
    allowed"), Services/NAT, DNS and ``domainNames`` are out of scope. ``nodes`` and
    ``domainNames`` peers are recognised but match nothing.
X5. ipBlock (NetworkPolicy) and ``networks`` (ANP/CNP) match pod IPs as well as external
    addresses. The NetworkPolicy concepts page says ipBlock is meant for cluster-external
    IPs and leaves pod-IP behaviour to the implementation; the upstream e2e suite and
    policy-assistant apply ipBlock to pod IPs, so we do too.
X6. An endpoint given as a ``str`` is always external, even if it equals a pod IP.
    External-to-external traffic is not a question for this oracle (``ValueError``).
    Traffic from an external IP is only checked at the destination's ingress; traffic to
    an external IP only at the source's egress. Named ports never match an external
    destination (it has no container ports). ANP/CNP ingress peers cannot select an
    external source (there is no ingress ``networks`` peer), so only a fail-closed rule
    (A7) affects it.
X7. Empty ``ports: []`` in ANP/BANP means all ports (as policy-assistant does), and so does
    ``protocols: []`` in CNP (the type says "If match is empty, then the rule will match
    all traffic" in the draft that introduced it).
X8. A CNP rule may also use the older v1alpha2 draft field ``ports`` (ANP syntax); it is
    read with the ANP rules (A6). ``protocols`` wins if both are present.
X9. A NetworkPolicy without ``metadata.namespace`` lives in ``default`` (what kubectl and
    policy-assistant do). A missing or null ``spec.podSelector`` is an empty selector
    (the field is a non-pointer struct). A null value for any optional field is treated
    exactly like an absent field.
X10. The BANP name is not checked (the API only admits ``default``); two BANPs raise
    ``ValueError``.
X11. Protocol names are compared case-insensitively and normalised to upper case.
X12. An ANP/BANP/CNP rule with no peers (``from``/``to`` absent or empty; validation
    requires at least one) fails closed like an empty peer (A7).
X13. Fail-closed (A7) is also applied to port/protocol entries that do not set exactly
    one known field; the spec states it only for peers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

INGRESS = "Ingress"
EGRESS = "Egress"

Policy = Mapping[str, Any]


# --------------------------------------------------------------------------- data model


@dataclass
class ContainerPort:
    """A named container port; named ports in policies resolve against these."""

    name: str
    protocol: str
    port: int


@dataclass
class Namespace:
    """A namespace and its labels (namespace selectors look at these)."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Pod:
    """A pod: where it lives, its labels, its single IPv4/IPv6 address and its ports."""

    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = ""
    ports: tuple[ContainerPort, ...] = ()

    @property
    def key(self) -> str:
        """``"namespace/name"``: the identity used in matrices and truth tables."""
        return f"{self.namespace}/{self.name}"


@dataclass
class Cluster:
    """Everything the oracle looks at; policies are plain manifest dicts."""

    namespaces: Sequence[Namespace]
    pods: Sequence[Pod]
    network_policies: Sequence[Policy] = ()
    admin_policies: Sequence[Policy] = ()
    baseline_admin_policy: Policy | None = None
    cluster_network_policies: Sequence[Policy] = ()

    def __post_init__(self) -> None:
        """Reject clusters the oracle could only answer by guessing."""
        names = [ns.name for ns in self.namespaces]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate namespaces in {names}")
        keys = [pod.key for pod in self.pods]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate pods in {keys}")
        for pod in self.pods:
            if pod.namespace not in names:
                raise ValueError(f"pod {pod.key} is in unknown namespace {pod.namespace!r}")

    def with_policies(self, policies: Iterable[Policy]) -> Cluster:
        """A copy with ``policies`` (any mix of kinds) added, sorted into fields by ``kind``."""
        nps = list(self.network_policies)
        anps = list(self.admin_policies)
        cnps = list(self.cluster_network_policies)
        banp = self.baseline_admin_policy
        for policy in policies:
            kind = policy.get("kind")
            if kind == "NetworkPolicy":
                nps.append(policy)
            elif kind == "AdminNetworkPolicy":
                anps.append(policy)
            elif kind == "ClusterNetworkPolicy":
                cnps.append(policy)
            elif kind == "BaselineAdminNetworkPolicy":
                if banp is not None:
                    raise ValueError("BaselineAdminNetworkPolicy is a singleton; got two")
                banp = policy
            else:
                raise ValueError(f"unknown policy kind {kind!r}")
        return replace(
            self,
            network_policies=nps,
            admin_policies=anps,
            baseline_admin_policy=banp,
            cluster_network_policies=cnps,
        )

    def namespace(self, name: str) -> Namespace:
        """The namespace called ``name`` (a linear search, on purpose)."""
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        raise KeyError(name)

    def pod(self, key: str) -> Pod:
        """The pod whose ``"ns/name"`` is ``key``."""
        for pod in self.pods:
            if pod.key == key:
                return pod
        raise KeyError(key)


@dataclass
class Decision:
    """The verdict plus a one-line reason per direction, for readable test failures."""

    allowed: bool
    egress: str
    ingress: str


@dataclass(frozen=True)
class _Question:
    """One direction of one connection, asked at ``pod``.

    ``remote`` is the other end (the peer that rules select); ``dst`` is the destination
    of the connection, whose container ports give named ports their meaning.
    """

    pod: Pod
    direction: str
    remote: Pod | str
    dst: Pod | str
    protocol: str
    port: int

    @property
    def rules_key(self) -> str:
        """The spec field holding this direction's rules."""
        return "ingress" if self.direction == INGRESS else "egress"


# --------------------------------------------------------------------------- selectors


def label_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a metav1.LabelSelector matches ``labels`` (S1-S3).

    >>> label_selector_matches({}, {"a": "1"})
    True
    >>> label_selector_matches(None, {"a": "1"})
    False
    >>> label_selector_matches({"matchExpressions": [
    ...     {"key": "a", "operator": "NotIn", "values": ["2"]}]}, {})
    True
    """
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if key not in labels or labels[key] != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key = expr["key"]
        operator = expr["operator"]
        values = list(expr.get("values") or [])
        if operator == "In":
            if key not in labels or labels[key] not in values:
                return False
        elif operator == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif operator == "Exists":
            if key not in labels:
                return False
        elif operator == "DoesNotExist":
            if key in labels:
                return False
        else:
            raise ValueError(f"invalid label selector operator {operator!r}")
    return True


def select_pods(
    cluster: Cluster,
    namespace_selector: Mapping[str, Any] | None,
    pod_selector: Mapping[str, Any] | None,
    policy_namespace: str | None,
) -> list[Pod]:
    """Pods picked by a namespace selector AND a pod selector, NetworkPolicyPeer style (N6).

    ``namespace_selector=None`` means "only ``policy_namespace``" (there must be one);
    ``pod_selector=None`` means "every pod". An empty dict selects everything.
    Cluster-scoped policies pass ``{}`` for an absent selector themselves (A4).
    """
    if namespace_selector is None and policy_namespace is None:
        raise ValueError("no namespace selector and no policy namespace to fall back on")
    chosen: list[Pod] = []
    for pod in cluster.pods:
        if namespace_selector is None:
            in_namespace = pod.namespace == policy_namespace
        else:
            in_namespace = label_selector_matches(
                namespace_selector, cluster.namespace(pod.namespace).labels
            )
        if not in_namespace:
            continue
        if pod_selector is None or label_selector_matches(pod_selector, pod.labels):
            chosen.append(pod)
    return chosen


def _contains(chosen: list[Pod], pod: Pod) -> bool:
    """Membership by key (pods are mutable dataclasses, compared by identity of key)."""
    return any(candidate.key == pod.key for candidate in chosen)


def _ip_in(ip: str, cidr: str) -> bool:
    """Whether ``ip`` lies in ``cidr`` (different address families never match)."""
    address = ipaddress.ip_address(ip)
    network = ipaddress.ip_network(cidr, strict=False)
    return address.version == network.version and address in network


def _address(endpoint: Pod | str) -> str:
    """The IP of a pod or external endpoint."""
    return endpoint.ip if isinstance(endpoint, Pod) else endpoint


def _named_port_matches(dst: Pod | str, name: str, protocol: str, port: int) -> bool:
    """N9/C5: the destination pod has a container port ``name`` equal to the traffic."""
    if not isinstance(dst, Pod):
        return False
    for container_port in dst.ports:
        if (
            container_port.name == name
            and container_port.protocol.upper() == protocol
            and container_port.port == port
        ):
            return True
    return False


# --------------------------------------------------------------------------- NetworkPolicy


def _np_namespace(policy: Policy) -> str:
    """X9: a NetworkPolicy without a namespace lives in ``default``."""
    return (policy.get("metadata") or {}).get("namespace") or "default"


def _np_policy_types(policy: Policy) -> list[str]:
    """N2: explicit policyTypes, else Ingress plus Egress when ``egress`` is non-empty."""
    spec = policy.get("spec") or {}
    explicit = spec.get("policyTypes")
    if explicit:
        return list(explicit)
    types = [INGRESS]
    if spec.get("egress"):
        types.append(EGRESS)
    return types


def _np_selects(policy: Policy, pod: Pod, direction: str) -> bool:
    """N1/N3: the policy selects ``pod`` and affects ``direction``."""
    if pod.namespace != _np_namespace(policy):
        return False
    if direction not in _np_policy_types(policy):
        return False
    spec = policy.get("spec") or {}
    pod_selector = spec.get("podSelector")
    if pod_selector is None:
        pod_selector = {}
    return label_selector_matches(pod_selector, pod.labels)


def _np_peer_matches(
    cluster: Cluster, policy: Policy, peer: Mapping[str, Any], remote: Pod | str
) -> bool:
    """N6/N7: one NetworkPolicyPeer against the remote end of the connection."""
    ip_block = peer.get("ipBlock")
    namespace_selector = peer.get("namespaceSelector")
    pod_selector = peer.get("podSelector")
    if ip_block is not None:
        if namespace_selector is not None or pod_selector is not None:
            raise ValueError(f"ipBlock cannot be combined with selectors: {peer}")
        address = _address(remote)
        if not _ip_in(address, ip_block["cidr"]):
            return False
        return all(not _ip_in(address, excluded) for excluded in ip_block.get("except") or [])
    if namespace_selector is None and pod_selector is None:
        raise ValueError(f"a NetworkPolicyPeer must set at least one field: {peer}")
    if not isinstance(remote, Pod):
        return False
    chosen = select_pods(cluster, namespace_selector, pod_selector, _np_namespace(policy))
    return _contains(chosen, remote)


def _np_port_matches(entry: Mapping[str, Any], dst: Pod | str, protocol: str, port: int) -> bool:
    """N8/N9: one NetworkPolicyPort against the traffic."""
    entry_protocol = str(entry.get("protocol") or "TCP").upper()
    if entry_protocol != protocol:
        return False
    entry_port = entry.get("port")
    end_port = entry.get("endPort")
    if entry_port is None:
        if end_port is not None:
            raise ValueError(f"endPort needs a numeric port: {entry}")
        return True
    if isinstance(entry_port, str):
        if end_port is not None:
            raise ValueError(f"endPort cannot be used with a named port: {entry}")
        return _named_port_matches(dst, entry_port, protocol, port)
    if end_port is None:
        return port == entry_port
    if end_port < entry_port:
        raise ValueError(f"endPort below port: {entry}")
    return entry_port <= port <= end_port


def _np_rule_matches(
    cluster: Cluster, policy: Policy, rule: Mapping[str, Any], q: _Question
) -> bool:
    """N5: peers (ORed, empty = all) AND ports (ORed, empty = all)."""
    peers = rule.get("from" if q.direction == INGRESS else "to") or []
    ports = rule.get("ports") or []
    peer_ok = not peers or any(_np_peer_matches(cluster, policy, p, q.remote) for p in peers)
    port_ok = not ports or any(_np_port_matches(e, q.dst, q.protocol, q.port) for e in ports)
    return peer_ok and port_ok


def _network_policy_tier(cluster: Cluster, q: _Question) -> tuple[bool | None, str]:
    """N3/N4: ``None`` if no NetworkPolicy isolates the pod for the direction."""
    selecting = [np for np in cluster.network_policies if _np_selects(np, q.pod, q.direction)]
    if not selecting:
        return None, "no NetworkPolicy selects the pod"
    for policy in selecting:
        for index, rule in enumerate((policy.get("spec") or {}).get(q.rules_key) or []):
            if _np_rule_matches(cluster, policy, rule, q):
                name = (policy.get("metadata") or {}).get("name")
                return True, f"NetworkPolicy {_np_namespace(policy)}/{name} rule {index} allows"
    names = sorted(f"{_np_namespace(p)}/{(p.get('metadata') or {}).get('name')}" for p in selecting)
    return False, f"isolated by NetworkPolicy {', '.join(names)}; no rule allows"


# --------------------------------------------------------------------------- ANP / BANP / CNP


class _FailClosed(Exception):
    """Raised while matching a rule whose peer or port entry is unknown or empty (A7)."""


def _subject_selects(cluster: Cluster, policy: Policy, pod: Pod) -> bool:
    """A4: ``namespaces`` or ``pods`` (exactly one)."""
    subject = (policy.get("spec") or {}).get("subject") or {}
    keys = [k for k, v in subject.items() if v is not None]
    if len(keys) != 1 or keys[0] not in ("namespaces", "pods"):
        raise ValueError(f"subject must set exactly one of namespaces/pods: {subject}")
    if keys[0] == "namespaces":
        return label_selector_matches(
            subject["namespaces"], cluster.namespace(pod.namespace).labels
        )
    pods = subject["pods"]
    chosen = select_pods(
        cluster, pods.get("namespaceSelector") or {}, pods.get("podSelector") or {}, None
    )
    return _contains(chosen, pod)


_INGRESS_PEERS = ("namespaces", "pods")
_EGRESS_PEERS = ("namespaces", "pods", "networks", "nodes", "domainNames")


def _admin_peer_matches(
    cluster: Cluster, peer: Mapping[str, Any], direction: str, remote: Pod | str
) -> bool:
    """A5/C6/X4: one ANP/BANP/CNP peer against the remote end."""
    allowed_keys = _INGRESS_PEERS if direction == INGRESS else _EGRESS_PEERS
    set_keys = [k for k, v in peer.items() if v is not None]
    if len(set_keys) != 1 or set_keys[0] not in allowed_keys:
        raise _FailClosed(f"peer {peer}")
    kind = set_keys[0]
    value = peer[kind]
    if kind == "networks":
        return any(_ip_in(_address(remote), cidr) for cidr in value)
    if kind in ("nodes", "domainNames"):
        return False
    if not isinstance(remote, Pod):
        return False
    if kind == "namespaces":
        return label_selector_matches(value, cluster.namespace(remote.namespace).labels)
    chosen = select_pods(
        cluster, value.get("namespaceSelector") or {}, value.get("podSelector") or {}, None
    )
    return _contains(chosen, remote)


def _anp_port_matches(entry: Mapping[str, Any], dst: Pod | str, protocol: str, port: int) -> bool:
    """A6: portNumber / namedPort / portRange (exactly one)."""
    set_keys = [k for k, v in entry.items() if v is not None]
    if len(set_keys) != 1 or set_keys[0] not in ("portNumber", "namedPort", "portRange"):
        raise _FailClosed(f"port {entry}")
    kind = set_keys[0]
    value = entry[kind]
    if kind == "namedPort":
        return _named_port_matches(dst, value, protocol, port)
    if str(value.get("protocol") or "TCP").upper() != protocol:
        return False
    if kind == "portNumber":
        return port == value["port"]
    return value["start"] <= port <= value["end"]


def _cnp_protocol_matches(
    entry: Mapping[str, Any], dst: Pod | str, protocol: str, port: int
) -> bool:
    """C5: tcp/udp/sctp with optional destinationPort, or destinationNamedPort."""
    set_keys = [k for k, v in entry.items() if v is not None]
    if len(set_keys) != 1 or set_keys[0] not in ("tcp", "udp", "sctp", "destinationNamedPort"):
        raise _FailClosed(f"protocol {entry}")
    kind = set_keys[0]
    if kind == "destinationNamedPort":
        return _named_port_matches(dst, entry[kind], protocol, port)
    if kind.upper() != protocol:
        return False
    destination = (entry[kind] or {}).get("destinationPort")
    if destination is None:
        return True
    if destination.get("number") is not None:
        return port == destination["number"]
    if destination.get("range") is not None:
        return destination["range"]["start"] <= port <= destination["range"]["end"]
    raise _FailClosed(f"destinationPort {destination}")


def _admin_rule_ports_match(
    rule: Mapping[str, Any], kind: str, dst: Pod | str, protocol: str, port: int
) -> bool:
    """A6/C5/X7/X8: the port part of an admin rule (empty or absent = all).

    Every entry is evaluated (no short-circuit) so that an invalid entry fails closed
    even when an earlier entry already matched.
    """
    if kind == "ClusterNetworkPolicy" and rule.get("protocols") is not None:
        hits = [_cnp_protocol_matches(e, dst, protocol, port) for e in rule["protocols"]]
    else:
        hits = [_anp_port_matches(e, dst, protocol, port) for e in rule.get("ports") or []]
    return not hits or any(hits)


_ACTIONS = {
    "AdminNetworkPolicy": {"Allow": "allow", "Deny": "deny", "Pass": "pass"},
    "BaselineAdminNetworkPolicy": {"Allow": "allow", "Deny": "deny"},
    "ClusterNetworkPolicy": {"Accept": "allow", "Deny": "deny", "Pass": "pass"},
}


def _admin_rule_verdict(
    cluster: Cluster, kind: str, rule: Mapping[str, Any], q: _Question
) -> str | None:
    """A2/A5/A7: ``"allow"``/``"deny"``/``"pass"`` if the rule matches, else ``None``."""
    action = _ACTIONS[kind].get(rule.get("action", ""))
    if action is None:
        raise ValueError(f"{kind} rule has invalid action {rule.get('action')!r}")
    peers = rule.get("from" if q.direction == INGRESS else "to") or []
    try:
        if not peers:
            raise _FailClosed("no peers")
        # A list, not any(generator): an invalid later peer must still fail closed.
        peer_hits = [_admin_peer_matches(cluster, p, q.direction, q.remote) for p in peers]
        ports_ok = _admin_rule_ports_match(rule, kind, q.dst, q.protocol, q.port)
    except _FailClosed:
        return None if action == "allow" else "deny"
    return action if any(peer_hits) and ports_ok else None


def _priority(policy: Policy) -> int:
    """A1/C1: the validated priority."""
    priority = (policy.get("spec") or {}).get("priority")
    if not isinstance(priority, int) or not 0 <= priority <= 1000:
        raise ValueError(f"priority must be an integer in 0..1000, got {priority!r}")
    return priority


def _name(policy: Policy) -> str:
    """The policy's metadata.name ('' if absent)."""
    return str((policy.get("metadata") or {}).get("name") or "")


def _cnp_tier(policy: Policy) -> str:
    """C1: the validated tier."""
    tier = (policy.get("spec") or {}).get("tier")
    if tier not in ("Admin", "Baseline"):
        raise ValueError(f"ClusterNetworkPolicy tier must be Admin or Baseline, got {tier!r}")
    return str(tier)


def _admin_tier_policies(cluster: Cluster) -> list[tuple[str, Policy]]:
    """A1/C1/X1: ANPs and Admin-tier CNPs by (priority, name, ANP before CNP)."""
    ordered: list[tuple[int, str, int, str, Policy]] = []
    for policy in cluster.admin_policies:
        ordered.append((_priority(policy), _name(policy), 0, "AdminNetworkPolicy", policy))
    for policy in cluster.cluster_network_policies:
        if _cnp_tier(policy) == "Admin":
            ordered.append((_priority(policy), _name(policy), 1, "ClusterNetworkPolicy", policy))
    ordered.sort(key=lambda item: (item[0], item[1], item[2]))
    return [(kind, policy) for _, _, _, kind, policy in ordered]


def _baseline_tier_policies(cluster: Cluster) -> list[tuple[str, Policy]]:
    """X2: Baseline-tier CNPs by (priority, name), then the BANP."""
    ordered: list[tuple[int, str, Policy]] = []
    for policy in cluster.cluster_network_policies:
        if _cnp_tier(policy) == "Baseline":
            ordered.append((_priority(policy), _name(policy), policy))
    ordered.sort(key=lambda item: (item[0], item[1]))
    result = [("ClusterNetworkPolicy", policy) for _, _, policy in ordered]
    if cluster.baseline_admin_policy is not None:
        result.append(("BaselineAdminNetworkPolicy", cluster.baseline_admin_policy))
    return result


def _run_tier(
    cluster: Cluster, policies: list[tuple[str, Policy]], q: _Question, *, baseline: bool
) -> tuple[str | None, str]:
    """A2/A3/C3: the first matching rule of the first policy (in order) that has one."""
    for kind, policy in policies:
        if not _subject_selects(cluster, policy, q.pod):
            continue
        for index, rule in enumerate((policy.get("spec") or {}).get(q.rules_key) or []):
            if baseline and rule.get("action") == "Pass":
                raise ValueError(f"Pass is not allowed in the Baseline tier: {_name(policy)}")
            verdict = _admin_rule_verdict(cluster, kind, rule, q)
            if verdict is None:
                continue
            label = rule.get("name") or f"#{index}"
            return verdict, f"{kind} {_name(policy)} rule {label}: {verdict}"
    return None, "no rule matches"


# --------------------------------------------------------------------------- evaluation


def _direction(cluster: Cluster, q: _Question) -> tuple[bool, str]:
    """One direction at one pod: Admin tier, NetworkPolicy, Baseline tier, default allow."""
    admin, why_admin = _run_tier(cluster, _admin_tier_policies(cluster), q, baseline=False)
    if admin == "allow":
        return True, f"[Admin] {why_admin}"
    if admin == "deny":
        return False, f"[Admin] {why_admin}"
    trail = f"[Admin] {why_admin} -> "
    np_verdict, why_np = _network_policy_tier(cluster, q)
    if np_verdict is not None:
        return np_verdict, f"{trail}[NetworkPolicy] {why_np}"
    trail += f"[NetworkPolicy] {why_np} -> "
    base, why_base = _run_tier(cluster, _baseline_tier_policies(cluster), q, baseline=True)
    if base is not None:
        return base == "allow", f"{trail}[Baseline] {why_base}"
    return True, f"{trail}[Baseline] {why_base} -> default allow"


def evaluate(
    cluster: Cluster, src: Pod | str, dst: Pod | str, *, protocol: str, port: int
) -> Decision:
    """The verdict for a new connection with the reasoning for each direction (N10, X3, X6)."""
    protocol = protocol.upper()
    if isinstance(src, str) and isinstance(dst, str):
        raise ValueError("external-to-external traffic is out of scope")
    if isinstance(src, Pod) and isinstance(dst, Pod) and src.key == dst.key:
        return Decision(True, "self traffic", "self traffic")
    if isinstance(src, Pod):
        egress_ok, egress_why = _direction(
            cluster, _Question(src, EGRESS, dst, dst, protocol, port)
        )
    else:
        egress_ok, egress_why = True, "external source: no egress check"
    if isinstance(dst, Pod):
        ingress_ok, ingress_why = _direction(
            cluster, _Question(dst, INGRESS, src, dst, protocol, port)
        )
    else:
        ingress_ok, ingress_why = True, "external destination: no ingress check"
    return Decision(egress_ok and ingress_ok, egress_why, ingress_why)


def allowed(cluster: Cluster, src: Pod | str, dst: Pod | str, *, protocol: str, port: int) -> bool:
    """Whether a new ``protocol``/``port`` connection from ``src`` to ``dst`` is allowed.

    A ``str`` endpoint is an external IP address (X6).
    """
    return evaluate(cluster, src, dst, protocol=protocol, port=port).allowed


def matrix(cluster: Cluster, *, protocol: str, port: int) -> set[tuple[str, str]]:
    """Every allowed directed pair ``("ns/pod", "ns/pod")`` of distinct pods."""
    result: set[tuple[str, str]] = set()
    for src in cluster.pods:
        for dst in cluster.pods:
            if src.key == dst.key:
                continue
            if allowed(cluster, src, dst, protocol=protocol, port=port):
                result.add((src.key, dst.key))
    return result
