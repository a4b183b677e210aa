"""Tests for the distributed-firewall kit the policy translators share (ncp.translate.dfwkit).

The translators' tests (test_networkpolicy, test_adminpolicy, test_policy_problems) cover
the kit through whole policies; these pin the parts whose contract is the kit's own.
"""

from __future__ import annotations

import pytest

from ncp.errors import NcpError
from ncp.objects import K8sObject
from ncp.translate.dfwkit.errors import (
    ErrorCollector,
    PolicyInputError,
    PolicyInputErrors,
    translate_each,
)
from ncp.translate.dfwkit.selectors import Requirement, parse_selector
from sdn.errors import Problem
from sdn.model import Group, SecurityPolicy


def test_policy_input_error_is_in_ncp_error_tree() -> None:
    err = PolicyInputError("INVALID_SELECTOR", "spec.podSelector is not a label selector")
    assert isinstance(err, NcpError)
    assert (err.code, err.message) == ("INVALID_SELECTOR",
                                       "spec.podSelector is not a label selector")
    assert str(err) == "INVALID_SELECTOR: spec.podSelector is not a label selector"
    assert err.problems == []  # the policy's name is not known where it is raised


def test_every_error_of_a_policy_is_its_own_problem() -> None:
    found = ErrorCollector()
    assert found.attempt("stand-in", parse_selector, 7, "spec.podSelector") == "stand-in"
    found.errors.append(PolicyInputErrors([PolicyInputError("INVALID_PEER", "a"),
                                           PolicyInputError("INVALID_PORT", "b")]))
    with pytest.raises(PolicyInputErrors) as raised:
        found.check()
    assert raised.value.problems_for("NetworkPolicy/shop/p") == [
        Problem("INVALID_SELECTOR", "NetworkPolicy/shop/p", "spec.podSelector is not a label "
                "selector"),
        Problem("INVALID_PEER", "NetworkPolicy/shop/p", "a"),
        Problem("INVALID_PORT", "NetworkPolicy/shop/p", "b"),
    ]


def test_translate_each_reports_a_bad_policy_and_keeps_the_others() -> None:
    def obj(name: str, source: str) -> K8sObject:
        return K8sObject("NetworkPolicy", "networking.k8s.io/v1", "shop", name, {}, source)

    def translate(o: K8sObject) -> tuple[list[Group], list[SecurityPolicy]]:
        if o.name == "bad":
            raise PolicyInputErrors([PolicyInputError("INVALID_PEER", "x"),
                                     PolicyInputError("INVALID_CIDR", "y")])
        return [], []

    got = translate_each([obj("ok", "b.yaml#0"), obj("bad", "a.yaml#0"), obj("ok", "a.yaml#1")],
                         key=lambda o: (o.namespace, o.name), name=lambda o: f"NP/{o.name}",
                         translate=translate)
    assert got.problems == (
        Problem("DUPLICATE_OBJECT", "NP/ok", "given again in b.yaml#0; the first is kept"),
        Problem("INVALID_CIDR", "NP/bad", "y"),
        Problem("INVALID_PEER", "NP/bad", "x"),
    )


def test_selector_requirements_in_a_stable_order() -> None:
    selector = parse_selector({"matchLabels": {"tier": "web", "app": "shop"},
                               "matchExpressions": [
                                   {"key": "env", "operator": "In", "values": ["b", "a", "b"]},
                                   {"key": "canary", "operator": "DoesNotExist"}]},
                              "spec.podSelector")
    assert selector == (Requirement("app", "Equals", ("shop",)),
                        Requirement("tier", "Equals", ("web",)),
                        Requirement("env", "In", ("b", "a")),
                        Requirement("canary", "DoesNotExist"))
