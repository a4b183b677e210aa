"""The reachability delta of ``ncp sync --dry-run`` (:mod:`sdn.policy.whatif`) against
three oracles:

* the NetworkPolicy truth tables, as before/after pairs: synced with one case, dry-run
  with the next, the flows lost and gained on each probe are exactly the difference of
  the two hand-written matrices;
* connectivity before and after applying for real: on random clusters and random changes,
  the dry run's delta equals the difference between ``connectivity`` of the state before
  the real sync and after it (pod pairs), and between per-pair outcomes for addresses
  outside (pods to and from the CIDRs policies name);
* the full matrix: the delta over the affected ports only equals the delta over every
  pair (:func:`~sdn.policy.connectivity.reachability_delta` with ``endpoints=None``).
"""

from __future__ import annotations

from collections import defaultdict
from ipaddress import IPv4Address, IPv4Network
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from sdn.policy import Endpoint, compile_dfw
from sdn.policy.connectivity import FlowChange, connectivity, pair_outcomes, reachability_delta
from sdn.policy.outside import named_networks
from sdn.store import Store
from tests.support.dfw_harness import dry_run_with_policies, pod_addresses, sync_with_policies
from tests.support.policy_strategies import change_st
from tests.support.truth_tables import CASES, PODS, TruthCase

Ranges = tuple[tuple[int, int], ...]
#: Outside addresses asked about: inside and outside the CIDRs the strategies name.
OUTSIDE = (IPv4Address("10.0.0.200"), IPv4Address("10.0.1.201"), IPv4Address("10.0.2.250"),
           IPv4Address("192.0.2.1"))


# --------------------------------------------------------------------------- intervals


