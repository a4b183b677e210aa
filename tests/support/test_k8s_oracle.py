"""The oracle against the hand-written truth tables, plus table-driven edge cases.

Why: the oracle (``tests.support.k8s_oracle``) will be the answer key for the NSX firewall
translation, so it must first agree with what a human derived from the specs. A failure
here means either the oracle or a truth table is wrong; the diff lists every missing and
extra pair with the oracle's reasoning so the two can be compared by reading.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from tests.support.k8s_oracle import (
    Cluster,
    Namespace,
    Pod,
    allowed,
    evaluate,
    label_selector_matches,
    matrix,
    select_pods,
)
from tests.support.truth_tables import (
    ALL,
    CASES,
    PODS,
    TruthCase,
    anp,
    banp,
    cnp,
    deny_ingress,
    fixture,
    minus,
    netpol,
    ns_sel,
    only,
    pod_sel,
)

# --------------------------------------------------------------------------- truth tables


def _diff(case: TruthCase, cluster: Cluster, protocol: str, port: int, got: set) -> str:
    """Missing and extra pairs, each with the oracle's per-direction reasoning."""
    expected = next(c.allowed for c in case.checks if (c.protocol, c.port) == (protocol, port))
    lines = [f"{case.id} {protocol}/{port}: {case.description}"]
    for label, pairs in (
        ("missing (expected allowed)", expected - got),
        ("extra (expected denied)", got - expected),
    ):
        if pairs:
            lines.append(f"  {label}:")
        for src, dst in sorted(pairs):
            why = evaluate(
                cluster, cluster.pod(src), cluster.pod(dst), protocol=protocol, port=port
            )
            lines.append(f"    {src} -> {dst}  egress: {why.egress} | ingress: {why.ingress}")
    return "\n".join(lines)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_oracle_matches_truth_table(case: TruthCase) -> None:
    """Full-matrix equality for every probe of every case."""
    cluster = case.cluster()
    for check in case.checks:
        got = matrix(cluster, protocol=check.protocol, port=check.port)
        assert got == check.allowed, _diff(case, cluster, check.protocol, check.port, got)


def test_case_ids_are_unique_and_tables_are_well_formed() -> None:
    """Duplicate ids would hide a case; pairs outside the fixture would never be probed."""
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert case.checks, case.id
        assert len(case.ports) == len(set(case.ports)), case.id
        for check in case.checks:
            assert check.allowed <= ALL, case.id


def test_fixture_matches_the_upstream_shape() -> None:
    """9 pods, 72 pairs, 6 named container ports each, IPs 10.0.<ns>.<pod+10>."""
    cluster = fixture()
    assert [p.key for p in cluster.pods] == list(PODS)
    assert len(ALL) == 72
    assert cluster.pod("y/b").ip == "10.0.1.11"
    assert cluster.pod("z/c").labels == {"pod": "c"}
    assert cluster.namespace("x").labels == {"ns": "x"}
    names = {p.name for p in cluster.pod("x/a").ports}
    assert names == {f"serve-{n}-{p}" for n in (80, 81) for p in ("tcp", "udp", "sctp")}
    assert fixture({"x/a": {"role": "db"}}).pod("x/a").labels == {"pod": "a", "role": "db"}


def test_required_case_families_are_present() -> None:
    """The brief's minimum list, so a later edit cannot silently drop one."""
    ids = {case.id for case in CASES}
    for required in (
        "no-policy",
        "np-deny-ingress-x",
        "np-deny-egress-x",
        "np-deny-all-everywhere",
        "np-allow-ingress-from-ns-y",
        "np-peer-and-ns-y-pod-b",
        "np-peer-or-ns-y-pod-b",
        "np-ipblock-except",
        "np-named-port-serve-80-tcp",
        "np-endport-80-81",
        "np-egress-only-y-a-to-z",
        "np-deny-egress-allow-to-z",
        "np-two-policies-additive",
        "np-udp-80-only",
        "np-sctp-81-only",
        "np-label-after-role-db",
        "anp-deny-beats-np-allow",
        "anp-allow-beats-np-deny",
        "anp-pass-to-np",
        "anp-priority-lower-wins",
        "banp-deny-only-unselected",
        "cnp-admin-accept-beats-np-deny",
        "cnp-admin-deny-beats-np-allow",
        "cnp-admin-pass-to-np",
        "cnp-baseline-deny-after-np",
    ):
        assert required in ids


