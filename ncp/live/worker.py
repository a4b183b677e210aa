"""The worker: the only writer of the state, one reconcile pass at a time.

It waits for the cache's version to move and takes the keys that changed. Pod changes that
touch nothing but the pods go through the incremental reconcile
(:mod:`ncp.reconcile.incremental`): milliseconds, applied as they come. Any other change,
or a pod change it declines, gets the full reconcile: the worker lets a burst settle
(``debounce``), takes a snapshot and runs the very ``sync_cluster`` that ``ncp sync``
runs, on the snapshot. That recomputes the desired state from current objects, so
duplicated, reordered or missed events cannot change the end state; a periodic full
resync is the same call with ``full=True``, and so is the pass due when a problem that
time alone clears (a held address) may have cleared.

It reconciles only when the runner says it may (``ready``: this replica leads, and the
input is whole); each pass's result goes to the write-back, the revision it left to the
:mod:`realizer <ncp.live.realizer>` (``--realize``), and the times with nothing to do go to
the :mod:`quiet chores <ncp.live.chores>`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ncp.errors import NcpError
from ncp.live.applied import AppliedVersion
from ncp.live.cache import Changes, ClusterCache
from ncp.live.chores import QuietChores
from ncp.live.metrics import Metrics
from ncp.live.options import RunOptions
from ncp.live.realizer import Realizer
from ncp.live.writeback import WriteBack
from ncp.objects import K8sObject
from ncp.reconcile.incremental import Applied, Declined, IncrementalReconciler
from ncp.reconcile.inputs import TIME_DEPENDENT
from ncp.reconcile.sync import SyncReport, sync_cluster
from ncp.sources.manifests import ManifestSet
from sdn.errors import Problem, SdnError
from sdn.store import Store

# The runtime's log lines have always carried this name (log lines are an outside contract).
log = logging.getLogger("ncp.running")

#: A batch of more changes than this goes to the full reconcile when the incremental one
#: would first have to be primed.
PRIME_OR_FULL = 500
#: How long the worker waits for a change while it may not reconcile (seconds).
NOT_READY_WAIT = 1.0


@dataclass(frozen=True)
class Pass:
    """One reconcile pass, kept in :attr:`Worker.history` (for ``bench/`` and debugging).

    ``mode``: ``full`` (``sync_cluster``) or ``incremental``; ``started``: monotonic time;
    ``seconds``: the reconcile itself (without status write-back); ``latencies``: for
    each changed object it covered, seconds from the change's arrival in the cache until
    the pass's state transaction had landed."""

    mode: str
    started: float
    seconds: float
    version: int
    latencies: tuple[float, ...] = ()


@dataclass
class _Loop:
    """What the worker loop carries from one turn to the next."""

    last_full: float
    seen: int = -1  # the cache version the last pass covered
    failures: int = 0  # passes failed in a row (the pause after one grows with them)


