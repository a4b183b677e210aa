"""``ncp run``: keep the state in step with a cluster, continuously.

The shape (kopf's and the client's informer pattern, level-triggered), one part per
module, wired together by :class:`Runner`:

* **Feeds** (:mod:`ncp.live.feeds`) fill one :class:`~ncp.live.cache.ClusterCache`:
  watcher threads per kind for a live API (:mod:`ncp.sources.watch`), or a poller
  re-reading manifests whose files changed. They never reconcile; they only update the
  cache, which bumps its version.
* **One worker** (:mod:`ncp.live.worker`), the only writer of the state, waits for the
  version to move and takes the keys that changed: pod changes through the incremental
  reconcile, anything else through the very ``sync_cluster`` that ``ncp sync`` runs, on a
  snapshot, so duplicated, reordered or missed events cannot change the end state.
* **Write-back** (:mod:`ncp.live.writeback`, live API, leader only), on a thread of its
  own so that the worker never waits for the API: the namespace annotations NCP owns
  (``ncp/subnet-N``, ``ncp/snat_ip``, ...), each pod's ``ncp/network_config``, the VIPs
  and Warning Events (:mod:`ncp.live.statuswriter`). A failed write is retried in a quiet
  time.
* **Realize** (:mod:`ncp.live.realizer`, ``--realize``), on a thread of its own: after
  each pass the data plane is brought to the state's revision by ``sdn realize``'s code.
* **Quiet chores** (:mod:`ncp.live.chores`): the work the next change should not pay for.
* **HA** (:mod:`ncp.live.leader`): with leader election on, only the Lease holder
  reconciles and writes; standbys keep their caches warm and take over within the lease
  timeout.
* **Metrics** (:mod:`ncp.live.metrics`, :mod:`ncp.live.instruments`): ``/metrics`` and
  ``/healthz``.
* **Stop**: ``stop()`` (SIGTERM in the CLI) ends the watchers, lets a running reconcile
  finish (its transaction lands whole), releases the Lease.
* **Never reconcile against what was not read** (issue 10): the worker runs only once
  the feed says its input is whole (see :mod:`ncp.live.feeds`).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path

from ncp.live.applied import AppliedVersion
from ncp.live.cache import ClusterCache
from ncp.live.chores import QuietChores
from ncp.live.feeds import Feed, ManifestFeed, WatchFeed
from ncp.live.instruments import IpamUsage, declare
from ncp.live.leader import LeaderElector, keep_electing
from ncp.live.metrics import Metrics, serve
from ncp.live.options import RunOptions
from ncp.live.realizer import Realizer, realize_state
from ncp.live.statuswriter import StatusWriter
from ncp.live.worker import Pass, Worker
from ncp.live.writeback import WriteBack
from ncp.reconcile.sync import SyncReport
from ncp.sources.kube import KubeClient
from sdn.errors import Problem

# RunOptions and Pass are defined with the parts that read them, and offered here, where
# callers build a Runner and read its history.
__all__ = ["Pass", "RunOptions", "Runner"]


class Runner:
    """Wires a feed, the worker, the write-back, leader election and metrics (module
    docstring); what callers watch of the run is here too."""

    def __init__(self, options: RunOptions, *, client: KubeClient | None = None,
                 manifests: Sequence[str | Path] = (), push: bool = False) -> None:
        """One of three sources: a live ``client``, ``manifests`` paths to follow, or
        ``push``: the caller feeds :attr:`cache` itself (``bench/bench_replay.py`` replays
        a recorded watch stream that way; an embedding could too)."""
        if sum((client is not None, bool(manifests), push)) != 1:
            raise ValueError("give one source: a live client, manifest paths, or push")
        self.options = options
        self.cache = ClusterCache()
        self.stop_event = threading.Event()
        self.metrics = Metrics()
        declare(self.metrics)
        self.metrics.collectors.append(IpamUsage(options.state, options.clock))
        self.metrics_server: ThreadingHTTPServer | None = None
        self.threads: list[threading.Thread] = []
        self.feed = self._feed(client, manifests)
        self.elector = (LeaderElector(client, options.lease, clock=options.clock)
                        if client is not None and options.leader_election else None)
        self.applied_version = AppliedVersion()
        self.writeback = None if client is None else WriteBack(
            StatusWriter(client, options.config.cluster, self.metrics), self.cache,
            self.applied_version, self.stop_event, may_write=lambda: self.is_leader,
            worker_alive=lambda: self.worker.alive)
        self.realizer = Realizer(realize_state(options.state), self.metrics,
                                 self.stop_event) if options.realize else None
        self.worker = Worker(options, self.cache, self.metrics, self.applied_version,
                             self.stop_event, ready=self._ready, problems=self.feed.problems,
                             writeback=self.writeback, chores=QuietChores(self.writeback),
                             realizer=self.realizer)

    def _feed(self, client: KubeClient | None, manifests: Sequence[str | Path]) -> Feed:
        if client is not None:
            return WatchFeed(client, self.cache, self.metrics, self.stop_event,
                             watch_timeout=self.options.watch_timeout)
        if manifests:
            return ManifestFeed(manifests, self.options, self.cache, self.metrics, self.stop_event)
        return Feed()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the metrics endpoint, the feed, the elector, the worker and the writer."""
        if self.options.metrics_port is not None:
            self.metrics_server = serve(self.metrics, self.healthy, self.options.metrics_port)
        for name, job in self.feed.jobs():
            self._spawn(name, job)
        if self.elector is not None:
            self._spawn("leader", functools.partial(
                keep_electing, self.elector, self.stop_event, self.options.lease.heartbeat_period,
                self._leading))
        self._spawn("worker", self.worker.run)
        if self.writeback is not None:
            self._spawn("writer", self.writeback.run)
        if self.realizer is not None:
            self._spawn("realizer", self.realizer.run)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=f"ncp-{name}", daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop everything within ``timeout`` in all; the reconcile under way finishes
        first. Watch threads wake on the next event or bookmark (a real API server sends
        one about a minute apart): they are daemons, joined only with the time left, so a
        quiet stream cannot hold up a SIGTERM (one join timeout per thread once could)."""
        self.stop_event.set()
        self.cache.wake()
        if self.writeback is not None:
            self.writeback.wake()
        if self.realizer is not None:
            self.realizer.wake()
        deadline = time.monotonic() + timeout
        for t in sorted(self.threads, key=lambda t: t.name.startswith("ncp-watch-")):
            t.join(max(0.0, deadline - time.monotonic()))
        if self.elector is not None:
            self.elector.release()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()

    def healthy(self) -> bool:
        """Alive, and (for a live source) every watched kind listed at least once."""
        return self.worker.alive and self.feed.listed() and not self.stop_event.is_set()

    @property
    def is_leader(self) -> bool:
        """Whether this replica may write."""
        return self.elector is None or self.elector.is_leader

    def _leading(self, leader: bool) -> None:
        self.metrics.set("ncp_is_leader", 1.0 if leader else 0.0)

    def _ready(self) -> bool:
        """Whether the worker may reconcile: leader, and the feed's input is whole."""
        return self.is_leader and self.feed.whole()

    # --- what callers watch --------------------------------------------------------------
    @property
    def reconciles(self) -> int:
        """Passes run so far."""
        return self.worker.reconciles

    @property
    def last_report(self) -> SyncReport | None:
        """The last full pass's report, kept up to date by the incremental ones."""
        return self.worker.last_report

    @property
    def last_error(self) -> str | None:
        """Why the last pass that failed did."""
        return self.worker.last_error

    @property
    def history(self) -> deque[Pass]:
        """The latest passes, newest last."""
        return self.worker.history

    @property
    def idle(self) -> threading.Event:
        """Set while the worker has nothing to do (or may not do it)."""
        return self.worker.idle

    @property
    def applied(self) -> int:
        """The cache version the state has caught up with."""
        return self.applied_version.version

    def wait_applied(self, version: int, timeout: float) -> bool:
        """Block until the state holds cache ``version`` (or the timeout)."""
        return self.applied_version.wait_for(version, timeout)

    def wait_written(self, timeout: float) -> bool:
        """Block until the write-back has nothing queued or in hand (or the timeout)."""
        return self.writeback is None or self.writeback.wait_written(timeout)

    def wait_realized(self, timeout: float) -> bool:
        """Block until the data plane has caught up with the last pass, or its realize
        failed (or the timeout); True without ``--realize``."""
        return self.realizer is None or self.realizer.wait_settled(timeout)

    @property
    def input_gaps(self) -> list[Problem]:
        """Why the latest read of the manifests was skipped (empty: it was not)."""
        return self.feed.input_gaps
