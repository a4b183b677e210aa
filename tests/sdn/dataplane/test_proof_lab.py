"""The proof lab's own tools, on the kernel: ``forget_flows`` empties the connection
tracking of exactly the namespaces it is given (the truth-table proof relies on it between
two cases: a flow an earlier case allowed must not pass as established in the next)."""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from sdn.dataplane.kernel import inside
from tests.sdn.dataplane.proof_lab import forget_flows

pytestmark = pytest.mark.usefixtures("needs_root_dataplane")

#: A table whose rule makes the kernel track this namespace's connections.
TRACKING = "table inet t {\n chain c {\n type filter hook output priority 0;\n" \
           " ct state established accept\n }\n}\n"


@pytest.fixture
def two() -> Iterator[list[str]]:
    """Two namespaces of this test's own, each tracking connections; removed after."""
    names = [f"sdnt-lab-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
            subprocess.run(["ip", "netns", "exec", name, "nft", "-f", "-"], input=TRACKING,
                           text=True, check=True)
        yield names
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], check=False)


def _flows(netns: str, count: int) -> None:
    """``count`` UDP flows on the namespace's loopback (each one tracked entry)."""
    with inside(netns):
        for port in range(count):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"x", ("127.0.0.1", 9000 + port))


def _tracked(netns: str) -> int:
    out = subprocess.run(["ip", "netns", "exec", netns, "cat", "/proc/net/nf_conntrack"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def test_forget_flows_empties_exactly_the_namespaces_given(two: list[str]) -> None:
    forgotten, kept = two
    _flows(forgotten, 4)
    _flows(kept, 3)
    assert (_tracked(forgotten), _tracked(kept)) == (4, 3)
    forget_flows([forgotten])
    assert (_tracked(forgotten), _tracked(kept)) == (0, 3)
