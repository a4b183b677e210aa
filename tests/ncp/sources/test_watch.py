"""The list-then-watch loop (:mod:`ncp.sources.watch`), against a scripted client: resume
from the latest version, bookmarks, 410 relist dropping objects deleted while away, backoff
on errors (bounded, growing, capped, jittered). The cache's own rules are in
``tests/ncp/live/test_cache.py``."""

from __future__ import annotations

import contextlib
import random
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


class Ends(random.Random):
    """A random source that answers the low or the high end of every range asked for,
    and records the ranges."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.ranges.append((a, b))
        return b if self.high else a


#: What each attempt's delay may reach with the defaults (0.2 s doubling, capped at 30 s).
CEILINGS = [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0, 30.0]


def test_backoff_draws_each_delay_from_zero_to_a_doubling_capped_ceiling() -> None:
    """Full jitter: attempt n waits a uniform draw from [0, min(cap, base * 2**n)]."""
    high, low = Ends(high=True), Ends(high=False)
    longest = [backoff(n, rng=high) for n in range(len(CEILINGS))]
    assert longest == pytest.approx(CEILINGS)  # doubles from 0.2 s, then stays at 30 s
    assert high.ranges == pytest.approx([(0.0, c) for c in CEILINGS])
    assert [backoff(n, rng=low) for n in range(len(CEILINGS))] == [0.0] * len(CEILINGS)
    assert [backoff(n, base=1.0, cap=5.0, rng=high) for n in range(5)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backoff_stays_within_each_attempts_bounds(seed: int) -> None:
    """Every delay is within its attempt's bounds, however long the failures last (a
    watch may fail for hours: the ceiling never overflows)."""
    rng = random.Random(seed)
    for n in [*range(40), 1023, 1024, 5000]:
        ceiling = min(30.0, 0.2 * 2.0 ** min(n, 1000))
        assert 0.0 <= backoff(n, rng=rng) <= ceiling, n
    assert 0.0 <= backoff(3) <= 1.6  # the module's own random source too


def test_backoff_is_jittered_across_the_whole_range_and_seeded() -> None:
    """Replicas that fail together do not retry together: the draws at the cap spread
    over the whole range; and a seeded random source gives the same delays again."""
    rng = random.Random(1)
    capped = [backoff(10, rng=rng) for _ in range(1000)]
    assert min(capped) < 3.0 and max(capped) > 27.0
    assert 13.5 < sum(capped) / len(capped) < 16.5  # centred on half the cap
    again = [backoff(n, rng=random.Random(7)) for n in range(20)]
    assert again == [backoff(n, rng=random.Random(7)) for n in range(20)]
    assert again != [backoff(n, rng=random.Random(8)) for n in range(20)]
