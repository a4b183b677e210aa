"""Benchmark of Traceflow (``sdn.traceflow.trace``): one JSON line per case on stdout,
progress on stderr.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_traceflow.py                  # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_traceflow.py --cases pod_to_pod,to_outside
    python bench/bench_traceflow.py --scale large    # 25,000 / 100,000 / 75,000
    python bench/bench_traceflow.py --namespaces 250 --pods 1000 --policies 750 --profile

Target (from the issue; speed is measured here, not asserted in unit tests): one trace in
under 1 ms median and 5 ms p99 on a topology of 2,500 namespaces / 10,000 pods / 7,500
NetworkPolicies. Each line says whether its case met it (``target_met``).

What is timed: one ``trace(ctx, source_port_path, packet, bidirectional=...)`` call, alone
(``time.perf_counter_ns`` around it), on a ``TraceContext`` built once. The ``PacketSpec``
is built before the clock starts; the source is given as its port path, as ``sdn traceflow``
does after resolving ``NS/POD`` (that name lookup is reported apart, ``name_lookup_us``).

Cases (each in a fresh interpreter, so its peak memory is its own; every case loads the
state and builds its own ``TraceContext``, which compiles the DFW):

* ``pod_to_pod``: 2,000 seeded random pairs of distinct pods across the cluster, TCP to a
  port drawn from 80, 443, 5432, 8080 (the generator's policy ports).
* ``same_namespace``: every ordered pair of distinct pods of each of the 5 most populated
  namespaces (the "trace every pod pair of a namespace interactively" use), TCP to a
  seeded random port from the same set; also the total time per namespace.
* ``to_outside``: 1,000 traces from seeded random pods to seeded random external
  addresses 203.0.113.1-254, TCP to a port from the same set.
* ``bidirectional``: 500 seeded random pod pairs with ``bidirectional=True`` (a delivered
  trace also walks its reply).

``--repeat`` (default 1: each case's samples are already many traces) walks the same
packets again; the samples of every repeat are pooled (later repeats find the DFW's
per-port rule lists cached).

Invariants (a broken one fails the case: no line, exit status 1): the cluster has the
requested number of pods; pod-to-pod traces end DELIVERED or DROPPED by a firewall rule,
traces to outside addresses EXITS_NETWORK or DROPPED by a firewall rule; for up to 20,000
traces per case, spread evenly, the outcome agrees with ``evaluate_flow`` on the same flow;
a delivered bidirectional trace carries a delivered reply.

Method: the cluster is generated with ``generate_cluster(namespaces=N, pods=P, policies=K,
nodes=max(3, P // 100), seed=S)`` (100 nodes at the default scale), written as YAML and
synced into a state by ``sync_cluster`` with ``bench/large-cluster.yaml`` in a separate
process, as ``bench_dfw.py`` does (its helpers are reused); none of that is timed, the sync
is reported as ``sync_s``. Each case opens the state read-only: ``store.inventory()`` is
reported as ``load_s``, ``TraceContext.build(inventory)`` (topology index plus DFW compile)
as ``context_build_s``; neither is timed.

Each line: ``{"bench": "traceflow", "case", "namespaces", "pods", "policies", "nodes",
"seed", "repeat", "traces", "median_us", "p95_us", "p99_us", "max_us", "total_s",
"target_met", "dispositions", "drop_reasons", "mean_observations", "checked",
"peak_rss_mib", "sync_s", "sync_problems", "load_s", "context_build_s", "groups",
"security_policies", "rules", <case extras>, "machine": {"cpus", "python"}, "revision"}``.
Percentiles are nearest-rank over every timed trace, at 0.1 us resolution. ``--profile``
prints the top of a cProfile of each case's timed calls on stderr (the timings are then
inflated). Exit status: 0 when every case ran and kept its invariants, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from bench_dfw import (  # noqa: E402  (bench/ is no package: found through sys.path)
    ROOT,
    Profiler,
    load,
    peak_rss_mib,
    prepare,
)
from benchlib import BenchParser, emit, run_child, run_info, workspace  # noqa: E402

CASES = ("pod_to_pod", "same_namespace", "to_outside", "bidirectional")
#: (namespaces, pods, policies)
DEFAULT_SIZE = (2500, 10000, 7500)
LARGE_SIZE = (25000, 100000, 75000)
PORTS = (80, 443, 5432, 8080)  # topologies.generate.POLICY_PORTS
POD_PAIRS = 2000
TOP_NAMESPACES = 5
OUTSIDE_TRACES = 1000
OUTSIDE_NET = "203.0.113."  # TEST-NET-3; routed out through the Tier-0 uplink
BIDIRECTIONAL_PAIRS = 500
NAME_LOOKUPS = 200
#: The issue's target for one trace, in microseconds.
TARGET_MEDIAN_US, TARGET_P99_US = 1000.0, 5000.0
#: Outcomes checked against ``evaluate_flow`` per case (spread evenly over the traces).
MAX_CHECKS = 20000
#: Offsets added to the seed per case, so that the draws differ from the generator's.
SEED_OFFSETS = {"pod_to_pod": 4000, "same_namespace": 5000, "to_outside": 6000,
                "bidirectional": 7000}


def log(msg: str) -> None:
    print(f"[bench_traceflow {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class _Profiler(Profiler):
    def report(self, case: str) -> None:
        if self.prof is None:
            return
        import pstats

        log(f"cProfile of the timed calls of {case} (cumulative, top 30):")
        stats = pstats.Stats(self.prof, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(30)
        log(f"cProfile of the timed calls of {case} (own time, top 20):")
        stats.sort_stats("tottime").print_stats(20)


class Samples:
    """Durations in a histogram of 0.1 us buckets: exact nearest-rank percentiles at that
    resolution, in constant memory (``same_namespace`` takes millions of samples)."""

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    def add(self, ns: int) -> None:
        self.buckets[ns // 100] += 1
        self.count += 1
        self.total_ns += ns
        if ns > self.max_ns:
            self.max_ns = ns

    def percentile_us(self, q: float) -> float:
        """Nearest-rank ``q`` percentile (0 < q <= 100), in microseconds."""
        rank = max(1, math.ceil(q / 100 * self.count))
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return round(bucket / 10, 1)
        raise ValueError("no samples")


# --------------------------------------------------------------------------- child side

#: One flow to trace: source port, destination address, destination port.
Flow = tuple[Any, IPv4Address, int]


def pod_ports(inv: Any) -> list[Any]:
    """Pod ports (tagged ``ncp/pod``) with an address, by path."""
    from sdn.model import SegmentPort

    return [p for p in inv.of_type(SegmentPort) if p.tag("ncp/pod") and p.address_bindings]


def ip_of(port: Any) -> IPv4Address:
    return port.address_bindings[0].ip_address  # type: ignore[no-any-return]


def run_traces(ctx: Any, flows: Callable[[], Iterator[Flow]], total: int, *,
               repeat: int, bidirectional: bool, outside: bool, prof: Profiler,
               per_source_group: Callable[[Any], str] | None = None) -> dict[str, Any]:
    """Trace every flow ``repeat`` times, timing each ``trace`` call alone; check outcomes."""
    from sdn.policy import evaluate_flow
    from sdn.traceflow import Disposition, PacketSpec, trace

    samples = Samples()
    dispositions: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    observations = replies = checked = 0
    group_ns: Counter[str] = Counter()
    group_pairs: Counter[str] = Counter()
    ok = ({Disposition.EXITS_NETWORK, Disposition.DROPPED} if outside
          else {Disposition.DELIVERED, Disposition.DROPPED})
    passed = Disposition.EXITS_NETWORK if outside else Disposition.DELIVERED
    step = max(1, total // MAX_CHECKS)
    dfw = ctx.dfw
    clock = time.perf_counter_ns
    for r in range(repeat):
        for n, (src, dst_ip, dport) in enumerate(flows()):
            pkt = PacketSpec(src_ip=ip_of(src), dst_ip=dst_ip, protocol="TCP", dst_port=dport)
            path = src.path
            with prof:
                start = clock()
                result = trace(ctx, path, pkt, bidirectional=bidirectional)
                elapsed = clock() - start
            samples.add(elapsed)
            if per_source_group is not None:
                key = per_source_group(src)
                group_ns[key] += elapsed
                group_pairs[key] += 1
            disposition = result.disposition
            dispositions[disposition.value] += 1
            observations += len(result.observations)
            if disposition is Disposition.DROPPED:
                reasons[result.observations[-1].reason or "?"] += 1
            if disposition not in ok or (disposition is Disposition.DROPPED
                                         and result.observations[-1].reason != "FW_RULE"):
                raise SystemExit(f"FAILED: {src.path} -> {dst_ip}:{dport}: {result.summary}")
            if result.reply is not None:
                replies += 1
                if result.reply.disposition is not Disposition.DELIVERED:
                    raise SystemExit(f"FAILED: the reply of {src.path} -> {dst_ip}:{dport} "
                                     f"was not delivered: {result.reply.summary}")
            elif bidirectional and disposition is Disposition.DELIVERED:
                raise SystemExit(f"FAILED: {src.path} -> {dst_ip}:{dport} was delivered "
                                 "without a reply")
            if r == 0 and n % step == 0:
                verdict = evaluate_flow(dfw, dfw.endpoint_for_ip(pkt.src_ip),
                                        dfw.endpoint_for_ip(dst_ip), protocol="TCP", port=dport,
                                        source_port=pkt.sport)
                if verdict.allowed != (disposition is passed):
                    raise SystemExit(f"FAILED: {src.path} -> {dst_ip}:{dport}: trace says "
                                     f"{result.summary!r}, evaluate_flow allowed="
                                     f"{verdict.allowed}")
                checked += 1
            if samples.count % 500_000 == 0:
                log(f"  {samples.count} traces so far, median "
                    f"{samples.percentile_us(50):.1f} us")
    if not samples.count:
        raise SystemExit("FAILED: nothing traced")
    out: dict[str, Any] = {
        "traces": samples.count,
        "median_us": samples.percentile_us(50), "p95_us": samples.percentile_us(95),
        "p99_us": samples.percentile_us(99), "max_us": round(samples.max_ns / 1000, 1),
        "total_s": round(samples.total_ns / 1e9, 3),
        "dispositions": dict(sorted(dispositions.items())),
        "drop_reasons": dict(sorted(reasons.items())),
        "mean_observations": round(observations / samples.count, 2), "checked": checked,
    }
    out["target_met"] = (out["median_us"] < TARGET_MEDIAN_US
                         and out["p99_us"] < TARGET_P99_US)
    if bidirectional:
        out["replies"] = replies
    if per_source_group is not None:
        out["per_namespace"] = [
            {"namespace": k, "pairs": group_pairs[k] // repeat,
             "total_s": round(group_ns[k] / repeat / 1e9, 3)} for k in group_pairs]
    return out


def random_pairs(pods: Sequence[Any], count: int, seed: int) -> Callable[[], Iterator[Flow]]:
    def flows() -> Iterator[Flow]:
        rng = random.Random(seed)
        for _ in range(count):
            src, dst = rng.sample(pods, 2)
            yield src, ip_of(dst), rng.choice(PORTS)
    return flows


def case_pod_to_pod(ctx: Any, pods: list[Any], args: argparse.Namespace,
                    prof: Profiler) -> dict[str, Any]:
    seed = args.seed + SEED_OFFSETS["pod_to_pod"]
    return {"pairs": POD_PAIRS, **run_traces(
        ctx, random_pairs(pods, POD_PAIRS, seed), POD_PAIRS, repeat=args.repeat,
        bidirectional=False, outside=False, prof=prof)}


def case_bidirectional(ctx: Any, pods: list[Any], args: argparse.Namespace,
                       prof: Profiler) -> dict[str, Any]:
    seed = args.seed + SEED_OFFSETS["bidirectional"]
    return {"pairs": BIDIRECTIONAL_PAIRS, **run_traces(
        ctx, random_pairs(pods, BIDIRECTIONAL_PAIRS, seed), BIDIRECTIONAL_PAIRS,
        repeat=args.repeat, bidirectional=True, outside=False, prof=prof)}


def case_to_outside(ctx: Any, pods: list[Any], args: argparse.Namespace,
                    prof: Profiler) -> dict[str, Any]:
    seed = args.seed + SEED_OFFSETS["to_outside"]

    def flows() -> Iterator[Flow]:
        rng = random.Random(seed)
        for _ in range(OUTSIDE_TRACES):
            src = rng.choice(pods)
            yield src, IPv4Address(f"{OUTSIDE_NET}{rng.randint(1, 254)}"), rng.choice(PORTS)

    return {"destinations": f"{OUTSIDE_NET}0/24", **run_traces(
        ctx, flows, OUTSIDE_TRACES, repeat=args.repeat, bidirectional=False, outside=True,
        prof=prof)}


def case_same_namespace(ctx: Any, pods: list[Any], args: argparse.Namespace,
                        prof: Profiler) -> dict[str, Any]:
    by_ns: dict[str, list[Any]] = {}
    for p in pods:
        by_ns.setdefault(p.tag("ncp/project") or "", []).append(p)
    largest = sorted(by_ns, key=lambda ns: (-len(by_ns[ns]), ns))[:TOP_NAMESPACES]
    total = sum(len(by_ns[ns]) * (len(by_ns[ns]) - 1) for ns in largest)
    log(f"  namespaces {', '.join(f'{ns} ({len(by_ns[ns])} pods)' for ns in largest)}: "
        f"{total} ordered pairs")
    seed = args.seed + SEED_OFFSETS["same_namespace"]

    def flows() -> Iterator[Flow]:
        rng = random.Random(seed)
        for ns in largest:
            members = by_ns[ns]
            for src in members:
                for dst in members:
                    if dst is not src:
                        yield src, ip_of(dst), rng.choice(PORTS)

    # What an interactive caller pays first to turn "NS/POD" into a port (untimed above).
    rng = random.Random(seed)
    lookups = [rng.choice(pods).display_name for _ in range(NAME_LOOKUPS)]
    lookup = Samples()
    for name in lookups:
        start = time.perf_counter_ns()
        ctx.port_by_name(name)
        lookup.add(time.perf_counter_ns() - start)
    result = run_traces(ctx, flows, total, repeat=args.repeat, bidirectional=False,
                        outside=False, prof=prof,
                        per_source_group=lambda p: p.tag("ncp/project") or "")
    return {"pairs": total, **result, "name_lookup_us": lookup.percentile_us(50)}


RUNNERS: dict[str, Callable[[Any, list[Any], argparse.Namespace, Profiler], dict[str, Any]]] = {
    "pod_to_pod": case_pod_to_pod, "same_namespace": case_same_namespace,
    "to_outside": case_to_outside, "bidirectional": case_bidirectional,
}


def child(args: argparse.Namespace) -> int:
    """Run one case (or the preparing sync) in this fresh process; print a JSON result."""
    state = Path(args.state)
    if args.child == "prepare":
        print(json.dumps(prepare(Path(args.cluster_dir), state, Path(args.config))))
        return 0
    from sdn.traceflow import TraceContext

    inv, counts = load(state)
    log(f"  loaded the inventory in {counts['load_s']:.3f} s: {counts['groups']} groups, "
        f"{counts['security_policies']} security policies, {counts['rules']} rules")
    start = time.perf_counter()
    ctx = TraceContext.build(inv)
    build_s = time.perf_counter() - start
    log(f"  built the TraceContext (with the DFW compile) in {build_s:.3f} s")
    pods = pod_ports(inv)
    if len(pods) != args.pods:
        raise SystemExit(f"FAILED: {len(pods)} pod ports with an address, expected {args.pods}")
    prof = _Profiler(args.profile)
    result = RUNNERS[args.child](ctx, pods, args, prof)
    prof.report(args.child)
    log(f"  {args.child}: {result['traces']} traces, median {result['median_us']} us, "
        f"p99 {result['p99_us']} us")
    print(json.dumps({**result, "peak_rss_mib": peak_rss_mib(), "load_s": counts.pop("load_s"),
                      "context_build_s": round(build_s, 3), **counts}))
    return 0


# --------------------------------------------------------------------------- parent side


def spawn(args: argparse.Namespace, case: str, state: Path, *, pods: int,
          cluster_dir: Path | None = None) -> dict[str, Any] | None:
    """Run ``case`` in a fresh interpreter; its JSON result, or None when it failed."""
    cmd = ["--state", str(state), "--config", str(args.config), "--repeat", str(args.repeat),
           "--seed", str(args.seed), "--pods", str(pods)]
    if cluster_dir is not None:
        cmd += ["--cluster-dir", str(cluster_dir)]
    if args.profile:
        cmd.append("--profile")
    return run_child(__file__, case, cmd, log=log)


def build_cluster(args: argparse.Namespace, size: tuple[int, int, int],
                  work: Path) -> dict[str, Any] | None:
    """Generate, write and sync the cluster (untimed); the state and the sync's figures."""
    from topologies.generate import generate_cluster, write_cluster

    namespaces, pods, policies = size
    nodes = max(3, pods // 100)
    log(f"generating {namespaces} namespaces / {pods} pods / {policies} policies / {nodes} "
        f"nodes, seed {args.seed}")
    start = time.perf_counter()
    objects = generate_cluster(namespaces=namespaces, pods=pods, policies=policies,
                               nodes=nodes, seed=args.seed)
    write_cluster(objects, work / "cluster")
    del objects
    log(f"generated and written in {time.perf_counter() - start:.1f} s (untimed); syncing "
        "(untimed)")
    state = work / "state.db"
    prep = spawn(args, "prepare", state, pods=pods, cluster_dir=work / "cluster")
    if prep is None:
        return None
    log(f"synced in {prep['sync_s']:.1f} s, {prep['problems']} problem(s) "
        f"{prep['problem_codes']}")
    return {"state": state, "namespaces": namespaces, "pods": pods, "policies": policies,
            "nodes": nodes, **prep}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; on the parent side with the values :meth:`BenchParser.resolve`
    settles (cases as a list, sizes from ``--scale``)."""
    parser = BenchParser(
        "Time Traceflow (pod to pod, within namespaces, to outside addresses, "
        "bidirectional) on a generated cluster; one JSON line per case.",
        cases=CASES, child=True)
    parser.add_repeat(1, help="passes over each case's traces (the samples are already "
                              "many traces)")
    parser.add_sizes(DEFAULT_SIZE, large=LARGE_SIZE, at_least=(1, 2, 0))
    parser.add_config()
    parser.add_profile("print a cProfile of each case's timed calls on stderr")
    parser.add_keep()
    # Hidden: the per-case process.
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--cluster-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.child:
        parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.child:
        return child(args)

    size = (args.namespaces, args.pods, args.policies)
    cases = args.cases

    common = run_info()
    failed = False
    with workspace("bench-traceflow-", keep=args.keep, log=log) as work:
        log(f"working in {work}")
        cluster = build_cluster(args, size, work)
        if cluster is None:
            return 1
        for case in cases:
            log(f"case {case}: in a fresh process")
            result = spawn(args, case, cluster["state"], pods=cluster["pods"])
            if result is None:
                failed = True
                continue
            line: dict[str, Any] = {
                "bench": "traceflow", "case": case, "namespaces": cluster["namespaces"],
                "pods": cluster["pods"], "policies": cluster["policies"],
                "nodes": cluster["nodes"], "seed": args.seed, "repeat": args.repeat,
            }
            line.update(result)
            line.update({"sync_s": cluster["sync_s"], "sync_problems": cluster["problems"]})
            line.update(common)
            emit(line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
