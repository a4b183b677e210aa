"""``sdn realize`` on the real kernel (root): the sample topologies realized through the
CLI carry exactly the state's addresses, MACs and routes, carry real traffic, change
nothing the second time and little for a small change, and teardown leaves the host as
it was. Every state lives under its test's tmp_path (its own owner tag and record).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import sdn.cli
from sdn.dataplane import kernel, nftgen, record
from sdn.dataplane.layout import OUTSIDE_ADDRESS, netns_prefix, owner_tag
from sdn.dataplane.realize import Applied
from sdn.errors import DataplaneError
from sdn.model import Inventory, Segment, SegmentPort
from sdn.store import Store
from tests.sdn.dataplane.proof_lab import Realized
from tests.support.cli_runs import TOPOLOGIES, run_main, sync_sample
from tests.support.dataplane import connect, host_snapshot, netns_json

pytestmark = pytest.mark.usefixtures("needs_root_dataplane")


def sdn_run(*argv: object) -> tuple[int, str, str]:
    return run_main(sdn.cli.main, *argv)


def _realize(state: Path, *extra: object) -> dict[str, Any]:
    code, out, err = sdn_run("realize", "--state", state, "-o", "json", *extra)
    assert code == 0, err
    answer: dict[str, Any] = json.loads(out)
    return answer


def _inventory(state: Path) -> Inventory:
    with Store.open_readonly(state) as store:
        return store.inventory()


@pytest.fixture(scope="module", params=["guestbook", "multi-tenant"])
def realized(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             needs_root_dataplane: None) -> Iterator[Realized]:
    folder = tmp_path_factory.mktemp(request.param)
    state = folder / "state.db"
    sync_sample(state, request.param)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDN_RUN_DIR", str(folder / "run"))
        try:
            yield Realized(state, _realize(state), _inventory(state))
        finally:
            sdn_run("realize", "--teardown", "--state", state)


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SDN_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


@dataclass
class Fresh:
    """A guestbook state of the test's own, nothing realized yet, and the host before."""

    state: Path
    prefix: str
    before: Any


@pytest.fixture
def fresh(tmp_path: Path, run_dir: Path) -> Fresh:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    prefix = netns_prefix(owner_tag(state))
    return Fresh(state, prefix, host_snapshot(prefix))


def test_the_answer_has_the_design_shape(realized: Realized) -> None:
    answer = realized.answer
    assert list(answer) == ["revision", "changes", "ports", "gateways", "outside"]
    assert answer["changes"]["created"] > 0
    assert answer["changes"]["updated"] == answer["changes"]["deleted"] == 0
    assert answer["outside"] == {"netns": f"{realized.prefix}outside",
                                 "addresses": [str(OUTSIDE_ADDRESS)]}
    assert all(set(p) == {"path", "pod", "cluster", "netns", "interface", "ip", "mac"}
               for p in answer["ports"])
    assert answer == {**record.load(owner_tag(realized.state)).public(),  # type: ignore
                      "changes": answer["changes"]}


def test_every_port_has_exactly_the_states_ip_mac_and_default_route(
        realized: Realized) -> None:
    ports = {p.path: p for p in realized.inventory.of_type(SegmentPort)
             if p.address_bindings}
    assert sorted(p["path"] for p in realized.answer["ports"]) == sorted(ports)
    for entry in realized.answer["ports"]:
        port = ports[entry["path"]]
        binding = port.address_bindings[0]
        (link,) = netns_json(entry["netns"], "addr", "show", "dev", "eth0")
        assert entry["interface"] == "eth0"
        assert link["address"] == entry["mac"] == str(binding.mac_address)
        inet = [a["local"] for a in link["addr_info"] if a["family"] == "inet"]  # type: ignore
        assert inet == [entry["ip"]] == [str(binding.ip_address)]
        seg = realized.inventory[port.parent_path]
        assert isinstance(seg, Segment)
        gateway = next(str(s.gateway_address.ip) for s in seg.subnets
                       if binding.ip_address in s.network)
        routes = netns_json(entry["netns"], "route", "show", "default")
        assert [(r["gateway"], r["dev"]) for r in routes] == [(gateway, "eth0")]


