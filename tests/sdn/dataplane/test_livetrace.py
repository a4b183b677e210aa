"""The live tracer's parts that need no root: the nft scripts it applies, the namespaces it
watches, the flow it sends, the kernel view of a realized sample, and its refusals."""

from __future__ import annotations

import random
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from sdn.dataplane import kernel, livetrace, record
from sdn.dataplane.layout import Layout, owner_tag
from sdn.dataplane.nfttrace import FlowKey
from sdn.dataplane.observations import KernelView
from sdn.errors import DataplaneError
from sdn.model import Inventory, Segment
from sdn.store import Store
from sdn.traceflow.packets import PacketSpec
from tests.support.cli_runs import sync_sample
from tests.support.handmade_net import VIEW


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SDN_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


@pytest.fixture(scope="module")
def guestbook(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Inventory, int]:
    state = tmp_path_factory.mktemp("gb") / "state.db"
    sync_sample(state, "guestbook")
    store = Store.open_readonly(state)
    try:
        return state, store.inventory(), store.revision
    finally:
        store.close()


@pytest.mark.parametrize(("key", "match"), [
    (FlowKey("TCP", 40001, 7), "ip protocol tcp tcp sport 40001 ip id 7"),
    (FlowKey("UDP", 53, None), "ip protocol udp udp sport 53"),
    (FlowKey("ICMP", 9, 9), "ip protocol icmp icmp id 9 ip id 9"),
    (FlowKey("SCTP", 5, 1), "ip protocol sctp sctp sport 5 ip id 1"),
], ids=["tcp", "udp-without-ip-id", "icmp", "sctp"])
def test_flow_match(key: FlowKey, match: str) -> None:
    assert livetrace.flow_match(key) == match


def test_trace_script_replaces_a_stale_table_and_hooks_every_chain() -> None:
    router = livetrace.trace_script(FlowKey("TCP", 1, 2), router=True).splitlines()
    assert router[:2] == ["table inet sdn_trace {}", "delete table inet sdn_trace"]
    text = "\n".join(router)
    for hook in ("prerouting priority -350", "forward priority 1000",
                 "input priority 1000", "postrouting priority 1000"):
        assert f"hook {hook};" in text
    assert text.count("meta nftrace set 1") == 2  # inet and bridge prerouting
    assert "table bridge sdn_trace {" in text
    pod = livetrace.trace_script(FlowKey("TCP", 1, 2), router=False)
    assert "bridge" not in pod and "forward" not in pod and "hook input" in pod
    assert livetrace.removal_script(router=True).splitlines() == [
        "table inet sdn_trace {}", "delete table inet sdn_trace",
        "table bridge sdn_trace {}", "delete table bridge sdn_trace"]


@pytest.mark.parametrize(("dst", "routers", "pods"), [
    ("10.9.0.3", ["r0", "r1"], ["b"]),
    ("10.9.1.2", ["r0", "r1", "r2"], ["c"]),
    ("192.0.2.100", ["r0", "r1"], ["o"]),
    ("10.96.0.10,10.9.1.2", ["r0", "r1", "r2"], ["c"]),
], ids=["same-segment", "across-tier-1s", "outside", "virtual-server-and-its-member"])
def test_watched_namespaces(dst: str, routers: list[str], pods: list[str]) -> None:
    source = VIEW.ports["/infra/segments/sA/ports/a"]
    destinations = [IPv4Address(d) for d in dst.split(",")]
    assert livetrace.watched(VIEW, source, destinations) == (routers, pods)


@pytest.mark.parametrize(("packet", "sport_fixed"), [
    (PacketSpec(src_ip="10.0.0.1", dst_ip="10.0.0.2", dst_port=80), False),
    (PacketSpec(src_ip="10.0.0.1", dst_ip="10.0.0.2", dst_port=80, src_port=1234), True),
    (PacketSpec(src_ip="10.0.0.1", dst_ip="10.0.0.2", protocol="ICMP"), True),
], ids=["fresh-port", "asked-port", "icmp"])
def test_live_flow(packet: PacketSpec, sport_fixed: bool) -> None:
    flow = livetrace.live_flow(packet, random.Random(1))
    assert flow.packet.src_port == (packet.src_port if sport_fixed else flow.key.sport)
    assert flow.key.ip_id is not None and 1 <= flow.key.ip_id < 65536
    if packet.protocol == "ICMP":
        assert flow.key.sport == flow.key.ip_id
    else:
        assert flow.packet.src_port is not None and flow.packet.src_port >= 1024
    assert flow == livetrace.live_flow(packet, random.Random(1))


