"""The live tracer end to end on hand-made namespaces (root): one real packet per case,
the exact observations expected, and nothing left behind (no namespace, no nft table of
ours, no monitor), on errors and Ctrl-C too."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdn.dataplane import livetrace
from sdn.dataplane.nfttrace import of_flow, parse_line
from sdn.dataplane.observations import observe
from tests.support import handmade_net as net
from tests.support.handmade_net import CASES, EXPECTED, VIEW, Case, brief


@pytest.fixture(scope="module")
def handmade(needs_root_dataplane: None,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The hand-made network, built once; the owner tag the tracer locks with."""
    run_dir = tmp_path_factory.mktemp("run")
    patch = pytest.MonkeyPatch()
    patch.setenv("SDN_RUN_DIR", str(run_dir))
    try:
        net.build()
        yield "sdnt-live-test"
    finally:
        net.teardown()
        patch.undo()
    assert not [ns for ns in net.existing() if ns.startswith(net.PREFIX)]
    assert net.our_monitors() == []


def _tables(role: str) -> str:
    return subprocess.run(["ip", "netns", "exec", net.name(role), "nft", "list", "tables"],
                          capture_output=True, text=True, check=True).stdout


def _nothing_of_ours_left() -> None:
    for role in ("r1", "r2", "r0", "b", "c", "o"):
        assert "sdn_trace" not in _tables(role), role
    assert net.our_monitors() == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_live_trace_gives_the_expected_observations(handmade: str, case: Case) -> None:
    lines = net.capture_case(case, handmade)
    events = [e for ns, line in lines if (e := parse_line(ns, line)) is not None]
    source = VIEW.ports[f"/infra/segments/sA/ports/{case.source}"]
    t = observe(of_flow(events, case.flow.key), VIEW, case.flow.packet, source)
    disposition, observations, summary = EXPECTED[case.id]
    assert (t.disposition.value, [brief(o) for o in t.observations], t.summary) == (
        disposition, observations, summary)
    _nothing_of_ours_left()


def test_run_watches_the_namespaces_on_the_way(handmade: str) -> None:
    view = net.view_for()
    case = next(c for c in CASES if c.id == "lb-member")
    source = view.ports["/infra/segments/sA/ports/a"]
    t = livetrace.run(view, handmade, source, case.flow,
                      [case.packet.dst_ip, *(p.ip for p in view.ports.values()
                                             if p.name == "ns/c")])
    assert t.disposition.value == "DELIVERED"
    assert [o.transport_node_name.removeprefix(net.PREFIX) for o in t.observations] == \
        ["r1", "r1", "r1", "r1", "r0", "r2", "r2", "c"]
    _nothing_of_ours_left()


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()],
                         ids=["error", "ctrl-c"])
def test_cleanup_after_a_failure(handmade: str, monkeypatch: pytest.MonkeyPatch,
                                 failure: BaseException) -> None:
    def fail(*_: object) -> None:
        raise failure

    monkeypatch.setattr(livetrace, "raw_socket_in", fail)
    case = CASES[0]
    with pytest.raises(type(failure)):
        net.capture_case(case, handmade)
    _nothing_of_ours_left()


def test_a_stale_trace_table_is_replaced(handmade: str) -> None:
    stale = "table inet sdn_trace {\n chain old { type filter hook input priority 0; }\n}\n"
    subprocess.run(["ip", "netns", "exec", net.name("r1"), "nft", "-f", "-"], input=stale,
                   text=True, check=True)
    case = CASES[0]
    lines = net.capture_case(case, handmade)
    assert lines and all(" old " not in line for _, line in lines)
    _nothing_of_ours_left()


def test_recordings_are_current(handmade: str) -> None:
    """The recordings the pure tests read were made from this network's cases."""
    folder = Path(__file__).resolve().parents[2] / "data" / "nfttrace"
    assert sorted(p.stem for p in folder.glob("*.txt")) == sorted(c.id for c in CASES)
