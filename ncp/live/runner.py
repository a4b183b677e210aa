"""``ncp run``: keep the state in step with a cluster, continuously.

The shape (kopf's and the client's informer pattern, level-triggered):

* **Sources** feed one :class:`~ncp.live.cache.ClusterCache`: watcher threads per kind for a
  live API (:mod:`ncp.sources.watch`), or a poller re-reading manifests whose files changed.
  They never reconcile; they only update the cache, which bumps its version.
* **One worker** (the only writer) waits for the version to move and takes the keys that
  changed. Pod changes that touch nothing but the pods go through the incremental
  reconcile (:mod:`ncp.reconcile.incremental`): milliseconds, applied as they come. Any
  other change, or a pod change it declines, gets the full reconcile: the worker lets a
  burst settle (``debounce``), takes a snapshot and runs the very ``sync_cluster`` that
  ``ncp sync`` runs, on the snapshot. That recomputes the desired state from current
  objects, so duplicated, reordered or missed events cannot change the end state; a
  periodic full resync is the same call with ``full=True``.
* **Write-back** (live API, leader only), on a thread of its own so that the worker never
  waits for the API (after a burst, 10,000 pod annotations take seconds to write): the
  namespace annotations NCP owns (``ncp/subnet-N``, ``ncp/snat_ip``, ...) and each pod's
  ``ncp/network_config`` are merge-patched where they differ from what the object shows
  (keys of other writers are never touched; a key NCP no longer wants is removed), and
  new problems become Warning Events on their objects. Passes hand it their results in
  order; a full pass's result supersedes everything queued before it
  (:mod:`ncp.live.statuswriter`).
* **HA**: with leader election on, only the Lease holder reconciles and writes; standbys
  keep their caches warm and take over within the lease timeout.
* **Stop**: ``stop()`` (SIGTERM in the CLI) ends the watchers, lets a running reconcile
  finish (its transaction lands whole), releases the Lease.
* **Never reconcile against what was not read** (issue 10): a full reconcile deletes
  whatever its input lacks, so the input must be whole. Manifests read while a file is
  half-written (or a folder momentarily empty) are judged by the same
  :func:`~ncp.reconcile.completeness.input_gaps` as ``ncp sync``'s; such a read is
  skipped with a warning naming the code, the last good one stays in the cache, and the
  next change of the files is read again. Nothing is reconciled before a first whole
  read. With a live API a kind counts only once listed (a failed list is retried, never
  taken as "no objects"), and a kind whose discovery fails is waited for, not dropped.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ncp.config import NcpConfig
from ncp.errors import NcpError
from ncp.live.cache import Changes, ClusterCache
from ncp.live.leader import LeaderElector, LeaseSettings
from ncp.live.metrics import FAST_BUCKETS, Metrics, serve
from ncp.live.statuswriter import StatusWriter
from ncp.reconcile.completeness import input_gaps
from ncp.reconcile.incremental import Applied, Declined, IncrementalReconciler
from ncp.reconcile.sync import TIME_DEPENDENT, SyncReport, sync_cluster
from ncp.sources.kube import WATCHED, Kind, KubeClient, KubeError
from ncp.sources.manifests import ManifestSet, read_manifests
from ncp.sources.watch import WatchStats, backoff, watch_kind
from sdn.errors import Problem, SdnError
from sdn.ipam import block_usage, pool_usage
from sdn.profiles import NetworkProfile
from sdn.store import Store

log = logging.getLogger("ncp.running")

@dataclass(frozen=True)
class Pass:
    """One reconcile pass, kept in :attr:`Runner.history` (for ``bench/`` and debugging).

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
class RunOptions:
    """How ``ncp run`` behaves."""

    state: Path
    config: NcpConfig
    profile: NetworkProfile | None = None
    debounce: float = 0.3
    resync_period: float = 300.0
    watch_timeout: int = 300
    leader_election: bool = True
    lease: LeaseSettings = field(default_factory=LeaseSettings)
    metrics_port: int | None = None
    poll_interval: float = 1.0
    clock: Callable[[], float] = time.time
    #: With manifests: an input without objects may empty the cluster (``--allow-empty``).
    allow_empty: bool = False


#: A batch of more changes than this goes to the full reconcile when the incremental one
#: would first have to be primed.
PRIME_OR_FULL = 500
#: The longest the status writer waits for the worker to catch up with a burst.
WRITE_DEFER = 2.0
#: Passes after which the state's write-ahead log is checkpointed even without a quiet
#: time (see ``Runner._quiet_chores``).
CHECKPOINT_EVERY = 1000


