"""The ``ip`` commands a diff becomes (pure: nothing runs): what a removed namespace or
link takes with it is not removed again, a veth reaching into a namespace that stays is
removed from that end, and creations come in an order the kernel accepts."""

from __future__ import annotations

import pytest

from sdn.dataplane.kernel import _creations, _deletions
from sdn.dataplane.plan import (
    Address,
    Blueprint,
    Bridge,
    KernelObject,
    Namespace,
    Route,
    Sysctl,
    Veth,
    diff,
)

ROUTER, POD, OTHER = "sdn-t-r-1", "sdn-t-p-1", "sdn-t-p-2"
POD_VETH = Veth(POD, "eth0", ROUTER, "v1", mac="02:00:00:00:00:01", peer_master="b1")
OBJECTS: tuple[KernelObject, ...] = (
    Namespace(ROUTER), Namespace(POD), Namespace(OTHER),
    Sysctl(ROUTER, "net/ipv4/ip_forward", "1"),
    Bridge(ROUTER, "b1", "02:50:56:56:44:52"), Address(ROUTER, "b1", "10.0.0.1/24"),
    POD_VETH, Address(POD, "eth0", "10.0.0.2/24"),
    Route(POD, "0.0.0.0/0", "10.0.0.1", "eth0"),
    Veth(OTHER, "eth0", ROUTER, "v2", mac="02:00:00:00:00:02", peer_master="b1"),
    Address(OTHER, "eth0", "10.0.0.3/24"), Route(OTHER, "0.0.0.0/0", "10.0.0.1", "eth0"),
)
WHOLE = Blueprint.of(OBJECTS)


def _without(*keys: str) -> Blueprint:
    return Blueprint({k: o for k, o in WHOLE.objects.items() if k not in keys})


@pytest.mark.parametrize(("removed", "commands"), [
    pytest.param(("netns sdn-t-p-1", POD_VETH.key, "addr sdn-t-p-1 eth0 10.0.0.2/24",
                  "route sdn-t-p-1 0.0.0.0/0"),
                 {ROUTER: ["link del v1"]}, id="a-pod-goes:-its-veth-from-the-router's-end"),
    pytest.param(("route sdn-t-p-1 0.0.0.0/0",), {POD: ["route del 0.0.0.0/0"]},
                 id="a-route-alone"),
    pytest.param((POD_VETH.key, "addr sdn-t-p-1 eth0 10.0.0.2/24", "route sdn-t-p-1 0.0.0.0/0"),
                 {POD: ["link del eth0"]}, id="a-veth-takes-its-address-and-route"),
    pytest.param(("netns sdn-t-r-1",), {POD: ["link del eth0"], OTHER: ["link del eth0"]},
                 id="the-router-goes:-its-ports-lose-their-veth-from-their-end"),
])
def test_deletions_remove_only_what_nothing_else_takes_with_it(
        removed: tuple[str, ...], commands: dict[str, list[str]]) -> None:
    target = _without(*removed)
    if "netns sdn-t-r-1" in removed:
        target = WHOLE.without({ROUTER})
    d = diff(WHOLE, target)
    assert dict(_deletions(d.delete, d.deleted_namespaces())) == commands


def test_creations_make_bridges_before_their_ports_and_addresses_before_routes() -> None:
    d = diff(Blueprint(), WHOLE)
    jobs = _creations(d, [ROUTER, POD, OTHER])
    assert jobs[ROUTER] == ["link set lo up", "link add b1 type bridge",
                            "link set b1 address 02:50:56:56:44:52 up",
                            "link set v1 master b1 up", "link set v2 master b1 up",
                            "addr replace 10.0.0.1/24 dev b1"]
    assert jobs[POD] == ["link set lo up", "link set eth0 up",
                         "addr replace 10.0.0.2/24 dev eth0",
                         "route replace 0.0.0.0/0 via 10.0.0.1 dev eth0"]


def test_a_port_set_down_is_one_command_on_the_host_end() -> None:
    down = Veth(POD, "eth0", ROUTER, "v1", mac="02:00:00:00:00:01", peer_master="b1",
                peer_up=False)
    d = diff(WHOLE, Blueprint({**WHOLE.objects, down.key: down}))
    assert dict(_creations(d, [])) == {ROUTER: ["link set v1 master b1 down"]}
