"""NCP's baseline_policy_type on the x/y/z fixture: the full matrices, and what changes for
traffic from and to addresses outside the cluster."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from sdn.policy import Endpoint, evaluate_flow
from tests.support.dfw_harness import CONFIG, Realized
from tests.support.truth_tables import ALL, fixture, netpol, only

SAME_NAMESPACE = frozenset(p for p in ALL if p[0].split("/")[0] == p[1].split("/")[0])
OUTSIDE = Endpoint(ip=IPv4Address("192.0.2.9"))

# x/a accepts ingress from namespace y (a NetworkPolicy): it is then decided by that
# policy, not by the baseline.
X_A_FROM_Y = netpol("x-a-from-y", "x", {"matchLabels": {"pod": "a"}},
                    ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}])


def realize(tmp: Path, baseline: str, policies: list[dict[str, Any]]) -> Realized:
    cfg = CONFIG.model_copy(update={"baseline_policy_type": baseline})
    return Realized(tmp, fixture(), policies, cfg)


@pytest.mark.parametrize(("baseline", "policies", "allowed", "from_outside", "to_outside"), [
    pytest.param("none", [], ALL, True, True, id="none"),
    pytest.param("allow_cluster", [], ALL, False, True, id="allow-cluster"),
    pytest.param("allow_namespace", [], SAME_NAMESPACE, False, True, id="allow-namespace"),
    pytest.param("allow_namespace_strict", [], SAME_NAMESPACE, False, False,
                 id="allow-namespace-strict"),
    pytest.param("allow_namespace", [X_A_FROM_Y],
                 (SAME_NAMESPACE - only(src="x", dst="x/a")) | only(src="y", dst="x/a"),
                 False, True, id="allow-namespace-with-networkpolicy"),
])
def test_baseline(tmp_path: Path, baseline: str, policies: list[dict[str, Any]],
                  allowed: frozenset[tuple[str, str]], from_outside: bool,
                  to_outside: bool) -> None:
    realized = realize(tmp_path, baseline, policies)
    assert realized.problems == []
    assert realized.matrix("TCP", 80) == set(allowed)
    pod = next(ep for ep in realized.dfw.endpoints if ep.name == "z/c")
    assert evaluate_flow(realized.dfw, OUTSIDE, pod, port=80).allowed == from_outside
    assert evaluate_flow(realized.dfw, pod, OUTSIDE, port=80).allowed == to_outside
