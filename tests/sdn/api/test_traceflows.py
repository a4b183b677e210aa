"""The Traceflow API (Manager and Policy) through HTTP against ``sdn serve``: a trace is
the one ``sdn traceflow -o json`` prints for the same port and packet (its oracle),
counters agree with it, deletion forgets, bad requests are NSX's error body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sdn.cli.main import main as sdn_main
from tests.support.cli_runs import run_main
from tests.support.served import AUDIT, Served
from tests.support.traceflow_api import SEGMENT, address, lport, port, tcp_packet

POLICY = "/policy/api/v1"
ISOLATION = ("/infra/domains/default/security-policies/"
             "np_k8s-cluster_default_redis-allow-frontend_isolation")
ERROR_KEYS = {"httpStatus", "error_code", "error_message", "module_name"}


def cli_trace(state: Any, src: str, dst: str, *args: object) -> dict[str, Any]:
    """``sdn traceflow -o json``: the oracle of every trace the API runs."""
    code, out, err = run_main(sdn_main, "traceflow", "--src", src, "--dst", dst, *args,
                              "-o", "json", "--state", state)
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def observations(http: httpx.Client, url: str, page_size: int | None = None) -> list[Any]:
    """Every observation at ``url``, following cursors."""
    out: list[Any] = []
    params: dict[str, Any] = {} if page_size is None else {"page_size": page_size}
    while True:
        body = http.get(url, params=params).json()
        out += body["results"]
        if "cursor" not in body:
            assert body["result_count"] == len(out)
            return out
        params["cursor"] = body["cursor"]


def assert_nsx_error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    assert set(body) == ERROR_KEYS and isinstance(body["error_code"], int)
    return body


@pytest.mark.parametrize("base", ["/api/v1/traceflows", "/api/v1/traceflow"])
def test_manager_traceflow_delivered_is_the_cli_trace(guestbook_api: Served,
                                                      base: str) -> None:
    expected = cli_trace(guestbook_api.state, "default/frontend-0", "default/redis-master-0",
                         "--dport", 6379)
    with guestbook_api.client() as http:
        source = lport(http, "frontend-0")
        created = http.post(base, json={"lport_id": source, "timeout": 5000, "packet":
                                        tcp_packet(address(http, "redis-master-0"), 6379)})
        assert created.status_code == 201, created.text
        flow = created.json()
        assert flow["operation_state"] == "FINISHED" and flow["lport_id"] == source
        assert flow["counters"] == expected["counters"]
        assert flow["counters"]["delivered_count"] == 1
        assert flow["logical_counters"] == expected["logical_counters"]
        assert flow["timeout"] == 5000
        assert http.get(f"{base}/{flow['id']}").json() == flow
        found = observations(http, f"{base}/{flow['id']}/observations")
    assert found == expected["observations"]
    assert found[-1]["resource_type"] == "TraceflowObservationDelivered"


def test_policy_traceflow_dropped_names_the_deciding_rule(guestbook_api: Served) -> None:
    expected = cli_trace(guestbook_api.state, "default/redis-slave-0", "default/redis-master-0",
                         "--dport", 6379)
    with guestbook_api.client() as http:
        source = port(http, "redis-slave-0")["path"]
        put = http.put(f"{POLICY}/infra/traceflows/tf-drop", json={
            "source_id": source, "timeout": 10,
            "packet": tcp_packet(address(http, "redis-master-0"), 6379)})
        assert put.status_code == 200, put.text
        config = put.json()
        assert config["path"] == "/infra/traceflows/tf-drop"
        assert config["source_id"] == source and config["resource_type"] == "TraceflowConfig"
        assert http.get(f"{POLICY}/infra/traceflows/tf-drop").json() == config
        status = http.get(f"{POLICY}/infra/traceflows/tf-drop/status").json()
        found = observations(http, f"{POLICY}/infra/traceflows/tf-drop/observations")
        rule = http.get(f"{POLICY}{ISOLATION}/rules/ingress-isolation").json()
    assert status["operation_state"] == "FINISHED"
    assert status["counters"] == expected["counters"]
    assert status["counters"]["dropped_count"] == 1
    assert found == expected["observations"]
    drop = found[-1]
    assert drop["resource_type"] == "TraceflowObservationDroppedLogical"
    assert drop["reason"] == "FW_RULE"
    assert drop["acl_rule_id"] == rule["rule_id"] and drop["acl_rule_path"] == rule["path"]


def test_policy_traceflow_delivered_and_put_again_traces_again(guestbook_api: Served) -> None:
    expected = cli_trace(guestbook_api.state, "default/frontend-1", "default/redis-master-0",
                         "--dport", 6379)
    url = f"{POLICY}/infra/traceflows/tf-ok"
    with guestbook_api.client() as http:
        body = {"source_id": port(http, "frontend-1")["path"],
                "packet": tcp_packet(address(http, "redis-master-0"), 6379)}
        first = http.put(url, json=body).json()
        second = http.put(url, json=body).json()
        status = http.get(f"{url}/status").json()
        found = observations(http, f"{url}/observations", page_size=2)
    assert (first["_revision"], second["_revision"]) == (0, 1)
    assert status["counters"] == expected["counters"]
    assert status["counters"]["delivered_count"] == 1
    assert found == expected["observations"]


@pytest.mark.parametrize(("transport", "ip_extra", "cli_args"), [
    pytest.param({"tcp_header": {"dst_port": 6379, "src_port": 40000}}, {}, ("--sport", 40000),
                 id="tcp-header-with-source-port"),
    pytest.param({"src_port": 40001, "dst_port": 6379}, {"protocol": 6}, ("--sport", 40001),
                 id="flat-ports-protocol-by-number"),
    pytest.param({"udp_header": {"dst_port": 53}}, {}, ("--protocol", "UDP", "--dport", 53),
                 id="udp-header"),
    pytest.param({"icmp_echo_request_header": {"id": 1, "sequence": 1}}, {},
                 ("--protocol", "ICMP"), id="icmp"),
    pytest.param({}, {}, ("--protocol", "ICMP"), id="no-transport-is-icmp"),
])
def test_packet_forms_trace_the_flow_the_cli_traces(
        guestbook_api: Served, transport: dict[str, Any], ip_extra: dict[str, Any],
        cli_args: tuple[object, ...]) -> None:
    args = cli_args if "--dport" in cli_args or "ICMP" in cli_args else (*cli_args,
                                                                        "--dport", 6379)
    expected = cli_trace(guestbook_api.state, "default/frontend-2", "default/redis-master-0",
                         *args)
    with guestbook_api.client() as http:
        packet = {"ip_header": {"dst_ip": address(http, "redis-master-0"), **ip_extra},
                  "transport_header": transport}
        flow = http.post("/api/v1/traceflows", json={"lport_id": lport(http, "frontend-2"),
                                                     "packet": packet}).json()
        found = observations(http, f"/api/v1/traceflows/{flow['id']}/observations")
    assert found == expected["observations"]


def test_destination_named_by_mac_alone(guestbook_api: Served) -> None:
    expected = cli_trace(guestbook_api.state, "default/frontend-0", "default/redis-slave-0",
                         "--dport", 6379)
    with guestbook_api.client() as http:
        mac = port(http, "redis-slave-0")["address_bindings"][0]["mac_address"]
        flow = http.post("/api/v1/traceflows", json={
            "lport_id": lport(http, "frontend-0"),
            "packet": {"eth_header": {"dst_mac": mac.upper()},
                       "transport_header": {"tcp_header": {"dst_port": 6379}}}}).json()
        found = observations(http, f"/api/v1/traceflows/{flow['id']}/observations")
    assert found == expected["observations"]


def test_observations_filter_and_page(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        flow = http.post("/api/v1/traceflows", json={
            "lport_id": lport(http, "frontend-0"),
            "packet": tcp_packet(address(http, "redis-master-0"), 6379)}).json()
        url = f"/api/v1/traceflows/{flow['id']}/observations"
        every = observations(http, url)
        paged = observations(http, url, page_size=1)
        dfw = http.get(url, params={"component_type": "DFW"}).json()
    assert paged == every
    assert dfw["results"] == [o for o in every if o.get("component_type") == "DFW"]
    assert dfw["result_count"] == 2


def test_deleted_traceflows_are_gone(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        packet = tcp_packet(address(http, "redis-master-0"), 6379)
        flow = http.post("/api/v1/traceflows",
                         json={"lport_id": lport(http, "frontend-0"), "packet": packet}).json()
        assert http.delete(f"/api/v1/traceflows/{flow['id']}").status_code == 200
        assert_nsx_error(http.get(f"/api/v1/traceflows/{flow['id']}"), 404)
        assert_nsx_error(http.get(f"/api/v1/traceflows/{flow['id']}/observations"), 404)
        assert_nsx_error(http.delete(f"/api/v1/traceflows/{flow['id']}"), 404)
        assert flow["id"] not in {f["id"] for f in http.get("/api/v1/traceflows").json()["results"]}
        url = f"{POLICY}/infra/traceflows/tf-gone"
        http.put(url, json={"source_id": port(http, "frontend-0")["path"], "packet": packet})
        assert http.delete(url).status_code == 200
        assert_nsx_error(http.get(url), 404)
        assert_nsx_error(http.get(f"{url}/status"), 404)
        assert http.delete(url).status_code == 200  # Policy deletes are idempotent


def test_traceflows_list_by_lport(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        source = lport(http, "redis-slave-0")
        flow = http.post("/api/v1/traceflows", json={
            "lport_id": source, "packet": tcp_packet(address(http, "frontend-0"), 80)}).json()
        listed = http.get("/api/v1/traceflows", params={"lport_id": source}).json()
    assert flow["id"] in {f["id"] for f in listed["results"]}
    assert {f["lport_id"] for f in listed["results"]} == {source}


GOOD_PACKET = tcp_packet("172.16.0.5", 6379)


@pytest.mark.parametrize(("body", "needle"), [
    pytest.param({"packet": GOOD_PACKET}, "lport_id", id="no-lport"),
    pytest.param({"lport_id": None, "packet": {"ip_header": {}}}, "dst_ip", id="no-destination"),
    pytest.param({"lport_id": None, "packet": "tcp"}, "packet", id="packet-not-an-object"),
    pytest.param({"lport_id": None, "packet": {**GOOD_PACKET, "ip_header": {
        "dst_ip": "172.16.0.5", "protocol": 17}}}, "protocol", id="protocol-conflict"),
    pytest.param({"lport_id": None, "packet": {"resource_type": "BinaryPacketData",
                                               "payload": "AAAA"}}, "FieldsPacketData",
                 id="binary-packet"),
    pytest.param({"lport_id": None, "packet": {"ip_header": {"dst_ip": "300.1.1.1"}}},
                 "300.1.1.1", id="bad-address"),
    pytest.param({"lport_id": None, "packet": {"ip_header": {"dst_ip": "172.16.0.5"},
                                               "transport_header": {"tcp_header": {}}}},
                 "destination port", id="tcp-without-port"),
    pytest.param({"lport_id": None, "packet": {**GOOD_PACKET, "transport_type": "BROADCAST"}},
                 "UNICAST", id="broadcast"),
    pytest.param({"lport_id": None, "packet": {"eth_header": {"dst_mac": "02:00:00:00:00:99"}}},
                 "dst_mac", id="unknown-mac"),
    pytest.param([1, 2], "body", id="body-not-an-object"),
    pytest.param({"lport_id": None, "packet": GOOD_PACKET, "timeout": 0}, "timeout",
                 id="zero-timeout"),
])
def test_bad_manager_requests_are_nsx_400(guestbook_api: Served, body: Any,
                                          needle: str) -> None:
    with guestbook_api.client() as http:
        if isinstance(body, dict) and "lport_id" in body and body["lport_id"] is None:
            body = {**body, "lport_id": lport(http, "frontend-0")}
        before = len(http.get("/api/v1/traceflows").json()["results"])
        error = assert_nsx_error(http.post("/api/v1/traceflows", json=body), 400)
        after = len(http.get("/api/v1/traceflows").json()["results"])
    assert needle in error["error_message"]
    assert before == after  # nothing was kept


def test_unknown_lport_is_nsx_404(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        error = assert_nsx_error(http.post("/api/v1/traceflows", json={
            "lport_id": "no-such-port", "packet": GOOD_PACKET}), 404)
    assert "no-such-port" in error["error_message"]


@pytest.mark.parametrize(("body", "status", "needle"), [
    pytest.param({"source_id": "/infra/segments/nope/ports/x", "packet": GOOD_PACKET}, 404,
                 "source_id", id="unknown-source"),
    pytest.param({"source_id": SEGMENT, "packet": GOOD_PACKET}, 404, "source_id",
                 id="source-is-a-segment"),
    pytest.param({"packet": GOOD_PACKET}, 400, "source_id", id="no-source"),
    pytest.param({"source_id": f"{SEGMENT}/ports/frontend-0", "packet": GOOD_PACKET,
                  "timeout": 60}, 400, "timeout", id="timeout-out-of-range"),
    pytest.param({"source_id": f"{SEGMENT}/ports/frontend-0", "packet": {"ip_header": {}}},
                 400, "dst_ip", id="no-destination"),
])
def test_bad_policy_requests_are_nsx_errors(guestbook_api: Served, body: dict[str, Any],
                                            status: int, needle: str) -> None:
    with guestbook_api.client() as http:
        error = assert_nsx_error(http.put(f"{POLICY}/infra/traceflows/tf-bad", json=body),
                                 status)
        assert_nsx_error(http.get(f"{POLICY}/infra/traceflows/tf-bad"), 404)
    assert needle in error["error_message"]


def test_older_segment_port_path_names_the_source(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        source = port(http, "frontend-0")["path"]
        put = http.put(f"{POLICY}/infra/traceflows/tf-older", json={
            "segment_port_path": source, "packet": GOOD_PACKET})
    assert put.status_code == 200, put.text
    assert put.json()["source_id"] == source


def test_audit_user_reads_but_cannot_trace(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        packet = tcp_packet(address(http, "redis-master-0"), 6379)
        source = lport(http, "frontend-0")
        flow = http.post("/api/v1/traceflows", json={"lport_id": source, "packet": packet})
    with guestbook_api.client(AUDIT) as audit:
        assert_nsx_error(audit.post("/api/v1/traceflows",
                                    json={"lport_id": source, "packet": packet}), 403)
        assert audit.get(f"/api/v1/traceflows/{flow.json()['id']}").status_code == 200
        assert_nsx_error(audit.put(f"{POLICY}/infra/traceflows/x", json={}), 403)


@pytest.mark.parametrize(("path", "allowed"), [
    pytest.param("/api/v1/traceflows", "GET, POST", id="manager-collection"),
    pytest.param("/api/v1/traceflows/x", "GET, DELETE", id="manager-traceflow"),
    pytest.param(f"{POLICY}/infra/traceflows/x", "GET, PUT, DELETE", id="policy-traceflow"),
])
def test_other_methods_are_405_naming_every_allowed_one(guestbook_api: Served, path: str,
                                                        allowed: str) -> None:
    with guestbook_api.client() as http:
        answer = http.patch(path, json={})
    assert_nsx_error(answer, 405)
    assert answer.headers["allow"] == allowed


def test_deletes_answer_json(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        answer = http.delete(f"{POLICY}/infra/traceflows/never-made")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json" and answer.json() == {}
