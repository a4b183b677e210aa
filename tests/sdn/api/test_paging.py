"""NSX paging through HTTP: following the cursors from any page size (the first page's,
or none after it) gives every member exactly once, in the asked order; checked against
an independent oracle (``sdn show -o json`` sorted here) by a property test."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.cli.main import main as sdn_main
from tests.support.cli_runs import run_main
from tests.support.served import Served

POLICY = "/policy/api/v1"
#: Collections of the multi-namespace sample and the ``sdn show`` kind of their members.
COLLECTIONS = {
    "/infra/tier-1s": "tier-1s",
    "/infra/segments": "segments",
    "/infra/segments/seg_k8s-cluster_shop/ports": "segment-ports",
    "/infra/domains/default/groups": "groups",
    "/infra/domains/default/security-policies": "security-policies",
}
SORT_FIELDS = [None, "display_name", "id", "path", "resource_type", "description"]


def members(served: Served, collection: str) -> list[dict[str, Any]]:
    code, out, err = run_main(sdn_main, "show", COLLECTIONS[collection], "-o", "json",
                              "--state", served.state)
    assert code == 0, err
    return [d for d in json.loads(out) if d["path"].rsplit("/", 1)[0] == collection]


def oracle(docs: list[dict[str, Any]], sort_by: str | None, ascending: bool) -> list[str]:
    """The member paths in NSX's order, worked out here (every field sorted here is a
    string, present on every member)."""
    field = sort_by or "display_name"
    return [d["path"] for d in sorted(docs, key=lambda d: (d[field], d["path"]),
                                      reverse=not ascending)]


def walk(http: httpx.Client, collection: str, params: dict[str, Any],
         later_page_size: int | None) -> tuple[list[str], set[int]]:
    """Every page's member paths in order, and the ``result_count``\\ s seen."""
    paths: list[str] = []
    counts: set[int] = set()
    page = http.get(POLICY + collection, params=params).json()
    for _ in range(1000):
        paths += [d["path"] for d in page["results"]]
        counts.add(page["result_count"])
        if "cursor" not in page:
            return paths, counts
        follow = {k: v for k, v in params.items() if k != "page_size"}
        if later_page_size is not None:
            follow["page_size"] = later_page_size
        page = http.get(POLICY + collection, params={**follow, "cursor": page["cursor"]}).json()
    raise AssertionError("the cursors never end")


@settings(max_examples=60, deadline=None)
@given(collection=st.sampled_from(sorted(COLLECTIONS)),
       page_size=st.integers(min_value=1, max_value=12),
       keep_page_size=st.booleans(),
       sort_by=st.sampled_from(SORT_FIELDS), ascending=st.booleans())
def test_all_pages_are_the_whole_list_once(multi_api: Served, collection: str, page_size: int,
                                           keep_page_size: bool, sort_by: str | None,
                                           ascending: bool) -> None:
    docs = members(multi_api, collection)
    params: dict[str, Any] = {"page_size": page_size, "sort_ascending": ascending}
    if sort_by is not None:
        params["sort_by"] = sort_by
    with multi_api.client() as http:
        paths, counts = walk(http, collection, params, page_size if keep_page_size else None)
    assert paths == oracle(docs, sort_by, ascending)
    assert len(paths) == len(set(paths))
    assert counts == {len(docs)}


def test_the_samples_collections_span_several_pages(multi_api: Served) -> None:
    """The property above pages for real: each collection has more than one member."""
    assert all(len(members(multi_api, c)) > 1 for c in COLLECTIONS)


def test_last_page_has_no_cursor_and_others_do(multi_api: Served) -> None:
    with multi_api.client() as http:
        first = http.get(f"{POLICY}/infra/segments", params={"page_size": 1}).json()
        whole = http.get(f"{POLICY}/infra/segments", params={"page_size": 1000}).json()
    assert "cursor" in first and isinstance(first["cursor"], str)
    assert "cursor" not in whole and len(whole["results"]) == whole["result_count"]


@pytest.mark.parametrize(("params", "status"), [
    pytest.param({"cursor": "not-a-cursor"}, 400, id="bad-cursor"),
    pytest.param({"page_size": "-1"}, 400, id="negative-page-size"),
    pytest.param({"page_size": "many"}, 400, id="page-size-not-a-number"),
    pytest.param({"sort_ascending": "maybe"}, 400, id="sort-ascending-not-a-boolean"),
    pytest.param({"page_size": "5000"}, 200, id="page-size-over-the-cap"),
    pytest.param({"cursor": "99999"}, 200, id="cursor-past-the-end"),
])
def test_paging_parameters(multi_api: Served, params: dict[str, str], status: int) -> None:
    with multi_api.client() as http:
        answer = http.get(f"{POLICY}/infra/segments", params=params)
    assert answer.status_code == status
    if status == 400:
        assert answer.json()["httpStatus"] == "BAD_REQUEST"
