"""Hand-made namespaces for the probe and verify tests: hosts on one bridge, every name
``sdnt-verify-<random>-*``, all deleted afterwards whatever happened; and the simulator's
drops as an independent oracle. The root check is ``needs_root_dataplane``
(``tests/support/dataplane.py``, through this folder's conftest)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sdn.cli import main as sdn_main
from tests.support.cli_runs import run_main

#: An admin policy that REJECTs TCP/80 to the frontends (NSX answers with a TCP RST or an
#: ICMP unreachable: a refusal).
REJECT_FRONTEND = """
resource_type: Group
id: frontends
expression:
  - {resource_type: Condition, member_type: SegmentPort, key: Tag, operator: EQUALS,
     value: "tier|frontend"}
---
resource_type: SecurityPolicy
id: reject-frontend-http
category: Emergency
sequence_number: 5
rules:
  - id: reject-http
    destination_groups: [/infra/domains/default/groups/frontends]
    service_entries:
      - {resource_type: L4PortSetServiceEntry, l4_protocol: TCP, destination_ports: ["80"]}
    action: REJECT
    direction: IN_OUT
"""


def sdn(*argv: object) -> tuple[int, str, str]:
    """``sdn ARGV`` in this process: exit code, stdout, stderr."""
    return run_main(sdn_main, *argv)


def verify_json(state: Path, *argv: object) -> tuple[int, dict[str, Any]]:
    """``sdn verify ... -o json``: its exit code (0 or 1) and answer; no listener may
    outlive it."""
    before = children()
    code, out, err = sdn("verify", "--state", state, *argv, "-o", "json")
    assert children() == before, "a listener outlived the command"
    assert code in (0, 1), err
    answer: dict[str, Any] = json.loads(out)
    return code, answer


@contextmanager
def records_in(path: Path) -> Iterator[Path]:
    """``SDN_RUN_DIR`` set to ``path`` for the block: realize records of the tests' own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDN_RUN_DIR", str(path))
        yield path


def ip(*args: str) -> None:
    """``ip ARGS`` (raises on failure)."""
    subprocess.run(["ip", *args], check=True, capture_output=True)


def in_netns(netns: str, *argv: str, stdin: str | None = None) -> None:
    """Run ``argv`` inside ``netns`` (raises on failure)."""
    subprocess.run(["ip", "netns", "exec", netns, *argv], input=stdin, text=True,
                   check=True, capture_output=True)


def netns_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


@contextmanager
def hosts_on_a_bridge(addresses: dict[str, str]) -> Iterator[dict[str, str]]:
    """A namespace per key of ``addresses`` (``"IP/LEN"``) with ``eth0`` on one bridge in
    a namespace of its own; yields key -> namespace name. ICMP errors are not
    rate-limited in them (every refusal is answered)."""
    base = f"sdnt-verify-{secrets.token_hex(3)}"
    bridge = f"{base}-br"
    names = {key: f"{base}-{i}" for i, key in enumerate(addresses)}
    made: list[str] = []
    try:
        for name in (bridge, *names.values()):
            ip("netns", "add", name)
            made.append(name)
        ip("-n", bridge, "link", "add", "br0", "type", "bridge")
        ip("-n", bridge, "link", "set", "br0", "up")
        for i, (key, address) in enumerate(addresses.items()):
            name = names[key]
            ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", f"v{i}",
               "netns", bridge)
            ip("-n", name, "addr", "add", address, "dev", "eth0")
            ip("-n", name, "link", "set", "eth0", "up")
            ip("-n", name, "link", "set", "lo", "up")
            ip("-n", bridge, "link", "set", f"v{i}", "master", "br0", "up")
            in_netns(name, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    assert not any(netns_exists(name) for name in made)


def children() -> set[int]:
    """The pids of this process's children (a listener left behind would show here)."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:
                found.add(int(entry))
    return found


def simulator_drops(state: Path, protocol: str, port: int | None
                    ) -> dict[tuple[str, str], dict[str, object]]:
    """The ordered pod pairs (named as ``sdn reach`` names them) the simulator does not
    deliver on ``protocol``/``port``, each with its deciding rule: from ``reach_matrix``
    and ``evaluate_flow`` (the DFW alone, not the traceflow walk ``sdn verify`` uses: an
    independent path to the same answer on topologies that route every pair)."""
    from sdn.cli.questions import pod_names, pod_ports
    from sdn.policy import evaluate_flow
    from sdn.policy.reach import reach_matrix
    from sdn.query import QueryIndex
    from sdn.traceflow.walk import DEFAULT_RULE_ID, DEFAULT_RULE_PATH

    with QueryIndex.open(state) as index:
        ctx = index.trace_context()
        dfw = ctx.dfw
        names = pod_names(pod_ports(ctx, None, None))
        found = {path: ep.index for path, ep in dfw.endpoints_of(names).items()}
        allowed = reach_matrix(dfw, protocol=protocol, port=port,
                               among=[i for i in found.values() if i is not None])
        drops: dict[tuple[str, str], dict[str, object]] = {}
        for src, s in found.items():
            for dst, d in found.items():
                if src == dst or s is None or d is None or (s, d) in allowed:
                    continue
                deciding = evaluate_flow(dfw, dfw.endpoint(s), dfw.endpoint(d),
                                         protocol=protocol, port=port).deciding
                assert deciding is not None
                rule = deciding.rule
                drops[(names[src], names[dst])] = (
                    {"rule_id": rule.rule_id, "path": rule.path} if rule is not None
                    else {"rule_id": DEFAULT_RULE_ID, "path": DEFAULT_RULE_PATH})
        return drops
