"""Benchmark of ``ncp run`` replaying a recorded watch stream: one JSON line per case on
stdout, progress on stderr.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_replay.py                      # 2,500 namespaces / 10,000 pods
    python bench/bench_replay.py --cases steady --changes 2000
    python bench/bench_replay.py --record /tmp/stream.jsonl   # keep the recorded stream

This is the issue's measurement: from a recorded stream of namespace and pod ADDED events,
(1) the time until the state is fully reconciled and (2) the per-event latency from
arrival to applied at steady state. No API server takes part (``bench_watch.py`` measures
``ncp run`` against one, write-back included): the runner is started with ``push=True``
and the feeder plays the watcher, so the figures are ncp's own.

The stream: ``generate_cluster(namespaces=N, pods=P, seed=S, nodes=max(3, P // 100))``
with each Deployment's replicas as bare pods (``bench_watch.cluster_objects``: the
template's labels, a seeded ``spec.nodeName``), recorded as watch events, one JSON line
``{"type": "ADDED", "object": {...}}`` each with an increasing ``resourceVersion``, in
the order a cluster being filled produces them: the nodes, the namespaces, then the pods
in a seeded shuffled order. It is written to a file (``--record`` keeps it) and read back
line by line by the feeder, which parses each line and puts it in the runner's cache as a
watch thread does (``ClusterCache.apply``), as fast as it goes.

The runner: ``Runner(push=True)`` with ``bench/large-cluster.yaml``, leader election off
(no API server), ``--debounce`` (default 0.3 s, ``ncp run``'s).

Cases, each in a fresh process:

* ``stream``: the whole stream is fed. ``converge_s``: from the first event fed until the
  state holds every event (``Runner.wait_applied`` on the cache version after the last
  event; the state's pods and namespaces are then counted in SQLite and must be all of
  them). ``feed_s``: how long feeding took. ``passes``: reconcile passes by mode;
  ``full_s``: their seconds. ``latency``: arrival-to-applied over every event (a burst is
  batched into few passes, so these are seconds by design).
* ``steady``: after the stream has converged (untimed), ``--changes`` single events, each
  fed once the previous one is applied: a seeded mix of pod ADDED (a new pod in an
  existing namespace), MODIFIED (its ``tier`` label changed) and DELETED. ``latency``
  per event is the runner's own measure (``Runner.history``, exported as
  ``ncp_event_apply_seconds``): from the event's arrival in the cache until the state
  transaction holding it has landed. ``latency`` overall and ``by_type`` give median,
  p95, p99 and max in milliseconds; ``modes`` counts incremental and full passes.
* ``steady_namespace``: the same for ``--ns-changes`` namespace ADDED events (a new
  namespace is provisioned by the full reconcile).

Each line: ``{"bench": "ncp_replay", "case", "namespaces", "pods", "nodes", "seed",
"debounce", ..., "peak_rss_mib", "machine", "revision"}``. Percentiles are nearest-rank.
A broken invariant or a timeout fails the case: no line, exit status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ("stream", "steady", "steady_namespace")
TIERS = ("frontend", "backend", "data", "batch")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BenchParser,
    emit,
    peak_rss_mib,
    percentile,
    run_child,
    run_info,
)


def log(msg: str) -> None:
    print(f"[bench_replay {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fail(case: str, why: str) -> SystemExit:
    return SystemExit(f"FAILED: case {case}: {why}")


def record_stream(path: Path, namespaces: int, pods: int, seed: int) -> tuple[int, int, int]:
    """Write the stream (module docstring); returns (namespaces, nodes, pods) counts."""
    from bench_watch import cluster_objects

    ns_objs, nodes, pod_objs = cluster_objects(namespaces, pods, seed)
    with path.open("w") as out:
        for rv, obj in enumerate((*nodes, *ns_objs, *pod_objs), start=1):
            obj["metadata"]["resourceVersion"] = str(rv)
            out.write(json.dumps({"type": "ADDED", "object": obj}) + "\n")
    return len(ns_objs), len(nodes), len(pod_objs)


def replay(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The recorded events, parsed one line at a time: (kind, type, object)."""
    with path.open() as f:
        for line in f:
            event = json.loads(line)
            yield event["object"]["kind"], event["type"], event["object"]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, p99 and max of seconds, in milliseconds."""
    return {"n": len(values),
            "median_ms": round(statistics.median(values) * 1000, 3),
            "p95_ms": round(percentile(values, 95) * 1000, 3),
            "p99_ms": round(percentile(values, 99) * 1000, 3),
            "max_ms": round(max(values) * 1000, 3)}


class Feeder:
    """Plays the watcher: puts events into the runner's cache with increasing versions."""

    def __init__(self, runner: Any, start_rv: int) -> None:
        self.runner = runner
        self.rv = start_rv

    def put(self, kind: str, etype: str, obj: dict[str, Any]) -> int:
        """Feed one event; returns the cache version it made."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.runner.cache.apply(kind, etype, obj)
        return int(self.runner.cache.version)


def state_counts(state: Path, cluster: str) -> tuple[int, int, int]:
    """(namespace segments, pod ports, distinct pod addresses) of the cluster's state."""
    from sdn.model import Segment, SegmentPort
    from sdn.store import Store

    with Store.open_readonly(state) as store:
        inv = store.inventory()
    segs = [s for s in inv.of_type(Segment)
            if s.tag("ncp/cluster") == cluster and s.tag("ncp/project")]
    ports = [p for p in inv.of_type(SegmentPort)
             if p.tag("ncp/cluster") == cluster and p.tag("ncp/pod")]
    addresses = {b.ip_address for p in ports for b in p.address_bindings}
    return len(segs), len(ports), len(addresses)


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    from ncp.config import load_config
    from ncp.live.runner import Runner, RunOptions
    from ncp.translate.settings import cluster_settings

    case = args.child
    config = load_config(args.config)
    # Namespaces every cluster has (default, kube-system, ...) get a network too.
    implicit = len(cluster_settings(config, None).implicit_namespaces)
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        stream = args.record or Path(tmp) / "stream.jsonl"
        t = time.perf_counter()
        n_ns, n_nodes, n_pods = record_stream(stream, args.namespaces, args.pods, args.seed)
        log(f"{case}: recorded {n_nodes} nodes, {n_ns} namespaces, {n_pods} pods to {stream} "
            f"in {time.perf_counter() - t:.1f} s (untimed)")
        state = Path(tmp) / "state.db"
        runner = Runner(RunOptions(state=state, config=config, debounce=args.debounce,
                                   leader_election=False), push=True)
        runner.start()
        feeder = Feeder(runner, start_rv=10 * (n_ns + n_nodes + n_pods))
        try:
            first = time.perf_counter()
            version = 0
            for kind, etype, obj in replay(stream):
                runner.cache.apply(kind, etype, obj)
                version = runner.cache.version
            fed = time.perf_counter()
            if not runner.wait_applied(version, timeout=args.timeout):
                raise fail(case, f"not reconciled within {args.timeout} s")
            converged = time.perf_counter()
            segs, ports, addresses = state_counts(state, config.cluster)
            if (segs, ports, addresses) != (n_ns + implicit, n_pods, n_pods):
                raise fail(case, f"state holds {segs} namespaces, {ports} pods, {addresses} "
                           f"addresses; expected {n_ns + implicit}, {n_pods}, {n_pods}")
            stream_passes = list(runner.history)
            result: dict[str, Any] = {"nodes": n_nodes}
            if case == "stream":
                lat = [x for p in stream_passes for x in p.latencies]
                result.update({
                    "events": n_ns + n_nodes + n_pods,
                    "converge_s": round(converged - first, 3),
                    "feed_s": round(fed - first, 3),
                    "passes": dict(Counter(p.mode for p in stream_passes)),
                    "full_s": [round(p.seconds, 3) for p in stream_passes if p.mode == "full"],
                    "latency": summary_ms(lat),
                })
            else:
                runner.idle.wait(args.timeout)
                result.update(steady(runner, feeder, stream, case, args))
                segs, ports, addresses = state_counts(state, config.cluster)
                if ports != addresses or ports != result.pop("expected_pods") or \
                        segs != n_ns + implicit + result.pop("added_namespaces"):
                    raise fail(case, f"state after the changes: {segs} namespaces, {ports} "
                               f"pods, {addresses} addresses")
        finally:
            runner.stop()
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def steady(runner: Any, feeder: Feeder, stream: Path, case: str,
           args: argparse.Namespace) -> dict[str, Any]:
    """Single events, each once the previous is applied (module docstring)."""
    rng = random.Random(args.seed + 7)
    pods = {(o["metadata"]["namespace"], o["metadata"]["name"]): o
            for kind, _t, o in replay(stream) if kind == "Pod"}
    namespaces = sorted({ns for ns, _n in pods})
    nodes = sorted({o["spec"]["nodeName"] for o in pods.values()})
    by_type: dict[str, list[float]] = {}
    modes: Counter[str] = Counter()
    added_ns = 0
    count = args.changes if case == "steady" else args.ns_changes
    for i in range(count):
        if case == "steady_namespace":
            etype, kind = "ADDED", "Namespace"
            obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": f"steady-ns-{i}"}}
            added_ns += 1
        else:
            kind = "Pod"
            etype = rng.choice(("ADDED", "MODIFIED", "DELETED"))
            if etype == "ADDED":
                ns = rng.choice(namespaces)
                obj = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": f"steady-{i}", "namespace": ns,
                                    "labels": {"app": "steady", "tier": rng.choice(TIERS)}},
                       "spec": {"containers": [{"name": "c", "image": "x"}],
                                "nodeName": rng.choice(nodes)}}
                pods[(ns, obj["metadata"]["name"])] = obj
            else:
                key = rng.choice(sorted(pods))
                obj = json.loads(json.dumps(pods[key]))
                if etype == "DELETED":
                    del pods[key]
                else:
                    labels = obj["metadata"].setdefault("labels", {})
                    labels["tier"] = TIERS[(TIERS.index(labels["tier"]) + 1) % len(TIERS)] \
                        if labels.get("tier") in TIERS else TIERS[0]
                    pods[key] = obj
        before = len(runner.history)
        version = feeder.put(kind, etype, obj)
        if not runner.wait_applied(version, timeout=args.timeout):
            raise fail(case, f"event {i} ({kind} {etype}) not applied in {args.timeout} s")
        passes = list(runner.history)[before:]
        mine = [p for p in passes if p.version >= version]
        if not mine or not mine[0].latencies:
            raise fail(case, f"event {i} has no measured pass")
        modes[mine[0].mode] += 1
        by_type.setdefault(f"{kind} {etype}", []).append(max(mine[0].latencies))
        if (i + 1) % 200 == 0:
            log(f"  {i + 1}/{count} events")
    every = [x for xs in by_type.values() for x in xs]
    return {"events": len(every), "latency": summary_ms(every),
            "by_type": {k: summary_ms(v) for k, v in sorted(by_type.items())},
            "modes": dict(modes), "expected_pods": len(pods), "added_namespaces": added_ns}