def test_pair_helpers() -> None:
    """The helpers the tables are written with mean what their names say."""
    assert len(only("x", "x")) == 6
    assert ("x/a", "x/a") not in ALL
    assert minus(ALL, src="y", dst="x") == ALL - {(s, d) for s in PODS[3:6] for d in PODS[:3]}
    assert only("y/b", {"x/a", "z"}) == {
        ("y/b", "x/a"),
        ("y/b", "z/a"),
        ("y/b", "z/b"),
        ("y/b", "z/c"),
    }


# --------------------------------------------------------------------------- label selectors

LABELS = {"app": "web", "tier": "front"}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        pytest.param({}, LABELS, True, id="empty-matches-all"),
        pytest.param({}, {}, True, id="empty-matches-unlabelled"),
        pytest.param(None, LABELS, False, id="null-matches-nothing"),
        pytest.param({"matchLabels": {"app": "web"}}, LABELS, True, id="matchlabels-hit"),
        pytest.param({"matchLabels": {"app": "db"}}, LABELS, False, id="matchlabels-value"),
        pytest.param({"matchLabels": {"zone": "a"}}, LABELS, False, id="matchlabels-missing"),
        pytest.param(
            {"matchLabels": {"app": "web", "tier": "back"}},
            LABELS,
            False,
            id="matchlabels-all-must-hold",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db", "web"]}]},
            LABELS,
            True,
            id="in-hit",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
            LABELS,
            False,
            id="in-missing-key",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]},
            LABELS,
            False,
            id="notin-listed",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]},
            LABELS,
            True,
            id="notin-unlisted",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]},
            LABELS,
            True,
            id="notin-missing-key-matches",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, LABELS, True, id="exists"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "zone", "operator": "Exists"}]},
            LABELS,
            False,
            id="exists-missing",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]},
            LABELS,
            True,
            id="doesnotexist",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]},
            LABELS,
            False,
            id="doesnotexist-present",
        ),
        pytest.param(
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}],
            },
            LABELS,
            False,
            id="labels-and-expressions-anded",
        ),
        pytest.param(
            {"matchLabels": {}, "matchExpressions": []}, LABELS, True, id="explicitly-empty-parts"
        ),
    ],
)
def test_label_selector_matches(
    selector: dict[str, Any] | None, labels: dict[str, str], expected: bool
) -> None:
    assert label_selector_matches(selector, labels) is expected


def test_label_selector_rejects_unknown_operator() -> None:
    """Gt/Lt exist for node selectors only; a LabelSelector must not silently accept them."""
    with pytest.raises(ValueError, match="operator"):
        label_selector_matches(
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, {"a": "2"}
        )


@pytest.mark.parametrize(
    ("namespace_selector", "pod_selector", "policy_namespace", "expected"),
    [
        pytest.param(None, {}, "x", {"x/a", "x/b", "x/c"}, id="own-namespace-all-pods"),
        pytest.param(None, pod_sel("b"), "y", {"y/b"}, id="own-namespace-pod-b"),
        pytest.param(ns_sel("z"), None, "x", {"z/a", "z/b", "z/c"}, id="namespace-only"),
        pytest.param(ns_sel("y"), pod_sel("b"), "x", {"y/b"}, id="namespace-and-pod"),
        pytest.param({}, pod_sel("c"), "x", {"x/c", "y/c", "z/c"}, id="all-namespaces-pod-c"),
        pytest.param({}, {}, None, set(PODS), id="everything"),
        pytest.param(ns_sel("nope"), {}, "x", set(), id="no-such-namespace"),
    ],
)
def test_select_pods(
    namespace_selector: dict[str, Any] | None,
    pod_selector: dict[str, Any] | None,
    policy_namespace: str | None,
    expected: set[str],
) -> None:
    got = select_pods(fixture(), namespace_selector, pod_selector, policy_namespace)
    assert {p.key for p in got} == expected


def test_select_pods_needs_a_namespace() -> None:
    with pytest.raises(ValueError):
        select_pods(fixture(), None, {}, None)


# --------------------------------------------------------------------------- ipBlock / external

