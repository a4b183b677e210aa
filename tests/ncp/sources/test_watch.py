"""The list-then-watch loop and the cache, against a scripted client: resume from the
latest version, bookmarks, 410 relist dropping objects deleted while away, backoff on
errors, duplicates and reordering that cannot roll objects back."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ncp.live.cache import ClusterCache
from ncp.sources.kube import WATCHED, KubeGoneError, KubeUnavailableError
from ncp.sources.watch import WatchStats, backoff, watch_kind

PODS = next(k for k in WATCHED if k.kind == "Pod")


def pod(name: str, rv: int, ns: str = "a", **labels: str) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv),
                         "labels": labels}}


class Scripted:
    """A KubeClient stand-in: each list/watch call takes the next scripted answer."""

    def __init__(self, lists: list[Any], watches: list[Any]) -> None:
        self.lists = lists
        self.watches = watches
        self.watch_from: list[str] = []
        self.list_calls = 0

    def list(self, kind: Any) -> tuple[list[dict[str, Any]], str]:
        self.list_calls += 1
        answer = self.lists.pop(0)
        if isinstance(answer, Exception):
            raise answer
        items, rv = answer
        return items, rv

    def watch(self, kind: Any, rv: str, *, timeout_seconds: int = 300
              ) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watch_from.append(rv)
        if not self.watches:
            raise _Done
        script = self.watches.pop(0)
        for step in script:
            if isinstance(step, Exception):
                raise step
            yield step


class _Done(Exception):
    pass


def run(client: Scripted, cache: ClusterCache, iterations: int) -> WatchStats:
    stats = WatchStats()
    stop = threading.Event()
    with contextlib.suppress(_Done):
        watch_kind(client, PODS, cache, stop, stats=stats,  # type: ignore[arg-type]
                   max_iterations=iterations)
    return stats


def names(cache: ClusterCache) -> dict[str, str]:
    _v, objs = cache.snapshot()
    return {o.name: o.body["metadata"]["resourceVersion"] for o in objs}


def test_resume_from_latest_version_including_bookmarks() -> None:
    client = Scripted(
        lists=[([pod("p1", 5)], "10")],
        watches=[[("ADDED", pod("p2", 11)), ("BOOKMARK", {"metadata": {"resourceVersion": "15"}})],
                 [("MODIFIED", pod("p1", 16))]])
    cache = ClusterCache()
    run(client, cache, iterations=3)
    assert client.watch_from == ["10", "15", "16"]
    assert names(cache) == {"p1": "16", "p2": "11"}


def test_410_relists_and_forgets_objects_deleted_while_away() -> None:
    client = Scripted(
        lists=[([pod("p1", 5), pod("p2", 6)], "10"), ([pod("p2", 20)], "21")],
        watches=[[KubeGoneError("410 Expired", 410)], []])
    cache = ClusterCache()
    stats = run(client, cache, iterations=3)
    assert stats.relists_after_410 == 1 and client.list_calls == 2
    assert names(cache) == {"p2": "20"}
    assert client.watch_from == ["10", "21", "21"]  # the ended stream is resumed


def test_connection_errors_back_off_and_resume() -> None:
    client = Scripted(
        lists=[([pod("p1", 5)], "10")],
        watches=[[("ADDED", pod("p2", 11)), KubeUnavailableError("connection reset")],
                 [("ADDED", pod("p3", 12))]])
    cache = ClusterCache()
    stats = run(client, cache, iterations=3)
    assert stats.errors == 1 and client.list_calls == 1
    assert client.watch_from == ["10", "11", "12"]
    assert set(names(cache)) == {"p1", "p2", "p3"}


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


def test_backoff_is_bounded_and_jittered() -> None:
    import random

    rng = random.Random(1)
    delays = [backoff(n, rng=rng) for n in range(20)]
    assert all(0 <= d <= 30 for d in delays)
    assert len(set(delays)) == len(delays)


def test_a_reordered_add_cannot_resurrect_a_deleted_object() -> None:
    cache = ClusterCache()
    cache.replace("Pod", [])
    cache.apply("Pod", "DELETED", pod("p1", 9))  # the delete overtook the add
    assert not cache.apply("Pod", "ADDED", pod("p1", 7))
    assert names(cache) == {}
    assert cache.apply("Pod", "ADDED", pod("p1", 12))  # a new incarnation is welcome
    assert names(cache) == {"p1": "12"}