def _merge(ranges: list[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _minus(a: Ranges, b: Ranges) -> Ranges:
    """Ports in ``a`` and not in ``b`` (port by port over the ends, kept small)."""
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        start = lo
        for blo, bhi in b:
            if bhi < start or blo > hi:
                continue
            if blo > start:
                out.append((start, blo - 1))
            start = max(start, bhi + 1)
        if start <= hi:
            out.append((start, hi))
    return _merge(out)


def _ports(protocol: str, ports: Ranges | None) -> Ranges:
    return ((0, 0),) if protocol == "ICMP" or ports is None else tuple(ports)


# --------------------------------------------------------------------------- truth tables


def _chained() -> list[Any]:
    return [pytest.param(a, b, id=f"{a.id}->{b.id}") for a, b in pairwise(CASES)]


def _by_probe(changes: list[dict[str, Any]], protocol: str, port: int) -> set[tuple[str, str]]:
    return {(c["src"], c["dst"]) for c in changes
            if c["protocol"] == protocol and c["src"] in PODS and c["dst"] in PODS
            and any(lo <= port <= hi for lo, hi in c["ports"])}


@pytest.mark.parametrize(("before", "after"), _chained())
def test_truth_tables_before_and_after(tmp_path: Path, before: TruthCase,
                                       after: TruthCase) -> None:
    with Store.open(tmp_path / "state.db") as store:
        ips = pod_addresses(store, before.cluster())
        assert sync_with_policies(store, before.cluster(), before.policies, ips)[1] == []
        report = dry_run_with_policies(store, after.cluster(), after.policies, ips)
    assert report.plan is not None and report.problems == []
    delta = report.plan.reachability.to_json()
    was = {(c.protocol, c.port): c.allowed for c in before.checks}
    for check in after.checks:
        if (check.protocol, check.port) not in was:
            continue
        old = was[(check.protocol, check.port)]
        assert _by_probe(delta["lost"], check.protocol, check.port) == old - check.allowed
        assert _by_probe(delta["gained"], check.protocol, check.port) == check.allowed - old


# --------------------------------------------------------------------------- property


def _pod_delta(changes: list[FlowChange]) -> dict[tuple[str, str, str], Ranges]:
    """Pod-to-pod changes by pair and protocol, ports merged (whatever the rule)."""
    got: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for c in changes:
        if "/" in c.src and "/" in c.dst and not _is_cidr(c.src) and not _is_cidr(c.dst):
            got[(c.src, c.dst, c.protocol)] += _ports(c.protocol, c.ports)
    return {k: _merge(v) for k, v in got.items()}


def _is_cidr(label: str) -> bool:
    try:
        IPv4Network(label)
    except ValueError:
        return False
    return True


Named = dict[str, set[IPv4Network]]


def _named_at(*firewalls: Any) -> Named:
    """Per pod, the networks the rules enforced at it name (in either firewall): the
    outside addresses its answers speak of (:mod:`sdn.policy.outside`: an address no
    rule at a pod names is "the rest of the world" to it, which no answer lists)."""
    out: Named = defaultdict(set)
    for dfw in firewalls:
        for ep in dfw.endpoints:
            rules = [*dfw.candidates(ep.index, "OUT"), *dfw.candidates(ep.index, "IN")]
            out[ep.name] |= named_networks(rules)
    return out


def _speaks(named: Named, pod: str, ip: IPv4Address) -> bool:
    return any(ip in net for net in named.get(pod, ()))


def _outside_delta(changes: list[FlowChange], named: Named
                   ) -> dict[tuple[str, str, str, str], Ranges]:
    """Changes between a pod and each address of :data:`OUTSIDE` that the rules at the
    pod name, by address, ports merged per rule (atoms may differ in size; the answer
    per address may not)."""
    got: dict[tuple[str, str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for c in changes:
        for ip in OUTSIDE:
            if _is_cidr(c.src) and ip in IPv4Network(c.src) and _speaks(named, c.dst, ip):
                got[(str(ip), c.dst, c.protocol, str(c.rule))] += _ports(c.protocol, c.ports)
            if _is_cidr(c.dst) and ip in IPv4Network(c.dst) and _speaks(named, c.src, ip):
                got[(c.src, str(ip), c.protocol, str(c.rule))] += _ports(c.protocol, c.ports)
    return {k: _merge(v) for k, v in got.items()}


def _allowed(dfw: Any) -> dict[tuple[str, str, str], Ranges]:
    """Pod pairs (nodes left out, as :func:`_pod_delta` leaves them)."""
    return {(c.src, c.dst, c.protocol): _ports(c.protocol, c.ports)
            for c in connectivity(dfw, outside=False) if "/" in c.src and "/" in c.dst}


def _difference(a: dict[Any, Ranges], b: dict[Any, Ranges]) -> dict[Any, Ranges]:
    """What ``a`` allows and ``b`` does not, per key (empty answers left out)."""
    out = {k: _minus(v, b.get(k, ())) for k, v in a.items()}
    return {k: v for k, v in out.items() if v}


def _outside_allowed(dfw: Any, named: Named) -> dict[tuple[str, str, str], Ranges]:
    """Per pod and outside address its rules name, both ways: the allowed ports, from
    each pair's outcomes (:func:`pair_outcomes`: no atoms involved)."""
    out: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for ep in dfw.endpoints:
        if "/" not in ep.name:
            continue
        for ip in OUTSIDE:
            if not _speaks(named, ep.name, ip):
                continue
            away = Endpoint(ip=ip)
            for src, dst, key in ((ep, away, (ep.name, str(ip))),
                                  (away, ep, (str(ip), ep.name))):
                for o in pair_outcomes(dfw, src, dst):
                    if o.allowed:
                        out[(*key, o.protocol)] += _ports(o.protocol, o.ports)
    return {k: _merge(v) for k, v in out.items()}


def _ruleless(delta: dict[tuple[str, str, str, str], Ranges]) -> dict[Any, Ranges]:
    out: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for (src, dst, protocol, _rule), ports in delta.items():
        out[(src, dst, protocol)] += ports
    return {k: _merge(v) for k, v in out.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(change=change_st())
def test_dry_run_delta_is_what_applying_does(tmp_path_factory: Any,
                                             change: tuple[Any, Any]) -> None:
    before, after = change
    with Store.open(tmp_path_factory.mktemp("whatif") / "state.db") as store:
        ips = pod_addresses(store, before[0])
        assert sync_with_policies(store, *before, ips)[1] == []
        old_inv = store.inventory()
        report = dry_run_with_policies(store, *after, ips)
        assert sync_with_policies(store, *after, ips, now=4)[1] == []
        new_inv = store.inventory()
    assert report.plan is not None
    whatif = report.plan.reachability
    old, now = compile_dfw(old_inv), compile_dfw(new_inv)
    # Pod pairs: the difference of connectivity before and after the real sync.
    was, will = _allowed(old), _allowed(now)
    assert _pod_delta(whatif.lost) == _difference(was, will)
    assert _pod_delta(whatif.gained) == _difference(will, was)
    # Pods and outside addresses: the difference of each pair's outcomes.
    spoken = _named_at(old, now)
    was_out, will_out = _outside_allowed(old, spoken), _outside_allowed(now, spoken)
    assert _ruleless(_outside_delta(whatif.lost, spoken)) == _difference(was_out, will_out)
    assert _ruleless(_outside_delta(whatif.gained, spoken)) == _difference(will_out, was_out)
    # The whole matrix gives the same answer as the affected ports alone.
    gained, lost = reachability_delta(old, now, endpoints=None)
    assert _pod_delta(gained) == _pod_delta(whatif.gained)
    assert _pod_delta(lost) == _pod_delta(whatif.lost)
    assert _outside_delta(gained, spoken) == _outside_delta(whatif.gained, spoken)
    assert _outside_delta(lost, spoken) == _outside_delta(whatif.lost, spoken)
