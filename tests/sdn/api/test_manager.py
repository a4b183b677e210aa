"""The Manager API through HTTP: node, version, health, cluster status, and segments and
their ports as logical switches and logical ports (ids, attachments, filters)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdn.cli.main import main as sdn_main
from tests.support.cli_runs import run_main
from tests.support.served import Served

MANAGER = "/api/v1"


def shown(served: Served, kind: str) -> list[dict[str, Any]]:
    code, out, err = run_main(sdn_main, "show", kind, "-o", "json", "--state", served.state)
    assert code == 0, err
    docs: list[dict[str, Any]] = json.loads(out)
    return docs


def test_node_and_version_say_nsx_4(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        node = http.get(f"{MANAGER}/node").json()
        version = http.get(f"{MANAGER}/node/version").json()
    assert version["product_version"].startswith("4.")
    assert version["node_version"] == version["product_version"] == node["node_version"]
    assert node["product_version"] == version["product_version"]


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("/reverse-proxy/node/health", {"healthy": True}, id="health"),
])
def test_fixed_answers(guestbook_api: Served, path: str, expected: dict[str, Any]) -> None:
    with guestbook_api.client() as http:
        answer = http.get(MANAGER + path)
    assert answer.status_code == 200 and answer.json() == expected
    assert answer.headers["content-type"] == "application/json"


def test_cluster_is_stable(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        status = http.get(f"{MANAGER}/cluster/status").json()
    assert status["mgmt_cluster_status"]["status"] == "STABLE"
    assert status["control_cluster_status"]["status"] == "STABLE"
    assert status["detailed_cluster_status"]["overall_status"] == "STABLE"


def test_every_segment_port_is_a_logical_port_with_its_attachment(multi_api: Served) -> None:
    ports = shown(multi_api, "segment-ports")
    segments = shown(multi_api, "segments")
    with multi_api.client() as http:
        lps = http.get(f"{MANAGER}/logical-ports").json()
        switches = http.get(f"{MANAGER}/logical-switches").json()
        assert lps["result_count"] == len(ports) == len(lps["results"])
        assert switches["result_count"] == len(segments)
        switch_ids = {s["id"] for s in switches["results"]}
        assert len(switch_ids) == len(segments)
        names = {s["display_name"] for s in switches["results"]}
        assert names == {s["display_name"] for s in segments}
        for port in ports:
            found = http.get(f"{MANAGER}/logical-ports",
                             params={"attachment_id": port["attachment"]["id"]}).json()
            assert found["result_count"] == 1, port["path"]
            lp = found["results"][0]
            assert lp["attachment"]["id"] == port["attachment"]["id"]
            assert lp["display_name"] == port["display_name"]
            assert lp["logical_switch_id"] in switch_ids
            assert lp["address_bindings"] == port["address_bindings"]
            assert http.get(f"{MANAGER}/logical-ports/{lp['id']}").json() == lp
    assert len({lp["id"] for lp in lps["results"]}) == len(ports)


def test_logical_ports_of_one_switch(multi_api: Served) -> None:
    with multi_api.client() as http:
        switches = http.get(f"{MANAGER}/logical-switches").json()["results"]
        total = 0
        for switch in switches:
            one = http.get(f"{MANAGER}/logical-ports",
                           params={"logical_switch_id": switch["id"]}).json()
            assert {lp["logical_switch_id"] for lp in one["results"]} <= {switch["id"]}
            total += one["result_count"]
            assert http.get(f"{MANAGER}/logical-switches/{switch['id']}").json() == switch
        assert total == http.get(f"{MANAGER}/logical-ports").json()["result_count"]


def test_unknown_attachment_lists_nothing(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        body = http.get(f"{MANAGER}/logical-ports", params={"attachment_id": "nope"}).json()
    assert body["result_count"] == 0 and body["results"] == []