def _allowed(state: Path, src: dict[str, Any], dst_ip: str, port: int) -> bool:
    source = src["pod"] if "/" in src["pod"] else src["ip"]
    code, out, err = sdn_run("explain", "--state", state, "--src", source, "--dst", dst_ip,
                             "--dport", port, "-o", "json")
    assert code == 0, err
    return bool(json.loads(out)["allowed"])


def _pairs(r: Realized, same_segment: bool) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    segment = {p["path"]: p["path"].rsplit("/ports/", 1)[0] for p in r.answer["ports"]}

    def tier1(path: str) -> str | None:
        seg = r.inventory[segment[path]]
        return seg.connectivity_path if isinstance(seg, Segment) else None

    for a in r.answer["ports"]:
        for b in r.answer["ports"]:
            if a is b:
                continue
            if same_segment and segment[a["path"]] == segment[b["path"]]:
                yield a, b
            if not same_segment and tier1(a["path"]) != tier1(b["path"]):
                yield a, b


@pytest.mark.parametrize("same_segment", [True, False], ids=["same-segment", "across-tier1s"])
def test_traffic_flows_between_pods_the_simulator_allows(realized: Realized,
                                                         same_segment: bool) -> None:
    for port in (8080, 6379):
        pair = next(((a, b) for a, b in _pairs(realized, same_segment)
                     if _allowed(realized.state, a, b["ip"], port)), None)
        if pair is not None:
            break
    assert pair is not None, "the sample has no allowed pair of that kind"
    a, b = pair
    assert connect(a["netns"], b["netns"], b["ip"], port) is not None, (a["pod"], b["pod"])


def test_a_pod_reaches_the_outside_address(realized: Realized) -> None:
    outside = str(OUTSIDE_ADDRESS.ip)
    src = next(p for p in realized.answer["ports"]
               if _allowed(realized.state, p, outside, 8080))
    assert connect(src["netns"], realized.answer["outside"]["netns"], outside) is not None


def test_a_second_realize_changes_nothing(realized: Realized) -> None:
    saved = record.record_path(owner_tag(realized.state))
    stamp = saved.stat().st_mtime_ns
    again = _realize(realized.state)
    assert again["changes"] == {"created": 0, "updated": 0, "deleted": 0}
    assert again["ports"] == realized.answer["ports"]
    assert saved.stat().st_mtime_ns == stamp  # nothing changed: the record not rewritten


def test_realize_is_never_answered_by_the_daemon() -> None:
    from sdn.cli.main import QUESTIONS

    assert "realize" not in QUESTIONS


def _copy_without_one_pod(folder: Path) -> Path:
    """guestbook with redis-slave scaled from 2 to 1 (redis-slave-1 goes)."""
    copy = folder / "guestbook"
    shutil.copytree(TOPOLOGIES / "guestbook", copy)
    slave = copy / "redis-slave.yaml"
    text = slave.read_text()
    assert "replicas: 2" in text
    slave.write_text(text.replace("replicas: 2", "replicas: 1"))
    return copy


def test_a_pod_deleted_is_a_small_change_and_teardown_restores_the_host(
        tmp_path: Path, fresh: Fresh) -> None:
    state, prefix, before = fresh.state, fresh.prefix, fresh.before
    first = _realize(state)
    sync_sample(state, str(_copy_without_one_pod(tmp_path)), now=1_700_000_100.0)
    second = _realize(state)
    gone = [p for p in first["ports"] if p not in second["ports"]]
    assert [p["pod"] for p in gone] == ["default/redis-slave-1"]
    changes = second["changes"]
    assert changes["created"] == 0 and 4 <= changes["deleted"] <= 12, changes
    assert not os.path.exists(f"/run/netns/{gone[0]['netns']}")
    for entry in second["ports"]:  # the others kept their namespace, IP and MAC
        (link,) = netns_json(entry["netns"], "addr", "show", "dev", "eth0")
        assert link["address"] == entry["mac"]
    assert second["revision"] > first["revision"]
    code, out, err = sdn_run("realize", "--teardown", "--state", state)
    made = len(set(_namespaces(second)))
    assert (code, out) == (0, f"torn down: {made} namespaces deleted\n"), err
    assert host_snapshot(prefix) == before
    assert record.load(owner_tag(state)) is None
    code, out, err = sdn_run("realize", "--teardown", "--state", state, "-o", "json")
    assert (code, json.loads(out)) == (0, {"namespaces_deleted": 0}), err
    assert host_snapshot(prefix) == before


