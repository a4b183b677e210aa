"""Benchmark of ``ncp run`` against a live API: one JSON line per case on stdout, progress on
stderr.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_watch.py                        # 100 namespaces / 10,000 pods
    python bench/bench_watch.py --pods 2000 --cases burst
    python bench/bench_watch.py --pods 2000 --cases burst --profile   # where time goes

The API server is the in-process test double of ``tests/support/apiserver.py``
(``running_apiserver``): a protocol-faithful Kubernetes API served over HTTP on 127.0.0.1,
spoken to through the real ``kubernetes`` client and ``ncp.sources.kube.KubeClient``. It
runs in the benchmark's own process, so every figure here includes its cost: its request
handling, JSON encoding and watch fan-out share the interpreter (and the GIL) with ncp, and
``peak_rss_mib`` includes its copies of every object. ``cpu_s`` splits the case's CPU time
by thread group so that share can be read off.

Setup (untimed, reported as ``prepare_s``): the cluster is generated with
``generate_cluster(namespaces=N, pods=P, seed=S, nodes=max(3, P // 100))`` (the same shape
as ``bench_sync.py``: skewed namespace sizes, Deployments of apps labelled ``app``/``tier``);
each Deployment becomes as many bare Pods (what its ReplicaSet would create: the template's
labels, a seeded ``spec.nodeName``), in a seeded shuffled order so creation interleaves
namespaces. The namespaces, nodes and ``nsx-system`` (where the Lease lives) are created on
the server, a ``Runner`` is started as ``ncp run`` starts it (leader election on, production
lease timings, ``--debounce``, ``bench/large-cluster.yaml``), and the benchmark waits until
it is settled: leader, every kind listed, the namespaces synced and annotated, and the
worker idle with nothing left in the cache to reconcile.

Cases, each in a fresh process:

* ``burst``: P pods are created with ``server.apply`` as fast as it goes, on the main
  thread, while ncp runs. ``apply_s``: how long creating them took. ``converge_s``: from
  the first pod created until the end of the first pass whose report realizes all P pods
  (``report.pods``), i.e. its state transaction has landed and the state holds exactly
  the server's pods (checked afterwards from the SQLite state). ``reconciles``: the passes
  that took (started after the first pod); ``reconcile_median_s`` / ``reconcile_max_s``:
  their own seconds (``Runner.history``; a pass is ``full`` or ``incremental``, see
  ``ncp.reconcile.incremental``), without status write-back, which runs on the runner's
  writer thread. ``writeback_done_s``: from the first pod until the last write-back that
  patched something had returned (every pod then carries ``ncp/network_config`` on the
  server, checked); ``writeback_s``: the time spent in write-back in all. ``settle_s``:
  until the last pass or write-back before the runner went idle (write-back patches are
  watch events that cause further passes). ``passes`` lists every pass (start from the
  first pod, seconds, realized pods, mode), ``writes`` every write-back (start, seconds,
  patches, ``full`` or ``changes``).
* ``steady_change``: the pods exist before ncp starts (the state after a burst, reached
  without timing one). Then one pod's labels are changed 50 times (``--changes``), one at a
  time (read the pod, change ``tier``, ``server.apply``, like ``kubectl label``), each
  after ncp is idle. ``median_s``/``p95_s``/``max_s``: from the change until the writer
  had handled the pass's result (``runner.writeback.written`` has moved);
  ``watch_median_s``: until the watch had put it in the cache; ``state_median_s``: until
  the state held it (``runner.applied``); ``ncp_apply_*_ms``: ncp's own measure, from
  the change's arrival in the cache to the state transaction (``Runner.history``);
  ``modes``: how many passes were incremental or full.

Each line: ``{"bench": "ncp_watch", "case", "namespaces", "pods", "nodes", "seed",
"debounce", ..., "peak_rss_mib", "machine": {"cpus", "python"}, "revision", "apiserver":
"in-process test double"}``. ``revision`` follows ``bench_sync.py``. ``p95_s`` is the
nearest-rank 95th percentile. A broken invariant or a timeout (``--timeout``) fails the
case loudly: no line, exit status 1.

``--profile`` runs a cProfile inside the reconcile worker thread (``sync_cluster`` and
status write-back of every measured reconcile) and prints it on stderr; timings are then
inflated.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path(__file__).resolve().parent / "large-cluster.yaml"
CASES = ("burst", "steady_change")
TIERS = ("frontend", "backend", "data", "batch")
#: The namespace NCP runs in and keeps its Lease in.
NCP_NAMESPACE = "nsx-system"
#: How often waits poll what the runner has done.
POLL = 0.05


sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import peak_rss_mib, percentile, run_child, source_revision  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench_watch {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _paths() -> None:
    """The repository on ``sys.path`` (the test API server is ``tests.support.apiserver``)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- helpers






