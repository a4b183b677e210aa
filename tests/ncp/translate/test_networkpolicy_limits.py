"""Tests for NCP's NetworkPolicy limits as ``sdn lint`` warnings
(ncp.translate.networkpolicy_limits)."""

from __future__ import annotations

import pytest
import yaml

from ncp.objects import K8sObject
from ncp.translate.networkpolicy_limits import lint_limits
from ncp.translate.policyinputs import NamespaceInfo, Tracked


def obj(text: str, source: str = "np.yaml#0") -> K8sObject:
    """A K8sObject from inline YAML, as read_manifests would build it."""
    body = yaml.safe_load(text)
    body.setdefault("apiVersion", "networking.k8s.io/v1")
    body.setdefault("kind", "NetworkPolicy")
    meta = body.setdefault("metadata", {})
    meta.setdefault("namespace", "shop")
    return K8sObject(body["kind"], body["apiVersion"], meta["namespace"], meta["name"], body,
                     source)


def np_text(spec: str) -> str:
    return f"metadata: {{name: p}}\nspec: {spec}\n"


FIVE = "{a: '1', b: '2', c: '3', d: '4', e: '5'}"


@pytest.mark.parametrize(
    ("spec", "codes"),
    [
        pytest.param("{podSelector: {matchLabels: {a: '1', b: '2', c: '3', d: '4'}}}", [],
                     id="four-match-labels-ok"),
        pytest.param(f"{{podSelector: {{matchLabels: {FIVE}}}}}", ["TOO_MANY_MATCH_LABELS"],
                     id="five-match-labels"),
        pytest.param(f"{{ingress: [{{from: [{{namespaceSelector: {{matchLabels: {FIVE}}}}}]}}]}}",
                     ["TOO_MANY_MATCH_LABELS"], id="five-match-labels-in-peer"),
        pytest.param("{ingress: [{from: [{podSelector: {}, namespaceSelector: {}}, "
                     "{podSelector: {}, namespaceSelector: {}}, {podSelector: {}}]}]}",
                     ["TOO_MANY_NAMESPACES", "TOO_MANY_NAMESPACES"],
                     id="five-selectors-ok-too-many-namespaces"),
        pytest.param("{ingress: [{from: [{podSelector: {}}, {podSelector: {}}, "
                     "{podSelector: {}}, {podSelector: {}}, {podSelector: {}}, "
                     "{podSelector: {}}]}]}", ["TOO_MANY_SELECTORS"], id="six-selectors"),
        pytest.param("{ingress: [{from: [{podSelector: {}, namespaceSelector: "
                     "{matchLabels: {env: prod}}}]}]}", [], id="few-namespaces"),
        pytest.param("{ingress: [{ports: [" + ", ".join(f"{{port: {n}}}" for n in range(1, 8))
                     + "]}], egress: [{ports: [" + ", ".join(f"{{port: {n}}}"
                                                             for n in range(8, 14)) + "]}]}",
                     ["TOO_MANY_PORTS"], id="thirteen-ports"),
        pytest.param("{ingress: [{ports: [{protocol: SCTP, port: 9}]}]}",
                     ["SCTP_UNSUPPORTED_BY_NCP"], id="sctp"),
        pytest.param("{egress: [{ports: [{port: http}]}]}", ["NAMED_PORT_EGRESS_TO_ALL"],
                     id="named-port-allow-all-egress"),
        pytest.param("{ingress: 7, egress: [{to: 3}]}", [], id="malformed-skipped"),
    ],
)
def test_lint_limits(spec: str, codes: list[str]) -> None:
    spaces = [NamespaceInfo(f"ns{n}", {"env": "prod" if n < 3 else "dev"}) for n in range(6)]
    problems = lint_limits([obj(np_text(spec))], namespaces=spaces)
    assert [p.code for p in problems] == codes
    assert all(p.obj == "NetworkPolicy/shop/p" for p in problems)


def test_lint_without_namespaces_skips_namespace_count() -> None:
    text = np_text("{ingress: [{from: [{podSelector: {}, namespaceSelector: {}}]}]}")
    assert lint_limits([obj(text)]) == []


@pytest.mark.parametrize(
    ("peer", "read"),
    [
        pytest.param("{podSelector: {}}", False, id="pod-selector-only"),
        pytest.param("{namespaceSelector: {}}", False, id="namespace-selector-only"),
        pytest.param("{podSelector: {}, namespaceSelector: {}}", True, id="both-selectors"),
    ],
)
def test_namespaces_read_only_for_a_peer_with_both_selectors(peer: str, read: bool) -> None:
    """The firewall depends on the namespaces only when a check needs them (the incremental
    reconcile relies on it)."""
    spaces = Tracked([NamespaceInfo("ns0", {})])
    lint_limits([obj(np_text(f"{{ingress: [{{from: [{peer}]}}]}}"))], namespaces=spaces)
    assert spaces.read is read
