"""The whole policy truth-table set (tests/support/truth_tables.py, the hand-derived
matrices the simulator is held to in tests/ncp/translate/test_dfw_truth_tables.py)
realized on the kernel: every ordered pod pair probed with real packets by ``sdn
verify -o json`` on each case's ports. Each case must show zero disagreements with the
simulator AND the kernel's own outcomes must be the hand-written table: the allowed
pairs answered (``open``), every other pair dropped (``timeout``).

Few realizations: ``WORKERS`` states of the 3x3 fixture are realized once each, and
every case is synced into one of them in turn, so ``sdn realize`` applies only the
policy difference (an incremental realize per case, itself under test); the states
probe at the same time (a drop costs a whole probe timeout). Between two cases the
realization's connection tracking is emptied (see ``proof_lab.forget_flows``).

SCTP is not probed: ``sdn verify`` sends TCP, UDP and ICMP only (the issue's list); the
cases' SCTP columns stay proven on the simulator alone.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sdn.dataplane.layout import netns_prefix, owner_tag
from sdn.store import Store
from tests.sdn.dataplane.proof_lab import SdnWorker, forget_flows, realized_namespaces
from tests.support.dataplane import HostSnapshot, host_snapshot
from tests.support.dfw_harness import pod_addresses, sync_with_policies
from tests.support.truth_tables import CASES, PODS, TruthCase, fixture

pytestmark = pytest.mark.usefixtures("needs_root_dataplane")

#: Realizations probed at once (most of a case is waiting for dropped probes' timeout).
WORKERS = 5
#: What ``sdn verify`` can probe.
PROBED = ("TCP", "UDP")
TEST_NAME = "test_the_kernel_realizes_the_truth_table"

Pair = tuple[str, str]


@dataclass(frozen=True)
class CaseRun:
    """What one case gave: the sync's problems, and per probed protocol verify's answer
    and the kernel's outcome of every (src, dst, port)."""

    problems: list[Any]
    answers: dict[str, dict[str, Any]]
    kernel: dict[tuple[str, str, str], str]  # (src, dst, "TCP/80") -> outcome


class Lab:
    """One realized fixture state (its own owner tag) that cases are synced into."""

    def __init__(self, folder: Path, run_dir: Path) -> None:
        self.state = folder / "state.db"
        self.prefix = netns_prefix(owner_tag(self.state))
        self.before = host_snapshot(self.prefix)
        with Store.open(self.state) as store:
            self.ips = pod_addresses(store, fixture())
        self.now = 2.0
        self.answer: dict[str, Any] = {}
        self.sdn = SdnWorker(run_dir)

    def realize(self) -> dict[str, Any]:
        self.answer = self.sdn.json("realize", "--state", self.state)
        return self.answer

    def teardown(self) -> HostSnapshot:
        try:
            self.sdn.json("realize", "--teardown", "--state", self.state)
        finally:
            self.sdn.close()
        return host_snapshot(self.prefix)

    def run(self, case: TruthCase, lock: threading.Lock) -> CaseRun:
        with lock, Store.open(self.state) as store:  # ncp's sync: one at a time
            _, problems = sync_with_policies(store, case.cluster(), case.policies,
                                             self.ips, now=self.now)
        self.now += 1
        forget_flows(realized_namespaces(self.answer))
        self.realize()
        pods = {p["netns"]: p["pod"] for p in self.answer["ports"]}
        by_ip = {p["ip"]: p["pod"] for p in self.answer["ports"]}
        answers: dict[str, dict[str, Any]] = {}
        kernel: dict[tuple[str, str, str, int], str] = {}
        for protocol in (p for p in PROBED if _ports(case, p)):
            done = self.sdn.run("verify", "--state", self.state, "--protocol", protocol,
                                *_port_options(case, protocol), "-o", "json")
            assert done["code"] in (0, 1), done["err"]
            answers[protocol] = json.loads(done["out"])
            for netns, dst, proto, port, outcome in done["outcomes"]:
                assert proto == protocol
                kernel[(proto, pods[netns], by_ip[dst], port)] = outcome
        return CaseRun(problems, answers,
                       {(s, d, f"{p}/{n}"): o for (p, s, d, n), o in kernel.items()})


def _ports(case: TruthCase, protocol: str) -> list[int]:
    return sorted({check.port for check in case.checks if check.protocol == protocol})


def _port_options(case: TruthCase, protocol: str) -> list[str]:
    return [option for port in _ports(case, protocol) for option in ("--port", str(port))]


def _selected(request: pytest.FixtureRequest) -> list[TruthCase]:
    """The cases of this module's parametrized test that this session runs."""
    ids = {item.callspec.params["case"].id for item in request.session.items
           if getattr(item, "originalname", "") == TEST_NAME and hasattr(item, "callspec")}
    return [case for case in CASES if case.id in ids]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         needs_root_dataplane: None) -> Iterator[dict[str, CaseRun]]:
    """Every selected case run on ``WORKERS`` realizations; each torn down afterwards
    and the host as it was before."""
    run_dir = tmp_path_factory.mktemp("run")
    labs: list[Lab] = []
    try:
        labs.extend(Lab(tmp_path_factory.mktemp(f"lab{i}"), run_dir) for i in range(WORKERS))
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(Lab.realize, labs))
            free: queue.Queue[Lab] = queue.Queue()
            for lab in labs:
                free.put(lab)
            lock = threading.Lock()

            def one(case: TruthCase) -> tuple[str, CaseRun]:
                lab = free.get()
                try:
                    return case.id, lab.run(case, lock)
                finally:
                    free.put(lab)

            yield dict(pool.map(one, _selected(request)))
    finally:
        after = [(lab.before, lab.teardown()) for lab in labs]
        assert all(before == now for before, now in after), after


def _kernel_open(run: CaseRun, protocol: str, port: int) -> set[Pair]:
    return {(s, d) for (s, d, probe), o in run.kernel.items()
            if probe == f"{protocol}/{port}" and o == "open"}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_the_kernel_realizes_the_truth_table(runs: dict[str, CaseRun],
                                            case: TruthCase) -> None:
    run = runs[case.id]
    assert run.problems == []
    for protocol, answer in run.answers.items():
        probes = len(PODS) * (len(PODS) - 1) * len(_ports(case, protocol))
        assert answer == {"probes": probes, "agreements": probes, "disagreements": []}
    for check in case.checks:
        if check.protocol not in PROBED:
            continue
        opened = _kernel_open(run, check.protocol, check.port)
        assert opened == set(check.allowed), (
            f"{check.protocol}/{check.port}: should be open {sorted(check.allowed - opened)}"
            f", should be dropped {sorted(opened - check.allowed)}")
        dropped = {o for (s, d, probe), o in run.kernel.items()
                   if probe == f"{check.protocol}/{check.port}" and (s, d) not in opened}
        assert dropped <= {"timeout"}, dropped
