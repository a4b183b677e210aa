"""NetworkPolicy problems (issue 10, defect 8): every error of a policy is reported (one
problem each), and a policy in a namespace that does not exist is NAMESPACE_NOT_FOUND and
not realized, as a pod there is.

Before the fix the first error hid the others, and a policy in a missing namespace was
translated into groups and security policies that nothing asked for.
"""

from __future__ import annotations

from typing import Any

import pytest

from ncp.objects import K8sObject
from ncp.translate.adminpolicy import translate_admin_policies
from ncp.translate.networkpolicy import translate_network_policies


def np(name: str, spec: dict[str, Any], namespace: str = "shop") -> K8sObject:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    return K8sObject("NetworkPolicy", body["apiVersion"], namespace, name, body, "np.yaml")


FIVE_ERRORS = {
    "podSelector": {"matchExpressions": [{"key": "app", "operator": "Near"}]},
    "policyTypes": ["Ingress", "Sideways"],
    "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.300/8"}}],
                 "ports": [{"port": 70000}, {"protocol": "ICMP", "port": 80}]}],
}

#: (spec, the (code, message start) of every problem expected), by kind of mix.
CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
    "five-errors": (FIVE_ERRORS, [
        ("INVALID_CIDR", "spec.ingress[0].from[0].ipBlock.cidr"),
        ("INVALID_POLICY_TYPE", "spec.policyTypes"),
        ("INVALID_PORT", "spec.ingress[0].ports[0]"),
        ("INVALID_SELECTOR", "spec.podSelector.matchExpressions[0]"),
        ("UNKNOWN_PROTOCOL", "spec.ingress[0].ports[1]"),
    ]),
    "errors-in-both-directions": ({
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ["not-a-rule", {"from": [{}]}],
        "egress": [{"to": "nobody", "ports": [{"port": 80, "endPort": 10}]}],
    }, [
        ("INVALID_PEER", "spec.ingress[1].from[0]"),
        ("INVALID_POLICY", "spec.egress[0].to"),
        ("INVALID_POLICY", "spec.ingress[0]"),
        ("INVALID_PORT_RANGE", "spec.egress[0].ports[0]"),
    ]),
    "one-error": ({"ingress": [{"ports": [{"port": 0}]}]}, [
        ("INVALID_PORT", "spec.ingress[0].ports[0]"),
    ]),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_error_of_a_policy_is_reported(case: str) -> None:
    spec, expected = CASES[case]
    good = np("fine", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})
    result = translate_network_policies([np("bad", spec), good], cluster="k8s", pods=(),
                                        namespaces=())
    mine = [p for p in result.problems if p.obj == "NetworkPolicy/shop/bad"]
    assert len(mine) == len(result.problems) == len(expected)
    assert sorted((p.code, p.message.split(":")[0].split(" ")[0]) for p in mine) \
        == sorted(expected)
    # nothing of the bad policy is realized; the good one is
    assert {p.id for p in result.policies} == {"np_k8s_shop_fine_allow",
                                               "np_k8s_shop_fine_isolation"}
    assert all("_bad_" not in g.id for g in result.groups)


def test_every_error_of_an_admin_policy_is_reported() -> None:
    body = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": "bad"},
            "spec": {"priority": 5000,
                     "subject": {"namespaces": {"matchExpressions": [
                         {"key": "a", "operator": "Is", "values": ["b"]}]}},
                     "ingress": [{"action": "Maybe", "from": [{"namespaces": {}}],
                                  "ports": [{"portNumber": {"protocol": "ICMP", "port": 1}},
                                            {"portRange": {"protocol": "TCP", "start": 9,
                                                           "end": 2}}]},
                                 {"action": "Deny", "from": []}]}}
    bad = K8sObject("AdminNetworkPolicy", body["apiVersion"], "", "bad", body, "anp.yaml")
    result = translate_admin_policies([bad], cluster="k8s", pods=(), namespaces=())
    assert sorted(p.code for p in result.problems) == [
        "INVALID_PEER", "INVALID_PORT_RANGE", "INVALID_PRIORITY", "INVALID_SELECTOR",
        "UNKNOWN_ACTION", "UNKNOWN_PROTOCOL"]
    assert {p.obj for p in result.problems} == {"AdminNetworkPolicy/bad"}
    assert result.groups == () and result.policies == ()


def test_a_selector_nsx_cannot_hold_is_a_problem_naming_the_field() -> None:
    """A label key longer than NSX's 128-character tag scope cannot be a tag condition."""
    key = "a" * 60 + "." + "b" * 60 + "/" + "n" * 20  # a valid Kubernetes key, 142 long
    spec = {"podSelector": {"matchLabels": {key: "v"}}}
    result = translate_network_policies([np("long", spec)], cluster="k8s", pods=(),
                                        namespaces=())
    (problem,) = result.problems
    assert problem.code == "INVALID_POLICY" and problem.obj == "NetworkPolicy/shop/long"
    assert problem.message.startswith("the NSX objects would be invalid: ")
    assert "longer than 128 characters" in problem.message
    assert result.policies == ()
