"""``sdn traceflow --src ADDRESS``: a client outside NSX reaching a LoadBalancer VIP
(sdn.traceflow.outside), on the guestbook sample."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

import pytest

CLIENT = "203.0.113.7"


@pytest.fixture
def guestbook(cli: Any) -> Any:
    assert cli.sync(cli.GUESTBOOK).code == 0
    return cli


def _tf(cli: Any, *argv: object) -> Any:
    return cli.sdn("traceflow", "--state", cli.state, "--src", CLIENT, *argv)


def _frontend_ips(cli: Any) -> dict[str, str]:
    return {p["display_name"]: p["address_bindings"][0]["ip_address"]
            for p in cli.show("segment-ports") if p["display_name"].startswith("default/frontend-")}


def test_outside_to_the_vip_enters_at_the_tier0_and_is_balanced(guestbook: Any) -> None:
    data = _tf(guestbook, "--dst", "10.40.15.10", "--dport", "80", "-o", "json").json()
    obs = data["observations"]
    assert data["disposition"] == "DELIVERED"
    assert (obs[0]["resource_type"], obs[0]["component_sub_type"]) == (
        "TraceflowObservationReceived" + "Logical", "LR_TIER0")
    # the VIP goes to the LB's Tier-1: its end of the Tier-0/Tier-1 transit link
    assert ip_address(obs[1]["next_hop"]) in ip_network("100.64.0.0/16")
    lb = next(o for o in obs if o.get("component_type") == "LOAD_BALANCER")
    delivered = obs[-1]["lport_name"]
    assert lb["translated_dst_ip"] == _frontend_ips(guestbook)[delivered]
    assert [o["component_type"] for o in obs if o.get("component_type") == "DFW"] == ["DFW"]


def test_svc_target_from_outside_means_the_loadbalancer_vip(guestbook: Any) -> None:
    by_vip = _tf(guestbook, "--dst", "10.40.15.10", "--dport", "80", "-o", "json").json()
    by_svc = _tf(guestbook, "--dst", "svc:default/frontend", "-o", "json").json()
    assert by_svc["observations"] == by_vip["observations"]


def test_all_backends_from_outside_reach_every_frontend(guestbook: Any) -> None:
    data = _tf(guestbook, "--dst", "10.40.15.10", "--dport", "80", "--all-backends",
               "-o", "json").json()
    ends = sorted(b["observations"][-1]["lport_name"] for b in data["branches"])
    assert ends == sorted(_frontend_ips(guestbook))


def test_the_dfw_judges_outside_traffic_at_the_backend(guestbook: Any) -> None:
    redis = next(p["address_bindings"][0]["ip_address"] for p in guestbook.show("segment-ports")
                 if p["display_name"] == "default/redis-master-0")
    res = _tf(guestbook, "--dst", redis, "--dport", "6379", "-o", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["disposition"] == "DROPPED"
    assert data["observations"][-1]["reason"] == "FW_RULE"


@pytest.mark.parametrize(("argv", "code"), [
    pytest.param(["--dst", "10.40.15.10", "--bidirectional"], "BAD_ARGUMENT", id="bidir"),
    pytest.param(["--dst", "10.40.15.10", "--dport", "81"], "TRACE_INPUT", id="no-such-vs"),
    pytest.param(["--dst", "198.51.100.99"], "TRACE_INPUT", id="not-routed-in"),
])
def test_bad_outside_traces_are_refused(guestbook: Any, argv: list[str], code: str) -> None:
    res = _tf(guestbook, *argv)
    assert res.code != 0
    assert code in res.err


def test_a_pod_address_as_source_means_that_pod(guestbook: Any) -> None:
    """``--src`` given as a pod's own address is that pod (as in ``explain`` and
    ``reach``), not a client outside NSX spoofing it."""
    name, ip = next(iter(_frontend_ips(guestbook).items()))
    by_ip = guestbook.sdn("traceflow", "--state", guestbook.state, "--src", ip, "--dst",
                          "10.40.15.10", "-o", "json")
    by_name = guestbook.sdn("traceflow", "--state", guestbook.state, "--src", name, "--dst",
                            "10.40.15.10", "-o", "json")
    assert by_ip.code == 0, by_ip.err
    assert by_ip.json()["observations"] == by_name.json()["observations"]
