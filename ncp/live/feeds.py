"""What fills the cache: a live API's watches, or manifests followed on disk.

A feed only puts objects into the :class:`~ncp.live.cache.ClusterCache`; it never
reconciles. It also says when its input is whole enough to reconcile against
(:meth:`Feed.whole`): a full reconcile deletes whatever its input lacks, so a kind that was
not listed yet, or a read of the manifests caught half-written, must never look like "no
objects" (issue 10).

* :class:`WatchFeed`: a thread per watched kind, each asking discovery first (a kind whose
  discovery fails is waited for, never dropped), then listing and watching
  (:func:`ncp.sources.watch.watch_kind`). Whole once every served kind was listed.
* :class:`ManifestFeed`: a poller re-reading the manifests whenever a file under the paths
  changed. A read that :func:`~ncp.reconcile.completeness.input_gaps` judges not whole
  (the same judgement as ``ncp sync``'s) is skipped with a warning naming the code, and
  the last whole read stays. Whole once a first whole read reached the cache.
* :class:`Feed` itself: the caller fills the cache (``Runner(push=True)``); always whole.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ncp.live.cache import ClusterCache
from ncp.live.metrics import Metrics
from ncp.live.options import RunOptions
from ncp.reconcile.completeness import input_gaps
from ncp.sources.kube import WATCHED, Kind, KubeClient, KubeError
from ncp.sources.manifests import ManifestSet, read_manifests
from ncp.sources.watch import WatchStats, backoff, watch_kind
from sdn.errors import Problem, SdnError
from sdn.store import Store

# The runtime's log lines have always carried this name (log lines are an outside contract).
log = logging.getLogger("ncp.running")

#: A thread to start: its name (after ``ncp-``) and what it runs.
Job = tuple[str, Callable[[], None]]


class Feed:
    """A source of cluster objects for the cache; this base is the push feed."""

    def __init__(self) -> None:
        #: Per watched kind, what its watcher counted (a live API only).
        self.stats: dict[str, WatchStats] = {}
        #: The reasons the latest read of the manifests was skipped (empty: it was not).
        self.input_gaps: list[Problem] = []

    def jobs(self) -> list[Job]:
        """The threads that keep the cache filled."""
        return []

    def listed(self) -> bool:
        """Whether every kind this feed watches was listed at least once (for health)."""
        return True

    def whole(self) -> bool:
        """Whether the cache holds an input that may be reconciled against."""
        return self.listed()

    def problems(self) -> list[Problem]:
        """Problems of the input itself, for the full reconcile to report."""
        return []


class WatchFeed(Feed):
    """A live API: list then watch each kind the cluster serves."""

    def __init__(self, client: KubeClient, cache: ClusterCache, metrics: Metrics,
                 stop: threading.Event, *, watch_timeout: int) -> None:
        super().__init__()
        self.client = client
        self.cache = cache
        self.metrics = metrics
        self.stop = stop
        self.watch_timeout = watch_timeout
        #: The kinds that count for :meth:`listed`: empty until started.
        self.kinds: list[Kind] = []

    def jobs(self) -> list[Job]:
        """A watcher per kind. Every kind counts until discovery says the cluster does not
        serve it (each watcher asks first): a kind dropped on a failed discovery would
        never be listed, and its objects would be reconciled away."""
        self.kinds = list(WATCHED)
        return [(f"watch-{kind.plural}", self._watcher(kind)) for kind in WATCHED]

    def listed(self) -> bool:
        """Every kind still watched was listed at least once."""
        return all(k.kind in self.cache.listed for k in self.kinds)

    def _watcher(self, kind: Kind) -> Callable[[], None]:
        stats = self.stats.setdefault(kind.kind, WatchStats())

        def run() -> None:
            if not self._served(kind, stats):
                return
            watch_kind(self.client, kind, self.cache, self.stop, stats=stats,
                       timeout_seconds=self.watch_timeout, on_event=self._on_event)
        return run

    def _served(self, kind: Kind, stats: WatchStats) -> bool:
        """Ask discovery whether ``kind`` is served, until it answers (or stop); a kind
        it does not serve leaves :attr:`kinds`, so nothing waits for it to be listed."""
        failures = 0
        while not self.stop.is_set():
            try:
                served = self.client.served(kind)
            except KubeError as err:
                stats.errors += 1
                self.metrics.inc("ncp_errors_total", code="DISCOVERY_FAILED")
                delay = backoff(failures)
                failures += 1
                log.warning("%s: discovery failed (%s); not reconciling until it answers, "
                            "retrying in %.2fs", kind.plural, err, delay)
                self.stop.wait(delay)
                continue
            if not served:
                log.info("%s: not served by this cluster; not watched", kind.plural)
                self.kinds = [k for k in self.kinds if k is not kind]
                self.cache.wake()
            return served
        return False

    def _on_event(self, kind: str, etype: str) -> None:
        self.metrics.inc("ncp_events_total", kind=kind, type=etype)


class ManifestFeed(Feed):
    """Manifests on disk, read again whenever a file under the paths changes."""

    def __init__(self, paths: Sequence[str | Path], options: RunOptions, cache: ClusterCache,
                 metrics: Metrics, stop: threading.Event) -> None:
        super().__init__()
        self.paths = list(paths)
        self.options = options
        self.cache = cache
        self.metrics = metrics
        self.stop = stop
        #: Whether a whole read of the manifests has reached the cache.
        self.loaded = False
        #: The problems of the last whole read (objects it could not take).
        self.manifest_problems: list[Problem] = []

    def jobs(self) -> list[Job]:
        """The poller."""
        return [("manifests", self._poll)]

    def whole(self) -> bool:
        """A whole read was taken."""
        return self.loaded

    def problems(self) -> list[Problem]:
        """The last whole read's problems."""
        return list(self.manifest_problems)

    def _poll(self) -> None:
        """Re-read the manifests whenever a file under the paths changes; a read that is
        not whole is skipped (module docstring)."""
        seen: tuple[tuple[str, float], ...] | None = None
        settling: tuple[tuple[str, float], ...] | None = None
        while not self.stop.is_set():
            stamp = _stamp(self.paths)
            if stamp != seen and (stamp == settling or seen is None):
                # Read once the files stood still for a poll (the first time at once):
                # a file being copied in is more often read whole that way.
                seen = stamp
                self._take(read_manifests(self.paths))
            settling = stamp
            self.stop.wait(self.options.poll_interval)

    def _take(self, mset: ManifestSet) -> None:
        """Load a read of the manifests into the cache if it is whole; else keep the last
        good one and say why."""
        known = bool(mset.objects) or self._cluster_known()
        gaps = input_gaps(mset, cluster=self.options.config.cluster, cluster_known=known,
                          allow_empty=self.options.allow_empty)
        self.input_gaps = gaps
        if gaps:
            for p in gaps:
                self.metrics.inc("ncp_errors_total", code=p.code)
                log.warning("input not read in full, keeping the last whole read: %s", p)
            return
        self._load(mset)

    def _cluster_known(self) -> bool:
        """Whether the cluster has objects to lose: a whole read had some, or the state
        holds the cluster from an earlier run (read only when a read comes back empty)."""
        if any(self.cache.count(kind) for kind in self.cache.kinds()):
            return True
        if not self.options.state.exists():
            return False
        try:
            with Store.open_readonly(self.options.state) as store:
                return store.cluster(self.options.config.cluster) is not None
        except SdnError:
            return True  # cannot tell: the safe answer is "there is something to lose"

    def _load(self, mset: ManifestSet) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for o in mset.objects:
            by_kind.setdefault(o.kind, []).append(o.body)
        for kind in sorted(set(by_kind) | self.cache.listed):
            self.cache.replace(kind, by_kind.get(kind, []))
        self.manifest_problems = list(mset.problems)
        self.loaded = True


def _stamp(paths: Sequence[str | Path]) -> tuple[tuple[str, float], ...]:
    """Modification times of every file under the paths (what the poller compares)."""
    out: list[tuple[str, float]] = []
    for root in paths:
        p = Path(root)
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        for f in files:
            try:
                out.append((str(f), f.stat().st_mtime))
            except OSError:
                continue
    return tuple(out)