IPBLOCK_INTO_XA = netpol(
    "ipblock",
    "x",
    pod_sel("a"),
    ingress=[
        {
            "from": [
                {
                    "ipBlock": {
                        "cidr": "192.168.0.0/16",
                        "except": ["192.168.1.0/24", "192.168.2.7/32"],
                    }
                }
            ]
        }
    ],
)
EGRESS_FROM_XA = netpol(
    "ipblock-out",
    "x",
    pod_sel("a"),
    policy_types=["Egress"],
    egress=[
        {
            "to": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        }
    ],
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("192.168.0.1", True, id="inside-cidr"),
        pytest.param("192.168.255.255", True, id="last-address"),
        pytest.param("192.167.255.255", False, id="just-below-cidr"),
        pytest.param("192.168.1.0", False, id="except-first-address"),
        pytest.param("192.168.1.255", False, id="except-last-address"),
        pytest.param("192.168.2.7", False, id="except-single-host"),
        pytest.param("192.168.2.8", True, id="next-to-except-host"),
        pytest.param("2001:db8::1", False, id="ipv6-never-in-ipv4-cidr"),
    ],
)
def test_ipblock_except_from_external(source: str, expected: bool) -> None:
    cluster = fixture().with_policies([IPBLOCK_INTO_XA])
    assert allowed(cluster, source, cluster.pod("x/a"), protocol="TCP", port=80) is expected
    # x/b is not selected: external traffic to it is always allowed.
    assert allowed(cluster, source, cluster.pod("x/b"), protocol="TCP", port=80)


@pytest.mark.parametrize(
    ("destination", "protocol", "port", "expected"),
    [
        pytest.param("203.0.113.1", "TCP", 443, True, id="inside"),
        pytest.param("203.0.113.127", "TCP", 443, True, id="last-before-except"),
        pytest.param("203.0.113.128", "TCP", 443, False, id="except-start"),
        pytest.param("203.0.113.1", "TCP", 80, False, id="wrong-port"),
        pytest.param("203.0.113.1", "UDP", 443, False, id="wrong-protocol"),
        pytest.param("198.51.100.1", "TCP", 443, False, id="outside"),
    ],
)
def test_ipblock_egress_to_external(
    destination: str, protocol: str, port: int, expected: bool
) -> None:
    cluster = fixture().with_policies([EGRESS_FROM_XA, deny_ingress("y")])
    got = allowed(cluster, cluster.pod("x/a"), destination, protocol=protocol, port=port)
    assert got is expected


def test_external_endpoints_are_checked_at_one_end_only() -> None:
    """X6: from outside only the destination's ingress counts, to outside only egress."""
    cluster = fixture().with_policies(
        [
            netpol("deny-all", "x", {}, policy_types=["Ingress", "Egress"]),
            netpol("deny-egress-y", "y", {}, policy_types=["Egress"]),
        ]
    )
    assert not allowed(cluster, "8.8.8.8", cluster.pod("x/a"), protocol="TCP", port=80)
    assert not allowed(cluster, cluster.pod("x/a"), "8.8.8.8", protocol="TCP", port=80)
    assert allowed(cluster, "8.8.8.8", cluster.pod("y/a"), protocol="TCP", port=80)
    assert not allowed(cluster, cluster.pod("y/a"), "8.8.8.8", protocol="TCP", port=80)
    assert allowed(cluster, cluster.pod("z/a"), "8.8.8.8", protocol="TCP", port=80)
    with pytest.raises(ValueError):
        allowed(cluster, "8.8.8.8", "1.1.1.1", protocol="TCP", port=80)


def test_selectors_never_match_external_addresses() -> None:
    """A namespaceSelector {} peer means "all pods", not "everything"."""
    cluster = fixture().with_policies(
        [
            netpol("pods-only", "x", {}, ingress=[{"from": [{"namespaceSelector": {}}]}]),
        ]
    )
    assert allowed(cluster, cluster.pod("z/c"), cluster.pod("x/a"), protocol="TCP", port=80)
    assert not allowed(cluster, "10.99.0.1", cluster.pod("x/a"), protocol="TCP", port=80)


def test_named_port_never_matches_an_external_destination() -> None:
    cluster = fixture().with_policies(
        [
            netpol(
                "named-out",
                "x",
                {},
                policy_types=["Egress"],
                egress=[{"ports": [{"port": "serve-80-tcp"}]}],
            ),
        ]
    )
    assert allowed(cluster, cluster.pod("x/a"), cluster.pod("y/a"), protocol="TCP", port=80)
    assert not allowed(cluster, cluster.pod("x/a"), "10.99.0.1", protocol="TCP", port=80)


# --------------------------------------------------------------------------- ports / endPort


