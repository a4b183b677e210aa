"""The cache (:mod:`ncp.live.cache`): duplicated and reordered watch events cannot roll
an object back, and a late add cannot bring a deleted object back."""

from __future__ import annotations

from typing import Any

import pytest

from ncp.live.cache import ClusterCache


def pod(name: str, rv: int, ns: str = "a") -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv)}}


def names(cache: ClusterCache) -> dict[str, str]:
    _v, objs = cache.snapshot()
    return {o.name: o.body["metadata"]["resourceVersion"] for o in objs}


@pytest.mark.parametrize("events", [
    pytest.param([("MODIFIED", pod("p1", 7)), ("MODIFIED", pod("p1", 7))], id="duplicated"),
    pytest.param([("MODIFIED", pod("p1", 7)), ("MODIFIED", pod("p1", 6))], id="reordered"),
])
def test_duplicates_and_reordering_cannot_roll_back(events: list[Any]) -> None:
    cache = ClusterCache()
    cache.replace("Pod", [pod("p1", 5)])
    version = cache.version
    for etype, obj in events:
        cache.apply("Pod", etype, obj)
    assert names(cache) == {"p1": "7"}
    assert cache.version == version + 1  # one real change


def test_a_reordered_add_cannot_resurrect_a_deleted_object() -> None:
    cache = ClusterCache()
    cache.replace("Pod", [])
    cache.apply("Pod", "DELETED", pod("p1", 9))  # the delete overtook the add
    assert not cache.apply("Pod", "ADDED", pod("p1", 7))
    assert names(cache) == {}
    assert cache.apply("Pod", "ADDED", pod("p1", 12))  # a new incarnation is welcome
    assert names(cache) == {"p1": "12"}
