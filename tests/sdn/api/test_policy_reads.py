"""Policy API reads through HTTP against ``sdn serve``: every kind ``sdn show`` has
(pools' ``ip-subnets`` and ``ip-allocations`` included), by id and in its collection, is
the object ``sdn show -o json`` prints; lists are NSX's shape; children NSX serves at
their own paths (rules, NAT rules) are there; unknown paths (Policy and Manager) are
NSX's 404; reads are byte-identical."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from sdn.cli.main import main as sdn_main
from sdn.model import KINDS
from sdn.model.apishape import POOL_CHILD_KINDS
from tests.support.cli_runs import run_main
from tests.support.served import Served, running_server

POLICY = "/policy/api/v1"
LIST_KEYS = {"results", "result_count", "sort_by", "sort_ascending"}


def shown(state: Path, kind: str) -> list[dict[str, Any]]:
    """``sdn show KIND -o json`` of the state: the oracle of the API's objects."""
    code, out, err = run_main(sdn_main, "show", kind, "-o", "json", "--state", state)
    assert code == 0, err
    docs: list[dict[str, Any]] = json.loads(out)
    return docs


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0]


@pytest.fixture(params=["guestbook_api", "multi_api", "lb_api", "lb_source_ip_api"])
def api(request: pytest.FixtureRequest) -> Served:
    served: Served = request.getfixturevalue(request.param)
    return served


@pytest.mark.parametrize("kind", [*KINDS, *POOL_CHILD_KINDS])
def test_every_kind_by_id_and_in_its_collection_is_what_sdn_show_prints(
        api: Served, kind: str) -> None:
    expected = shown(api.state, kind)
    by_collection: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with api.client() as http:
        for doc in expected:
            answer = http.get(POLICY + doc["path"])
            assert answer.status_code == 200, doc["path"]
            assert answer.headers["content-type"] == "application/json"
            assert answer.json() == doc
            by_collection[parent(doc["path"])].append(doc)
        for collection, docs in by_collection.items():
            body = http.get(POLICY + collection).json()
            assert set(body) == LIST_KEYS
            assert body["result_count"] == len(docs)
            assert sorted(body["results"], key=lambda d: d["path"]) == \
                sorted(docs, key=lambda d: d["path"])


def test_samples_cover_every_kind(guestbook_api: Served, multi_api: Served,
                                  lb_api: Served, lb_source_ip_api: Served) -> None:
    """The test above is not vacuous: some sample has objects of each kind (but named
    services, which only an admin writes: read back in ``test_policy_writes``)."""
    apis = (guestbook_api, multi_api, lb_api, lb_source_ip_api)
    empty = [k for k in (*KINDS, *POOL_CHILD_KINDS)
             if k != "services" and not any(shown(s.state, k) for s in apis)]
    assert empty == []


def test_lists_sort_by_display_name_then_path(multi_api: Served) -> None:
    with multi_api.client() as http:
        body = http.get(f"{POLICY}/infra/tier-1s").json()
    keys = [(d["display_name"], d["path"]) for d in body["results"]]
    assert keys == sorted(keys)
    assert body["sort_by"] == "display_name" and body["sort_ascending"] is True


def test_a_security_policy_carries_its_rules_and_serves_each_at_its_path(
        multi_api: Served) -> None:
    policies = shown(multi_api.state, "security-policies")
    assert any(p.get("rules") for p in policies)
    with multi_api.client() as http:
        for policy in policies:
            single = http.get(POLICY + policy["path"]).json()
            assert single["rules"] == policy.get("rules", [])
            listed = http.get(f"{POLICY}{policy['path']}/rules").json()
            assert sorted(r["path"] for r in listed["results"]) == \
                sorted(r["path"] for r in policy.get("rules", []))
            for rule in policy.get("rules", []):
                assert http.get(POLICY + rule["path"]).json() == rule