def test_teardown_after_a_crash_removes_by_name_without_a_record(
        fresh: Fresh) -> None:
    state, prefix, before = fresh.state, fresh.prefix, fresh.before
    made = _realize(state)
    record.forget(owner_tag(state))
    code, out, _ = sdn_run("realize", "--teardown", "--state", state)
    assert code == 0 and out == f"torn down: {len(set(_namespaces(made)))} namespaces deleted\n"
    assert host_snapshot(prefix) == before


def _namespaces(answer: dict[str, Any]) -> list[str]:
    return [*(p["netns"] for p in answer["ports"]), *(g["netns"] for g in answer["gateways"]),
            answer["outside"]["netns"]]


def test_not_root_is_a_coded_error_and_nothing_is_made(fresh: Fresh, run_dir: Path) -> None:
    import rich.console  # noqa: F401  (imported while root: /root is closed to others)

    import sdn.cli.realize_cmd  # noqa: F401

    state, prefix, before = fresh.state, fresh.prefix, fresh.before
    os.seteuid(65534)
    try:
        code, out, err = sdn_run("realize", "--state", state)
    finally:
        os.seteuid(0)
    assert (code, out) == (2, "")
    assert err.startswith("error: DATAPLANE_NOT_ROOT: realizing needs root"), err
    assert len(err.splitlines()) == 1
    assert host_snapshot(prefix) == before and not run_dir.exists()


@pytest.mark.parametrize(("breakage", "code"), [
    pytest.param("no-nft", "DATAPLANE_TOOL_MISSING nft"),
    pytest.param("no-br-netfilter", "DATAPLANE_KERNEL_FEATURE br_netfilter"),
    pytest.param("nft-feature", "DATAPLANE_KERNEL_FEATURE nftables"),
    pytest.param("unknown-cluster", "UNKNOWN_CLUSTER nope"),
    pytest.param("unknown-namespace", "UNKNOWN_NAMESPACE nope"),
    pytest.param("missing-state", "STATE_NOT_FOUND"),
    pytest.param("teardown-of-a-cluster", "BAD_ARGUMENT: --teardown removes everything"),
])
def test_a_host_or_request_that_cannot_be_served_makes_nothing(
        tmp_path: Path, fresh: Fresh, monkeypatch: pytest.MonkeyPatch,
        breakage: str, code: str) -> None:
    state, prefix, before = fresh.state, fresh.prefix, fresh.before
    extra: list[str] = []
    with monkeypatch.context() as broken:
        if breakage == "no-nft":
            tools = tmp_path / "bin"
            tools.mkdir()
            (tools / "ip").symlink_to(shutil.which("ip") or "/usr/sbin/ip")
            broken.setenv("PATH", str(tools))
        elif breakage == "no-br-netfilter":
            broken.setattr(kernel, "PROC_SYS", tmp_path)
        elif breakage == "nft-feature":  # what the kernel refuses on every host
            broken.setattr(kernel, "NFT_PROBE", kernel.NFT_PROBE.replace(
                "ip saddr vmap @egress", "ip saddr vmap @egress\n    jump no_such_chain"))
        elif breakage == "missing-state":
            state.unlink()
        elif breakage == "teardown-of-a-cluster":
            extra = ["--teardown", "--cluster", "k8s-cluster"]
        else:
            extra = ["--cluster" if breakage == "unknown-cluster" else "--namespace", "nope"]
        status, out, err = sdn_run("realize", "--state", state, *extra)
    assert (status, out) == (2, "")
    assert err.startswith(f"error: {code}") and len(err.splitlines()) == 1, err
    assert host_snapshot(prefix) == before and record.load(owner_tag(state)) is None


