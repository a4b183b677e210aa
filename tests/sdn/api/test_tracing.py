"""The parts of the Traceflow and realized-state APIs that need no server: a request's
packet read as NSX reads it, the tracer letting its read snapshot go when idle, and how
an intent path finds the Kubernetes object NCP's problems name."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from sdn.api.errors import ApiError
from sdn.api.realized import Owner, RealizedSource, owner_of
from sdn.api.tracing import Tracer, read_packet
from sdn.store import Store
from sdn.traceflow import PacketSpec
from tests.support.cli_runs import sync_sample

SOURCE = IPv4Address("172.16.0.2")
MACS = {"02:50:ac:10:00:05": "172.16.0.5"}


def packet(body: Any) -> PacketSpec:
    return read_packet(body, source_ip=SOURCE, address_of_mac=MACS, module="test").spec


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1"}},
                 PacketSpec(src_ip=SOURCE, dst_ip="10.0.0.1", protocol="ICMP"),
                 id="defaults-icmp-from-the-port"),
    pytest.param({"ip_header": {"src_ip": "1.2.3.4", "dst_ip": "10.0.0.1", "ttl": 3}},
                 PacketSpec(src_ip="1.2.3.4", dst_ip="10.0.0.1", protocol="ICMP", ttl=3),
                 id="spoofed-source-kept"),
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1"},
                  "transport_header": {"tcp_header": {"dst_port": 80, "tcp_flags": 18}}},
                 PacketSpec(src_ip=SOURCE, dst_ip="10.0.0.1", dst_port=80, tcp_flags=18),
                 id="tcp-flags"),
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1", "protocol": 17},
                  "transport_header": {"dst_port": 53, "src_port": 5353}},
                 PacketSpec(src_ip=SOURCE, dst_ip="10.0.0.1", protocol="UDP", dst_port=53,
                            src_port=5353), id="flat-udp"),
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1"},
                  "transport_header": {"sctp_header": {"dst_port": 9}}},
                 PacketSpec(src_ip=SOURCE, dst_ip="10.0.0.1", protocol="SCTP", dst_port=9),
                 id="sctp"),
    pytest.param({"eth_header": {"dst_mac": "02:50:AC:10:00:05"},
                  "ip_header": {"protocol": 6}, "transport_header": {"dst_port": 6379}},
                 PacketSpec(src_ip=SOURCE, dst_ip="172.16.0.5", dst_port=6379),
                 id="destination-by-mac"),
    pytest.param({"eth_header": {"dst_mac": "02:00:00:00:00:01"},
                  "ip_header": {"dst_ip": "10.0.0.1"}},
                 PacketSpec(src_ip=SOURCE, dst_ip="10.0.0.1", protocol="ICMP"),
                 id="address-wins-over-mac"),
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1"},
                  "transport_header": {"icmp_echo_request_header": {}, "dst_port": 1}},
                 PacketSpec(src_ip=SOURCE, dst_ip="10.0.0.1", protocol="ICMP"),
                 id="icmp-has-no-ports"),
])
def test_packets_are_read_as_nsx_reads_them(body: Any, expected: PacketSpec) -> None:
    assert packet(body) == expected


@pytest.mark.parametrize(("body", "needle"), [
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1"}, "frame_size": 0}, "frame_size",
                 id="frame-size"),
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1", "protocol": 99}}, "protocol",
                 id="unknown-protocol"),
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1"}, "transport_header": {
        "tcp_header": {"dst_port": 1}, "udp_header": {"dst_port": 1}}}, "several",
                 id="two-headers"),
    pytest.param({"ip_header": {"dst_ip": "10.0.0.1"}, "ipv6_header": {"dst_ip": "::1"}},
                 "IPv4", id="ipv6"),
    pytest.param({"ip_header": "10.0.0.1"}, "ip_header", id="header-not-an-object"),
])
def test_bad_packets_are_400(body: Any, needle: str) -> None:
    with pytest.raises(ApiError) as caught:
        packet(body)
    assert caught.value.status == 400 and needle in caught.value.message


@pytest.fixture(scope="module")
def guestbook_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("tracing") / "state.db"
    sync_sample(state, "guestbook")
    return state


def test_tracer_lets_its_snapshot_go_when_idle(guestbook_state: Path) -> None:
    with Store.open_readonly(guestbook_state) as store:
        revision = store.revision
    tracer = Tracer(guestbook_state, idle_seconds=0.05)
    port = "/infra/segments/seg_k8s-cluster_default/ports/frontend-0"
    spec = PacketSpec(src_ip="172.16.0.2", dst_ip="172.16.0.5", dst_port=6379)

    async def scenario() -> tuple[bool, bool, bool]:
        tracer.run(revision, port, spec)
        held = tracer.holds_snapshot
        await asyncio.sleep(0.03)
        tracer.run(revision, port, spec)  # a later traceflow keeps it
        await asyncio.sleep(0.03)
        still = tracer.holds_snapshot
        await asyncio.sleep(0.15)
        return held, still, tracer.holds_snapshot

    assert asyncio.run(scenario()) == (True, True, False)
    tracer.close()


@pytest.mark.parametrize(("path", "doc", "expected"), [
    pytest.param("/infra/segments/seg_c1_shop/ports/web-0", None,
                 Owner("c1", frozenset({"/infra/segments/seg_c1_shop/ports/web-0",
                                        "Pod/shop/web-0"})), id="pod-port-by-id"),
    pytest.param("/infra/segments/seg_c1_shop", None,
                 Owner("c1", frozenset({"/infra/segments/seg_c1_shop", "Namespace/shop"})),
                 id="namespace-object-by-id"),
    pytest.param("/infra/domains/default/security-policies/np_c1_shop_deny_allow", None,
                 Owner("c1", frozenset({
                     "/infra/domains/default/security-policies/np_c1_shop_deny_allow",
                     "NetworkPolicy/shop/deny"})), id="network-policy-by-id"),
    pytest.param("/infra/lb-pools/pool_c1_shop_web_80_TCP", None,
                 Owner("c1", frozenset({"/infra/lb-pools/pool_c1_shop_web_80_TCP",
                                        "Service/shop/web"})), id="service-by-id"),
    pytest.param("/infra/tier-0s/t0", None, Owner(None, frozenset({"/infra/tier-0s/t0"})),
                 id="shared-object"),
    pytest.param("/infra/x/y", {"tags": [{"scope": "ncp/cluster", "tag": "c2"},
                                         {"scope": "ncp/project", "tag": "shop"},
                                         {"scope": "ncp/service", "tag": "web"}]},
                 Owner("c2", frozenset({"/infra/x/y", "Service/shop/web"})),
                 id="object-by-tags"),
    pytest.param("/infra/x/y", {"tags": [{"scope": "ncp/cluster", "tag": "c2"},
                                         {"scope": "ncp/project", "tag": "shop"}]},
                 Owner("c2", frozenset({"/infra/x/y", "Namespace/shop"})),
                 id="namespace-by-tags"),
])
def test_owner_of_an_intent_path(path: str, doc: dict[str, Any] | None,
                                 expected: Owner) -> None:
    assert owner_of(path, doc) == expected


def test_subnet_cidr_comes_from_the_model(guestbook_state: Path) -> None:
    source = RealizedSource(guestbook_state)
    try:
        with Store.open_readonly(guestbook_state) as store:
            pool = store.inventory()["/infra/ip-pools/ipp_k8s-cluster_default"]
        subnet = pool.subnets[0]  # type: ignore[attr-defined]
        path = f"{pool.path}/ip-subnets/{subnet.id}"
        assert source.subnet_cidr(path) == str(subnet.cidr)
        assert source.subnet_cidr(f"{pool.path}/ip-subnets/nope") is None
        assert source.subnet_cidr("/infra/ip-pools/nope/ip-subnets/x") is None
    finally:
        source.close()
