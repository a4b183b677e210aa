"""Every probe gets its ICMP error, as on NSX: a realized router does not rate-limit the
errors it sends (``sdn.dataplane.plan.ICMP_RATEMASK``). Without it a router answers the
first few packets to one destination with TTL exceeded and then one a second."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdn.dataplane.layout import OUTSIDE_ADDRESS
from tests.support.cli_runs import sync_sample
from tests.support.dataplane import needs_root_dataplane
from tests.support.dataplane import realized as realized_state

__all__ = ["needs_root_dataplane"]  # the fixture, used by name

PROBES = 120  # more than the kernel's burst (icmp_msgs_burst 50, per destination 6)
TIME_EXCEEDED = 11


@pytest.fixture
def realized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             needs_root_dataplane: None) -> Iterator[dict[str, Any]]:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    monkeypatch.setenv("SDN_RUN_DIR", str(tmp_path / "run"))
    with realized_state(state) as answer:
        yield answer


def _time_exceeded(netns: str, dst: str, count: int, wait: float = 2.0) -> int:
    """Send ``count`` UDP datagrams with TTL 1 from ``netns`` to ``dst``: how many ICMP
    time-exceeded errors came back (the pod's first router sends them)."""
    from sdn.dataplane.kernel import inside

    with inside(netns):
        icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
        for _ in range(count):
            udp.sendto(b"probe", (dst, 33434))
        icmp.settimeout(0.2)
        got, deadline = 0, time.monotonic() + wait
        while got < count and time.monotonic() < deadline:
            try:
                packet = icmp.recv(2048)
            except TimeoutError:
                continue
            header = (packet[0] & 0x0F) * 4
            got += packet[header] == TIME_EXCEEDED
        return got
    finally:
        icmp.close()
        udp.close()


def test_a_router_answers_every_probe_with_its_icmp_error(realized: dict[str, Any]) -> None:
    pod = next(p for p in realized["ports"] if p["pod"] == "default/frontend-0")
    assert _time_exceeded(pod["netns"], str(OUTSIDE_ADDRESS.ip), PROBES) == PROBES
