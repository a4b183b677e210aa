"""Tests for the distributed-firewall kit the policy translators share (ncp.translate.dfwkit).

The translators' tests (test_networkpolicy, test_adminpolicy, test_policy_problems) cover
the kit through whole policies; these pin the parts whose contract is the kit's own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import ncp.cli
from ncp.errors import NcpError, PluginError
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
    """A branch of its own: not an NcpError (the input errors that stop a run, exit 2),
    since the translators report it as a problem and go on."""
    err = PolicyInputError("INVALID_SELECTOR", "spec.podSelector is not a label selector")
    assert isinstance(err, PluginError)
    assert not isinstance(err, NcpError)
    assert (err.code, err.message) == ("INVALID_SELECTOR",
                                       "spec.podSelector is not a label selector")
    assert str(err) == "spec.podSelector is not a label selector"


def test_an_escaped_policy_input_error_is_a_bug_at_the_command_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """As before it joined the tree: none should get that far, and one that did is exit 70."""
    def run(_args: argparse.Namespace) -> int:
        raise PolicyInputError("INVALID_PEER", "spec.ingress[0].from[0] is not a mapping")
    monkeypatch.setattr(ncp.cli, "_run", run)
    code = ncp.cli.main(["run", "--cluster", str(tmp_path), "--state", str(tmp_path / "s.db")])
    assert code == 70
    assert capsys.readouterr().err.startswith(
        "error: INTERNAL_ERROR: PolicyInputError: spec.ingress[0].from[0] is not a mapping")


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
