"""``sdn reach -o json`` writes its matrix itself (the pure-Python pretty encoder was a
third of the command's time at 25,000 pairs): the text is exactly ``json.dumps(...,
indent=2)``'s, and the pairs are sorted as before (by source, then destination name)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdn.cli.policy_cmd import matrix_json

RESULTS: list[list[dict[str, Any]]] = [
    [{"port": None, "pods": [], "allowed": []}],
    [{"port": 80, "pods": ["a/x", "b/y"], "allowed": []},
     {"port": 8080, "pods": ["a/x", "b/y"], "allowed": [["a/x", "b/y"], ["b/y", "a/x"]]}],
    [{"port": 1, "pods": ['q/"quoted"\\', "ü/ñ"], "allowed": [['q/"quoted"\\', "ü/ñ"]]}],
]


@pytest.mark.parametrize("results", RESULTS)
def test_text_is_json_dumps_indent_2(results: list[dict[str, Any]]) -> None:
    data = {"protocol": "TCP", "results": results}
    assert matrix_json("TCP", results) == json.dumps(data, indent=2) + "\n"


def test_sample_matrix(cli: Any) -> None:
    assert cli.sync(cli.MULTI_TENANT).code == 0
    res = cli.sdn("reach", "--port", "80", "--port", "8080", "-o", "json", "--state", cli.state)
    assert res.code == 0
    data = json.loads(res.out)
    assert res.out == json.dumps(data, indent=2) + "\n"
    for result in data["results"]:
        assert result["allowed"] == sorted(result["allowed"])
        assert result["allowed"] and len(result["allowed"]) < len(result["pods"]) ** 2
