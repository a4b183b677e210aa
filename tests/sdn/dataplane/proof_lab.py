"""What the issue-13 proofs share: ``sdn`` run by worker processes of its own (so
several realizations are probed at once), forgetting a realization's connection
tracking between two experiments on it, and what the kernel holds, normalised so that
two builds of the same thing compare equal.

Why processes: the truth-table proof probes several states at the same time (a probe
that is dropped costs a whole timeout, so one after the other is slow), and the
in-process runner swaps the process's stdout, which only one command at a time can do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdn.dataplane.kernel import inside
from sdn.dataplane.layout import ROUTER_MAC, netns_prefix, owner_tag
from sdn.model import Inventory

#: The repository (``python -m tests.support...`` runs from here).
ROOT = Path(__file__).resolve().parents[3]
#: Seconds any one command may take before the test fails rather than hangs.
COMMAND_TIMEOUT = 120


@dataclass
class Realized:
    """A sample realized from a state of its own: the state, ``sdn realize -o json``'s
    answer and the state's inventory."""

    state: Path
    answer: dict[str, Any]
    inventory: Inventory

    @property
    def prefix(self) -> str:
        return netns_prefix(owner_tag(self.state))

    @property
    def outside(self) -> str:
        """The outside namespace."""
        return str(self.answer["outside"]["netns"])

    def port(self, pod: str) -> dict[str, Any]:
        """The answer's port of ``pod``."""
        return next(p for p in self.answer["ports"] if p["pod"] == pod)

    def netns_of_ip(self, ip: str) -> str:
        """The namespace of the port with address ``ip``."""
        return str(next(p["netns"] for p in self.answer["ports"] if p["ip"] == ip))


def environment(run_dir: Path) -> dict[str, str]:
    """This process's environment, with the records in ``run_dir`` and this checkout
    first on the import path."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "SDN_RUN_DIR": str(run_dir), "PYTHONPATH": path}


class SdnWorker:
    """A process running ``sdn`` commands one after another (:mod:`tests.support.
    sdn_worker`): each one's exit code, stdout, stderr and probe outcomes."""

    def __init__(self, run_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.sdn_worker"], cwd=ROOT,
            env=environment(run_dir), text=True, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE)

    def run(self, *argv: object) -> dict[str, Any]:
        """``sdn ARGV``: ``{"code", "out", "err", "outcomes"}``."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([str(a) for a in argv]) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the sdn worker ended (exit {self.process.poll()})"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def json(self, *argv: object, codes: tuple[int, ...] = (0,)) -> Any:
        """``sdn ARGV -o json``, its exit code one of ``codes``: its answer."""
        done = self.run(*argv, "-o", "json")
        assert done["code"] in codes, done["err"]
        return json.loads(done["out"])

    def close(self) -> None:
        """End the worker (it ends when its stdin closes) and wait for it."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=COMMAND_TIMEOUT)


def forget_flows(namespaces: Iterable[str]) -> None:
    """Empty the connection tracking of ``namespaces``: a UDP flow a past experiment
    allowed stays established for 30 s, and a probe of the next one that happens to
    pick the same source port would pass as part of it (the DFW is stateful, as NSX's
    is: a rule change does not cut established flows)."""
    from pyroute2 import NFCTSocket  # type: ignore[import-untyped]

    for netns in namespaces:
        # all of it inside: pyroute2 (0.9) opens its netlink socket lazily, at the first
        # request, so a socket made inside but used outside flushed this process's own
        # namespace (the host's table) and left the experiment's flows alone
        with inside(netns):
            tracker = NFCTSocket()
            try:
                tracker.flush()
            finally:
                tracker.close()


def realized_namespaces(answer: dict[str, Any]) -> list[str]:
    """Every namespace a ``sdn realize -o json`` answer names."""
    return sorted({*(p["netns"] for p in answer["ports"]),
                   *(g["netns"] for g in answer["gateways"]), answer["outside"]["netns"]})


# --- what the kernel holds ---------------------------------------------------------------

#: Keys of ``ip -j addr`` that name kernel objects by number (differ between two builds
#: of the same thing) or age with time.
_VOLATILE = {"ifindex", "link_index", "link_netnsid", "valid_life_time",
             "preferred_life_time", "handle"}


def kernel_view(prefix: str) -> dict[str, dict[str, Any]]:
    """What the kernel holds in every network namespace named ``prefix*`` (listed from
    the kernel, not a record): its links and addresses (``ip -j addr``), routes (``ip -j
    route``) and nftables ruleset (``nft -j list ruleset``), normalised so that two
    builds of the same thing compare equal (object numbers, handles, counters and
    listing order dropped; rule order within a chain kept)."""
    listed = subprocess.run(["ip", "netns"], text=True, capture_output=True,
                            check=True).stdout
    names = sorted(n for n in (line.split()[0] for line in listed.splitlines() if line)
                   if n.startswith(prefix))
    return {name: {"addr": _sorted([_link(x) for x in _strip(_ip_json(name, "addr"))]),
                   "route": _sorted(_strip(_ip_json(name, "route"))),
                   "nft": _ruleset(name)} for name in names}


def _link(link: dict[str, Any]) -> dict[str, Any]:
    """A link of ``ip -j addr`` with the MAC only where the realize sets it (a pod's
    ``eth0``, a segment's router MAC; the kernel draws every other at random) and
    without the IPv6 link-local address drawn from it."""
    if link.get("ifname") != "eth0" and link.get("address") != ROUTER_MAC:
        link["address"] = "random"
    link["addr_info"] = [a for a in link.get("addr_info", [])
                         if not (a.get("family") == "inet6" and a.get("scope") == "link")]
    return link


def _ip_json(netns: str, what: str) -> Any:
    out = subprocess.run(["ip", "-j", "-n", netns, what], text=True, capture_output=True,
                         check=True).stdout
    return json.loads(out or "[]")


def _strip(value: Any) -> Any:
    """``value`` without volatile keys, counters zeroed, element lists sorted."""
    if isinstance(value, dict):
        return {k: ({} if k == "counter" else _strip(v)) for k, v in value.items()
                if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def _ruleset(netns: str) -> list[Any]:
    """``nft -j list ruleset`` in ``netns``: tables, chains, sets and maps in name
    order, each chain's rules in their order, set elements sorted."""
    out = subprocess.run(["ip", "netns", "exec", netns, "nft", "-j", "list", "ruleset"],
                         text=True, capture_output=True, check=True).stdout
    objects = [o for o in json.loads(out)["nftables"] if "metainfo" not in o]
    normal = []
    for obj in _strip(objects):
        for body in obj.values():
            if isinstance(body, dict) and "elem" in body:
                body["elem"] = _sorted(body["elem"])
        normal.append(obj)
    rules = [o for o in normal if "rule" in o]
    return _sorted([o for o in normal if "rule" not in o]) + sorted(
        rules, key=lambda o: (o["rule"]["family"], o["rule"]["table"], o["rule"]["chain"]))


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ: ``path: a != b`` lines (for a readable
    assertion message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
