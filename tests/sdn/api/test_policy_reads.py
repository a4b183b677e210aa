"""Policy API reads through HTTP against ``sdn serve``: the objects are what
``sdn show -o json`` prints, lists are NSX's shape, unknown paths are NSX's 404."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdn.cli.main import main as sdn_main
from tests.support.cli_runs import run_main
from tests.support.served import Served

POLICY = "/policy/api/v1"


def shown(state: Any, kind: str) -> list[dict[str, Any]]:
    """``sdn show KIND -o json`` of the state: the oracle of the API's objects."""
    code, out, err = run_main(sdn_main, "show", kind, "-o", "json", "--state", state)
    assert code == 0, err
    docs: list[dict[str, Any]] = json.loads(out)
    return docs


def test_segments_list_is_nsx_shape_and_holds_what_sdn_show_prints(
        guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        answer = http.get(f"{POLICY}/infra/segments")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"results", "result_count", "sort_by", "sort_ascending"}
    expected = shown(guestbook_api.state, "segments")
    assert body["result_count"] == len(expected)
    assert sorted(body["results"], key=lambda d: d["path"]) == \
        sorted(expected, key=lambda d: d["path"])
    assert body["sort_by"] == "display_name" and body["sort_ascending"] is True
    names = [d["display_name"] for d in body["results"]]
    assert names == sorted(names)


def test_segment_by_id_is_the_object_sdn_show_prints(guestbook_api: Served) -> None:
    expected = shown(guestbook_api.state, "segments")
    with guestbook_api.client() as http:
        for doc in expected:
            answer = http.get(f"{POLICY}{doc['path']}")
            assert answer.status_code == 200
            assert answer.json() == doc


def test_segment_ports_are_listed_under_their_segment(guestbook_api: Served) -> None:
    ports = shown(guestbook_api.state, "segment-ports")
    segment = "/infra/segments/seg_k8s-cluster_default"
    with guestbook_api.client() as http:
        body = http.get(f"{POLICY}{segment}/ports").json()
    assert sorted(d["path"] for d in body["results"]) == \
        sorted(d["path"] for d in ports if d["parent_path"] == segment)


@pytest.mark.parametrize("path", [
    pytest.param("/infra/segments/no-such-segment", id="unknown-segment"),
    pytest.param("/infra/segments/no-such-segment/ports", id="ports-of-unknown-segment"),
    pytest.param("/infra/domains/other/groups", id="unknown-domain"),
    pytest.param("/infra/no-such-kind", id="unknown-collection"),
])
def test_unknown_paths_are_nsx_404(guestbook_api: Served, path: str) -> None:
    with guestbook_api.client() as http:
        answer = http.get(f"{POLICY}{path}")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["httpStatus"] == "NOT_FOUND" and isinstance(body["error_code"], int)
    assert set(body) == {"httpStatus", "error_code", "error_message", "module_name"}
