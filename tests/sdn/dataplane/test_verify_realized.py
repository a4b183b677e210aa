"""``sdn verify`` end to end on the samples as ``sdn realize`` builds them: ``ncp sync``,
``sdn realize`` (topology and the DFW as nftables), at once ``sdn verify --port 80 --port
6379`` (it waits for bridge ports still coming up): every probe agrees with the
simulator (drops included: the kernel times them out), then ``sdn realize --teardown``.
A pod whose interface is set down shows up as disagreements naming it, and only it, and
verify leaves it down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sdn.dataplane.verify_lab import (
    REJECT_FRONTEND,
    ip,
    records_in,
    sdn,
    simulator_drops,
    verify_json,
)
from tests.support.cli_runs import sync_sample

pytestmark = pytest.mark.usefixtures("needs_root_dataplane")

PORTS = (80, 6379)


@dataclass(frozen=True)
class Realized:
    sample: str
    state: Path
    pods: list[str]                # as sdn reach and sdn verify name them
    netns: dict[str, str]          # pod -> its namespace (from sdn realize -o json)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with records_in(tmp_path_factory.mktemp("run")) as path:
        yield path


@pytest.fixture(scope="module", params=["guestbook", "multi-tenant"])
def realized(request: pytest.FixtureRequest, run_dir: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realized]:
    state = tmp_path_factory.mktemp(request.param) / "state.db"
    sync_sample(state, request.param)
    try:
        code, out, err = sdn("realize", "--state", state, "-o", "json")
        assert code == 0, err
        ports = json.loads(out)["ports"]
        code, out, err = sdn("reach", "--state", state, "--port", "80", "-o", "json")
        assert code == 0, err
        pods = json.loads(out)["results"][0]["pods"]
        by_pod = {p["pod"]: p["netns"] for p in ports}
        netns = {name: by_pod[name.split("/", 1)[-1] if name.count("/") == 2 else name]
                 for name in pods}
        yield Realized(request.param, state, pods, netns)
    finally:
        code, _, err = sdn("realize", "--teardown", "--state", state)
        assert code == 0, err


def test_every_pair_on_two_ports_is_as_the_simulator_says(realized: Realized) -> None:
    code, data = verify_json(realized.state, "--port", "80", "--port", "6379")
    probes = len(realized.pods) * (len(realized.pods) - 1) * len(PORTS)
    assert data == {"probes": probes, "agreements": probes, "disagreements": []}
    assert code == 0
    # the agreement covers drops, not only deliveries: the simulator drops some of these
    assert all(simulator_drops(realized.state, "TCP", port) for port in PORTS)


def test_a_pod_whose_interface_is_down_is_named_and_not_repaired(realized: Realized
                                                                 ) -> None:
    down = realized.pods[-1]
    ip("-n", realized.netns[down], "link", "set", "eth0", "down")
    try:
        code, data = verify_json(realized.state, "--port", "80")
        _, again = verify_json(realized.state, "--port", "80")
    finally:
        ip("-n", realized.netns[down], "link", "set", "eth0", "up")
    new = data["disagreements"]
    assert new and code == 1
    assert all(down in (d["src"], d["dst"]) for d in new)
    # every flow from it fails at once (no route): all of them disagree; a flow to it
    # goes unanswered: those the simulator delivers disagree, its drops still agree
    drops = simulator_drops(realized.state, "TCP", 80)
    assert sorted((d["src"], d["dst"], d["kernel"]) for d in new) == sorted(
        [(down, p, "refused") for p in realized.pods if p != down]
        + [(p, down, "timeout") for p in realized.pods
           if p != down and (p, down) not in drops])
    assert again == data  # verify observed: it did not bring the interface back


@pytest.mark.parametrize("direction", ["IN_OUT", "IN"], ids=["at-egress", "at-ingress"])
def test_a_reject_rule_is_refused_by_the_kernel_as_the_simulator_says(
        run_dir: Path, tmp_path: Path, direction: str) -> None:
    """An Emergency REJECT of TCP/80 to the frontends, decided at the sources' egress
    (``IN_OUT``: the rule applies at every port) or at the frontends' ingress (``IN``):
    either way nftables answers with a TCP reset or an ICMP unreachable, so the
    simulator's ``rejected`` flows are refused by the kernel, and every other flow agrees
    too."""
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    (tmp_path / "reject.yaml").write_text(
        REJECT_FRONTEND.replace("direction: IN_OUT", f"direction: {direction}"))
    code, _, err = sdn("apply", "--state", state, "-f", tmp_path / "reject.yaml")
    assert code == 0, err
    try:
        code, _, err = sdn("realize", "--state", state)
        assert code == 0, err
        code, data = verify_json(state, "--port", "80", "--port", "6379")
        assert (code, data) == (0, {"probes": 60, "agreements": 60, "disagreements": []})
    finally:
        code, _, err = sdn("realize", "--teardown", "--state", state)
        assert code == 0, err
    code, out, _ = sdn("explain", "--state", state, "--src", "default/redis-master-0",
                       "--dst", "default/frontend-0", "--dport", "80", "-o", "json")
    assert json.loads(out)["backends"][0]["deciding"]["action"] == "REJECT"
