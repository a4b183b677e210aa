"""``sdn traceflow --live`` and ``--compare`` through the CLI.

Refusals (any host): a live trace is refused with a coded one-line error, exit 2, before
anything is made. On a realized guestbook (root, ``sdn realize``): live agrees with the
simulator on the disposition, and on a drop names the same ``acl_rule_id`` (the issue's
contract), for a delivery on one segment, a delivery across Tier-1s and a packet leaving
the network; the cases that need the firewall, NAT and load-balancing rules of
``sdn.dataplane.nftgen`` (dropped by egress, dropped by ingress, SNAT seen, LB member) run
as soon as that module is there.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sdn.cli
from sdn.dataplane import livetrace, record
from sdn.dataplane.layout import Layout, netns_prefix, owner_tag
from sdn.store import Store
from tests.support import handmade_net
from tests.support.cli_runs import TOPOLOGIES, run_main, sync_sample
from tests.support.dataplane import EGRESS_POLICY, needs_root_dataplane

__all__ = ["needs_root_dataplane"]  # the fixture, used by name



@pytest.fixture
def synced(cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SDN_RUN_DIR", str(cli.tmp / "run"))
    assert cli.sync(cli.GUESTBOOK).code == 0
    return cli


def _live(cli: Any, *argv: object) -> Any:
    return cli.sdn("traceflow", "--state", cli.state, "--src", "default/frontend-0", *argv)


def _record_of(state: Path) -> tuple[str, record.Realized]:
    """The owner tag of ``state`` and the record a realize of its whole current revision
    would write (nothing is made)."""
    store = Store.open_readonly(state)
    try:
        inv, revision = store.inventory(), store.revision
    finally:
        store.close()
    tag = owner_tag(state)
    return tag, record.Realized.of(Layout.of(inv, tag), str(state), revision)


@pytest.mark.parametrize(("argv", "code"), [
    pytest.param(["--dst", "default/frontend-1", "--live", "--bidirectional"],
                 "BAD_ARGUMENT", id="bidirectional"),
    pytest.param(["--dst", "svc:default/frontend", "--compare", "--all-backends"],
                 "BAD_ARGUMENT", id="all-backends"),
    pytest.param(["--dst", "default/frontend-1", "--live", "-o", "dot"], "BAD_ARGUMENT",
                 id="picture"),
    pytest.param(["--dst", "default/frontend-1", "--live"], "NOT_REALIZED",
                 id="nothing-realized"),
    pytest.param(["--dst", "default/frontend-1", "--compare"], "NOT_REALIZED",
                 id="compare-nothing-realized"),
])
def test_refusals(synced: Any, monkeypatch: pytest.MonkeyPatch, argv: list[str],
                  code: str) -> None:
    monkeypatch.setattr(livetrace, "preflight", lambda: None)
    res = _live(synced, *argv)
    assert res.code == 2 and res.out == ""
    assert res.err.count("\n") == 1 and code in res.err


def test_outside_source_is_refused(synced: Any) -> None:
    res = synced.sdn("traceflow", "--state", synced.state, "--src", "192.0.2.100", "--dst",
                     "svc:default/frontend", "--live")
    assert res.code == 2 and "BAD_ARGUMENT" in res.err


def test_live_and_compare_exclude_each_other(synced: Any) -> None:
    res = _live(synced, "--dst", "default/frontend-1", "--live", "--compare")
    assert res.code == 2 and "not allowed with" in res.err


def test_not_root_is_refused_before_the_record_is_read(synced: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(livetrace.os, "geteuid", lambda: 1000)
    res = _live(synced, "--dst", "default/frontend-1", "--live")
    assert res.code == 2 and "DATAPLANE_NOT_ROOT" in res.err


def test_a_record_of_an_older_revision_is_refused(synced: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(livetrace, "preflight", lambda: None)
    tag, full = _record_of(synced.state)
    record.save(tag, dataclasses.replace(full, revision=full.revision - 1))
    res = _live(synced, "--dst", "default/frontend-1", "--live")
    assert res.code == 2 and "STALE_REALIZATION" in res.err


# --- on a realized guestbook ---------------------------------------------------------------

@pytest.fixture(scope="module")
def realized(needs_root_dataplane: None,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Guestbook plus an egress policy, synced and realized once (torn down after)."""
    folder = tmp_path_factory.mktemp("gb")
    cluster = folder / "guestbook"
    shutil.copytree(TOPOLOGIES / "guestbook", cluster)
    (cluster / "egress.yaml").write_text(EGRESS_POLICY)
    state = folder / "state.db"
    patch = pytest.MonkeyPatch()
    patch.setenv("SDN_RUN_DIR", str(folder / "run"))
    try:
        sync_sample(state, str(cluster))
        code, out, err = run_main(sdn.cli.main, "realize", "--state", state)
        assert code == 0, out + err
        yield state
    finally:
        run_main(sdn.cli.main, "realize", "--teardown", "--state", state)
        patch.undo()
    assert not any(Path("/run/netns").glob(netns_prefix(owner_tag(state)) + "*"))
    assert handmade_net.our_monitors() == []


def _compare(state: Path, src: str, dst: str, *extra: object) -> dict[str, Any]:
    code, out, err = run_main(sdn.cli.main, "traceflow", "--state", state, "--src", src,
                              "--dst", dst, "--compare", "-o", "json", *extra)
    assert code in (0, 1), err
    data: dict[str, Any] = json.loads(out)
    assert (code == 0) is data["agree"]
    return data


