"""List-then-watch for one kind, done right (kopf's ``continuous_watch`` and the client's
informer are the models):

1. list, put every object in the cache, remember the list's resourceVersion;
2. watch from that version with bookmarks, keeping the latest version after every event
   (a BOOKMARK only moves the version);
3. when the stream ends (server timeout, dropped connection, restart), resume from the
   latest version after a short pause;
4. on 410 Gone the version is too old: relist, which replaces the kind in the cache, so
   objects deleted while away disappear;
5. errors back off exponentially with jitter (capped), never busy-looping;
6. the loop stops when ``stop`` is set, checking it between events and while waiting.

Callbacks only touch the cache; reconciling is someone else's job. The cache is whatever
has a :class:`Sink`'s two methods (``ncp run`` passes its :class:`~ncp.live.cache.ClusterCache`):
the sources sit below the runtime and never import it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ncp.objects import resource_version
from ncp.sources.kube import Kind, KubeClient, KubeError, KubeGoneError

# The name this loop's log lines have always carried (log lines are an outside contract).
log = logging.getLogger("ncp.watching")


class Sink(Protocol):
    """Where a watch puts what it sees: a kind's full set after a (re)list, and each event
    (returning whether it changed anything, so that duplicates are not reported)."""

    def replace(self, kind: str, items: Iterable[dict[str, Any]]) -> None: ...

    def apply(self, kind: str, event: str, obj: dict[str, Any]) -> bool: ...


@dataclass
class WatchStats:
    """Counters a watcher keeps (exported as metrics)."""

    events: dict[str, int] = field(default_factory=dict)
    lists: int = 0
    resumes: int = 0
    relists_after_410: int = 0
    errors: int = 0


def backoff(attempt: int, *, base: float = 0.2, cap: float = 30.0,
            rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: a random delay up to ``base * 2**attempt``,
    at most ``cap``. The exponent is bounded because the attempts are not: ``2**1024``
    does not fit a float, and a watch failing for hours would die of an OverflowError."""
    r = rng or random
    return float(r.uniform(0, min(cap, base * 2.0 ** min(attempt, 1000))))


def watch_kind(client: KubeClient, kind: Kind, cache: Sink, stop: threading.Event, *,
               stats: WatchStats | None = None, timeout_seconds: int = 300,
               on_event: Callable[[str, str], None] | None = None,
               max_iterations: int | None = None) -> None:
    """Keep ``cache`` current for ``kind`` until ``stop`` is set (see module docstring)."""
    stats = stats or WatchStats()
    version: str | None = None
    failures = 0
    iterations = 0
    while not stop.is_set():
        iterations += 1
        if max_iterations is not None and iterations > max_iterations:
            return
        try:
            if version is None:
                items, version = client.list(kind)
                cache.replace(kind.kind, items)
                stats.lists += 1
                if on_event:
                    on_event(kind.kind, "LISTED")
            else:
                stats.resumes += 1
            for etype, obj in client.watch(kind, version, timeout_seconds=timeout_seconds):
                rv = resource_version(obj)
                if rv:
                    version = str(rv)
                stats.events[etype] = stats.events.get(etype, 0) + 1
                changed = etype in ("ADDED", "MODIFIED", "DELETED") and cache.apply(
                    kind.kind, etype, obj)
                if changed and on_event:
                    on_event(kind.kind, etype)
                if stop.is_set():
                    return
            failures = 0
            stop.wait(0.05)  # the server ended the stream: resume at once, not in a spin
        except KubeGoneError:
            log.info("%s: resourceVersion %s expired (410), relisting", kind.plural, version)
            stats.relists_after_410 += 1
            version = None
        except KubeError as err:
            stats.errors += 1
            delay = backoff(failures)
            failures += 1
            log.warning("%s: %s; retrying in %.2fs", kind.plural, err, delay)
            stop.wait(delay)
