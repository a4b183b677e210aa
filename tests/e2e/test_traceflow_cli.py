"""``sdn traceflow`` through the CLI: the DESIGN.md contract, pictures, and bad input."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def synced(cli: Any) -> Any:
    assert cli.sync(cli.MULTI_TENANT).code == 0
    return cli


def _tf(cli: Any, *argv: object) -> Any:
    return cli.sdn("traceflow", "--state", cli.state, *argv)


def test_json_is_shaped_like_nsx_traceflow(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/api-0", "--dport",
              "8443", "-o", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["operation_state"] == "FINISHED"
    assert data["disposition"] == "DELIVERED"
    assert set(data["counters"]) == {"forwarded_count", "received_count", "delivered_count",
                                     "dropped_count"}
    obs = data["observations"]
    assert obs[-1]["resource_type"] == "TraceflowObservationDelivered"
    assert {o["component_type"] for o in obs if "component_type" in o} >= {"DFW", "LS", "LR"}
    assert all({"resource_type", "sequence_no", "transport_node_name"} <= set(o) for o in obs)
    assert data["packet"]["ip_header"]["ttl"] == 64
    assert data["packet"]["transport_header"]["tcp_header"]["tcp_flags"] == 2


def test_drop_verdict_names_the_rule_explain_names(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/db-0", "--dport", "5432")
    assert res.code == 0
    verdict = res.out.strip().splitlines()[-1]
    exp = synced.sdn("explain", "--state", synced.state, "--src", "shop/frontend-0", "--dst",
                     "payments/db-0", "--dport", "5432", "-o", "json").json()
    rule = exp["ingress"]["rule"]
    assert verdict.startswith("DROPPED at payments/db-0 ingress by rule")
    assert str(rule["rule_id"]) in verdict
    assert rule["security_policy"].rsplit("/", 1)[-1] in verdict


@pytest.mark.parametrize(("argv", "code_text"), [
    pytest.param(["--src", "shop/nope", "--dst", "1.2.3.4"], "UNKNOWN_POD", id="unknown-pod"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "svc:shop/nope"], "UNKNOWN_SERVICE",
                 id="unknown-service"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "1.2.3.4", "--dport", "70000"],
                 "INVALID_PACKET", id="port-out-of-range"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "1.2.3.4", "--protocol", "ICMP",
                  "--dport", "80"], "INVALID_PACKET", id="icmp-with-port"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "not-an-ip"], "BAD_ARGUMENT",
                 id="bad-destination"),
])
def test_bad_input_is_a_clear_error(synced: Any, argv: list[str], code_text: str) -> None:
    res = _tf(synced, *argv)
    assert res.code == 2
    assert code_text in res.err


def test_pictures(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "203.0.113.9", "--dport", "443")
    assert "↗ outside" in res.out and "EXITS_NETWORK" in res.out
    dot = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/api-0", "--dport", "8443",
              "-o", "dot")
    assert dot.code == 0 and dot.out.startswith("digraph")
    assert "payments/api-0" in dot.out


def test_all_backends_and_bidirectional(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "svc:shop/catalog", "--all-backends",
              "-o", "json")
    branches = res.json()["branches"]
    delivered = {b["observations"][-1].get("lport_name") for b in branches}
    assert delivered == {"shop/catalog-0", "shop/catalog-1"}
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/api-0", "--dport", "8443",
              "--bidirectional", "-o", "json")
    reply = res.json()["reply"]
    assert reply["disposition"] == "DELIVERED"
    assert reply["observations"][-1]["lport_name"] == "shop/frontend-0"