class Runner:
    """Wires sources, the worker, leader election and metrics (module docstring)."""

    def __init__(self, options: RunOptions, *, client: KubeClient | None = None,
                 manifests: Sequence[str | Path] = (), push: bool = False) -> None:
        """One of three sources: a live ``client``, ``manifests`` paths to follow, or
        ``push``: the caller feeds :attr:`cache` itself (``bench/bench_replay.py`` replays
        a recorded watch stream that way; an embedding could too)."""
        if sum((client is not None, bool(manifests), push)) != 1:
            raise ValueError("give one source: a live client, manifest paths, or push")
        self.o = options
        self.client = client
        self.paths = list(manifests)
        self.cache = ClusterCache()
        self.stop_event = threading.Event()
        self.metrics = Metrics()
        self._describe()
        self.threads: list[threading.Thread] = []
        self.stats: dict[str, WatchStats] = {}
        self.kinds: list[Kind] = []
        self.manifest_problems: list[Problem] = []
        #: Whether a whole read of the manifests has reached the cache (manifests only).
        self.manifests_loaded = False
        #: The reasons the latest read of the manifests was skipped (empty: it was not).
        self.input_gaps: list[Problem] = []
        self.elector = (LeaderElector(client, options.lease, clock=options.clock)
                        if client is not None and options.leader_election else None)
        self.writer = StatusWriter(client, options.config.cluster, self.metrics) \
            if client is not None else None
        # Write-back work for the writer thread, in pass order: ("full", report copy) or
        # ("changes", (applied, objects)).
        self._writes: deque[tuple[str, Any]] = deque()
        self._writes_changed = threading.Condition()
        self._writing = False
        #: Write-back items done (for tests and benchmarks).
        self.written = 0
        if self.writer is not None:
            self.writer.pause = self._let_the_state_lead
        self.reconciles = 0
        self.last_report: SyncReport | None = None
        self.last_error: str | None = None
        self.worker_alive = False
        self.metrics_server: Any = None
        self.idle = threading.Event()
        # The worker's long-lived connection: it keeps the parsed state between
        # reconciles (Store.inventory), instead of re-reading it every time.
        self._store: Store | None = None
        self._pods: IncrementalReconciler | None = None
        # The objects the last full reconcile saw: what the incremental one starts from.
        self._basis: list[Any] | None = None
        #: The latest passes, newest last.
        self.history: deque[Pass] = deque(maxlen=10_000)
        #: The cache version the state has caught up with.
        self.applied = 0
        self._applied_changed = threading.Condition()
        # Changes an incremental pass took and declined: the next full pass covers them.
        self._carried: Changes | None = None
        #: When a full pass is due again because problems may clear with time alone
        #: (``TIME_DEPENDENT``: an address or subnet held back, whose hold then ends).
        self.full_due_at: float | None = None
        self._passes_since_checkpoint = 0
        self._collect = False  # a full pass ran since the last collection

    def _describe(self) -> None:
        m = self.metrics
        m.describe("ncp_events_total", "counter", "Watch events seen, by kind and type")
        m.describe("ncp_reconcile_seconds", "histogram", "Time of one reconcile, by mode",
                   buckets=FAST_BUCKETS)
        m.describe("ncp_event_apply_seconds", "histogram",
                   "From a change's arrival until the state holds it, by mode",
                   buckets=FAST_BUCKETS)
        m.describe("ncp_reconciles_total", "counter", "Reconciles run, by outcome")
        m.describe("ncp_incremental_declined_total", "counter",
                   "Changes sent to the full reconcile, by reason")
        m.describe("ncp_queue_depth", "gauge", "Cache changes not yet reconciled")
        m.describe("ncp_errors_total", "counter", "Errors, by code")
        m.describe("ncp_problems", "gauge", "Objects not realized at the last reconcile")
        m.describe("ncp_is_leader", "gauge", "1 when this replica holds the lease")
        m.describe("ncp_status_patches_total", "counter", "Status patches written, by kind")
        m.describe("ncp_realized", "gauge", "Realized namespaces, pods and nodes")
        m.describe("ncp_ip_block_used_ratio", "gauge", "Share of an IP block carved or held")
        m.describe("ncp_ip_pool_used_ratio", "gauge", "Share of an IP pool allocated or held")
        m.collectors.append(self._collect_ipam)
        self._ipam_revision = -1

    def _collect_ipam(self, m: Metrics) -> None:
        """IP block and pool usage, recomputed when the state's revision moved (scrapes
        are rare; reading the whole state on every reconcile would not be)."""
        if not self.o.state.exists():
            return
        with Store.open_readonly(self.o.state) as store:
            if store.revision == self._ipam_revision:
                return
            inv, holds = store.inventory(), store.holds()
            self._ipam_revision = inv.revision
        now = self.o.clock()
        for b in block_usage(inv, holds, now):
            m.set("ncp_ip_block_used_ratio", (b.used + b.held_addresses) / b.total,
                  block=b.path.rsplit("/", 1)[-1])
        for p in pool_usage(inv, holds, now):
            if p.kind == "static" and p.capacity:
                m.set("ncp_ip_pool_used_ratio", (p.allocated + p.held) / p.capacity,
                      pool=p.path.rsplit("/", 1)[-1])

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start sources, the elector, the worker and the metrics endpoint."""
        if self.o.metrics_port is not None:
            self.metrics_server = serve(self.metrics, self.healthy, self.o.metrics_port)
        client = self.client
        if client is not None:
            # Every kind counts until discovery says the cluster does not serve it (each
            # watcher asks first): a kind dropped on a failed discovery would never be
            # listed, and its objects would be reconciled away.
            self.kinds = list(WATCHED)
            for kind in WATCHED:
                self._spawn(f"watch-{kind.plural}", self._watcher(client, kind))
        elif self.paths:
            self._spawn("manifests", self._poll_manifests)
        if self.elector is not None:
            self._spawn("leader", self._elect)
        self._spawn("worker", self._work)
        if self.writer is not None:
            self._spawn("writer", self._write_back)

    def _watcher(self, client: KubeClient, kind: Kind) -> Callable[[], None]:
        stats = self.stats.setdefault(kind.kind, WatchStats())

        def run() -> None:
            if not self._served(client, kind, stats):
                return
            watch_kind(client, kind, self.cache, self.stop_event, stats=stats,
                       timeout_seconds=self.o.watch_timeout, on_event=self._on_event)
        return run

    def _served(self, client: KubeClient, kind: Kind, stats: WatchStats) -> bool:
        """Ask discovery whether ``kind`` is served, until it answers (or stop); a kind
        it does not serve leaves :attr:`kinds`, so nothing waits for it to be listed."""
        failures = 0
        while not self.stop_event.is_set():
            try:
                served = client.served(kind)
            except KubeError as err:
                stats.errors += 1
                self.metrics.inc("ncp_errors_total", code="DISCOVERY_FAILED")
                delay = backoff(failures)
                failures += 1
                log.warning("%s: discovery failed (%s); not reconciling until it answers, "
                            "retrying in %.2fs", kind.plural, err, delay)
                self.stop_event.wait(delay)
                continue
            if not served:
                log.info("%s: not served by this cluster; not watched", kind.plural)
                self.kinds = [k for k in self.kinds if k is not kind]
                self.cache.wake()
            return served
        return False

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
        with self._writes_changed:
            self._writes_changed.notify_all()
        deadline = time.monotonic() + timeout
        for t in sorted(self.threads, key=lambda t: t.name.startswith("ncp-watch-")):
            t.join(max(0.0, deadline - time.monotonic()))
        if self.elector is not None:
            self.elector.release()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()

    def healthy(self) -> bool:
        """Alive, and (for a live source) every watched kind listed at least once."""
        listed = all(k.kind in self.cache.listed for k in self.kinds)
        return self.worker_alive and listed and not self.stop_event.is_set()

    @property
    def is_leader(self) -> bool:
        """Whether this replica may write."""
        return self.elector is None or self.elector.is_leader

    # --- sources -----------------------------------------------------------------------
    def _on_event(self, kind: str, etype: str) -> None:
        self.metrics.inc("ncp_events_total", kind=kind, type=etype)

    def _poll_manifests(self) -> None:
        """Re-read the manifests whenever a file under the paths changes; a read that is
        not whole is skipped (module docstring)."""
        seen: tuple[tuple[str, float], ...] | None = None
        settling: tuple[tuple[str, float], ...] | None = None
        while not self.stop_event.is_set():
            stamp = _stamp(self.paths)
            if stamp != seen and (stamp == settling or seen is None):
                # Read once the files stood still for a poll (the first time at once):
                # a file being copied in is more often read whole that way.
                seen = stamp
                self._take_manifests(read_manifests(self.paths))
            settling = stamp
            self.stop_event.wait(self.o.poll_interval)

    def _take_manifests(self, mset: ManifestSet) -> None:
        """Load a read of the manifests into the cache if it is whole; else keep the last
        good one and say why."""
        known = bool(mset.objects) or self._cluster_known()
        gaps = input_gaps(mset, cluster=self.o.config.cluster, cluster_known=known,
                          allow_empty=self.o.allow_empty)
        self.input_gaps = gaps
        if gaps:
            for p in gaps:
                self.metrics.inc("ncp_errors_total", code=p.code)
                log.warning("input not read in full, keeping the last whole read: %s", p)
            return
        self._load_manifests(mset)

    def _cluster_known(self) -> bool:
        """Whether the cluster has objects to lose: a whole read had some, or the state
        holds the cluster from an earlier run (read only when a read comes back empty)."""
        if any(self.cache.count(kind) for kind in self.cache.kinds()):
            return True
        if not self.o.state.exists():
            return False
        try:
            with Store.open_readonly(self.o.state) as store:
                return store.cluster(self.o.config.cluster) is not None
        except SdnError:
            return True  # cannot tell: the safe answer is "there is something to lose"

    def _load_manifests(self, mset: ManifestSet) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for o in mset.objects:
            by_kind.setdefault(o.kind, []).append(o.body)
        for kind in sorted(set(by_kind) | self.cache.listed):
            self.cache.replace(kind, by_kind.get(kind, []))
        self.manifest_problems = list(mset.problems)
        self.manifests_loaded = True

    # --- leader election ---------------------------------------------------------------
    def _elect(self) -> None:
        assert self.elector is not None
        while not self.stop_event.is_set():
            leader = self.elector.tick()
            self.metrics.set("ncp_is_leader", 1.0 if leader else 0.0)
            self.stop_event.wait(self.o.lease.heartbeat_period)

    # --- the worker --------------------------------------------------------------------
    def _work(self) -> None:
        self.worker_alive = True
        seen = -1
        last_full = self.o.clock()
        failures = 0
        try:
            while not self.stop_event.is_set():
                version = self.cache.wait_for_change(seen, timeout=min(
                    1.0, self.o.resync_period))
                if self.stop_event.is_set():
                    break
                now = self.o.clock()
                full = now - last_full >= self.o.resync_period or (
                    self.full_due_at is not None and now >= self.full_due_at)
                if (version == seen and not full) or not self._ready():
                    if version == seen and self._ready():
                        self._quiet_chores()
                    self.idle.set()
                    continue
                self.idle.clear()
                self.metrics.set("ncp_queue_depth", float(self.cache.version - max(seen, 0)))
                try:
                    if not full and seen >= 0:
                        done = self.reconcile_changes()
                        if done is not None:
                            seen = done
                            continue
                    self.stop_event.wait(self.o.debounce)  # let a burst settle
                    seen = self.reconcile(full=full)
                    failures = 0
                    if full:
                        last_full = self.o.clock()
                except (NcpError, SdnError) as err:
                    failures += 1
                    self.last_error = str(err)
                    code = getattr(err, "code", "ERROR")
                    self.metrics.inc("ncp_errors_total", code=code)
                    self.metrics.inc("ncp_reconciles_total", outcome="error", mode="full")
                    log.error("reconcile failed (%s): %s", code, err)
                    self.stop_event.wait(min(30.0, 0.5 * 2 ** failures))
        finally:
            self.worker_alive = False
            if self._store is not None:
                self._store.close()
                self._store = None

    def _ready(self) -> bool:
        """Leader, and the input is whole: every watched kind listed (live API), or a
        whole read of the manifests taken."""
        if not self.is_leader:
            return False
        if self.paths and not self.manifests_loaded:
            return False
        return all(k.kind in self.cache.listed for k in self.kinds)

    def _open_store(self) -> Store:
        if self._store is None:  # opened by the worker thread, which alone uses it
            self._store = Store.open(self.o.state, auto_checkpoint=False)
            self._pods = IncrementalReconciler(self._store, self.o.config)
        return self._store

    # --- the status writer ---------------------------------------------------------------
    def _queue_write(self, kind: str, item: Any) -> None:
        """Hand a pass's result to the writer thread (leader only)."""
        if self.writer is None or not self.is_leader:
            return
        with self._writes_changed:
            if kind == "full":
                self._writes.clear()  # it compares everything: what was queued is covered
            self._writes.append((kind, item))
            self._writes_changed.notify_all()

    def _write_back(self) -> None:
        """The writer thread: the queued results, in order; at stop, what is queued
        still goes out (within ``stop``'s deadline)."""
        writer = self.writer
        assert writer is not None
        while True:
            with self._writes_changed:
                self._writes_changed.wait_for(
                    lambda: bool(self._writes) or self.stop_event.is_set(), timeout=1.0)
                if not self._writes:
                    if self.stop_event.is_set() and not self.worker_alive:
                        return  # the worker's last pass has queued what it had
                    if self.stop_event.is_set():
                        self._writes_changed.wait(0.05)
                    continue
            self._let_the_state_lead()
            with self._writes_changed:
                kind, item = self._writes.popleft()
                self._writing = True
            try:
                if kind == "full":
                    writer.write(item, self.cache.snapshot()[1])
                    if not writer.failed:
                        writer.reset_backoff()
                else:
                    writer.write_changes(*item)
            except Exception:  # a bug must not end write-back for good
                log.exception("status write-back failed")
                writer.failed = True
            finally:
                with self._writes_changed:
                    self._writing = False
                    self.written += 1
                    self._writes_changed.notify_all()

    def _let_the_state_lead(self) -> None:
        """While the worker has changes not yet applied (a burst), wait for it, up to
        ``WRITE_DEFER`` seconds: the state first, then its status. Writing back competes
        with reconciling for the interpreter, and a burst's status is rewritten by the
        next full result anyway."""
        deadline = time.monotonic() + WRITE_DEFER
        with self._applied_changed:
            self._applied_changed.wait_for(
                lambda: self.applied >= self.cache.version or self.stop_event.is_set()
                or time.monotonic() >= deadline, timeout=WRITE_DEFER)

    @property
    def writes_pending(self) -> bool:
        """Whether the writer has results queued or in hand."""
        with self._writes_changed:
            return bool(self._writes) or self._writing

    def wait_written(self, timeout: float) -> bool:
        """Block until the writer has nothing queued or in hand (or the timeout)."""
        with self._writes_changed:
            return self._writes_changed.wait_for(
                lambda: not self._writes and not self._writing, timeout=timeout)

    def _quiet_chores(self) -> None:
        """Chores for quiet times, so that the next change does not pay for them: prime
        the incremental reconcile after a full pass (a pass over the state: seconds at
        10,000 pods), write again the status that failed to be written (it
        compares with the objects as they are now), copy the state's write-ahead log
        into it, and, after a full pass, run a full garbage collection, then freeze what
        survives.

        The collection: a full pass leaves hundreds of thousands of long-lived objects,
        and Python's oldest-generation collection, which scans them all, once took 650 ms
        in the middle of a pod change. Collected here and frozen (``gc.freeze``), they are
        not scanned again until the next quiet time unfreezes and collects them.
        """
        if self._pods is None or self._store is None:
            return
        if not self._pods.primed and self._basis is not None:
            self._pods.prime(self._basis)
            self._basis = None
        writer = self.writer
        if writer is not None and writer.failed and self.last_report is not None \
                and time.monotonic() >= writer.retry_at and not self._writing:
            log.info("retrying the status writes that failed")
            writer.failed = False
            self._queue_write("full", _copy_report(self.last_report))
        if self._passes_since_checkpoint:
            self._store.checkpoint()
            self._passes_since_checkpoint = 0
        if self._collect:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._collect = False

    def reconcile_changes(self) -> int | None:
        """The changes since the last pass through the incremental reconcile; returns the
        cache version now applied, or None when it declined (a full reconcile must
        follow: the changes taken here are then covered by its snapshot)."""
        self._open_store()
        pods = self._pods
        assert pods is not None
        changes = self.cache.take_changes()
        started, t0 = time.monotonic(), time.perf_counter()
        if changes.relisted:
            result: Applied | Declined = Declined("RELIST", "a kind was relisted")
        elif not pods.primed and self._basis is None:
            result = Declined("NOT_PRIMED", "no full reconcile to start from")
        elif not pods.primed and len(changes.objects) > PRIME_OR_FULL:
            # Priming costs a pass over the state, about what a full pass costs; in the
            # middle of a burst, a full pass of the batch is the better bet.
            result = Declined("LARGE_BATCH", f"{len(changes.objects)} changes, not primed")
        else:
            if not pods.primed:
                assert self._basis is not None
                pods.prime(self._basis)
                self._basis = None
            result = pods.apply(changes.objects, now=self.o.clock())
        if isinstance(result, Declined):
            self.metrics.inc("ncp_incremental_declined_total", reason=result.code)
            log.debug("full reconcile needed: %s", result.detail)
            self._carried = changes
            return None
        elapsed = time.perf_counter() - t0
        self._finish_pass("incremental", started, elapsed, changes)
        if self.last_report is not None:
            _merge_into(self.last_report, result)
        if result.written:
            self._queue_write("changes", (result, changes.objects))
        self.reconciles += 1
        return changes.version

    def _finish_pass(self, mode: str, started: float, elapsed: float, changes: Changes) -> None:
        """Metrics and history of a pass whose state has landed."""
        landed = time.monotonic()
        self._passes_since_checkpoint += 1
        self._collect = self._collect or mode == "full"
        if self._passes_since_checkpoint >= CHECKPOINT_EVERY and self._store is not None:
            self._store.checkpoint()  # never quiet for long: the log must not grow forever
            self._passes_since_checkpoint = 0
        latencies = tuple(landed - t for t in changes.arrived.values())
        self.metrics.observe("ncp_reconcile_seconds", elapsed, mode=mode)
        self.metrics.inc("ncp_reconciles_total", outcome="ok", mode=mode)
        for lat in latencies:
            self.metrics.observe("ncp_event_apply_seconds", lat, mode=mode)
        self.history.append(Pass(mode, started, elapsed, changes.version, latencies))
        with self._applied_changed:
            self.applied = changes.version
            self._applied_changed.notify_all()

    def wait_applied(self, version: int, timeout: float) -> bool:
        """Block until the state holds cache ``version`` (or the timeout)."""
        with self._applied_changed:
            return self._applied_changed.wait_for(lambda: self.applied >= version,
                                                  timeout=timeout)

    def reconcile(self, *, full: bool = False) -> int:
        """One level-triggered pass over the whole cluster; returns the cache version."""
        carried, self._carried = self._carried, None
        changes, objects = self.cache.take_snapshot()
        if carried is not None:  # taken by a declined incremental pass: covered here
            changes.arrived = {**carried.arrived, **changes.arrived}
        version = changes.version
        problems = list(self.manifest_problems)
        mset = ManifestSet(objects=tuple(objects), problems=tuple(problems), notes=())
        started, t0 = time.monotonic(), time.perf_counter()
        store = self._open_store()
        assert self._pods is not None
        self._pods.primed = False
        self._basis = None
        # allow_empty: the sources have judged the input already (a live list is the
        # truth; manifests went through input_gaps before reaching the cache).
        report = sync_cluster(store, manifests=mset, config=self.o.config,
                              profile=self.o.profile, now=self.o.clock(), full=full,
                              allow_empty=True)
        elapsed = time.perf_counter() - t0
        self._basis = objects
        self.full_due_at = _retry_time(store, report.problems, self.o.clock())
        self._finish_pass("full", started, elapsed, changes)
        self.metrics.set("ncp_problems", float(len(report.problems)))
        for what in ("namespaces", "pods", "nodes"):
            self.metrics.set("ncp_realized", float(getattr(report, what)), what=what)
        for p in report.problems:
            self.metrics.inc("ncp_errors_total", code=p.code)
        self._queue_write("full", _copy_report(report))
        self.last_report = report
        self.reconciles += 1
        log.info("reconciled cache version %d in %.2fs: %d namespaces, %d pods, %d problems",
                 version, elapsed, report.namespaces, report.pods, len(report.problems))
        return version


def _copy_report(report: SyncReport) -> SyncReport:
    """A copy the writer thread can read while the worker merges later passes into the
    original (the dicts it reads are copied; their values are never changed in place)."""
    return replace(report, problems=list(report.problems),
                   annotations=dict(report.annotations),
                   pod_annotations=dict(report.pod_annotations),
                   service_annotations=dict(report.service_annotations),
                   ingress_annotations=dict(report.ingress_annotations),
                   lb_vips=dict(report.lb_vips), ingress_vips=dict(report.ingress_vips))


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
