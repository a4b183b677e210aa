"""Hand-written truth tables for Kubernetes network policy on the standard x/y/z fixture.

Why this exists
===============
The oracle in :mod:`tests.support.k8s_oracle` and the project's NSX distributed-firewall
translation are both *programs*; either can be wrong. These tables are the third, human
opinion: every expected matrix below was derived by hand from the specifications (see the
rule numbers N*/A*/B*/C*/X* in the oracle's docstring) and is written as "everything,
minus what the policy blocks, plus what it lets back in". Nothing here is computed by the
oracle; the oracle's data classes are only used to describe the fixture.

The fixture mirrors the upstream e2e / policy-assistant one: namespaces x, y, z (label
``ns=<name>``), each with pods a, b, c (label ``pod=<name>``). Every pod serves TCP, UDP
and SCTP on ports 80 and 81 with container ports named ``serve-<port>-<proto>`` and has
the IP ``10.0.<namespace index>.<pod index + 10>``, so x/a is 10.0.0.10, y/b is
10.0.1.11 and z/c is 10.0.2.12.

Every ``Check.allowed`` is the FULL set of allowed directed pairs among the 9 pods (72
pairs when nothing is blocked; a pod talking to itself is never listed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.k8s_oracle import Cluster, ContainerPort, Namespace, Pod

NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
PODS = tuple(f"{ns}/{name}" for ns in NAMESPACES for name in POD_NAMES)
PROTOCOLS = ("TCP", "UDP", "SCTP")
SERVED_PORTS = (80, 81)

Pair = tuple[str, str]
Pairs = frozenset[Pair]
Manifest = dict[str, Any]
Spec = str | Iterable[str] | None

TCP80 = ("TCP", 80)
TCP81 = ("TCP", 81)
UDP80 = ("UDP", 80)
UDP81 = ("UDP", 81)
SCTP80 = ("SCTP", 80)
SCTP81 = ("SCTP", 81)
STANDARD = (TCP80, TCP81, UDP80, SCTP81)


# --------------------------------------------------------------------------- fixture


def fixture(extra_labels: Mapping[str, Mapping[str, str]] | None = None) -> Cluster:
    """The 3x3 cluster without policies; ``extra_labels`` adds labels per ``"ns/pod"``.

    The label-change cases use ``fixture({"x/a": {"role": "db"}})`` to model a pod being
    relabelled while policies stay the same.
    """
    extra = dict(extra_labels or {})
    unknown = set(extra) - set(PODS)
    if unknown:
        raise ValueError(f"extra_labels for unknown pods: {sorted(unknown)}")
    namespaces = [Namespace(name, {"ns": name}) for name in NAMESPACES]
    ports = tuple(
        ContainerPort(f"serve-{port}-{protocol.lower()}", protocol, port)
        for protocol in PROTOCOLS
        for port in SERVED_PORTS
    )
    pods = []
    for ns_index, ns in enumerate(NAMESPACES):
        for pod_index, name in enumerate(POD_NAMES):
            labels = {"pod": name, **extra.get(f"{ns}/{name}", {})}
            ip = f"10.0.{ns_index}.{pod_index + 10}"
            pods.append(Pod(ns, name, labels, ip, ports))
    return Cluster(namespaces=namespaces, pods=pods)


# --------------------------------------------------------------------------- pair helpers


def pods(spec: Spec = None) -> frozenset[str]:
    """Pods named by ``spec``: None = all, ``"x"`` = namespace x, ``"x/a"`` = one pod.

    An iterable of such strings is their union.
    """
    if spec is None:
        return frozenset(PODS)
    items = [spec] if isinstance(spec, str) else list(spec)
    chosen: set[str] = set()
    for item in items:
        if "/" in item:
            if item not in PODS:
                raise ValueError(f"unknown pod {item!r}")
            chosen.add(item)
        else:
            if item not in NAMESPACES:
                raise ValueError(f"unknown namespace {item!r}")
            chosen.update(p for p in PODS if p.startswith(f"{item}/"))
    return frozenset(chosen)


def only(src: Spec = None, dst: Spec = None) -> Pairs:
    """Directed pairs from ``src`` pods to ``dst`` pods, self pairs excluded."""
    return frozenset((s, d) for s in pods(src) for d in pods(dst) if s != d)


def all_pairs() -> Pairs:
    """All 72 directed pairs: what no policy at all allows."""
    return only()


def minus(pairs: Pairs, *, src: Spec = None, dst: Spec = None) -> Pairs:
    """``pairs`` without the ones from ``src`` to ``dst`` (None = any)."""
    return pairs - only(src, dst)


ALL = all_pairs()
NONE: Pairs = frozenset()


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Check:
    """One protocol/port probe of all 72 pairs and the exact set that must be allowed."""

    protocol: str
    port: int
    allowed: Pairs


@dataclass(frozen=True)
class TruthCase:
    """Policies (any kinds, as manifests) applied to the fixture, and expected matrices."""

    id: str
    description: str
    policies: list[Manifest]
    checks: list[Check]
    extra_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def ports(self) -> tuple[tuple[str, int], ...]:
        """The (protocol, port) probes this case checks."""
        return tuple((check.protocol, check.port) for check in self.checks)

    def cluster(self) -> Cluster:
        """The fixture (with this case's extra labels) carrying this case's policies."""
        return fixture(self.extra_labels).with_policies(self.policies)


def same(allowed: Pairs, *probes: tuple[str, int]) -> list[Check]:
    """The same expected matrix for several probes (default: the standard four)."""
    return [Check(protocol, port, allowed) for protocol, port in (probes or STANDARD)]


# --------------------------------------------------------------------------- manifest helpers


def ns_sel(name: str) -> dict[str, Any]:
    """A selector for namespace ``name`` by its ``ns`` label."""
    return {"matchLabels": {"ns": name}}


def pod_sel(name: str) -> dict[str, Any]:
    """A selector for pods called ``name`` by their ``pod`` label."""
    return {"matchLabels": {"pod": name}}


def netpol(
    name: str,
    namespace: str,
    pod_selector: dict[str, Any],
    *,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
    policy_types: list[str] | None = None,
) -> Manifest:
    """A networking.k8s.io/v1 NetworkPolicy; absent arguments stay absent in the dict."""
    spec: dict[str, Any] = {"podSelector": pod_selector}
    if policy_types is not None:
        spec["policyTypes"] = policy_types
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def anp(
    name: str,
    priority: int,
    subject: dict[str, Any],
    *,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> Manifest:
    """A policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy."""
    spec: dict[str, Any] = {"priority": priority, "subject": subject}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def banp(
    subject: dict[str, Any],
    *,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> Manifest:
    """The singleton policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy."""
    spec: dict[str, Any] = {"subject": subject}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": spec,
    }


def cnp(
    name: str,
    tier: str,
    priority: int,
    subject: dict[str, Any],
    *,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> Manifest:
    """A policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy."""
    spec: dict[str, Any] = {"tier": tier, "priority": priority, "subject": subject}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def deny_ingress(namespace: str) -> Manifest:
    """The classic default-deny-ingress NetworkPolicy for ``namespace``."""
    return netpol(f"deny-ingress-{namespace}", namespace, {}, policy_types=["Ingress"])


# --------------------------------------------------------------------------- the table

_NP_CASES = [
    TruthCase(
        "no-policy",
        "No policy of any kind: Kubernetes allows everything.",
        [],
        same(ALL, TCP80, TCP81, UDP80, UDP81, SCTP80, SCTP81),
    ),
    TruthCase(
        "np-deny-ingress-x",
        "Default-deny ingress in x: nothing may enter x, including from x itself.",
        [deny_ingress("x")],
        same(minus(ALL, dst="x")),
    ),
    TruthCase(
        "np-deny-ingress-x-defaulted",
        "A bare podSelector {} with no policyTypes and no rules defaults to Ingress (N2).",
        [
            {
                "kind": "NetworkPolicy",
                "metadata": {"name": "bare", "namespace": "x"},
                "spec": {"podSelector": {}},
            }
        ],
        same(minus(ALL, dst="x")),
    ),
    TruthCase(
        "np-deny-egress-x",
        "Default-deny egress in x: nothing may leave x; ingress into x is unaffected.",
        [netpol("deny-egress-x", "x", {}, policy_types=["Egress"])],
        same(minus(ALL, src="x")),
    ),
    TruthCase(
        "np-deny-all-everywhere",
        "Deny ingress and egress in every namespace: no pair is allowed.",
        [netpol(f"deny-all-{ns}", ns, {}, policy_types=["Ingress", "Egress"]) for ns in NAMESPACES],
        same(NONE),
    ),
    TruthCase(
        "np-allow-ingress-from-ns-y",
        "x only accepts from namespace y (x->x is denied too).",
        [netpol("from-y", "x", {}, ingress=[{"from": [{"namespaceSelector": ns_sel("y")}]}])],
        same(minus(ALL, dst="x") | only("y", "x")),
    ),
    TruthCase(
        "np-peer-and-ns-y-pod-b",
        "One peer with namespaceSelector AND podSelector: only y/b may reach x/a.",
        [
            netpol(
                "from-y-b",
                "x",
                pod_sel("a"),
                ingress=[
                    {"from": [{"namespaceSelector": ns_sel("y"), "podSelector": pod_sel("b")}]}
                ],
            )
        ],
        same(minus(ALL, dst="x/a") | only("y/b", "x/a")),
    ),
    TruthCase(
        "np-peer-or-ns-y-pod-b",
        "Two peers are ORed: all of y, or pod b of x (podSelector alone = own namespace).",
        [
            netpol(
                "from-y-or-b",
                "x",
                pod_sel("a"),
                ingress=[
                    {"from": [{"namespaceSelector": ns_sel("y")}, {"podSelector": pod_sel("b")}]}
                ],
            )
        ],
        same(minus(ALL, dst="x/a") | only("y", "x/a") | only("x/b", "x/a")),
    ),
    TruthCase(
        "np-ipblock-except",
        "x/a accepts from 10.0.1.0/24 (namespace y) except 10.0.1.11/32 (y/b).",
        [
            netpol(
                "ipblock",
                "x",
                pod_sel("a"),
                ingress=[
                    {"from": [{"ipBlock": {"cidr": "10.0.1.0/24", "except": ["10.0.1.11/32"]}}]}
                ],
            )
        ],
        same(minus(ALL, dst="x/a") | only({"y/a", "y/c"}, "x/a")),
    ),
    TruthCase(
        "np-egress-ipblock-except",
        "y may only send to 10.0.2.0/23 (namespace z) except 10.0.2.12/32 (z/c).",
        [
            netpol(
                "egress-ipblock",
                "y",
                {},
                policy_types=["Egress"],
                egress=[{"to": [{"ipBlock": {"cidr": "10.0.2.0/23", "except": ["10.0.2.12/32"]}}]}],
            )
        ],
        same(minus(ALL, src="y") | only("y", {"z/a", "z/b"})),
    ),
    TruthCase(
        "np-named-port-serve-80-tcp",
        "x/a accepts only its TCP port named serve-80-tcp: TCP/80 yes, TCP/81 and UDP/80 no.",
        [netpol("named", "x", pod_sel("a"), ingress=[{"ports": [{"port": "serve-80-tcp"}]}])],
        [
            *same(ALL, TCP80),
            *same(minus(ALL, dst="x/a"), TCP81, UDP80, SCTP81),
        ],
    ),
    TruthCase(
        "np-named-port-protocol-mismatch",
        "Port name serve-81-udp with the default protocol TCP can match nothing (N9).",
        [netpol("mismatch", "x", pod_sel("a"), ingress=[{"ports": [{"port": "serve-81-udp"}]}])],
        same(minus(ALL, dst="x/a"), TCP81, UDP81, TCP80),
    ),
    TruthCase(
        "np-egress-named-port-serve-81-udp",
        "Egress named ports resolve on the destination pod: x may only send UDP/81.",
        [
            netpol(
                "egress-named",
                "x",
                {},
                policy_types=["Egress"],
                egress=[{"ports": [{"protocol": "UDP", "port": "serve-81-udp"}]}],
            )
        ],
        [*same(ALL, UDP81), *same(minus(ALL, src="x"), UDP80, TCP81, SCTP81)],
    ),
    TruthCase(
        "np-endport-80-81",
        "TCP 80..81 (endPort) into x/a: both TCP ports allowed, other protocols not.",
        [
            netpol(
                "range",
                "x",
                pod_sel("a"),
                ingress=[
                    {
                        "from": [{"namespaceSelector": {}}],
                        "ports": [{"protocol": "TCP", "port": 80, "endPort": 81}],
                    }
                ],
            )
        ],
        [*same(ALL, TCP80, TCP81), *same(minus(ALL, dst="x/a"), UDP80, SCTP81)],
    ),
    TruthCase(
        "np-endport-81-90",
        "Port 81..90 (protocol defaulted to TCP): TCP/80 is below the range.",
        [netpol("range", "x", pod_sel("a"), ingress=[{"ports": [{"port": 81, "endPort": 90}]}])],
        [*same(ALL, TCP81), *same(minus(ALL, dst="x/a"), TCP80, UDP81)],
    ),
    TruthCase(
        "np-egress-only-y-a-to-z",
        "An egress-only policy on y/a: it may only send to z; anyone may still reach it.",
        [
            netpol(
                "egress-to-z",
                "y",
                pod_sel("a"),
                policy_types=["Egress"],
                egress=[{"to": [{"namespaceSelector": ns_sel("z")}]}],
            )
        ],
        same(minus(ALL, src="y/a") | only("y/a", "z")),
    ),
    TruthCase(
        "np-policytypes-default-with-egress",
        "No policyTypes but an egress section: defaults to Ingress+Egress, so x/a is also "
        "isolated for ingress with no ingress rule (N2).",
        [
            netpol(
                "egress-z", "x", pod_sel("a"), egress=[{"to": [{"namespaceSelector": ns_sel("z")}]}]
            )
        ],
        same(minus(minus(ALL, dst="x/a"), src="x/a") | only("x/a", "z")),
    ),
    TruthCase(
        "np-deny-egress-allow-to-z",
        "Deny-all egress in x plus a second policy allowing egress to z: they add up.",
        [
            netpol("deny-egress", "x", {}, policy_types=["Egress"]),
            netpol(
                "egress-to-z",
                "x",
                {},
                policy_types=["Egress"],
                egress=[{"to": [{"namespaceSelector": ns_sel("z")}]}],
            ),
        ],
        same(minus(ALL, src="x") | only("x", "z")),
    ),
    TruthCase(
        "np-two-policies-additive",
        "Two policies select x/a: from x/b (one) OR from namespace z (other).",
        [
            netpol(
                "from-b", "x", pod_sel("a"), ingress=[{"from": [{"podSelector": pod_sel("b")}]}]
            ),
            netpol(
                "from-z",
                "x",
                pod_sel("a"),
                ingress=[{"from": [{"namespaceSelector": ns_sel("z")}]}],
            ),
        ],
        same(minus(ALL, dst="x/a") | only("x/b", "x/a") | only("z", "x/a")),
    ),
    TruthCase(
        "np-udp-80-only",
        "x/a accepts UDP/80 only.",
        [netpol("udp", "x", pod_sel("a"), ingress=[{"ports": [{"protocol": "UDP", "port": 80}]}])],
        [*same(ALL, UDP80), *same(minus(ALL, dst="x/a"), TCP80, TCP81, UDP81, SCTP81)],
    ),
    TruthCase(
        "np-sctp-81-only",
        "x/a accepts SCTP/81 only.",
        [
            netpol(
                "sctp", "x", pod_sel("a"), ingress=[{"ports": [{"protocol": "SCTP", "port": 81}]}]
            )
        ],
        [*same(ALL, SCTP81), *same(minus(ALL, dst="x/a"), SCTP80, TCP81, UDP80)],
    ),
    TruthCase(
        "np-udp-any-port",
        "A port entry with a protocol and no port: every UDP port (N8).",
        [netpol("udp-any", "x", pod_sel("a"), ingress=[{"ports": [{"protocol": "UDP"}]}])],
        [*same(ALL, UDP80, UDP81), *same(minus(ALL, dst="x/a"), TCP80, SCTP81)],
    ),
    TruthCase(
        "np-namespace-notin-x",
        "namespaceSelector with matchExpressions ns NotIn [x]: y and z may enter z.",
        [
            netpol(
                "notin",
                "z",
                {},
                ingress=[
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {"key": "ns", "operator": "NotIn", "values": ["x"]}
                                    ]
                                }
                            }
                        ]
                    }
                ],
            )
        ],
        same(minus(ALL, dst="z") | only({"y", "z"}, "z")),
    ),
    TruthCase(
        "np-label-before-role-db",
        "A policy for role=db pods while no pod has that label: it selects nothing.",
        [
            netpol(
                "db",
                "x",
                {"matchLabels": {"role": "db"}},
                ingress=[{"from": [{"podSelector": {}}]}],
            )
        ],
        same(ALL),
    ),
    TruthCase(
        "np-label-after-role-db",
        "The same policy after x/a gains role=db: only pods of x may reach x/a.",
        [
            netpol(
                "db",
                "x",
                {"matchLabels": {"role": "db"}},
                ingress=[{"from": [{"podSelector": {}}]}],
            )
        ],
        same(minus(ALL, dst="x/a") | only("x", "x/a")),
        extra_labels={"x/a": {"role": "db"}},
    ),
]

_ANP_CASES = [
    TruthCase(
        "anp-deny-beats-np-allow",
        "x allows all ingress by NetworkPolicy, but an ANP denies y->x first (A3).",
        [
            netpol("allow-all", "x", {}, ingress=[{}]),
            anp(
                "deny-y",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": ns_sel("y")}]}],
            ),
        ],
        same(minus(ALL, src="y", dst="x")),
    ),
    TruthCase(
        "anp-allow-beats-np-deny",
        "x denies all ingress by NetworkPolicy, an ANP allows z->x on TCP/80 anyway.",
        [
            deny_ingress("x"),
            anp(
                "allow-z",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {
                        "action": "Allow",
                        "from": [{"namespaces": ns_sel("z")}],
                        "ports": [{"portNumber": {"protocol": "TCP", "port": 80}}],
                    }
                ],
            ),
        ],
        [
            *same(minus(ALL, dst="x") | only("z", "x"), TCP80),
            *same(minus(ALL, dst="x"), TCP81, UDP80, SCTP81),
        ],
    ),
    TruthCase(
        "anp-pass-to-np",
        "ANP into x: Pass from y, then Deny all. Passed y traffic meets the NetworkPolicy on "
        "x/a (only y/b) and no NetworkPolicy on x/b, x/c (allowed).",
        [
            anp(
                "pass-y",
                5,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {"action": "Pass", "from": [{"namespaces": ns_sel("y")}]},
                    {"action": "Deny", "from": [{"namespaces": {}}]},
                ],
            ),
            netpol(
                "a-from-y-b",
                "x",
                pod_sel("a"),
                ingress=[
                    {"from": [{"namespaceSelector": ns_sel("y"), "podSelector": pod_sel("b")}]}
                ],
            ),
        ],
        same(minus(ALL, dst="x") | only("y", {"x/b", "x/c"}) | only("y/b", "x/a")),
    ),
    TruthCase(
        "anp-priority-lower-wins",
        "Allow y->x at priority 10 beats Deny all->x at priority 20 (list order irrelevant).",
        [
            anp(
                "deny-into-x",
                20,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
            ),
            anp(
                "allow-y-into-x",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Allow", "from": [{"namespaces": ns_sel("y")}]}],
            ),
        ],
        same(minus(ALL, dst="x") | only("y", "x")),
    ),
    TruthCase(
        "anp-priority-lower-wins-reversed",
        "The same two ANPs with the Deny at priority 5: it is evaluated first and wins.",
        [
            anp(
                "deny-into-x",
                5,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
            ),
            anp(
                "allow-y-into-x",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Allow", "from": [{"namespaces": ns_sel("y")}]}],
            ),
        ],
        same(minus(ALL, dst="x")),
    ),
    TruthCase(
        "anp-rule-order",
        "Rules of one ANP in written order: Deny y/a, Allow y, Deny everyone (A2).",
        [
            anp(
                "ordered",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {
                        "action": "Deny",
                        "from": [
                            {
                                "pods": {
                                    "namespaceSelector": ns_sel("y"),
                                    "podSelector": pod_sel("a"),
                                }
                            }
                        ],
                    },
                    {"action": "Allow", "from": [{"namespaces": ns_sel("y")}]},
                    {"action": "Deny", "from": [{"namespaces": {}}]},
                ],
            ),
        ],
        same(minus(ALL, dst="x") | only({"y/b", "y/c"}, "x")),
    ),
    TruthCase(
        "anp-named-port",
        "y denies ingress by NetworkPolicy; an ANP allows anyone on the port serve-81-udp.",
        [
            deny_ingress("y"),
            anp(
                "named",
                10,
                {"namespaces": ns_sel("y")},
                ingress=[
                    {
                        "action": "Allow",
                        "from": [{"namespaces": {}}],
                        "ports": [{"namedPort": "serve-81-udp"}],
                    }
                ],
            ),
        ],
        [*same(ALL, UDP81), *same(minus(ALL, dst="y"), UDP80, TCP81, TCP80)],
    ),
    TruthCase(
        "anp-port-range",
        "ANP denies x->z on UDP 80..81 (portRange); TCP and SCTP are untouched.",
        [
            anp(
                "udp-range",
                10,
                {"namespaces": ns_sel("z")},
                ingress=[
                    {
                        "action": "Deny",
                        "from": [{"namespaces": ns_sel("x")}],
                        "ports": [{"portRange": {"protocol": "UDP", "start": 80, "end": 81}}],
                    }
                ],
            ),
        ],
        [*same(minus(ALL, src="x", dst="z"), UDP80, UDP81), *same(ALL, TCP80, SCTP81)],
    ),
    TruthCase(
        "anp-egress-networks",
        "ANP egress Deny from x/a to networks 10.0.1.10/31 (y/a and y/b): CIDRs match pod IPs.",
        [
            anp(
                "deny-cidr",
                10,
                {"pods": {"namespaceSelector": ns_sel("x"), "podSelector": pod_sel("a")}},
                egress=[{"action": "Deny", "to": [{"networks": ["10.0.1.10/31"]}]}],
            ),
        ],
        same(minus(ALL, src="x/a", dst={"y/a", "y/b"})),
    ),
    TruthCase(
        "anp-allow-egress-not-ingress",
        "An ANP egress Allow x->y does not override y's ingress isolation: both ends count.",
        [
            deny_ingress("y"),
            anp(
                "x-to-y",
                10,
                {"namespaces": ns_sel("x")},
                egress=[{"action": "Allow", "to": [{"namespaces": ns_sel("y")}]}],
            ),
        ],
        same(minus(ALL, dst="y")),
    ),
    TruthCase(
        "anp-pass-to-banp",
        "ANP into x: Allow z/a, Pass the rest of z. No NetworkPolicy, so the BANP's Deny z "
        "decides for z/b and z/c.",
        [
            anp(
                "z-rules",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {
                        "action": "Allow",
                        "from": [
                            {
                                "pods": {
                                    "namespaceSelector": ns_sel("z"),
                                    "podSelector": pod_sel("a"),
                                }
                            }
                        ],
                    },
                    {"action": "Pass", "from": [{"namespaces": ns_sel("z")}]},
                ],
            ),
            banp(
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": ns_sel("z")}]}],
            ),
        ],
        same(minus(ALL, src="z", dst="x") | only("z/a", "x")),
    ),
]

_BANP_CASES = [
    TruthCase(
        "banp-deny-only-unselected",
        "BANP denies all ingress everywhere; x/a is selected by a NetworkPolicy allowing y, "
        "so the BANP does not apply to it (B2).",
        [
            banp({"namespaces": {}}, ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}]),
            netpol(
                "a-from-y",
                "x",
                pod_sel("a"),
                ingress=[{"from": [{"namespaceSelector": ns_sel("y")}]}],
            ),
        ],
        same(only("y", "x/a")),
    ),
    TruthCase(
        "banp-per-direction",
        "x is isolated for ingress only (allow-all ingress); the BANP egress Deny still "
        "applies to x because no NetworkPolicy selects it for egress.",
        [
            netpol("allow-all-in", "x", {}, policy_types=["Ingress"], ingress=[{}]),
            banp(
                {"namespaces": ns_sel("x")}, egress=[{"action": "Deny", "to": [{"namespaces": {}}]}]
            ),
        ],
        same(minus(ALL, src="x")),
    ),
    TruthCase(
        "banp-rule-order",
        "BANP into z: Allow y, then Deny everyone.",
        [
            banp(
                {"namespaces": ns_sel("z")},
                ingress=[
                    {"action": "Allow", "from": [{"namespaces": ns_sel("y")}]},
                    {"action": "Deny", "from": [{"namespaces": {}}]},
                ],
            ),
        ],
        same(minus(ALL, dst="z") | only("y", "z")),
    ),
]

_CNP_CASES = [
    TruthCase(
        "cnp-admin-accept-beats-np-deny",
        "Admin-tier Accept y->x on TCP/80 overrides x's default-deny NetworkPolicy.",
        [
            deny_ingress("x"),
            cnp(
                "accept-y",
                "Admin",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {
                        "action": "Accept",
                        "from": [{"namespaces": ns_sel("y")}],
                        "protocols": [{"tcp": {"destinationPort": {"number": 80}}}],
                    }
                ],
            ),
        ],
        [
            *same(minus(ALL, dst="x") | only("y", "x"), TCP80),
            *same(minus(ALL, dst="x"), TCP81, UDP80, SCTP81),
        ],
    ),
    TruthCase(
        "cnp-admin-deny-beats-np-allow",
        "y allows all egress by NetworkPolicy; an Admin-tier egress Deny to z/c wins.",
        [
            netpol("allow-all-out", "y", {}, policy_types=["Egress"], egress=[{}]),
            cnp(
                "deny-z-c",
                "Admin",
                10,
                {"namespaces": ns_sel("y")},
                egress=[
                    {
                        "action": "Deny",
                        "to": [
                            {
                                "pods": {
                                    "namespaceSelector": ns_sel("z"),
                                    "podSelector": pod_sel("c"),
                                }
                            }
                        ],
                    }
                ],
            ),
        ],
        same(minus(ALL, src="y", dst="z/c")),
    ),
    TruthCase(
        "cnp-admin-pass-to-np",
        "Admin tier into x: Pass y, Deny the rest; x's NetworkPolicy then allows y on TCP/80.",
        [
            cnp(
                "pass-y",
                "Admin",
                1,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {"action": "Pass", "from": [{"namespaces": ns_sel("y")}]},
                    {"action": "Deny", "from": [{"namespaces": {}}]},
                ],
            ),
            netpol(
                "y-80",
                "x",
                {},
                ingress=[
                    {
                        "from": [{"namespaceSelector": ns_sel("y")}],
                        "ports": [{"protocol": "TCP", "port": 80}],
                    }
                ],
            ),
        ],
        [
            *same(minus(ALL, dst="x") | only("y", "x"), TCP80),
            *same(minus(ALL, dst="x"), TCP81, UDP80, SCTP81),
        ],
    ),
    TruthCase(
        "cnp-admin-pass-to-baseline",
        "Admin tier into x: Pass y, Accept the rest; the Baseline tier then denies y->x.",
        [
            cnp(
                "pass-y",
                "Admin",
                1,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {"action": "Pass", "from": [{"namespaces": ns_sel("y")}]},
                    {"action": "Accept", "from": [{"namespaces": {}}]},
                ],
            ),
            cnp(
                "baseline-deny-y",
                "Baseline",
                1,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": ns_sel("y")}]}],
            ),
        ],
        same(minus(ALL, src="y", dst="x")),
    ),
    TruthCase(
        "cnp-baseline-deny-after-np",
        "Baseline tier denies all ingress; y/b is selected by an allow-all NetworkPolicy, so "
        "only y/b can be reached.",
        [
            cnp(
                "baseline-deny",
                "Baseline",
                10,
                {"namespaces": {}},
                ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
            ),
            netpol("b-open", "y", pod_sel("b"), ingress=[{}]),
        ],
        same(only(None, "y/b")),
    ),
    TruthCase(
        "cnp-baseline-priority",
        "Baseline tier into z: Accept x at priority 10 before Deny all at priority 20.",
        [
            cnp(
                "deny-into-z",
                "Baseline",
                20,
                {"namespaces": ns_sel("z")},
                ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
            ),
            cnp(
                "accept-x-into-z",
                "Baseline",
                10,
                {"namespaces": ns_sel("z")},
                ingress=[{"action": "Accept", "from": [{"namespaces": ns_sel("x")}]}],
            ),
        ],
        same(minus(ALL, dst="z") | only("x", "z")),
    ),
    TruthCase(
        "cnp-and-anp-share-admin-priorities",
        "x is default-deny; ANP priority 20 allows z; CNP Admin priority 10 denies z/c first.",
        [
            deny_ingress("x"),
            anp(
                "allow-z",
                20,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Allow", "from": [{"namespaces": ns_sel("z")}]}],
            ),
            cnp(
                "deny-z-c",
                "Admin",
                10,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {
                        "action": "Deny",
                        "from": [
                            {
                                "pods": {
                                    "namespaceSelector": ns_sel("z"),
                                    "podSelector": pod_sel("c"),
                                }
                            }
                        ],
                    }
                ],
            ),
        ],
        same(minus(ALL, dst="x") | only({"z/a", "z/b"}, "x")),
    ),
    TruthCase(
        "cnp-admin-egress-networks",
        "Admin-tier egress Deny from x to 10.0.2.0/24, which is namespace z.",
        [
            cnp(
                "deny-z-cidr",
                "Admin",
                10,
                {"namespaces": ns_sel("x")},
                egress=[{"action": "Deny", "to": [{"networks": ["10.0.2.0/24"]}]}],
            ),
        ],
        same(minus(ALL, src="x", dst="z")),
    ),
    TruthCase(
        "cnp-named-port",
        "Admin-tier Deny x->y on destinationNamedPort serve-80-tcp only.",
        [
            cnp(
                "deny-80",
                "Admin",
                10,
                {"namespaces": ns_sel("y")},
                ingress=[
                    {
                        "action": "Deny",
                        "from": [{"namespaces": ns_sel("x")}],
                        "protocols": [{"destinationNamedPort": "serve-80-tcp"}],
                    }
                ],
            ),
        ],
        [*same(minus(ALL, src="x", dst="y"), TCP80), *same(ALL, TCP81, UDP80)],
    ),
    TruthCase(
        "cnp-baseline-udp-range",
        "Baseline-tier Deny into z on UDP 80..81; TCP and SCTP are untouched.",
        [
            cnp(
                "deny-udp",
                "Baseline",
                10,
                {"namespaces": ns_sel("z")},
                ingress=[
                    {
                        "action": "Deny",
                        "from": [{"namespaces": {}}],
                        "protocols": [
                            {"udp": {"destinationPort": {"range": {"start": 80, "end": 81}}}}
                        ],
                    }
                ],
            ),
        ],
        [*same(minus(ALL, dst="z"), UDP80, UDP81), *same(ALL, TCP80, SCTP81)],
    ),
]

CASES: list[TruthCase] = [*_NP_CASES, *_ANP_CASES, *_BANP_CASES, *_CNP_CASES]
