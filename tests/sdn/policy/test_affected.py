"""The endpoints a change can affect (:mod:`sdn.policy.affected`): few, and enough.

Enough: on random clusters and random changes (policies added, removed, edited; pods
relabelled), every pod pair (and pod to outside address) whose verdict differs before
and after, on any probe, has an end among them. The oracle is brute force: each flow
evaluated on both firewalls (:func:`~sdn.policy.evaluate_flow`, what ``explain`` runs),
with no knowledge of which objects changed. Few: a table of changes with the exact set.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from sdn.policy import Endpoint, compile_dfw, evaluate_flow
from sdn.policy.affected import affected_ports
from tests.support.dfw_harness import changed_paths, two_states
from tests.support.k8s_oracle import Cluster
from tests.support.policy_strategies import PROBES, change_st
from tests.support.truth_tables import deny_ingress, fixture, netpol, ns_sel, pod_sel

#: Addresses outside every pod: in and out of the CIDRs the strategies name.
OUTSIDE = (IPv4Address("10.0.1.3"), IPv4Address("10.0.2.200"), IPv4Address("192.0.2.1"))


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(change=change_st())
def test_every_pair_that_changes_has_an_affected_end(tmp_path_factory: Any,
                                                     change: tuple[Any, Any]) -> None:
    before, after = change
    old, new_inv = two_states(tmp_path_factory.mktemp("affected"), before, after)
    old_dfw, new_dfw = compile_dfw(old), compile_dfw(new_inv)
    ports = affected_ports(changed_paths(old, new_inv), before=old, after=new_inv,
                           before_dfw=old_dfw, after_dfw=new_dfw)
    if ports is None:
        return  # every pair is compared: enough by definition
    for src, dst, probe in _flows(old_dfw, new_dfw):
        was = _verdict(old_dfw, src, dst, probe)
        now = _verdict(new_dfw, src, dst, probe)
        if was != now:
            assert src in ports or dst in ports, (src, dst, probe, sorted(ports))


def _flows(*firewalls: Any) -> list[tuple[str, str, tuple[str, int | None]]]:
    """Every ordered pair of distinct pods (by port path) and of a pod and an outside
    address (by address), with every probe and ICMP."""
    pods = sorted({ep.path for dfw in firewalls for ep in dfw.endpoints})
    ends = [*pods, *(str(ip) for ip in OUTSIDE)]
    probes: list[tuple[str, int | None]] = [*PROBES, ("ICMP", None)]
    return [(s, d, probe) for s in ends for d in ends if s != d
            and (s in pods or d in pods) for probe in probes]


def _verdict(dfw: Any, src: str, dst: str, probe: tuple[str, int | None]) -> bool | None:
    """Allowed or not; None when either pod is absent from this firewall."""
    ends = []
    for end in (src, dst):
        if end.startswith("/"):
            found = dfw.endpoints_of([end]).get(end)
            if found is None:
                return None
            ends.append(found)
        else:
            ends.append(Endpoint(ip=IPv4Address(end)))
    protocol, port = probe
    return evaluate_flow(dfw, ends[0], ends[1], protocol=protocol, port=port).allowed


def _policy_on_x_a() -> list[dict[str, Any]]:
    return [netpol("allow-from-y", "x", pod_sel("a"),
                   ingress=[{"from": [{"namespaceSelector": ns_sel("y")}]}])]


#: Changes and the pods they affect exactly (``None``: every pair).
CASES: dict[str, tuple[Callable[[], tuple[Cluster, list[dict[str, Any]]]],
                       Callable[[], tuple[Cluster, list[dict[str, Any]]]], set[str] | None]] = {
    "nothing-changed": (lambda: (fixture(), _policy_on_x_a()),
                        lambda: (fixture(), _policy_on_x_a()), set()),
    "ingress-policy-on-one-pod-added": (lambda: (fixture(), []),
                                        lambda: (fixture(), _policy_on_x_a()), {"x/a"}),
    "ingress-policy-on-one-pod-removed": (lambda: (fixture(), _policy_on_x_a()),
                                          lambda: (fixture(), []), {"x/a"}),
    "namespace-isolated": (lambda: (fixture(), []),
                           lambda: (fixture(), [deny_ingress("y")]), {"y/a", "y/b", "y/c"}),
    "pod-relabelled-no-policy": (lambda: (fixture(), []),
                                 lambda: (fixture({"z/b": {"role": "db"}}), []), {"z/b"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_change_affects_exactly_these_pods(tmp_path: Path, case: str) -> None:
    before, after, want = CASES[case]
    old, new = two_states(tmp_path, before(), after())
    old_dfw, new_dfw = compile_dfw(old), compile_dfw(new)
    ports = affected_ports(changed_paths(old, new), before=old, after=new,
                           before_dfw=old_dfw, after_dfw=new_dfw)
    names = {ep.path: ep.name for dfw in (old_dfw, new_dfw) for ep in dfw.endpoints}
    assert (None if ports is None else {names[p] for p in ports}) == want
