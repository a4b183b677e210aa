"""NSX's search through HTTP against ``sdn serve``: a table of queries (results checked
against the objects the Policy API serves), NSX's cursor convention, sorting, paging and
``included_fields``, and bad queries as NSX's 400."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.served import Served

SEARCH = "/policy/api/v1/search/query"


def search_all(http: httpx.Client, query: str, **params: Any) -> tuple[list[Any], list[str]]:
    """Every result of ``query``, following cursors as nsxlib does (until one starts with
    ``0000``), and the cursors seen."""
    results: list[Any] = []
    cursors: list[str] = []
    args = {"query": query, **params}
    while True:
        body = http.get(SEARCH, params=args).json()
        results += body["results"]
        cursors.append(body["cursor"])
        assert body["result_count"] >= len(results)
        if body["cursor"].startswith("0000"):
            assert body["result_count"] == len(results)
            return results, cursors
        args["cursor"] = body["cursor"]


#: The Policy collections at the top of the tree, and the children served under each
#: member (``{}`` is the member's path).
TOP = ("tier-0s", "tier-1s", "segments", "ip-blocks", "ip-pools", "domains/default/groups",
       "domains/default/security-policies", "services", "lb-services", "lb-virtual-servers",
       "lb-pools", "lb-app-profiles", "lb-persistence-profiles")
CHILDREN = {"segments": ("{}/ports",), "ip-pools": ("{}/ip-subnets", "{}/ip-allocations"),
            "domains/default/security-policies": ("{}/rules",),
            "tier-0s": ("{}/nat/USER/nat-rules",), "tier-1s": ("{}/nat/USER/nat-rules",)}


def listed(http: httpx.Client, collection: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    params: dict[str, str] = {}
    while True:
        body = http.get(f"/policy/api/v1{collection}", params=params).json()
        out += body["results"]
        if "cursor" not in body:
            return out
        params["cursor"] = body["cursor"]


def every_document(http: httpx.Client) -> list[dict[str, Any]]:
    """Every object the Policy API lists (the oracle of what search runs over)."""
    out: list[dict[str, Any]] = []
    for kind in TOP:
        members = listed(http, f"/infra/{kind}")
        out += members
        for child in CHILDREN.get(kind, ()):
            for member in members:
                out += listed(http, child.format(member["path"]))
    return out


def test_everything_listed_is_searchable(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        found, _ = search_all(http, "*")
        everything = every_document(http)
    assert sorted(d["path"] for d in found) == sorted(d["path"] for d in everything)


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("resource_type:Segment", lambda d: d["resource_type"] == "Segment",
                 id="resource-type"),
    pytest.param("resource_type:SegmentPort AND tags.scope:ncp\\/pod AND tags.tag:redis*",
                 lambda d: d["resource_type"] == "SegmentPort" and any(
                     t["scope"] == "ncp/pod" for t in d["tags"]) and any(
                     t["tag"].startswith("redis") for t in d["tags"]),
                 id="nsxlib-style-tags"),
    pytest.param("tags.scope:ncp\\/cluster AND tags.tag:k8s\\-cluster",
                 lambda d: any(t["scope"] == "ncp/cluster" for t in d.get("tags", [])) and any(
                     t["tag"] == "k8s-cluster" for t in d.get("tags", [])),
                 id="escaped-slash-and-dash"),
    pytest.param("display_name:default\\/frontend*",
                 lambda d: d.get("display_name", "").startswith("default/frontend"),
                 id="display-name-wildcard"),
    pytest.param("resource_type:(Group OR SecurityPolicy)",
                 lambda d: d["resource_type"] in ("Group", "SecurityPolicy"), id="field-group"),
    pytest.param("resource_type:Rule AND NOT action:ALLOW",
                 lambda d: d["resource_type"] == "Rule" and d["action"] != "ALLOW",
                 id="rule-not-allow"),
    pytest.param('display_name:"default/redis-master-0"',
                 lambda d: d.get("display_name") == "default/redis-master-0", id="quoted"),
])
def test_search_finds_exactly_the_matching_objects(guestbook_api: Served, query: str,
                                                   expected: Any) -> None:
    with guestbook_api.client() as http:
        everything = every_document(http)
        found, _ = search_all(http, query)
    wanted = [d for d in everything if expected(d)]
    assert wanted, "the case must select something"
    assert sorted(d["path"] for d in found) == sorted(d["path"] for d in wanted)


def test_results_are_the_objects_the_policy_api_serves(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        found, _ = search_all(http, "resource_type:SegmentPort")
        for doc in found:
            assert http.get(f"/policy/api/v1{doc['path']}").json() == doc


def test_cursors_are_decimal_and_the_last_starts_with_0000(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        whole, _ = search_all(http, "*")
        paged, cursors = search_all(http, "*", page_size=7)
        empty = http.get(SEARCH, params={"query": "resource_type:NoSuchKind"}).json()
    assert paged == whole
    assert len({d["path"] for d in paged}) == len(paged)
    assert all(c.isdigit() for c in cursors)
    assert [int(c) for c in cursors[:-1]] == list(range(7, len(whole), 7))
    assert cursors[-1].startswith("0000") and int(cursors[-1]) == len(whole)
    assert empty["results"] == [] and empty["result_count"] == 0
    assert empty["cursor"].startswith("0000")


@pytest.mark.parametrize("ascending", [True, False], ids=["ascending", "descending"])
def test_sort_by_a_field(guestbook_api: Served, ascending: bool) -> None:
    with guestbook_api.client() as http:
        found, _ = search_all(http, "resource_type:SegmentPort", sort_by="display_name",
                              sort_ascending=str(ascending).lower())
        body = http.get(SEARCH, params={"query": "resource_type:SegmentPort",
                                        "sort_by": "display_name"}).json()
    names = [d["display_name"] for d in found]
    assert names == sorted(names, key=str.casefold, reverse=not ascending)
    assert body["sort_by"] == "display_name" and body["sort_ascending"] is True


def test_unsorted_results_come_in_path_order(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        found, _ = search_all(http, "resource_type:Segment OR resource_type:Tier1")
    paths = [d["path"] for d in found]
    assert paths == sorted(paths)


def test_included_fields_keep_only_those(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        body = http.get(SEARCH, params={"query": "resource_type:Segment",
                                        "included_fields": "id,path"}).json()
    assert body["results"] and all(set(d) == {"id", "path"} for d in body["results"])


@pytest.mark.parametrize("query", [
    pytest.param("resource_type:(Segment", id="unclosed"),
    pytest.param("_revision:[0 TO 3]", id="range"),
    pytest.param("", id="empty"),
])
def test_bad_queries_are_nsx_400(guestbook_api: Served, query: str) -> None:
    with guestbook_api.client() as http:
        answer = http.get(SEARCH, params={"query": query})
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"httpStatus", "error_code", "error_message", "module_name"}
    assert body["httpStatus"] == "BAD_REQUEST" and isinstance(body["error_code"], int)


def test_query_is_required(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        assert http.get(SEARCH).status_code == 400
