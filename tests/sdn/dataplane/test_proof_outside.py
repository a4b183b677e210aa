"""What the physical network beyond the Tier-0 sees of a realization (root), the samples
realized through ``sdn realize``:

* SNAT: a listener on the outside address records each connection's peer: a pod of a
  NAT namespace arrives as its namespace's SNAT IP (the state's SNAT rules, read here
  with an oracle of our own: the first enabled rule by sequence whose source holds the
  pod), a pod of a no-SNAT (routed) namespace with its own address. multi-tenant has
  both kinds, a pool SNAT IP, a static one (payments) and a routed namespace
  (analytics, ``ncp/no_snat``).
* Load balancing: the guestbook frontend's LoadBalancer VIP reached from the outside
  namespace lands on one of its pool's members: every member's namespace listens on
  the member port and answers with its own name; consecutive connections take the
  members in turn (the pool's ROUND_ROBIN).

Each realization is torn down afterwards and the host is as it was before.
"""

from __future__ import annotations

import json
import select
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from sdn.dataplane.kernel import inside
from sdn.dataplane.layout import OUTSIDE_ADDRESS, netns_prefix, owner_tag
from sdn.model import Inventory, LBPool, LBService, LBVirtualServer, NatRule
from sdn.store import Store
from tests.sdn.dataplane.proof_lab import Realized
from tests.sdn.dataplane.verify_lab import records_in, sdn
from tests.support.cli_runs import sync_sample
from tests.support.dataplane import connect, host_snapshot

pytestmark = pytest.mark.usefixtures("needs_root_dataplane")

#: The port the outside listener serves on (any: the outside is ours).
OUTSIDE_PORT = 8080
#: Connections made to the VIP (each must land on a member).
VIP_CONNECTS = 6


def _realized(sample: str, folder: Path) -> Iterator[Realized]:
    state = folder / "state.db"
    sync_sample(state, sample)
    prefix = netns_prefix(owner_tag(state))
    before = host_snapshot(prefix)
    with records_in(folder / "run"):
        try:
            code, out, err = sdn("realize", "--state", state, "-o", "json")
            assert code == 0, err
            with Store.open_readonly(state) as store:
                yield Realized(state, json.loads(out), store.inventory())
        finally:
            code, _, err = sdn("realize", "--teardown", "--state", state)
            assert code == 0, err
            assert host_snapshot(prefix) == before


@pytest.fixture(scope="module")
def multi_tenant(tmp_path_factory: pytest.TempPathFactory, needs_root_dataplane: None
                 ) -> Iterator[Realized]:
    yield from _realized("multi-tenant", tmp_path_factory.mktemp("multi-tenant"))


@pytest.fixture(scope="module")
def guestbook(tmp_path_factory: pytest.TempPathFactory, needs_root_dataplane: None
              ) -> Iterator[Realized]:
    yield from _realized("guestbook", tmp_path_factory.mktemp("guestbook"))


def _seen_as(inv: Inventory, ip: str) -> str:
    """The address the outside sees ``ip`` as, by the SNAT rules (oracle): the
    translated address of the first enabled SNAT or NO_SNAT rule by sequence whose
    source network (CIDRs here) holds it; its own address under NO_SNAT or none."""
    rules = sorted((r for r in inv.of_type(NatRule)
                    if r.enabled and r.action in ("SNAT", "NO_SNAT")
                    and r.destination_network is None and r.source_network is not None),
                   key=lambda r: (r.sequence_number, r.path))
    for rule in rules:
        assert rule.source_network is not None
        if any(IPv4Address(ip) in IPv4Network(part.strip(), strict=False)
               for part in rule.source_network.split(",")):
            return ip if rule.action == "NO_SNAT" else str(rule.translated_network)
    return ip


def _allowed_out(state: Path, pod: str) -> bool:
    code, out, err = sdn("explain", "--state", state, "--src", pod,
                         "--dst", str(OUTSIDE_ADDRESS.ip), "--dport", OUTSIDE_PORT,
                         "-o", "json")
    assert code == 0, err
    return bool(json.loads(out)["allowed"])


def test_the_outside_sees_snat_ips_and_routed_pods_as_themselves(
        multi_tenant: Realized) -> None:
    first: dict[str, dict[str, Any]] = {}
    for port in multi_tenant.answer["ports"]:  # one pod per namespace the DFW lets out
        namespace = port["pod"].split("/")[0]
        if "/" in port["pod"] and namespace not in first \
                and _allowed_out(multi_tenant.state, port["pod"]):
            first[namespace] = port
    seen = {ns: connect(p["netns"], multi_tenant.outside, str(OUTSIDE_ADDRESS.ip),
                        OUTSIDE_PORT) for ns, p in sorted(first.items())}
    want = {ns: _seen_as(multi_tenant.inventory, p["ip"]) for ns, p in sorted(first.items())}
    assert seen == want
    # the sample's three kinds were all there: a pool SNAT IP, a static one, a routed pod
    assert want["payments"] == "10.40.14.200"
    assert want["analytics"] == first["analytics"]["ip"]
    assert want["shop"] not in (first["shop"]["ip"], "10.40.14.200")


def _frontend_vip(inv: Inventory) -> tuple[LBVirtualServer, LBPool]:
    """The guestbook frontend's LoadBalancer virtual server (on a real LB, not the
    distributed one of its ClusterIP) and its pool."""
    real = {s.path for s in inv.of_type(LBService) if s.size != "DLB"}
    (vs,) = [v for v in inv.of_type(LBVirtualServer)
             if "frontend" in v.path and v.lb_service_path in real]
    assert vs.pool_path is not None
    pool = inv[vs.pool_path]
    assert isinstance(pool, LBPool)
    return vs, pool


def test_a_vip_from_outside_lands_on_a_pool_member(guestbook: Realized) -> None:
    vs, pool = _frontend_vip(guestbook.inventory)
    (port,) = vs.ports
    names = {str(m.ip_address): m.display_name or str(m.ip_address) for m in pool.members}
    assert len(names) == 3
    landed = []
    with ExitStack() as stack:
        servers = {}
        for member in pool.members:
            ip = str(member.ip_address)
            with inside(guestbook.netns_of_ip(ip)):
                server = stack.enter_context(socket.socket())
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("0.0.0.0", int(member.port or port)))
            server.listen()
            servers[server] = names[ip]
        for _ in range(VIP_CONNECTS):
            landed.append(_one_connect(guestbook.outside, str(vs.ip_address), int(port),
                                       servers))
    assert set(landed) <= set(names.values()) and len(landed) == VIP_CONNECTS, landed
    # round robin, as the pool says: consecutive connections take the members in turn
    assert (pool.algorithm, vs.lb_persistence_profile_path) == ("ROUND_ROBIN", None)
    assert sorted(Counter(landed).values()) == [VIP_CONNECTS // len(names)] * len(names)


def _one_connect(outside: str, vip: str, port: int,
                 servers: dict[socket.socket, str]) -> str:
    """Connect from ``outside`` to ``vip:port``; the member whose listener got the
    connection answers with its name; what the client read."""
    with inside(outside):
        client = socket.socket()
    with client:
        client.settimeout(2.0)
        client.connect((vip, port))
        ready, _, _ = select.select(list(servers), [], [], 2.0)
        assert len(ready) == 1, f"{len(ready)} members got the connection"
        conn, _ = ready[0].accept()
        with conn:
            conn.sendall(servers[ready[0]].encode())
        return client.recv(100).decode()