def r4(x: float) -> float:
    return round(x, 4)


def fail(case: str, why: str) -> SystemExit:
    return SystemExit(f"FAILED: case {case}: {why}")


def cluster_objects(namespaces: int, pods: int, seed: int,
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Namespaces, nodes and bare pods (the generated Deployments' replicas), seeded."""
    from topologies.generate import generate_cluster

    objects = generate_cluster(namespaces=namespaces, pods=pods, seed=seed,
                               nodes=max(3, pods // 100))
    rng = random.Random(seed)
    ns_objs = [o for o in objects if o["kind"] == "Namespace"]
    nodes = [o for o in objects if o["kind"] == "Node"]
    node_names = [o["metadata"]["name"] for o in nodes]
    out: list[dict[str, Any]] = []
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # what generateName uses
    for d in (o for o in objects if o["kind"] == "Deployment"):
        ns, app = d["metadata"]["namespace"], d["metadata"]["name"]
        template = d["spec"]["template"]
        rs = "".join(rng.choice(alphabet) for _ in range(10))
        names: set[str] = set()
        for _ in range(int(d["spec"]["replicas"])):
            name = ""
            while not name or name in names:  # 5 letters collide within big Deployments
                name = f"{app}-{rs}-{''.join(rng.choice(alphabet) for _ in range(5))}"
            names.add(name)
            out.append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns,
                             "labels": dict(template["metadata"]["labels"])},
                "spec": {**json.loads(json.dumps(template["spec"])),
                         "nodeName": node_names[int(rng.random() * len(node_names))]},
            })
    rng.shuffle(out)
    return ns_objs, nodes, out


# --------------------------------------------------------------------------- probing


@dataclass
class Pass:
    """One reconcile as the probe saw it (``time.perf_counter`` stamps)."""

    started: float
    version: int = -1
    synced: float | None = None  # its state transaction had landed
    ended: float | None = None
    sync_s: float | None = None  # the pass's own seconds (Runner.history)
    mode: str = "full"  # or "incremental"
    pods: int = -1
    namespaces: int = -1
    problems: int = 0
    error: str | None = None


@dataclass
class Write:
    """One status write-back as the probe saw it (the runner's writer thread)."""

    kind: str  # "full" or "changes"
    started: float
    ended: float = 0.0
    patches: int = 0


class Probe:
    """Wraps one runner's passes and status writer (instance attributes only) to time
    each; optionally profiles the passes in the worker thread."""

    def __init__(self, runner: Any, *, profile: bool = False) -> None:
        self.runner = runner
        self.passes: list[Pass] = []
        self.writes: list[Write] = []
        self.current: Pass | None = None
        self.lock = threading.Lock()
        self.prof: Any = None
        self.profiling = False
        if profile:
            import cProfile

            self.prof = cProfile.Profile()
        worker, writer = runner.worker, runner.writeback.writer
        reconcile, write = worker.reconcile, writer.write
        changes, write_changes = worker.reconcile_changes, writer.write_changes

        def timed(mode: str, call: Callable[[], int | None]) -> int | None:
            p = Pass(started=time.perf_counter(), mode=mode)
            with self.lock:
                self.passes.append(p)
                self.current = p
            seen = len(runner.history)
            prof = self.prof if self.profiling else None
            if prof is not None:
                prof.enable()
            try:
                version = call()
            except Exception as err:
                p.error = f"{type(err).__name__}: {err}"
                raise
            finally:
                if prof is not None:
                    prof.disable()
                if len(runner.history) > seen:
                    p.sync_s = runner.history[-1].seconds
                p.ended = time.perf_counter()
                with self.lock:
                    self.current = None
                    if mode == "incremental" and p.sync_s is None:
                        self.passes.remove(p)  # declined: the full pass that follows counts
            if version is not None:
                p.version = version
                p.synced = p.ended
                report = runner.last_report
                if report is not None:
                    p.pods, p.namespaces = report.pods, report.namespaces
                    p.problems = len(report.problems)
            return version

        def timed_reconcile(*, full: bool = False) -> int:
            return int(timed("full", lambda: reconcile(full=full)) or 0)

        def timed_changes() -> int | None:
            return timed("incremental", changes)

        def timed_write(kind: str, call: Callable[[], int]) -> int:
            w = Write(kind, time.perf_counter())
            w.patches = int(call())
            w.ended = time.perf_counter()
            with self.lock:
                self.writes.append(w)
            return w.patches

        def timed_full_write(report: Any, snapshot: Sequence[Any]) -> int:
            return timed_write("full", lambda: write(report, snapshot))

        def timed_write_changes(*args: Any) -> int:
            return timed_write("changes", lambda: write_changes(*args))

        worker.reconcile_changes = timed_changes
        writer.write_changes = timed_write_changes
        worker.reconcile = timed_reconcile
        writer.write = timed_full_write

    def since(self, index: int) -> list[Pass]:
        with self.lock:
            return list(self.passes[index:])

    def count(self) -> int:
        with self.lock:
            return len(self.passes)

    def settled(self) -> bool:
        """Idle (no change for a second), nothing running, and the state has caught up
        with the cache's current version."""
        with self.lock:
            last = self.passes[-1] if self.passes else None
            running = self.current is not None
        return (self.runner.idle.is_set() and not running and last is not None
                and last.ended is not None and not self.runner.writeback.pending
                and self.runner.applied == self.runner.cache.version)

    def print_profile(self, case: str) -> None:
        if self.prof is None:
            return
        import pstats

        for key in ("cumulative", "tottime"):
            log(f"cProfile of the reconcile worker during {case} ({key}, top 35):")
            pstats.Stats(self.prof, stream=sys.stderr).sort_stats(key).print_stats(35)


class ThreadCpu:
    """CPU seconds per thread group, sampled from each live thread's CPU clock."""

    def __init__(self, period: float = 0.25) -> None:
        self.period = period
        self.last: dict[threading.Thread, float] = {}
        self.base: dict[threading.Thread, float] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-cpu", daemon=True)

    @staticmethod
    def group(name: str) -> str:
        if name == "MainThread":
            return "main (bench: server.apply)"
        if name == "ncp-worker":
            return "ncp worker"
        if name.startswith("ncp-watch"):
            return "ncp watchers"
        if name == "ncp-leader":
            return "ncp leader"
        if name.startswith("bench-"):
            return "bench"
        return "apiserver"  # the double's listener and per-connection handler threads

    def sample(self) -> None:
        for t in threading.enumerate():
            if t.ident is None:
                continue
            try:
                cpu = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
            except (OSError, AttributeError):
                continue
            self.last[t] = cpu

    def _run(self) -> None:
        while not self.stop_event.wait(self.period):
            self.sample()

    def start(self) -> None:
        self.sample()
        self.thread.start()

    def mark(self) -> None:
        """Start counting from now."""
        self.sample()
        self.base = dict(self.last)

    def totals(self) -> dict[str, float]:
        self.sample()
        out: dict[str, float] = {}
        for t, cpu in self.last.items():
            g = self.group(t.name)
            out[g] = out.get(g, 0.0) + cpu - self.base.get(t, 0.0)
        return {k: round(v, 2) for k, v in sorted(out.items())}

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(2)


def wait_until(predicate: Callable[[], bool], *, timeout: float, case: str, what: str,
               progress: Callable[[], str] | None = None) -> float:
    """Poll ``predicate`` until true; returns ``perf_counter`` then. Fails the case on
    timeout. Logs ``progress()`` every 15 s."""
    start = time.perf_counter()
    next_log = start + 15
    while True:
        if predicate():
            return time.perf_counter()
        now = time.perf_counter()
        if now - start > timeout:
            extra = f" ({progress()})" if progress else ""
            raise fail(case, f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        if progress is not None and now >= next_log:
            log(f"  waiting for {what}: {progress()}")
            next_log = now + 15
        time.sleep(POLL)


# --------------------------------------------------------------------------- child side


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    """Set up server and runner in this fresh process, run ``args.child``, return results."""
    _paths()
    from ncp.config import load_config
    from ncp.live.leader import LeaseSettings
    from ncp.live.runner import Runner, RunOptions
    from ncp.sources.kube import KubeClient
    from tests.support.apiserver import client_configuration, running_apiserver

    case = args.child
    start = time.perf_counter()
    namespaces, nodes, pods = cluster_objects(args.namespaces, args.pods, args.seed)
    log(f"{case}: generated {len(namespaces)} namespaces, {len(nodes)} nodes, {len(pods)} pods "
        f"in {time.perf_counter() - start:.1f} s (untimed)")
    config = load_config(args.config)
    # The double's watch history (for resumes) holds the whole run, as a real API server's
    # few minutes of etcd history would hold a burst.
    history = max(1000, 4 * (len(pods) + len(namespaces)))
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp, \
            running_apiserver(history_size=history) as server:
        state = Path(tmp) / "state.db"
        prep_start = time.perf_counter()
        server.apply({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": NCP_NAMESPACE}})
        for o in (*namespaces, *nodes):
            server.apply(o)
        if case == "steady_change":
            for o in pods:
                server.apply(o)
        options = RunOptions(state=state, config=config, debounce=args.debounce,
                             lease=LeaseSettings(namespace=NCP_NAMESPACE,
                                                 name=f"ncp-{config.cluster}",
                                                 identity="bench-watch"))
        client = KubeClient(client_configuration(server))
        runner = Runner(options, client=client)
        probe = Probe(runner, profile=args.profile)
        cpu = ThreadCpu()
        cpu.start()
        runner.start()
        try:
            expected_ns = len(server.objects("Namespace"))
            preloaded = len(pods) if case == "steady_change" else 0

            def prepared() -> bool:
                if not probe.settled():
                    return False
                last = probe.passes[-1]
                return last.namespaces == expected_ns and last.pods == preloaded

            wait_until(prepared, timeout=args.timeout, case=case, what="the first sync",
                       progress=lambda: _progress(runner, probe))
            prepare_s = time.perf_counter() - prep_start
            log(f"{case}: prepared in {prepare_s:.1f} s ({probe.count()} reconcile(s)); "
                "measuring")
            probe.profiling = True
            cpu.mark()
            if case == "burst":
                result = burst(server, runner, probe, pods, state, args)
            else:
                result = steady_change(server, runner, probe, pods, state, args)
            probe.profiling = False
            result["cpu_s"] = cpu.totals()
        finally:
            runner.stop()
            client.close()
            cpu.stop()
        result.update({
            "prepare_s": round(prepare_s, 2),
            "watch": {k: {"lists": s.lists, "resumes": s.resumes,
                          "relists_after_410": s.relists_after_410, "errors": s.errors}
                      for k, s in sorted(runner.feed.stats.items())
                      if s.lists != 1 or s.resumes or s.relists_after_410 or s.errors},
            "peak_rss_mib": peak_rss_mib(),
            "nodes": len(nodes),
        })
    probe.print_profile(case)
    return result


def _progress(runner: Any, probe: Probe) -> str:
    passes = probe.since(0)
    done = [p for p in passes if p.ended is not None]
    last = done[-1] if done else None
    text = (f"{len(passes)} reconcile(s), cache holds {runner.cache.count('Pod')} pods, "
            f"leader {runner.is_leader}, last error {runner.last_error}")
    if last is not None:
        text += (f"; last reconcile ({last.mode}): {last.pods} pods realized, "
                 f"{last.sync_s or 0:.2f} s")
    if passes and passes[-1].ended is None:
        text += f"; one running for {time.perf_counter() - passes[-1].started:.1f} s"
    with probe.lock:
        writes = list(probe.writes)
    text += f"; {len(writes)} write-back(s), {sum(w.patches for w in writes)} patches"
    if runner.writeback.pending:
        text += ", one pending"
    return text


def _pod_patches(runner: Any) -> int:
    return int(runner.metrics.values.get("ncp_status_patches_total", {}).get(
        (("kind", "Pod"),), 0))


def burst(server: Any, runner: Any, probe: Probe, pods: list[dict[str, Any]], state: Path,
          args: argparse.Namespace) -> dict[str, Any]:
    from ncp.translate.naming import NETWORK_CONFIG_ANNOTATION as POD_ANNOTATION
    from tests.support.live import pods_in_state, server_pods

    first = probe.count()
    with probe.lock:
        first_write = len(probe.writes)
    patches0 = _pod_patches(runner)
    t0 = time.perf_counter()
    for i, o in enumerate(pods):
        server.apply(o)
        if (i + 1) % 2000 == 0:
            log(f"  created {i + 1} pods in {time.perf_counter() - t0:.1f} s")
    applied = time.perf_counter()
    total = len(pods)
    log(f"burst: {total} pods created in {applied - t0:.1f} s")

    def converging() -> Pass | None:
        return next((p for p in probe.since(first)
                     if p.synced is not None and p.pods == total), None)

    wait_until(lambda: converging() is not None, timeout=args.timeout, case="burst",
               what=f"all {total} pods realized", progress=lambda: _progress(runner, probe))
    conv = converging()
    assert conv is not None and conv.synced is not None
    log(f"burst: converged {conv.synced - t0:.1f} s after the first pod; waiting to settle")
    wait_until(probe.settled, timeout=args.timeout, case="burst", what="the runner to settle",
               progress=lambda: _progress(runner, probe))
    passes = probe.since(first)
    index = passes.index(conv)
    upto = passes[:index + 1]
    errors = [p.error for p in passes if p.error]
    sync_times = [p.sync_s for p in upto if p.sync_s is not None]
    with probe.lock:
        writes = probe.writes[first_write:]
    writing = [w.ended for w in writes if w.patches]
    last = passes[-1]
    assert last.ended is not None

    # Invariants (untimed): the state holds exactly the server's pods, each annotated.
    in_state, on_server = pods_in_state(state), server_pods(server)
    if in_state != on_server or len(on_server) != total:
        raise fail("burst", f"state holds {len(in_state)} pods, the server {len(on_server)}; "
                   f"{len(in_state ^ on_server)} differ")
    bare = [p["metadata"]["name"] for p in server.objects("Pod")
            if POD_ANNOTATION not in (p["metadata"].get("annotations") or {})]
    if bare:
        raise fail("burst", f"{len(bare)} pod(s) lack {POD_ANNOTATION}, e.g. {bare[:3]}")
    if last.problems:
        raise fail("burst", f"the last reconcile reported {last.problems} problem(s)")
    return {
        "apply_s": r4(applied - t0),
        "apply_per_s": round(total / (applied - t0), 1),
        "converge_s": r4(conv.synced - t0),
        "reconciles": len(upto),
        "reconcile_median_s": r4(statistics.median(sync_times)),
        "reconcile_max_s": r4(max(sync_times)),
        "reconcile_s": [round(s, 3) for s in sync_times],
        "writeback_done_s": r4(max(writing) - t0) if writing else None,
        "writeback_s": r4(sum(w.ended - w.started for w in writes)),
        "status_patches": _pod_patches(runner) - patches0,
        "settle_s": r4(max(last.ended, max((w.ended for w in writes), default=0)) - t0),
        "reconciles_to_settle": len(passes),
        "reconcile_errors": errors,
        "passes": [{"start_s": round(p.started - t0, 3), "sync_s": round(p.sync_s or 0, 3),
                    "pods": p.pods, "mode": p.mode} for p in passes],
        "writes": [{"start_s": round(w.started - t0, 3), "s": round(w.ended - w.started, 3),
                    "patches": w.patches, "kind": w.kind} for w in writes],
    }


def _wait_fast(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Spin (0.2 ms naps) until ``predicate``; returns ``perf_counter`` then. For the
    millisecond waits of steady_change, where ``wait_until``'s 50 ms polls would blur."""
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise fail("steady_change", f"timed out waiting for {what}")
        time.sleep(0.0002)
    return time.perf_counter()


def steady_change(server: Any, runner: Any, probe: Probe, pods: list[dict[str, Any]],
                  state: Path, args: argparse.Namespace) -> dict[str, Any]:
    from sdn.model import SegmentPort
    from sdn.store import Store

    rng = random.Random(args.seed + 2000)
    target = pods[int(rng.random() * len(pods))]["metadata"]
    ns, name = target["namespace"], target["name"]
    ends: list[float] = []
    cached: list[float] = []
    applied: list[float] = []
    ncp_latency: list[float] = []
    modes: dict[str, int] = {}
    tier = ""
    for i in range(args.changes):
        wait_until(probe.settled, timeout=args.timeout, case="steady_change",
                   what="the runner to settle", progress=lambda: _progress(runner, probe))
        written = runner.writeback.written
        history = len(runner.history)
        obj = server.get("Pod", ns, name)
        labels = obj["metadata"]["labels"]
        tier = TIERS[(TIERS.index(labels.get("tier", TIERS[0])) + 1) % len(TIERS)] \
            if labels.get("tier") in TIERS else TIERS[i % len(TIERS)]
        labels["tier"] = tier
        wanted = dict(labels)
        t = time.perf_counter()
        server.apply(obj)

        def in_cache(wanted: dict[str, Any] = wanted) -> bool:
            body = runner.cache.get("Pod", ns, name) or {}
            return (body.get("metadata") or {}).get("labels") == wanted

        t_cache = _wait_fast(in_cache, args.timeout, f"change {i + 1} in the cache")
        version = runner.cache.version
        t_state = _wait_fast(lambda v=version: runner.applied >= v, args.timeout,
                             f"change {i + 1} in the state")
        t_end = _wait_fast(lambda w=written: runner.writeback.written > w, args.timeout,
                           f"change {i + 1}'s write-back")
        mine = [h for h in list(runner.history)[history:] if h.version >= version]
        if not mine:
            raise fail("steady_change", f"change {i + 1}: no pass covered it")
        modes[mine[0].mode] = modes.get(mine[0].mode, 0) + 1
        ncp_latency.append(max(mine[0].latencies, default=0.0))
        ends.append(t_end - t)
        cached.append(t_cache - t)
        applied.append(t_state - t)
        if (i + 1) % 10 == 0:
            log(f"  {i + 1}/{args.changes} changes, median {statistics.median(ends):.4f} s")
    # Invariant (untimed): the state carries the last change.
    with Store.open_readonly(state) as store:
        ports = [p for p in store.inventory().of_type(SegmentPort)
                 if p.display_name == f"{ns}/{name}"]
    if len(ports) != 1 or ports[0].tag("tier") != tier:
        raise fail("steady_change", f"the state's port for {ns}/{name} does not carry "
                   f"tier={tier}: {[p.tags for p in ports]}")
    return {
        "changes": len(ends),
        "median_s": r4(statistics.median(ends)),
        "p95_s": r4(percentile(ends, 95)),
        "max_s": r4(max(ends)),
        "min_s": r4(min(ends)),
        "watch_median_s": r4(statistics.median(cached)),
        "state_median_s": r4(statistics.median(applied)),
        "ncp_apply_median_ms": round(statistics.median(ncp_latency) * 1000, 3),
        "ncp_apply_p95_ms": round(percentile(ncp_latency, 95) * 1000, 3),
        "modes": modes,
    }


def child(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    result = run_case(args)
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- parent side


def spawn(args: argparse.Namespace, case: str) -> dict[str, Any] | None:
    """Run ``case`` in a fresh interpreter; its JSON result, or None when it failed."""
    cmd = ["--namespaces", str(args.namespaces), "--pods", str(args.pods),
           "--seed", str(args.seed), "--debounce", str(args.debounce),
           "--changes", str(args.changes), "--config", str(args.config),
           "--timeout", str(args.timeout)]
    cmd += ["--profile"] if args.profile else []
    cmd += ["--verbose"] if args.verbose else []
    return run_child(__file__, case, cmd, log=log)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; on the parent side with the values :meth:`BenchParser.resolve`
    settles (cases as a list, bounds checked)."""
    from benchlib import BenchParser

    parser = BenchParser(
        "Time `ncp run` against the in-process test API server; one JSON line per case.",
        cases=CASES, child=True)
    parser.add_sizes((100, 10000), at_least=(1, 1))
    parser.add_bounded("--debounce", 0, type=float, default=0.3,
                       help="seconds the worker lets a burst settle (RunOptions default 0.3)")
    parser.add_bounded("--changes", 1, type=int, default=50,
                       help="label changes timed by steady_change (50)")
    parser.add_config()
    parser.add_timeout(1800.0)
    parser.add_profile("cProfile the reconcile worker; printed on stderr")
    parser.add_verbose()
    args = parser.parse_args(argv)
    if not args.child:
        parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        _paths()
        return child(args)
    cases = args.cases

    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    revision = source_revision()
    failed = False
    for case in cases:
        log(f"case {case}: {args.namespaces} namespaces / {args.pods} pods, seed {args.seed}, "
            f"debounce {args.debounce} s, in a fresh process")
        start = time.perf_counter()
        result = spawn(args, case)
        if result is None:
            failed = True
            continue
        log(f"case {case} done in {time.perf_counter() - start:.0f} s")
        line: dict[str, Any] = {
            "bench": "ncp_watch", "case": case, "namespaces": args.namespaces,
            "pods": args.pods, "nodes": result.pop("nodes"), "seed": args.seed,
            "debounce": args.debounce, **result, "machine": machine, "revision": revision,
            "apiserver": "in-process test double",
        }
        print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
