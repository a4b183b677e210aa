"""Property: on random namespaces, pods, labels and policies, the NSX DFW that NCP builds
decides every pod pair, port and protocol exactly as the naive Kubernetes oracle
(``tests/support/k8s_oracle.py``, written straight from the specifications)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.dfw_harness import Realized
from tests.support.k8s_oracle import matrix
from tests.support.policy_strategies import (
    PROBES,
    anp_st,
    pod_labels_st,
    policy_st,
    random_cluster,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(labels=pod_labels_st, nps=st.lists(policy_st, max_size=4),
       anps=st.lists(anp_st, max_size=2))
def test_dfw_equals_kubernetes_semantics(tmp_path_factory: Any, labels: dict[str, Any],
                                         nps: list[dict[str, Any]],
                                         anps: list[dict[str, Any]]) -> None:
    policies = []
    for i, p in enumerate(nps):
        p["metadata"]["name"] = f"np{i}"
        policies.append(p)
    for i, p in enumerate(anps):
        p["metadata"]["name"] = f"anp{i}"
        policies.append(p)
    realized = Realized(tmp_path_factory.mktemp("prop"), random_cluster(labels), policies)
    assert realized.problems == []
    for protocol, port in PROBES:
        want = matrix(realized.oracle, protocol=protocol, port=port)
        got = realized.matrix(protocol, port)
        assert got == want, (protocol, port, sorted(want - got), sorted(got - want))