def test_pools_carry_no_children_inline(multi_api: Served) -> None:
    """NSX serves a pool's subnets and allocations only as child resources."""
    with multi_api.client() as http:
        pools = http.get(f"{POLICY}/infra/ip-pools").json()["results"]
    assert pools and not any("subnets" in p or "allocations" in p for p in pools)


@pytest.mark.parametrize("gateway_kind", ["tier-0s", "tier-1s"])
def test_nat_rules_are_under_their_gateway(multi_api: Served, lb_api: Served,
                                           gateway_kind: str) -> None:
    found = 0
    for api in (multi_api, lb_api):
        rules = [r for r in shown(api.state, "nat-rules")
                 if r["path"].startswith(f"/infra/{gateway_kind}/")]
        with api.client() as http:
            for gateway in shown(api.state, gateway_kind):
                listed = http.get(f"{POLICY}{gateway['path']}/nat/USER/nat-rules").json()
                assert sorted(d["path"] for d in listed["results"]) == sorted(
                    r["path"] for r in rules if r["path"].startswith(gateway["path"] + "/"))
                found += listed["result_count"]
                other = http.get(f"{POLICY}{gateway['path']}/nat/DEFAULT/nat-rules").json()
                assert other["result_count"] == 0
    if gateway_kind == "tier-0s":
        assert found > 0


@pytest.mark.parametrize("collection", [
    pytest.param("/infra/services", id="services"),
    pytest.param("/infra/lb-app-profiles", id="lb-app-profiles"),
    pytest.param("/infra/lb-persistence-profiles", id="lb-persistence-profiles"),
])
def test_collections_without_objects_list_empty(guestbook_api: Served, collection: str) -> None:
    with guestbook_api.client() as http:
        body = http.get(POLICY + collection).json()
    assert body == {"results": [], "result_count": 0, "sort_by": "display_name",
                    "sort_ascending": True}


@pytest.mark.parametrize("path", [
    pytest.param(f"{POLICY}/infra/segments/no-such-segment", id="unknown-segment"),
    pytest.param(f"{POLICY}/infra/segments/no-such-segment/ports",
                 id="ports-of-unknown-segment"),
    pytest.param(f"{POLICY}/infra/domains/other/groups", id="unknown-domain"),
    pytest.param(f"{POLICY}/infra/tier-1s/t1_k8s-cluster_default/nat/OTHER/nat-rules",
                 id="unknown-nat-section"),
    pytest.param(f"{POLICY}/infra/no-such-kind", id="unknown-collection"),
    pytest.param(f"{POLICY}/infra/ip-pools/nope/ip-subnets", id="subnets-of-unknown-pool"),
    pytest.param("/api/v1/logical-ports/no-such-port", id="logical-port"),
    pytest.param("/api/v1/logical-switches/no-such-switch", id="logical-switch"),
    pytest.param("/api/v1/spec/vmware/types/LogicalPort", id="spec-types"),
])
def test_unknown_paths_are_nsx_404(guestbook_api: Served, path: str) -> None:
    with guestbook_api.client() as http:
        answer = http.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["httpStatus"] == "NOT_FOUND" and isinstance(body["error_code"], int)
    assert set(body) == {"httpStatus", "error_code", "error_message", "module_name"}


READS = ["/infra/segments", "/infra/segments/seg_k8s-cluster_default/ports",
         "/infra/domains/default/security-policies", "/infra/ip-pools",
         "/infra/tier-1s/t1_k8s-cluster_default",
         "/infra/segments?page_size=2&sort_by=id&sort_ascending=false"]


def test_reads_are_byte_identical_across_requests_and_restarts(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        first = [http.get(POLICY + r).content for r in READS]
        again = [http.get(POLICY + r).content for r in READS]
    with running_server(guestbook_api.state, "--rate-limit", "0") as other, \
            other.client() as http:
        restarted = [http.get(POLICY + r).content for r in READS]
    assert first == again == restarted
