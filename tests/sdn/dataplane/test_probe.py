"""The probe engine against namespaces made here by hand: three namespaces on a bridge
(``sdnt-verify-*``), listeners on two ports, an nftables rule dropping one port and
another rejecting pings, one port nobody listens on. Every probe's outcome is exact, and
nothing outlives the test (namespaces, listener process).

Needs root, ``ip`` and ``nft``: skipped with the reason otherwise, failed when CI=true.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sdn.dataplane import kernel, probe
from sdn.dataplane.probe import Listener, Probe, probe_all
from sdn.errors import SdnError
from tests.sdn.dataplane.verify_lab import children, hosts_on_a_bridge, in_netns

#: The addresses of the three namespaces (inside them only: nothing routes there).
ADDRESSES = {"a": "198.18.7.1", "b": "198.18.7.2", "c": "198.18.7.3"}
#: Listened on in b and c; DROPPED is dropped at c's input; CLOSED has no listener.
OPEN, DROPPED, CLOSED = 8080, 8081, 8082


@dataclass(frozen=True)
class Lab:
    """The namespaces made by :func:`lab`: ``ns["a"]`` etc."""

    ns: dict[str, str]

    def probe(self, src: str, dst: str, protocol: str, port: int | None) -> Probe:
        return Probe(self.ns[src], ADDRESSES[dst], protocol, port)

    @property
    def listeners(self) -> list[Listener]:
        return [Listener(self.ns[n], proto, port) for n in "bc"
                for proto in ("TCP", "UDP") for port in (OPEN, DROPPED)]


NFT_C = f"""
table inet sdnt_verify {{
  chain input {{
    type filter hook input priority 0; policy accept;
    tcp dport {DROPPED} drop
    udp dport {DROPPED} drop
    ip saddr {ADDRESSES['a']} icmp type echo-request drop
    ip saddr {ADDRESSES['b']} icmp type echo-request reject with icmp type admin-prohibited
  }}
}}
"""


@pytest.fixture(scope="module")
def lab(needs_root_dataplane: None) -> Iterator[Lab]:
    """a, b, c on a bridge; c drops one port and pings from a, and rejects pings from b.
    Everything is deleted afterwards, even after a failure."""
    with hosts_on_a_bridge({n: f"{a}/24" for n, a in ADDRESSES.items()}) as names:
        in_netns(names["c"], "nft", "-f", "-", stdin=NFT_C)
        yield Lab(names)


#: source, destination, probe -> the outcome the lab must give.
TABLE = f"""
a b TCP/{OPEN}    open       a c TCP/{OPEN}    open       a c TCP/{DROPPED} timeout
a b TCP/{DROPPED} open       a b TCP/{CLOSED}  refused
b c UDP/{OPEN}    open       a c UDP/{DROPPED} timeout    c b UDP/{CLOSED}  refused
a b ICMP          open       a c ICMP          timeout    b c ICMP          refused
c a ICMP          open
"""


def _cases(table: str) -> list[tuple[str, str, str, int | None, str]]:
    words = table.split()
    cases = []
    for i in range(0, len(words), 4):
        src, dst, probe_text, outcome = words[i:i + 4]
        proto, _, port = probe_text.partition("/")
        cases.append((src, dst, proto, int(port) if port else None, outcome))
    return cases


CASES = _cases(TABLE)


def _case_id(case: tuple[str, str, str, int | None, str]) -> str:
    src, dst, proto, port, outcome = case
    return f"{src}-{dst}-{proto}{'/' + str(port) if port else ''}-{outcome}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_each_probe_gives_the_expected_outcome(lab: Lab,
                                               case: tuple[str, str, str, int | None, str]
                                               ) -> None:
    src, dst, proto, port, outcome = case
    with probe.listening(lab.listeners):
        assert probe_all([lab.probe(src, dst, proto, port)], timeout=0.5) == [outcome]


def test_many_probes_at_once_keep_their_own_outcomes(lab: Lab) -> None:
    """All cases, 40 times over, in one run with few in flight: each keeps its outcome
    (ICMP echoes told apart by ident and seq, sockets by probe)."""
    probes = [lab.probe(s, d, p, port) for s, d, p, port, _ in CASES] * 40
    expected = [outcome for *_, outcome in CASES] * 40
    seen: list[int] = []
    start = time.monotonic()
    with probe.listening(lab.listeners):
        got = probe_all(probes, timeout=0.5, parallel=100, progress=seen.append)
    assert got == expected
    assert seen[-1] == len(probes) and seen == sorted(seen)
    assert time.monotonic() - start < 10


def test_a_source_without_a_route_is_refused(lab: Lab) -> None:
    assert probe_all([Probe(lab.ns["a"], "203.0.113.9", proto, port)
                      for proto, port in (("TCP", 80), ("UDP", 80), ("ICMP", None))],
                     timeout=0.5) == ["refused"] * 3


def test_a_missing_namespace_is_a_coded_error(lab: Lab) -> None:
    with pytest.raises(SdnError) as err:
        probe_all([Probe("sdnt-verify-none", ADDRESSES["b"], "TCP", OPEN)])
    assert err.value.code == "NETNS_MISSING" and "sdnt-verify-none" in str(err.value)
    with pytest.raises(SdnError) as err, probe.listening(
            [Listener("sdnt-verify-none", "TCP", OPEN)]):
        pass
    assert err.value.code == "NETNS_MISSING"


def test_the_listener_process_ends_with_the_block_even_on_an_error(lab: Lab) -> None:
    before = children()
    with pytest.raises(KeyboardInterrupt), probe.listening(lab.listeners):
        assert len(children() - before) == 1
        raise KeyboardInterrupt
    assert children() == before
    # and the ports are free again: a second listener binds them
    with probe.listening(lab.listeners):
        assert probe_all([lab.probe("a", "b", "TCP", OPEN)]) == ["open"]
    assert children() == before


def test_a_port_that_cannot_be_bound_is_a_coded_error(lab: Lab) -> None:
    with probe.listening(lab.listeners), pytest.raises(SdnError) as err, \
            probe.listening([Listener(lab.ns["b"], "TCP", OPEN)]):
        pass
    assert err.value.code == "PROBE_FAILED" and f"TCP/{OPEN}" in str(err.value)


@pytest.mark.parametrize(("needed", "limit", "refused"), [
    (1024, 1024, False), (1025, 1024, True), (10_000, 65_536, False), (0, 128, False),
], ids=["at-limit", "one-over", "raised", "nothing"])
def test_the_arp_table_limit_is_checked(needed: int, limit: int, refused: bool) -> None:
    if not refused:
        probe.check_neighbour_room(needed, lambda: limit)
        return
    with pytest.raises(SdnError) as err:
        probe.check_neighbour_room(needed, lambda: limit)
    assert err.value.code == "NEIGHBOUR_TABLE_TOO_SMALL"
    assert probe.GC_THRESH3_SYSCTL in str(err.value) and str(needed) in str(err.value)


def test_ctrl_c_while_probing_closes_everything_and_comes_home(lab: Lab) -> None:
    """An interrupt mid-run leaves no socket or namespace file open, and the thread back
    in its own network namespace."""
    home = os.readlink("/proc/thread-self/ns/net")
    fds = len(os.listdir("/proc/self/fd"))

    def interrupt(_done: int) -> None:
        raise KeyboardInterrupt

    probes = [lab.probe("a", "c", "TCP", DROPPED), lab.probe("b", "c", "ICMP", None)] * 50
    with probe.listening(lab.listeners), pytest.raises(KeyboardInterrupt):
        probe_all(probes, timeout=0.5, progress=interrupt)
    assert os.readlink("/proc/thread-self/ns/net") == home
    assert len(os.listdir("/proc/self/fd")) == fds


def test_settling_waits_for_ports_coming_up_and_gives_up_on_ports_down() -> None:
    """``settle`` waits until every bridge port forwards; a port that stays down is given
    up on after the timeout and named (it is probed anyway, never brought up)."""
    calls: dict[str, int] = {}

    def states(netns: str) -> list[str]:
        calls[netns] = calls.get(netns, 0) + 1
        if netns == "down":
            return ["forwarding", "disabled"]
        return ["forwarding", "disabled" if calls[netns] < 3 else "forwarding"]

    start = time.monotonic()
    assert kernel.settle(["coming-up", "up-later"], timeout=5, ports=states) == []
    assert calls == {"coming-up": 3, "up-later": 3} and time.monotonic() - start < 1
    start = time.monotonic()
    assert kernel.settle(["coming-up", "down"], timeout=0.2, ports=states) == ["down"]
    assert 0.2 <= time.monotonic() - start < 1
    assert kernel.settle([], ports=states) == []


def test_bridge_port_states_are_read_from_the_namespace(lab: Lab) -> None:
    """The lab's bridge has three ports, all forwarding; a pod namespace has none."""
    bridge = lab.ns["a"].rsplit("-", 1)[0] + "-br"
    assert kernel.settle([bridge, lab.ns["a"]], timeout=2) == []
    assert sorted(kernel.bridge_port_states(bridge)) == ["forwarding"] * 3
