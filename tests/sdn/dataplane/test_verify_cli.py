"""``sdn verify`` through the CLI: its coded errors, and whole runs against a realization
made here by hand (the guestbook's pods in ``sdnt-verify-*`` namespaces on one bridge, as
its one segment is, and the record ``sdn realize`` would write). No firewall is in those
namespaces, so the kernel delivers everything: the disagreements are exactly the flows
the simulator does not deliver, each named with the rule the DFW's own evaluation names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sdn.cli.main import QUESTIONS
from sdn.dataplane import probe, record
from sdn.dataplane.layout import owner_tag
from sdn.query import QueryIndex
from tests.sdn.dataplane.verify_lab import (
    REJECT_FRONTEND,
    hosts_on_a_bridge,
    ip,
    records_in,
    sdn,
    simulator_drops,
    verify_json,
)
from tests.support.cli_runs import sync_sample

PODS = ["default/frontend-0", "default/frontend-1", "default/frontend-2",
        "default/redis-master-0", "default/redis-slave-0", "default/redis-slave-1"]



@dataclass(frozen=True)
class Realization:
    state: Path
    netns: dict[str, str]    # pod -> its namespace


def _revision(state: Path) -> int:
    with QueryIndex.open(state) as index:
        return index.key.revision


def _write_record(state: Path, netns: dict[str, str], revision: int | None = None) -> None:
    """The record ``sdn realize`` would write for ``netns`` (pod -> namespace)."""
    with QueryIndex.open(state) as index:
        ctx = index.trace_context()
        ports = []
        for path, cluster, ns, pod in ctx.lookups.pods:
            binding = ctx.ports[path].address_bindings[0]
            ports.append(record.RealizedPort(path, f"{ns}/{pod}", cluster,
                                             netns[f"{ns}/{pod}"], "eth0",
                                             str(binding.ip_address),
                                             str(binding.mac_address)))
        rev = index.key.revision if revision is None else revision
    record.save(owner_tag(state), record.Realized(str(state.resolve()), rev, tuple(ports), {},
                                                  "", ()))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with records_in(tmp_path_factory.mktemp("run")) as path:
        yield path


@pytest.fixture(scope="module")
def guestbook(run_dir: Path, tmp_path_factory: pytest.TempPathFactory,
              needs_root_dataplane: None) -> Iterator[Realization]:
    state = tmp_path_factory.mktemp("guestbook") / "state.db"
    sync_sample(state, "guestbook")
    addresses = {}
    with QueryIndex.open(state) as index:
        ctx = index.trace_context()
        for path, _c, ns, pod in ctx.lookups.pods:
            addresses[f"{ns}/{pod}"] = f"{ctx.ports[path].address_bindings[0].ip_address}/24"
    assert sorted(addresses) == PODS
    with hosts_on_a_bridge(addresses) as netns:
        _write_record(state, netns)
        yield Realization(state, netns)


@pytest.mark.parametrize(("protocol", "ports"), [("TCP", [80, 6379]), ("UDP", [6379]),
                                                 ("ICMP", [])],
                         ids=["tcp", "udp", "icmp"])
def test_without_a_firewall_the_disagreements_are_the_simulators_drops(
        guestbook: Realization, protocol: str, ports: list[int]) -> None:
    args = [a for p in ports for a in ("--port", p)]
    code, data = verify_json(guestbook.state, "--protocol", protocol, *args)
    denied = {port: simulator_drops(guestbook.state, protocol, port) for port in ports or [None]}
    expected = []
    for src in PODS:
        for dst in PODS:
            for port in ports or [None]:
                rule = denied[port].get((src, dst))
                if rule is not None:
                    expected.append({"src": src, "dst": dst, "protocol": protocol,
                                     "port": port, "simulated": "dropped", "kernel": "open",
                                     "rule": rule})
    probes = 30 * len(ports or [None])
    assert data == {"probes": probes, "agreements": probes - len(expected),
                    "disagreements": expected}
    assert expected and code == 1  # the guestbook isolates redis: some flows are dropped


def test_a_reject_rule_expects_a_refusal(guestbook: Realization, tmp_path: Path) -> None:
    policy = tmp_path / "reject.yaml"
    policy.write_text(REJECT_FRONTEND)
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    code, _, err = sdn("apply", "--state", state, "-f", policy)
    assert code == 0, err
    _write_record(state, guestbook.netns)
    code, data = verify_json(state, "--port", "80")
    rejected = {(d["src"], d["dst"]) for d in data["disagreements"]
                if d["simulated"] == "rejected" and d["kernel"] == "open"}
    assert rejected == {(s, d) for s in PODS for d in PODS
                        if s != d and "frontend" in d}
    assert all(d["rule"]["path"].endswith("/reject-frontend-http/rules/reject-http")
               for d in data["disagreements"] if d["simulated"] == "rejected")


def test_a_pod_whose_interface_is_down_is_named_in_disagreements(
        guestbook: Realization) -> None:
    down = "default/frontend-2"
    _, before = verify_json(guestbook.state, "--port", "80")
    ip("-n", guestbook.netns[down], "link", "set", "eth0", "down")
    try:
        code, data = verify_json(guestbook.state, "--port", "80")
    finally:
        ip("-n", guestbook.netns[down], "link", "set", "eth0", "up")
    new = [d for d in data["disagreements"] if d not in before["disagreements"]]
    # every flow from or to it that the simulator delivers now fails in the kernel
    assert {(d["src"], d["dst"]) for d in new} == {(s, d) for s in PODS for d in PODS
                                                   if s != d and down in (s, d)}
    assert all(d["kernel"] == ("refused" if d["src"] == down else "timeout") for d in new)
    assert code == 1


def test_a_sample_is_reproducible(guestbook: Realization) -> None:
    _, first = verify_json(guestbook.state, "--port", "80", "--port", "6379", "--sample", "7",
                       "--seed", "3")
    _, again = verify_json(guestbook.state, "--port", "80", "--port", "6379", "--sample", "7",
                       "--seed", "3")
    assert first == again and first["probes"] == 14


def test_namespaces_narrow_the_pods(guestbook: Realization) -> None:
    _, data = verify_json(guestbook.state, "--port", "80", "-n", "default")
    assert data["probes"] == 30
    code, _, err = sdn("verify", "--state", guestbook.state, "--port", "80", "-n", "nope")
    assert code == 2 and "UNKNOWN_NAMESPACE" in err


def test_the_table_says_how_many_agree_and_lists_disagreements(guestbook: Realization
                                                               ) -> None:
    code, out, _ = sdn("verify", "--state", guestbook.state, "--port", "6379")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "30 probes: 24 agree, 6 disagree"
    assert lines[1].split() == ["FROM", "TO", "PROBE", "SIMULATED", "KERNEL", "RULE"]
    assert len(lines) == 2 + 6 and all("TCP/6379 dropped open" in " ".join(x.split())
                                       for x in lines[2:])


def test_the_arp_table_limit_refuses_before_probing(guestbook: Realization, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    limit = tmp_path / "gc_thresh3"
    limit.write_text("20\n")
    monkeypatch.setattr(probe, "GC_THRESH3", limit)
    code, out, err = sdn("verify", "--state", guestbook.state, "--port", "80")
    assert (code, out) == (2, "")
    assert err.startswith("error: NEIGHBOUR_TABLE_TOO_SMALL net.ipv4.neigh.default."
                          "gc_thresh3: these probes need 30 ARP entries")


# --- errors before anything is sent ------------------------------------------------------

@pytest.fixture(scope="module")
def synced(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("synced") / "state.db"
    sync_sample(state, "guestbook")
    return state


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """These errors come before any packet: they need no privilege to be tested."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--port", "80", "--seed", "3"], "BAD_ARGUMENT", "--seed picks the --sample"),
    (["--protocol", "icmp", "--port", "80"], "BAD_ARGUMENT", "ICMP has no ports"),
    ([], "BAD_ARGUMENT", "TCP needs at least one --port"),
    (["--protocol", "udp"], "BAD_ARGUMENT", "UDP needs at least one --port"),
    (["--port", "80", "--sample", "0"], "BAD_ARGUMENT", "'0' is not 1 or more"),
    (["--port", "0"], "BAD_ARGUMENT", "not a port"),
    (["--protocol", "sctp", "--port", "80"], "BAD_ARGUMENT", "invalid choice"),
    (["--port", "80"], "NOT_REALIZED", "nothing of this state is realized"),
], ids=["seed-without-sample", "icmp-port", "tcp-no-port", "udp-no-port", "sample-0",
        "port-0", "sctp", "not-realized"])
def test_bad_input_is_one_coded_line(synced: Path, argv: list[str], code: str,
                                     message: str, as_root: None) -> None:
    exit_code, out, err = sdn("verify", "--state", synced, *argv)
    assert (exit_code, out) == (2, "")
    assert err.startswith(f"error: {code}") and message in err and err.count("\n") == 1


def test_a_record_of_another_revision_is_refused(tmp_path: Path, run_dir: Path,
                                                 as_root: None) -> None:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    _write_record(state, {p: "sdnt-verify-none" for p in PODS}, _revision(state) - 1)
    code, out, err = sdn("verify", "--state", state, "--port", "80")
    assert (code, out) == (2, "")
    assert err.startswith("error: STALE_REALIZATION") and "run sdn realize" in err


def test_without_root_it_refuses(synced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _, err = sdn("verify", "--state", synced, "--port", "80")
    assert code == 2 and err.startswith("error: DATAPLANE_NOT_ROOT")


def test_the_daemon_never_answersverify_json() -> None:
    assert "verify" not in QUESTIONS