def _needs_rules() -> None:
    if importlib.util.find_spec("sdn.dataplane.nftgen") is None:
        pytest.skip("the firewall, NAT and LB rules come with sdn.dataplane.nftgen")


def _dropped(trace: dict[str, Any]) -> dict[str, Any]:
    return next(o for o in trace["observations"]
                if o["resource_type"] == "TraceflowObservationDroppedLogical")


@pytest.mark.parametrize(("src", "dst", "extra", "disposition"), [
    pytest.param("default/frontend-0", "default/frontend-1", ("--dport", 80), "DELIVERED",
                 id="pod-to-pod-one-segment"),
    pytest.param("default/frontend-0", "172.23.0.2", ("--dport", 22), "DELIVERED",
                 id="pod-to-node-across-tier-1s"),
    pytest.param("default/frontend-0", "192.0.2.100", ("--dport", 80), "EXITS_NETWORK",
                 id="pod-to-outside"),
])
def test_live_agrees_with_the_simulator(realized: Path, src: str, dst: str,
                                        extra: tuple[object, ...], disposition: str) -> None:
    data = _compare(realized, src, dst, *extra)
    assert data["agree"], data["first_difference"]
    assert data["live"]["disposition"] == data["simulated"]["disposition"] == disposition
    live = data["live"]
    assert live["observations"][-1]["resource_type"] != "TraceflowObservationDroppedLogical"
    assert live["packet"] == data["simulated"]["packet"]


def test_live_json_is_the_simulators_shape(realized: Path) -> None:
    code, out, err = run_main(sdn.cli.main, "traceflow", "--state", realized, "--src",
                              "default/frontend-0", "--dst", "default/frontend-1", "--live",
                              "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"operation_state", "counters", "observations", "disposition"}
    assert data["observations"][-1]["resource_type"] == "TraceflowObservationDelivered"
    assert data["observations"][-1]["lport_name"] == "default/frontend-1"


@pytest.mark.parametrize(("src", "dst", "port", "point"), [
    pytest.param("default/redis-slave-0", "default/frontend-0", 80, "egress",
                 id="dropped-by-egress"),
    pytest.param("default/frontend-0", "default/redis-master-0", 80, "ingress",
                 id="dropped-by-ingress"),
])
def test_drops_name_the_simulators_rule(realized: Path, src: str, dst: str, port: int,
                                        point: str) -> None:
    _needs_rules()
    data = _compare(realized, src, dst, "--dport", port)
    assert data["live"]["disposition"] == "DROPPED"
    live, simulated = _dropped(data["live"]), _dropped(data["simulated"])
    assert live["acl_rule_id"] == simulated["acl_rule_id"]
    assert live["lport_name"] == (src if point == "egress" else dst)
    assert data["agree"]


def test_snat_is_seen(realized: Path) -> None:
    _needs_rules()
    data = _compare(realized, "default/frontend-0", "192.0.2.100", "--dport", 80)
    nat = [o for o in data["live"]["observations"] if o.get("component_type") == "NAT"]
    assert [o["translated_src_ip"] for o in nat] == ["10.40.14.10"]
    assert data["agree"]


def test_the_load_balancer_picks_a_member(realized: Path) -> None:
    _needs_rules()
    # the client is no member: the kernel's bridge sends nothing back out of the port it
    # came in by, so a member picked on the client's own port is not delivered
    data = _compare(realized, "default/redis-master-0", "svc:default/frontend")
    lb = [o for o in data["live"]["observations"]
          if o.get("component_type") == "LOAD_BALANCER"]
    members = {"172.16.0.2", "172.16.0.3", "172.16.0.4"}
    assert len(lb) == 1 and lb[0]["translated_dst_ip"] in members
    assert data["live"]["disposition"] == "DELIVERED" and data["agree"]


def test_a_live_trace_never_goes_through_the_daemon(synced: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A live trace changes nftables and sends a packet: it is no question for the
    state's daemon (``sdn daemon``), which answers read-only questions."""
    from sdn.daemon import client

    asked: list[list[str]] = []

    def forward(argv: list[str], state: str, *_: object) -> None:
        asked.append(argv)

    monkeypatch.setattr(client, "forward", forward)
    monkeypatch.setattr(livetrace, "preflight", lambda: None)
    base = ["sdn", "traceflow", "--state", str(synced.state), "--src", "default/frontend-0",
            "--dst", "default/frontend-1"]
    for flag in ("--live", "--compare"):
        monkeypatch.setattr("sys.argv", [*base, flag])
        assert sdn.cli.main() == 2
    assert asked == []
    monkeypatch.setattr("sys.argv", base)
    assert sdn.cli.main() == 0
    assert asked == [base[1:]]


def test_a_source_pod_left_out_of_the_realization_is_refused(
        synced: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(livetrace, "preflight", lambda: None)
    tag, full = _record_of(synced.state)
    others = tuple(p for p in full.ports if p.pod != "default/frontend-0")
    record.save(tag, dataclasses.replace(full, ports=others))
    res = _live(synced, "--dst", "default/frontend-1", "--live")
    assert res.code == 2 and "NOT_REALIZED default/frontend-0" in res.err