class Worker:
    """Reconciles the cache into the state (module docstring)."""

    def __init__(self, options: RunOptions, cache: ClusterCache, metrics: Metrics,
                 applied: AppliedVersion, stop: threading.Event, *,
                 ready: Callable[[], bool], problems: Callable[[], list[Problem]],
                 writeback: WriteBack | None, chores: QuietChores,
                 realizer: Realizer | None = None) -> None:
        """``ready``: whether a pass may run now; ``problems``: the input's own problems,
        for the full reconcile to report; ``writeback``: where results go (None: nowhere,
        no live API); ``realizer``: told the revision each pass left (``--realize``)."""
        self.options = options
        self.cache = cache
        self.metrics = metrics
        self.applied = applied
        self.stop = stop
        self.ready = ready
        self.problems = problems
        self.writeback = writeback
        self.chores = chores
        self.realizer = realizer
        self.alive = False
        #: Set while the worker has nothing to do (or may not do it).
        self.idle = threading.Event()
        self.reconciles = 0
        self.last_report: SyncReport | None = None
        self.last_error: str | None = None
        #: The latest passes, newest last.
        self.history: deque[Pass] = deque(maxlen=10_000)
        #: When a full pass is due again because problems may clear with time alone
        #: (``TIME_DEPENDENT``: an address or subnet held back, whose hold then ends).
        self.full_due_at: float | None = None
        # The worker's long-lived connection: it keeps the parsed state between
        # reconciles (Store.inventory), instead of re-reading it every time.
        self._store: Store | None = None
        self._pods: IncrementalReconciler | None = None
        # The objects the last full reconcile saw: what the incremental one starts from.
        self._basis: list[K8sObject] | None = None
        # Changes an incremental pass took and declined: the next full pass covers them.
        self._carried: Changes | None = None

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        """The worker thread, until stop; the pass under way finishes first."""
        self.alive = True
        loop = _Loop(last_full=self.options.clock())
        try:
            while not self.stop.is_set():
                version = self.cache.wait_for_change(loop.seen, timeout=min(
                    1.0, self.options.resync_period))
                if self.stop.is_set():
                    break
                self._turn(loop, version)
        finally:
            self.alive = False
            if self._store is not None:
                self._store.close()
                self._store = None

    def _turn(self, loop: _Loop, version: int) -> None:
        """One look at the cache: a pass when there is work and the worker may do it,
        else the quiet chores (when there is no work)."""
        now = self.options.clock()
        full = now - loop.last_full >= self.options.resync_period or (
            self.full_due_at is not None and now >= self.full_due_at)
        if (version == loop.seen and not full) or not self.ready():
            if version == loop.seen and self.ready():
                self._quiet()
            self.idle.set()
            if not self.ready():
                # Not allowed yet (no whole read, not the leader): the cache has moved past
                # what was reconciled, so the loop's wait would return at once; wait here
                # for the next change (a feed's whole read is one) or a second instead.
                self.cache.wait_for_change(version, timeout=NOT_READY_WAIT)
            return
        self.idle.clear()
        self.metrics.set("ncp_queue_depth", float(self.cache.version - max(loop.seen, 0)))
        try:
            self._pass(loop, full=full)
        except (NcpError, SdnError) as err:
            loop.failures += 1
            self._failed(err)
            # 0.5 s doubling, at most 30 s (from the 6th failure on; the exponent stops
            # there too, as 2**1024 failures in a row would not fit a float)
            self.stop.wait(min(30.0, 0.5 * 2 ** min(loop.failures, 6)))

    def _pass(self, loop: _Loop, *, full: bool) -> None:
        """The incremental pass when it takes the changes, else the full one."""
        if not full and loop.seen >= 0:
            done = self.reconcile_changes()
            if done is not None:
                loop.seen = done
                return
        self.stop.wait(self.options.debounce)  # let a burst settle
        loop.seen = self.reconcile(full=full)
        loop.failures = 0
        if full:
            loop.last_full = self.options.clock()

    def _failed(self, err: NcpError | SdnError) -> None:
        self.last_error = str(err)
        code = getattr(err, "code", "ERROR")
        self.metrics.inc("ncp_errors_total", code=code)
        self.metrics.inc("ncp_reconciles_total", outcome="error", mode="full")
        log.error("reconcile failed (%s): %s", code, err)

    def _quiet(self) -> None:
        if self._pods is None or self._store is None:
            return  # no pass yet: nothing is owed
        self.chores.run(self._store, prime=self.prime, report=self.last_report)

    # --- the passes ----------------------------------------------------------------------
    def reconcile_changes(self) -> int | None:
        """The changes since the last pass through the incremental reconcile; returns the
        cache version now applied, or None when it declined (a full reconcile must
        follow: the changes taken here are then covered by its snapshot)."""
        self._open_store()
        changes = self.cache.take_changes()
        started, t0 = time.monotonic(), time.perf_counter()
        result = self._incremental(changes)
        if isinstance(result, Declined):
            self.metrics.inc("ncp_incremental_declined_total", reason=result.code)
            log.debug("full reconcile needed: %s", result.detail)
            self._carried = changes
            return None
        elapsed = time.perf_counter() - t0
        self._finish_pass("incremental", started, elapsed, changes)
        if self.last_report is not None:
            _merge_into(self.last_report, result)
        if result.written and self.writeback is not None:
            self.writeback.queue_changes(result, changes.objects)
        if self.realizer is not None:
            self.realizer.owe(result.revision)
        self.reconciles += 1
        return changes.version

    def _incremental(self, changes: Changes) -> Applied | Declined:
        """Apply ``changes`` incrementally, or say why they need the full reconcile."""
        pods = self._pods
        assert pods is not None
        if changes.relisted:
            return Declined("RELIST", "a kind was relisted")
        if not pods.primed and self._basis is None:
            return Declined("NOT_PRIMED", "no full reconcile to start from")
        if not pods.primed and len(changes.objects) > PRIME_OR_FULL:
            # Priming costs a pass over the state, about what a full pass costs; in the
            # middle of a burst, a full pass of the batch is the better bet.
            return Declined("LARGE_BATCH", f"{len(changes.objects)} changes, not primed")
        self.prime()
        return pods.apply(changes.objects, now=self.options.clock())

    def reconcile(self, *, full: bool = False) -> int:
        """One level-triggered pass over the whole cluster; returns the cache version."""
        carried, self._carried = self._carried, None
        changes, objects = self.cache.take_snapshot()
        if carried is not None:  # taken by a declined incremental pass: covered here
            changes.arrived = {**carried.arrived, **changes.arrived}
        mset = ManifestSet(objects=tuple(objects), problems=tuple(self.problems()), notes=())
        started, t0 = time.monotonic(), time.perf_counter()
        store = self._open_store()
        assert self._pods is not None
        self._pods.primed = False
        self._basis = None
        # allow_empty: the sources have judged the input already (a live list is the
        # truth; manifests went through input_gaps before reaching the cache).
        report = sync_cluster(store, manifests=mset, config=self.options.config,
                              profile=self.options.profile, now=self.options.clock(), full=full,
                              allow_empty=True)
        elapsed = time.perf_counter() - t0
        self._basis = objects
        self.full_due_at = _retry_time(store, report.problems, self.options.clock())
        self._finish_pass("full", started, elapsed, changes)
        self._count(report)
        if self.writeback is not None:
            self.writeback.queue_full(report)
        if self.realizer is not None:
            self.realizer.owe(report.revision)
        self.last_report = report
        self.reconciles += 1
        log.info("reconciled cache version %d in %.2fs: %d namespaces, %d pods, %d problems",
                 changes.version, elapsed, report.namespaces, report.pods,
                 len(report.problems))
        return changes.version

    def _count(self, report: SyncReport) -> None:
        """A full pass's outcome in the metrics."""
        self.metrics.set("ncp_problems", float(len(report.problems)))
        for what in ("namespaces", "pods", "nodes"):
            self.metrics.set("ncp_realized", float(getattr(report, what)), what=what)
        for p in report.problems:
            self.metrics.inc("ncp_errors_total", code=p.code)

    def _finish_pass(self, mode: str, started: float, elapsed: float, changes: Changes) -> None:
        """Metrics and history of a pass whose state has landed."""
        landed = time.monotonic()
        assert self._store is not None
        self.chores.pass_landed(self._store, full=mode == "full")
        latencies = tuple(landed - t for t in changes.arrived.values())
        self.metrics.observe("ncp_reconcile_seconds", elapsed, mode=mode)
        self.metrics.inc("ncp_reconciles_total", outcome="ok", mode=mode)
        for lat in latencies:
            self.metrics.observe("ncp_event_apply_seconds", lat, mode=mode)
        self.history.append(Pass(mode, started, elapsed, changes.version, latencies))
        self.applied.advance(changes.version)

    def prime(self) -> None:
        """Ready the incremental reconcile from the last full pass's objects, if it waits
        for that (a pass over the state)."""
        pods = self._pods
        if pods is not None and not pods.primed and self._basis is not None:
            pods.prime(self._basis)
            self._basis = None

    def _open_store(self) -> Store:
        if self._store is None:  # opened by the worker thread, which alone uses it
            self._store = Store.open(self.options.state, auto_checkpoint=False)
            self._pods = IncrementalReconciler(self._store, self.options.config)
        return self._store


def _retry_time(store: Store, problems: Sequence[Problem], now: float) -> float | None:
    """When the next hold ends, if some problem may clear then (an exhausted pool or
    subnet, an address held); None when no problem can clear with time alone."""
    if not any(p.code in TIME_DEPENDENT for p in problems):
        return None
    ends = [h.until for h in store.holds() if h.until > now]
    return min(ends) + 0.01 if ends else None


def _merge_into(report: SyncReport, applied: Applied) -> None:
    """Bring the last full report up to date with an incremental batch."""
    for key, ann in applied.annotations.items():
        if ann:
            report.pod_annotations[key] = ann
        else:
            report.pod_annotations.pop(key, None)
    report.annotations.update(applied.namespace_annotations)
    report.pods, report.namespaces = applied.pods, applied.namespaces
    if applied.covered:
        report.problems = sorted([p for p in report.problems if p.obj not in applied.covered]
                                 + applied.problems)
    report.revision = applied.revision
