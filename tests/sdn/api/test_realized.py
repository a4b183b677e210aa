"""Realized state through HTTP against ``sdn serve``: an object of the state is
``REALIZED``; an object NCP could not realize (its problem in the state) is ``ERROR``
with the problem, found by the path NCP gives it; a path that is neither is NSX's 404."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ncp.cli
from tests.support.cli_runs import T0, TOPOLOGIES, run_main
from tests.support.served import AUDIT, Served, running_server

BASE = "/policy/api/v1/infra/realized-state"
#: Two objects NCP rejects: a policy in a namespace that does not exist, a Service whose
#: cluster IP is no address.
REJECTED = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: orphan, namespace: ghost}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: v1
kind: Service
metadata: {name: broken, namespace: default}
spec:
  clusterIP: 999.1.1.1
  selector: {app: redis}
  ports: [{port: 80, protocol: TCP}]
"""
ORPHAN = "/infra/domains/default/security-policies/np_k8s-cluster_ghost_orphan_isolation"
BROKEN = "/infra/lb-virtual-servers/vs_k8s-cluster_default_broken_80_TCP"


@pytest.fixture(scope="module")
def rejected_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The guestbook plus two objects NCP rejects, synced and served."""
    folder = tmp_path_factory.mktemp("rejected")
    manifests = folder / "cluster"
    shutil.copytree(TOPOLOGIES / "guestbook", manifests)
    (manifests / "rejected.yaml").write_text(REJECTED)
    state = folder / "state.db"
    code, out, err = run_main(ncp.cli.main, "sync", "--cluster", manifests, "--state", state,
                              "--now", repr(T0), "-q")
    assert code == 1, out + err  # some objects not realized, as intended
    with running_server(state, "--rate-limit", "0") as served:
        yield served


def realized(http: httpx.Client, what: str, path: str) -> httpx.Response:
    return http.get(f"{BASE}/{what}", params={"intent_path": path})


def first_allocation(http: httpx.Client) -> str:
    pools = http.get("/policy/api/v1/infra/ip-pools").json()["results"]
    for pool in pools:
        allocations = http.get(f"/policy/api/v1{pool['path']}/ip-allocations").json()
        if allocations["results"]:
            return str(allocations["results"][0]["path"])
    raise AssertionError("no pool has an allocation")


@pytest.mark.parametrize(("path", "entity_type"), [
    pytest.param("/infra/segments/seg_k8s-cluster_default", "RealizedLogicalSwitch",
                 id="segment"),
    pytest.param("/infra/segments/seg_k8s-cluster_default/ports/frontend-0",
                 "RealizedLogicalPort", id="pod-port"),
    pytest.param("/infra/tier-1s/t1_k8s-cluster_default", "RealizedLogicalRouter", id="tier-1"),
    pytest.param("/infra/domains/default/security-policies/"
                 "np_k8s-cluster_default_redis-allow-frontend_allow", "RealizedFirewallSection",
                 id="security-policy"),
    pytest.param("/infra/domains/default/security-policies/"
                 "np_k8s-cluster_default_redis-allow-frontend_allow/rules/ingress-0",
                 "RealizedFirewallRule", id="rule"),
])
def test_accepted_objects_are_realized(rejected_api: Served, path: str,
                                       entity_type: str) -> None:
    with rejected_api.client() as http:
        status = realized(http, "status", path)
        entities = realized(http, "realized-entities", path)
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["intent_path"] == path and body["publish_status"] == "REALIZED"
    assert body["consolidated_status"] == {"consolidated_status": "SUCCESS"}
    (entity,) = entities.json()["results"]
    assert entity["state"] == "REALIZED" and entity["alarms"] == []
    assert entity["intent_paths"] == [path] and entity["entity_type"] == entity_type


def test_pool_children_report_their_realized_attributes(rejected_api: Served) -> None:
    with rejected_api.client() as http:
        pool = "/infra/ip-pools/ipp_k8s-cluster_default"
        subnet = http.get(f"/policy/api/v1{pool}/ip-subnets").json()["results"][0]
        allocation = first_allocation(http)
        subnet_entity = realized(http, "realized-entities", subnet["path"]).json()["results"][0]
        alloc_entity = realized(http, "realized-entities", allocation).json()["results"][0]
        alloc_doc = http.get(f"/policy/api/v1{allocation}").json()
    assert subnet_entity["entity_type"] == "IpBlockSubnet"
    (cidr,) = subnet_entity["extended_attributes"]
    assert cidr["key"] == "cidr" and cidr["values"] == ["172.16.0.0/24"]
    assert alloc_entity["entity_type"] == "AllocationIpAddress"
    assert alloc_entity["extended_attributes"][0]["values"] == [alloc_doc["allocation_ip"]]


@pytest.mark.parametrize(("path", "code", "obj"), [
    pytest.param(ORPHAN, "NAMESPACE_NOT_FOUND", "NetworkPolicy/ghost/orphan",
                 id="rejected-network-policy"),
    pytest.param(BROKEN, "INVALID_CLUSTER_IP", "Service/default/broken", id="rejected-service"),
])
def test_rejected_objects_are_errors_with_ncps_problem(rejected_api: Served, path: str,
                                                       code: str, obj: str) -> None:
    with rejected_api.client() as http:
        assert http.get(f"/policy/api/v1{path}").status_code == 404  # never created
        status = realized(http, "status", path).json()
        entities = realized(http, "realized-entities", path).json()
    assert status["publish_status"] == "ERROR"
    assert status["consolidated_status"] == {"consolidated_status": "ERROR"}
    point = status["consolidated_status_per_enforcement_point"][0]
    assert point["consolidated_status"] == {"consolidated_status": "ERROR"}
    assert point["alarm"]["error_id"] == code and obj in point["alarm"]["message"]
    (entity,) = entities["results"]
    assert entity["state"] == "ERROR"
    assert [(a["id"], a["source_reference"]) for a in entity["alarms"]] == [(code, obj)]


def test_problem_of_another_object_leaves_an_object_realized(rejected_api: Served) -> None:
    """The Service's problem is its own: the redis Services in the same namespace stay
    realized."""
    with rejected_api.client() as http:
        servers = http.get("/policy/api/v1/infra/lb-virtual-servers").json()["results"]
        states = {s["path"]: realized(http, "status", s["path"]).json()["publish_status"]
                  for s in servers}
    assert states and set(states.values()) == {"REALIZED"}


@pytest.mark.parametrize(("params", "status"), [
    pytest.param({"intent_path": "/infra/segments/no-such-segment"}, 404, id="unknown-path"),
    pytest.param({"intent_path": "/infra/domains/default/security-policies/"
                                 "np_k8s-cluster_default_nothing_allow"}, 404,
                 id="ncp-shaped-path-without-problem"),
    pytest.param({}, 400, id="no-intent-path"),
])
def test_realized_state_errors(rejected_api: Served, params: dict[str, Any],
                               status: int) -> None:
    with rejected_api.client() as http:
        for what in ("status", "realized-entities"):
            answer = http.get(f"{BASE}/{what}", params=params)
            assert answer.status_code == status
            assert set(answer.json()) == {"httpStatus", "error_code", "error_message",
                                          "module_name"}


def test_audit_user_reads_realized_state(rejected_api: Served) -> None:
    with rejected_api.client(AUDIT) as http:
        answer = realized(http, "status", "/infra/segments/seg_k8s-cluster_default")
    assert answer.status_code == 200
