"""The reachability delta between two firewalls equals, port by port, what the evaluator
says before and after: a port is gained exactly when the after firewall allows it and
the before one does not, and named by the after firewall's deciding rule (lost alike);
narrowing to some endpoints keeps exactly the changes touching them."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv4Network

from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.model import Inventory
from sdn.policy import compile_dfw, evaluate_flow
from sdn.policy.compiler import CompiledDfw, Endpoint
from sdn.policy.connectivity import FlowChange, delta_json, reachability_delta
from tests.support.random_dfw import probe_ports, random_inventory

PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP")


def _covers(changes: list[FlowChange], src: str, dst: str, protocol: str,
            port: int | None) -> list[str | None]:
    return [c.rule for c in changes if (c.src, c.dst, c.protocol) == (src, dst, protocol)
            and (port is None or any(lo <= port <= hi for lo, hi in c.ports or ()))]


def _outside(label: str, dfws: tuple[CompiledDfw, CompiledDfw],
             rnd: random.Random) -> Endpoint | None:
    net = IPv4Network(label)
    for _ in range(8):
        ip = IPv4Address(int(net.network_address) + rnd.randrange(net.num_addresses))
        if all(d.endpoint_for_ip(ip).index is None for d in dfws):
            return Endpoint(ip=ip)
    return None


def _party(label: str, dfw: CompiledDfw, outside: dict[str, Endpoint]) -> Endpoint | None:
    if label in outside:
        return outside[label]
    index = dfw.by_name.get(label)
    return None if index is None else dfw.endpoints[index]


@settings(max_examples=120, deadline=None)
@given(before=random_inventory(), after=random_inventory(), seed=st.integers(0, 2**16))
def test_delta_equals_the_evaluator_before_and_after(before: Inventory, after: Inventory,
                                                     seed: int) -> None:
    dfws = (compile_dfw(before), compile_dfw(after))
    gained, lost = reachability_delta(*dfws)
    rnd = random.Random(seed)
    labels = {c.src for c in gained + lost} | {c.dst for c in gained + lost}
    outside = {label: ep for label in labels if label[0].isdigit()
               for ep in [_outside(label, dfws, rnd)] if ep is not None}
    names = [ep.name for ep in dfws[1].endpoints] + list(outside)
    probes = sorted(set(probe_ports(before)) | set(probe_ports(after)))
    for s in names:
        for d in names:
            if s == d or (s in outside and d in outside):
                continue
            pairs = [(_party(s, dfw, outside), _party(d, dfw, outside)) for dfw in dfws]
            for protocol in PROTOCOLS:
                for port in [None] if protocol == "ICMP" else probes:
                    verdicts = [evaluate_flow(dfw, a, b, protocol=protocol, port=port)
                                for dfw, (a, b) in zip(dfws, pairs, strict=True)
                                if a is not None and b is not None]
                    if len(verdicts) < 2:
                        continue
                    was, now = (v.allowed for v in verdicts)
                    deciding = verdicts[1].deciding
                    rule = None if deciding is None or deciding.rule is None \
                        else deciding.rule.path
                    assert _covers(gained, s, d, protocol, port) == (
                        [rule] if now and not was else [])
                    assert _covers(lost, s, d, protocol, port) == (
                        [rule] if was and not now else [])


@settings(max_examples=60, deadline=None)
@given(before=random_inventory(), after=random_inventory(),
       picks=st.sets(st.integers(0, 4), min_size=1, max_size=2))
def test_endpoints_keep_the_changes_touching_them(before: Inventory, after: Inventory,
                                                  picks: set[int]) -> None:
    dfws = (compile_dfw(before), compile_dfw(after))
    chosen = {dfws[1].endpoints[i].path for i in picks}
    names = {dfws[1].endpoints[i].name for i in picks}
    full = reachability_delta(*dfws)
    part = reachability_delta(*dfws, endpoints=chosen)
    for whole, some in zip(full, part, strict=True):
        assert some == [c for c in whole if c.src in names or c.dst in names] or \
            _pods_only(some) == [c for c in _pods_only(whole)
                                 if c.src in names or c.dst in names]


def _pods_only(changes: list[FlowChange]) -> list[FlowChange]:
    """Outside atoms are cut from the rules at the chosen ports only, so their CIDRs can
    differ between a narrowed and a whole delta; the pods' changes cannot."""
    return [c for c in changes if not c.src[0].isdigit() and not c.dst[0].isdigit()]


def test_delta_json_shape() -> None:
    changes = [FlowChange("x/a", "x/b", "TCP", ((80, 81),), "/infra/r"),
               FlowChange("x/a", "10.0.0.0/8", "ICMP", None, None)]
    assert delta_json(changes, []) == {"gained": [
        {"src": "x/a", "dst": "x/b", "protocol": "TCP", "ports": [[80, 81]],
         "rule": "/infra/r"},
        {"src": "x/a", "dst": "10.0.0.0/8", "protocol": "ICMP", "rule": None}], "lost": []}