def spawn(args: argparse.Namespace, case: str) -> dict[str, Any] | None:
    """Run ``case`` in a fresh interpreter; its JSON result, or None when it failed."""
    cmd = ["--namespaces", str(args.namespaces), "--pods", str(args.pods),
           "--seed", str(args.seed), "--debounce", str(args.debounce),
           "--changes", str(args.changes), "--ns-changes", str(args.ns_changes),
           "--config", str(args.config), "--timeout", str(args.timeout)]
    cmd += ["--record", str(args.record)] if args.record else []
    cmd += ["--verbose"] if args.verbose else []
    return run_child(__file__, case, cmd, log=log)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; on the parent side with the values :meth:`BenchParser.resolve`
    settles (cases as a list, bounds checked)."""
    parser = BenchParser(
        "Time `ncp run` replaying a recorded watch stream; one JSON line per case.",
        cases=CASES, child=True)
    parser.add_sizes((2500, 10000), at_least=(1, 1))
    parser.add_bounded("--debounce", 0, type=float, default=0.3,
                       help="seconds a full pass lets a burst settle (RunOptions default 0.3)")
    parser.add_bounded("--changes", 1, type=int, default=1000,
                       help="pod events timed by steady (1000)")
    parser.add_bounded("--ns-changes", 1, type=int, default=10,
                       help="namespace events timed by steady_namespace (10)")
    parser.add_config()
    parser.add_argument("--record", type=Path, help="where to keep the recorded stream")
    parser.add_timeout(600.0)
    parser.add_verbose()
    args = parser.parse_args(argv)
    if not args.child:
        parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
        print(json.dumps(run_case(args)), flush=True)
        return 0
    cases = args.cases
    where = run_info()
    failed = False
    for case in cases:
        log(f"case {case}: {args.namespaces} namespaces / {args.pods} pods, seed {args.seed}")
        start = time.perf_counter()
        result = spawn(args, case)
        if result is None:
            failed = True
            continue
        log(f"case {case} done in {time.perf_counter() - start:.0f} s")
        emit({
            "bench": "ncp_replay", "case": case, "namespaces": args.namespaces,
            "pods": args.pods, "nodes": result.pop("nodes"), "seed": args.seed,
            "debounce": args.debounce, **result, **where,
        })
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