@pytest.mark.parametrize(
    ("entry", "protocol", "port", "expected"),
    [
        pytest.param({"port": 80, "endPort": 81}, "TCP", 80, True, id="range-start"),
        pytest.param({"port": 80, "endPort": 81}, "TCP", 81, True, id="range-end-inclusive"),
        pytest.param({"port": 80, "endPort": 81}, "TCP", 82, False, id="past-range-end"),
        pytest.param({"port": 80, "endPort": 81}, "TCP", 79, False, id="before-range-start"),
        pytest.param({"port": 81, "endPort": 81}, "TCP", 81, True, id="single-port-range"),
        pytest.param({"port": 1, "endPort": 65535}, "TCP", 65535, True, id="whole-range"),
        pytest.param(
            {"port": 80, "endPort": 81, "protocol": "UDP"}, "UDP", 81, True, id="udp-range"
        ),
        pytest.param(
            {"port": 80, "endPort": 81, "protocol": "UDP"},
            "TCP",
            81,
            False,
            id="udp-range-tcp-traffic",
        ),
        pytest.param({"port": 80}, "tcp", 80, True, id="protocol-case-insensitive"),
        pytest.param({}, "TCP", 12345, True, id="empty-entry-any-tcp-port"),
        pytest.param({}, "SCTP", 80, False, id="empty-entry-is-tcp-only"),
        pytest.param({"protocol": "SCTP"}, "SCTP", 9, True, id="protocol-only"),
    ],
)
def test_np_port_entries(entry: dict[str, Any], protocol: str, port: int, expected: bool) -> None:
    cluster = fixture().with_policies(
        [
            netpol("ports", "x", pod_sel("a"), ingress=[{"ports": [entry]}]),
        ]
    )
    got = allowed(cluster, cluster.pod("y/a"), cluster.pod("x/a"), protocol=protocol, port=port)
    assert got is expected


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"port": 81, "endPort": 80}, id="endport-below-port"),
        pytest.param({"port": "serve-80-tcp", "endPort": 81}, id="endport-with-named-port"),
        pytest.param({"endPort": 81}, id="endport-without-port"),
    ],
)
def test_invalid_endport_is_rejected(entry: dict[str, Any]) -> None:
    cluster = fixture().with_policies(
        [
            netpol("bad", "x", pod_sel("a"), ingress=[{"ports": [entry]}]),
        ]
    )
    with pytest.raises(ValueError):
        allowed(cluster, cluster.pod("y/a"), cluster.pod("x/a"), protocol="TCP", port=80)


@pytest.mark.parametrize(
    "peer",
    [
        pytest.param({}, id="empty-peer"),
        pytest.param({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}, id="ipblock-and-pods"),
    ],
)
def test_invalid_np_peer_is_rejected(peer: dict[str, Any]) -> None:
    cluster = fixture().with_policies([netpol("bad", "x", {}, ingress=[{"from": [peer]}])])
    with pytest.raises(ValueError):
        allowed(cluster, cluster.pod("y/a"), cluster.pod("x/a"), protocol="TCP", port=80)


# --------------------------------------------------------------------------- NetworkPolicy bits


def test_empty_egress_list_does_not_default_egress() -> None:
    """N2: the API server tests len(egress) != 0, so ``egress: []`` stays ingress-only."""
    cluster = fixture().with_policies([netpol("empty-egress", "x", {}, egress=[])])
    assert allowed(cluster, cluster.pod("x/a"), cluster.pod("y/a"), protocol="TCP", port=80)
    assert not allowed(cluster, cluster.pod("y/a"), cluster.pod("x/a"), protocol="TCP", port=80)


def test_self_traffic_is_always_allowed() -> None:
    """X3."""
    cluster = fixture().with_policies(
        [netpol(f"deny-{ns}", ns, {}, policy_types=["Ingress", "Egress"]) for ns in "xyz"]
    )
    x_a = cluster.pod("x/a")
    assert allowed(cluster, x_a, x_a, protocol="TCP", port=80)


def test_policy_without_namespace_lives_in_default() -> None:
    """X9."""
    cluster = Cluster(
        namespaces=[Namespace("default", {}), Namespace("other", {})],
        pods=[Pod("default", "p", {}, "10.1.0.1"), Pod("other", "q", {}, "10.1.0.2")],
    ).with_policies(
        [{"kind": "NetworkPolicy", "metadata": {"name": "n"}, "spec": {"podSelector": None}}]
    )
    assert matrix(cluster, protocol="TCP", port=80) == {("default/p", "other/q")}


# --------------------------------------------------------------------------- admin tiers


def _x_to(cluster: Cluster, dst: str, port: int = 80, protocol: str = "TCP") -> bool:
    return allowed(cluster, cluster.pod("y/a"), cluster.pod(dst), protocol=protocol, port=port)


