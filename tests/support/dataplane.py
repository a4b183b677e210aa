"""What the data-plane tests share: the root check (:func:`needs_root_dataplane`), a
snapshot of the host to prove a teardown left it as before, and a TCP connect between two
namespaces with the listener in this process (nothing left running).

Tests that need root, ``ip`` and ``nft`` skip with a reason without them, and FAIL when
``CI=true`` (CI runs as root with both installed: a skip there would hide a broken
setup). Use the fixture by name (``pytestmark = pytest.mark.usefixtures(
"needs_root_dataplane")``) with it imported into the module or a conftest.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.needs import skip_or_fail


def missing() -> str | None:
    """Why this host cannot run the data-plane tests, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"needs {tool!r} (iproute2, nftables)"
    if not Path("/proc/sys/net/bridge").is_dir():
        return "needs br_netfilter (/proc/sys/net/bridge)"
    return None


#: An egress policy on guestbook's redis replicas (guestbook has ingress policies only):
#: a live trace dropped at the source port, a policy added to a running realize.
EGRESS_POLICY = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: slaves-reach-only-the-master
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: slave
  policyTypes:
    - Egress
  egress:
    - to:
        - podSelector:
            matchLabels:
              role: master
      ports:
        - protocol: TCP
          port: 6379
"""


@pytest.fixture(scope="session")
def needs_root_dataplane() -> None:
    """Skip (locally) or fail (``CI=true``) unless :func:`missing` finds nothing."""
    skip_or_fail(missing(), "the data-plane tests")


@dataclass(frozen=True)
class HostSnapshot:
    """What a realize could leave behind: namespaces (those of ``prefix``: other tests
    and helpers make their own meanwhile), and the initial namespace's links and
    nftables tables."""

    namespaces: tuple[str, ...]
    links: tuple[str, ...]
    tables: tuple[str, ...]


def _lines(*argv: str) -> tuple[str, ...]:
    out = subprocess.run(argv, text=True, capture_output=True, check=True).stdout
    return tuple(sorted(" ".join(line.split()) for line in out.splitlines() if line.strip()))


def host_snapshot(prefix: str = "") -> HostSnapshot:
    """``ip netns`` (names starting with ``prefix``), ``ip -br link`` and ``nft list
    tables`` of the initial namespace."""
    names = tuple(n for n in (line.split()[0] for line in _lines("ip", "netns"))
                  if n.startswith(prefix))
    return HostSnapshot(names, _lines("ip", "-br", "link"), _lines("nft", "list", "tables"))


def netns_json(netns: str, *argv: str) -> list[dict[str, object]]:
    """``ip -j -n NETNS ARGV`` parsed."""
    import json

    out = subprocess.run(["ip", "-j", "-n", netns, *argv], text=True, capture_output=True,
                         check=True).stdout
    found: list[dict[str, object]] = json.loads(out or "[]")
    return found


def connect(src_netns: str, dst_netns: str, dst_ip: str, port: int = 8080,
            timeout: float = 2.0) -> str | None:
    """A TCP connect from ``src_netns`` to ``dst_ip:port``, the listener bound in
    ``dst_netns`` by this process: the source address the listener saw (after any NAT),
    or None when the connect failed or timed out."""
    from sdn.dataplane.kernel import inside

    with inside(dst_netns):
        server = socket.socket()
    with inside(src_netns):
        client = socket.socket()
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen()
        server.settimeout(timeout)
        client.settimeout(timeout)
        try:
            client.connect((dst_ip, port))
            conn, peer = server.accept()
            conn.close()
        except OSError:
            return None
        return str(peer[0])
    finally:
        client.close()
        server.close()


@contextmanager
def realized(state: Path) -> Iterator[dict[str, Any]]:
    """``sdn realize -o json`` of ``state`` (its answer), torn down afterwards even on
    failure (set ``SDN_RUN_DIR`` to a temporary folder first)."""
    import sdn.cli
    from tests.support.cli_runs import run_main

    try:
        code, out, err = run_main(sdn.cli.main, "realize", "--state", state, "-o", "json")
        assert code == 0, err
        answer: dict[str, Any] = json.loads(out)
        yield answer
    finally:
        run_main(sdn.cli.main, "realize", "--teardown", "--state", state)