@pytest.mark.parametrize("failure", [
    pytest.param(DataplaneError("injected", code="DATAPLANE_APPLY_FAILED"), id="command-fails"),
    pytest.param(KeyboardInterrupt(), id="interrupted"),
])
def test_a_failure_halfway_is_finished_by_the_next_realize(
        fresh: Fresh, monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> None:
    state, prefix, before = fresh.state, fresh.prefix, fresh.before
    real_run = kernel._run
    calls = []

    def failing(argv: list[str], stdin: str = "", *, tolerant: bool = False) -> None:
        """The fifth namespace's batch runs half its commands, then ``failure``."""
        if argv[:2] == ["ip", "-n"] and not tolerant:
            calls.append(argv[2])
            if len(calls) == 5:
                lines = stdin.splitlines()
                real_run(argv, "".join(f"{x}\n" for x in lines[:len(lines) // 2]))
                raise failure
        real_run(argv, stdin, tolerant=tolerant)

    with monkeypatch.context() as patched:
        patched.setattr(kernel, "_run", failing)
        status, _, err = sdn_run("realize", "--state", state)
    if isinstance(failure, DataplaneError):
        assert (status, err) == (2, "error: DATAPLANE_APPLY_FAILED: injected\n")
    else:
        assert status == 130 and len(err.splitlines()) == 1, err
    failed = record.load(owner_tag(state))
    assert failed is not None and failed.private["dirty"] and not failed.ports
    answer = _realize(state)
    assert answer["changes"]["created"] > 0 and not answer["changes"]["deleted"]
    for entry in answer["ports"]:
        (link,) = netns_json(entry["netns"], "addr", "show", "dev", "eth0")
        assert link["address"] == entry["mac"]
        assert netns_json(entry["netns"], "route", "show", "default")
    frontend, master = (next(p for p in answer["ports"] if p["pod"] == name)
                        for name in ("default/frontend-0", "default/redis-master-0"))
    assert connect(frontend["netns"], master["netns"], master["ip"], 6379) is not None
    assert _realize(state)["changes"] == {"created": 0, "updated": 0, "deleted": 0}
    sdn_run("realize", "--teardown", "--state", state)
    assert host_snapshot(prefix) == before


def _applied_nft(state: Path, prefix: str) -> dict[str, nftgen.Ruleset]:
    """The nftables rulesets the last realize applied, as its record keeps them."""
    return Applied.of(record.load(owner_tag(state)), prefix).nft


def test_a_namespace_realized_alone_then_the_rest_keeps_its_pods(
        fresh: Fresh) -> None:
    state, prefix, before = fresh.state, fresh.prefix, fresh.before
    try:
        alone = _realize(state, "--namespace", "default")
        assert {p["pod"].split("/")[0] for p in alone["ports"]} == {"default"}
        old = _applied_nft(state, prefix)
        whole = _realize(state)
        new = _applied_nft(state, prefix)
        added = [p for p in whole["ports"] if p not in alone["ports"]]
        assert [p["pod"] for p in added] == ["worker-0", "worker-1", "worker-2"]
        # four kernel objects per new pod (namespace, interface, address, route), and
        # the nftables chains and elements the new ports bring (new tables: created)
        assert whole["changes"] == {
            "created": 4 * len(added) + sum(nftgen.count(None, new[ns])
                                            for ns in new if ns not in old),
            "updated": sum(nftgen.count(old[ns], new[ns]) for ns in new if ns in old),
            "deleted": 0}
    finally:
        sdn_run("realize", "--teardown", "--state", state)
    assert host_snapshot(prefix) == before


def _arp_limits() -> dict[str, int]:
    folder = Path("/proc/sys/net/ipv4/neigh/default")
    return {n: int((folder / n).read_text()) for n in ("gc_thresh1", "gc_thresh2",
                                                       "gc_thresh3")}


def test_a_big_segment_raises_the_arp_limit_until_teardown(tmp_path: Path,
                                                           run_dir: Path) -> None:
    from tests.support.clusters import deployment, namespace, sync_generated

    state = tmp_path / "big.db"
    pools = {"external_ip_pools": [{"id": "ip-pool-snat", "cidr": "198.51.100.0/24"}],
             "external_ip_pools_lb": [{"id": "ip-pool-lb", "cidr": "203.0.113.0/24"}]}
    sync_generated(state, [namespace("big"), deployment("big", "web", 24)], **pools)
    before = _arp_limits()
    prefix = netns_prefix(owner_tag(state))
    try:
        answer = _realize(state)
        assert len(answer["ports"]) >= 24
        during = _arp_limits()
        if before["gc_thresh2"] < 24 * 25:  # 24 pods that all talk on one segment
            assert during["gc_thresh2"] >= 24 * 25 and during["gc_thresh3"] > \
                during["gc_thresh2"]
            kept = record.load(owner_tag(state))
            assert kept is not None and kept.private["arp"]["original"] == before
        else:
            assert during == before
    finally:
        sdn_run("realize", "--teardown", "--state", state)
    assert _arp_limits() == before
    assert host_snapshot(prefix).namespaces == ()


class FakeNft:
    """The nftgen interface with one table per router namespace whose text a test sets
    (``text``; None: no tables): realize's nftables plumbing, whatever the generator."""

    text: str | None = None

    @dataclass(frozen=True)
    class Ruleset:
        table: str

        def to_json(self) -> dict[str, Any]:
            return {"table": self.table}

        @classmethod
        def from_json(cls, obj: dict[str, Any]) -> Any:
            return cls(obj["table"])

    @classmethod
    def rulesets(cls, inv: Inventory, layout: Any, firewall: Any) -> dict[str, Any]:
        if cls.text is None:
            return {}
        return {r.netns: cls.Ruleset(cls.text) for r in layout.routers.values()}

    @staticmethod
    def transaction(old: Any, new: Any) -> str:
        if old == new:
            return ""
        drop = "delete table inet sdn_fake\n" if old is not None else ""
        return drop + (new.table if new is not None else "")

    @staticmethod
    def count(old: Any, new: Any) -> int:
        return 0 if old == new else 1


def _fake_table(chains: int) -> str:
    body = "".join(f"  chain c{i} {{\n    counter\n  }}\n" for i in range(chains))
    return f"table inet sdn_fake {{\n{body}}}\n"


def _tables(netns: str) -> str:
    import subprocess

    return subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "tables"],
                          text=True, capture_output=True, check=True).stdout


def test_each_router_gets_its_nftables_in_one_transaction_and_only_changes(
        fresh: Fresh, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdn.dataplane import realize as realize_module

    monkeypatch.setattr(realize_module, "nftgen", FakeNft)
    monkeypatch.setattr(FakeNft, "text", _fake_table(1))
    state = fresh.state
    try:
        first = _realize(state)
        routers = [g["netns"] for g in first["gateways"]]
        assert all(_tables(ns) == "table inet sdn_fake\n" for ns in routers)
        assert _realize(state)["changes"] == {"created": 0, "updated": 0, "deleted": 0}
        monkeypatch.setattr(FakeNft, "text", _fake_table(2))
        assert _realize(state)["changes"] == {"created": 0, "updated": len(routers),
                                              "deleted": 0}
        monkeypatch.setattr(FakeNft, "text", "table inet sdn_fake { chain c { jump nowhere"
                                             "\n}\n}\n")
        code, _, err = sdn_run("realize", "--state", state)
        assert code == 2 and err.startswith("error: DATAPLANE_APPLY_FAILED: nft in "), err
        monkeypatch.setattr(FakeNft, "text", _fake_table(3))
        again = _realize(state)  # the routers the failure touched, rebuilt whole
        assert again["ports"] == first["ports"]
        assert all("sdn_fake" in _tables(ns) for ns in routers)
        monkeypatch.setattr(FakeNft, "text", None)
        assert _realize(state)["changes"]["deleted"] == len(routers)
        assert all(_tables(ns) == "" for ns in routers)
    finally:
        sdn_run("realize", "--teardown", "--state", state)
    assert host_snapshot(fresh.prefix) == fresh.before


def test_every_bridge_port_forwards_when_realize_returns(fresh: Fresh) -> None:
    """No waiting here: a user's traffic right after ``sdn realize`` gets through (the
    kernel reports a new veth's carrier up to a second late; realize waits for it)."""
    try:
        answer = _realize(fresh.state)
        states = [s for g in answer["gateways"] for s in kernel.bridge_port_states(g["netns"])]
        assert len(states) == len(answer["ports"]) and set(states) == {"forwarding"}
    finally:
        sdn_run("realize", "--teardown", "--state", fresh.state)
    assert host_snapshot(fresh.prefix) == fresh.before