def test_equal_anp_priorities_are_ordered_by_name() -> None:
    """X1: at equal priority the lower metadata.name goes first."""
    deny = anp(
        "a-deny",
        10,
        {"namespaces": ns_sel("x")},
        ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
    )
    allow = anp(
        "b-allow",
        10,
        {"namespaces": ns_sel("x")},
        ingress=[{"action": "Allow", "from": [{"namespaces": {}}]}],
    )
    cluster = fixture().with_policies([deny_ingress("x"), allow, deny])
    assert not _x_to(cluster, "x/a")
    renamed = {**allow, "metadata": {"name": "0-allow"}}
    cluster = fixture().with_policies([deny_ingress("x"), renamed, deny])
    assert _x_to(cluster, "x/a")


def test_equal_priority_anp_precedes_cnp_of_same_name() -> None:
    """X1: the final tie-break puts the ANP first."""
    cluster = fixture().with_policies(
        [
            anp(
                "same",
                3,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Allow", "from": [{"namespaces": {}}]}],
            ),
            cnp(
                "same",
                "Admin",
                3,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
            ),
        ]
    )
    assert _x_to(cluster, "x/a")


def test_baseline_cnp_precedes_banp() -> None:
    """X2."""
    cluster = fixture().with_policies(
        [
            banp(
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
            ),
            cnp(
                "base",
                "Baseline",
                1000,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Accept", "from": [{"namespaces": ns_sel("y")}]}],
            ),
        ]
    )
    assert _x_to(cluster, "x/a")
    assert not allowed(cluster, cluster.pod("z/a"), cluster.pod("x/a"), protocol="TCP", port=80)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("Allow", False, id="allow-matches-nothing"),
        pytest.param("Deny", False, id="deny-becomes-deny-all"),
        pytest.param("Pass", False, id="pass-becomes-deny-all"),
    ],
)
def test_unknown_peer_fails_closed(action: str, expected: bool) -> None:
    """A7: an empty/unknown peer; a default-deny NetworkPolicy shows that Allow did nothing."""
    rule = {"action": action, "from": [{"namespaces": ns_sel("y")}, {"sameLabels": ["ns"]}]}
    cluster = fixture().with_policies(
        [
            deny_ingress("x"),
            anp("odd", 1, {"namespaces": ns_sel("x")}, ingress=[rule]),
        ]
    )
    assert _x_to(cluster, "x/a") is expected
    # Deny/Pass fail closed regardless of port, and only for the subject.
    assert _x_to(cluster, "y/b")


def test_unknown_peer_in_deny_rule_denies_without_np() -> None:
    cluster = fixture().with_policies(
        [
            anp("odd", 1, {"namespaces": ns_sel("x")}, ingress=[{"action": "Pass", "from": [{}]}]),
        ]
    )
    assert not _x_to(cluster, "x/a", port=81, protocol="UDP")


def test_anp_ingress_cannot_select_external_sources() -> None:
    """A5/X6: there is no ingress ``networks`` peer, so external sources fall through."""
    cluster = fixture().with_policies(
        [
            anp(
                "deny-all-pods",
                1,
                {"namespaces": ns_sel("x")},
                ingress=[{"action": "Deny", "from": [{"namespaces": {}}]}],
            ),
        ]
    )
    assert allowed(cluster, "10.99.0.1", cluster.pod("x/a"), protocol="TCP", port=80)
    assert not _x_to(cluster, "x/a")


def test_anp_egress_networks_match_external_destinations() -> None:
    cluster = fixture().with_policies(
        [
            anp(
                "no-internet",
                1,
                {"namespaces": {}},
                egress=[{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}],
            ),
        ]
    )
    assert not allowed(cluster, cluster.pod("x/a"), "8.8.8.8", protocol="UDP", port=53)
    # C6: 0.0.0.0/0 covers pod IPs too.
    assert not _x_to(cluster, "x/a")


def test_nodes_and_domain_names_match_nothing() -> None:
    """X4."""
    cluster = fixture().with_policies(
        [
            anp(
                "odd-peers",
                1,
                {"namespaces": {}},
                egress=[
                    {"action": "Deny", "to": [{"nodes": {}}, {"domainNames": ["example.com"]}]},
                ],
            ),
        ]
    )
    assert _x_to(cluster, "x/a")
    assert allowed(cluster, cluster.pod("x/a"), "93.184.216.34", protocol="TCP", port=443)