def test_craft_builds_the_packet_with_the_flows_fields() -> None:
    pkt = PacketSpec(src_ip="10.0.0.1", dst_ip="10.0.0.2", dst_port=80, src_port=40001,
                     ttl=9)
    wire = livetrace.craft(pkt, 77)
    assert wire[8] == 9 and wire[9] == 6 and int.from_bytes(wire[4:6], "big") == 77
    assert wire[12:16] == bytes([10, 0, 0, 1]) and wire[16:20] == bytes([10, 0, 0, 2])
    assert int.from_bytes(wire[20:22], "big") == 40001 and wire[33] == 2  # SYN
    for protocol, number in (("UDP", 17), ("SCTP", 132)):
        other = pkt.model_copy(update={"protocol": protocol})
        assert livetrace.craft(other, 1)[9] == number
    icmp = PacketSpec(src_ip="10.0.0.1", dst_ip="10.0.0.2", protocol="ICMP")
    assert livetrace.craft(icmp, 5)[20] == 8  # echo request


def test_view_of_a_realized_sample(guestbook: tuple[Path, Inventory, int]) -> None:
    state, inv, revision = guestbook
    tag = owner_tag(state)
    layout = Layout.of(inv, tag)
    realized = record.Realized.of(layout, str(state), revision)
    view = livetrace.view_of(inv, tag, realized)
    assert view == KernelView.of(layout, inv)
    assert len(view.ports) == 9 and {p.name for p in view.ports.values()} >= {
        "default/frontend-0", "default/redis-master-0"}
    for port in layout.ports.values():
        assert view.links[(port.host_netns, port.host_interface)].path == port.path
    segments = {s.path for s in inv.of_type(Segment)}
    assert {h.path for h in view.links.values() if h.kind == "segment"} <= segments
    kinds = {r.kind for r in view.routers.values()}
    assert kinds == {"tier0", "tier1"}
    t0 = next(ns for ns, r in view.routers.items() if r.kind == "tier0")
    assert sum(1 for (ns, _), h in view.links.items() if ns == t0 and h.kind == "router") \
        == 5
    assert view.rules and view.nat_rules and view.virtual_servers and view.members


def test_realized_for_refuses_nothing_realized_and_a_stale_record(
        guestbook: tuple[Path, Inventory, int]) -> None:
    state, inv, revision = guestbook
    with pytest.raises(DataplaneError) as err:
        livetrace.realized_for(state, revision)
    assert err.value.code == "NOT_REALIZED"
    tag = owner_tag(state)
    record.save(tag, record.Realized.of(Layout.of(inv, tag), str(state), revision - 1))
    with pytest.raises(DataplaneError) as err:
        livetrace.realized_for(state, revision)
    assert err.value.code == "STALE_REALIZATION"
    record.save(tag, record.Realized.of(Layout.of(inv, tag), str(state), revision))
    assert livetrace.realized_for(state, revision)[0] == tag


@pytest.mark.parametrize(("euid", "missing", "code"), [
    (1000, None, "DATAPLANE_NOT_ROOT"), (0, "nft", "DATAPLANE_TOOL_MISSING"),
    (0, "ip", "DATAPLANE_TOOL_MISSING")])
def test_preflight_refuses(monkeypatch: pytest.MonkeyPatch, euid: int, missing: str | None,
                           code: str) -> None:
    monkeypatch.setattr(livetrace.os, "geteuid", lambda: euid)
    monkeypatch.setattr(livetrace.shutil, "which",
                        lambda tool: None if tool == missing else f"/usr/sbin/{tool}")
    with pytest.raises(DataplaneError) as err:
        livetrace.preflight()
    assert err.value.code == code


def test_a_missing_namespace_is_refused_before_anything_is_made(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(livetrace, "preflight", lambda: None)
    monkeypatch.setattr(kernel, "NETNS_DIR", tmp_path)
    (tmp_path / "src").touch()
    monkeypatch.setattr(livetrace, "Monitors", None)  # never reached
    flow = livetrace.live_flow(PacketSpec(src_ip="10.0.0.1", dst_ip="10.0.0.2", dst_port=80),
                               random.Random(1))
    with pytest.raises(DataplaneError) as err:
        livetrace.capture("t", "src", flow, ["gone-router"], [])
    assert err.value.code == "NETNS_MISSING" and err.value.obj == "gone-router"


def test_the_view_holds_only_the_realized_ports(guestbook: tuple[Path, Inventory, int]) -> None:
    state, inv, revision = guestbook
    tag = owner_tag(state)
    full = record.Realized.of(Layout.of(inv, tag), str(state), revision)
    some = record.Realized(full.state, full.revision, full.ports[:2], full.gateways,
                           full.outside_netns, full.outside_addresses)
    view = livetrace.view_of(inv, tag, some)
    assert sorted(view.ports) == sorted(p.path for p in full.ports[:2])