def test_anp_without_rules_for_a_direction_does_not_affect_it() -> None:
    """A8: an egress-only ANP leaves ingress to NetworkPolicy and the default."""
    cluster = fixture().with_policies(
        [
            anp(
                "egress-only",
                1,
                {"namespaces": ns_sel("x")},
                egress=[{"action": "Deny", "to": [{"namespaces": ns_sel("z")}]}],
            ),
        ]
    )
    assert _x_to(cluster, "x/a")
    assert not allowed(cluster, cluster.pod("x/a"), cluster.pod("z/a"), protocol="TCP", port=80)


@pytest.mark.parametrize(
    "policies",
    [
        pytest.param(
            [banp({"namespaces": {}}, ingress=[{"action": "Pass", "from": [{"namespaces": {}}]}])],
            id="banp-pass",
        ),
        pytest.param(
            [
                cnp(
                    "b",
                    "Baseline",
                    1,
                    {"namespaces": {}},
                    ingress=[{"action": "Pass", "from": [{"namespaces": {}}]}],
                )
            ],
            id="baseline-cnp-pass",
        ),
        pytest.param(
            [
                cnp(
                    "b",
                    "Admin",
                    1,
                    {"namespaces": {}},
                    ingress=[{"action": "Allow", "from": [{"namespaces": {}}]}],
                )
            ],
            id="cnp-allow-is-anp-spelling",
        ),
        pytest.param([anp("a", 1001, {"namespaces": {}})], id="priority-out-of-range"),
        pytest.param(
            [anp("a", 1, {"namespaces": {}, "pods": {"podSelector": {}}})], id="two-subjects"
        ),
        pytest.param([cnp("c", "Middle", 1, {"namespaces": {}})], id="unknown-tier"),
    ],
)
def test_invalid_admin_policies_are_rejected(policies: list[dict[str, Any]]) -> None:
    cluster = fixture().with_policies(policies)
    with pytest.raises(ValueError):
        matrix(cluster, protocol="TCP", port=80)


@pytest.mark.parametrize(
    "policies",
    [
        pytest.param([banp({"namespaces": {}}), banp({"namespaces": {}})], id="two-banps"),
        pytest.param([{"kind": "CiliumNetworkPolicy"}], id="unknown-kind"),
    ],
)
def test_with_policies_rejects(policies: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        fixture().with_policies(policies)


def test_cnp_older_ports_field_is_read_like_anp() -> None:
    """X8."""
    cluster = fixture().with_policies(
        [
            cnp(
                "old",
                "Admin",
                1,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {
                        "action": "Deny",
                        "from": [{"namespaces": {}}],
                        "ports": [{"portNumber": {"protocol": "TCP", "port": 81}}],
                    }
                ],
            ),
        ]
    )
    assert _x_to(cluster, "x/a", port=80)
    assert not _x_to(cluster, "x/a", port=81)


def test_cnp_protocol_without_destination_port_is_any_port() -> None:
    cluster = fixture().with_policies(
        [
            cnp(
                "sctp",
                "Admin",
                1,
                {"namespaces": ns_sel("x")},
                ingress=[
                    {
                        "action": "Deny",
                        "from": [{"namespaces": {}}],
                        "protocols": [{"sctp": {}}],
                    }
                ],
            ),
        ]
    )
    assert not _x_to(cluster, "x/a", port=81, protocol="SCTP")
    assert _x_to(cluster, "x/a", port=81, protocol="TCP")


def test_evaluate_explains_the_tiers() -> None:
    """The reasoning strings name the tier and the policy that decided."""
    case = next(c for c in CASES if c.id == "anp-pass-to-np")
    cluster = case.cluster()
    why = evaluate(cluster, cluster.pod("y/a"), cluster.pod("x/a"), protocol="TCP", port=80)
    assert not why.allowed
    assert "Pass" in why.ingress or "pass" in why.ingress
    assert "[NetworkPolicy]" in why.ingress


# --------------------------------------------------------------------------- independence


def test_oracle_does_not_import_the_implementation() -> None:
    """Independence is the point: no import of sdn or ncp, directly or via support."""
    support = Path(__file__).resolve().parent
    for name in ("k8s_oracle.py", "truth_tables.py"):
        tree = ast.parse((support / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] not in {"sdn", "ncp", "topologies"}, (name, module)
                assert module in {
                    "__future__",
                    "ipaddress",
                    "collections.abc",
                    "dataclasses",
                    "typing",
                    "tests.support.k8s_oracle",
                }, (name, module)
