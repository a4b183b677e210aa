"""Benchmark of the distributed firewall engine: one JSON line per case on stdout, progress on
stderr.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_dfw.py                    # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_dfw.py --repeat 1         # one timed run per case (~2.5 min, 2 cores)
    python bench/bench_dfw.py --scale large      # 25,000 / 100,000 / 75,000, repeat 1
    python bench/bench_dfw.py --cases compile,reach --repeat 5   # --scale full: see README
    python bench/bench_dfw.py --namespaces 250 --pods 1000 --policies 750 --profile

Targets (from the issue; speed is measured here, not asserted in unit tests):

* ``compile``: ``compile_dfw`` of 2,500 namespaces / 10,000 pods / 7,500 NetworkPolicies
  under 10 s (Antrea's controller benchmark at one tenth);
* ``reach``: the reach matrix of 1,000 pods and 500 NetworkPolicies on one port (TCP/80)
  under 2 s;
* ``explain``: no target; median and p99 of one ``evaluate_flow(..., explain=True)``;
* ``label_change``: group membership updated within 5 ms (p99) after one pod's labels
  change, at 10,000 pods.

Cases (each in a fresh interpreter, so its peak memory is its own):

* ``compile``: ``compile_dfw(inventory)``, timed ``--repeat`` times on one loaded inventory.
  ``store.inventory()`` is not timed; it is reported as ``load_s``.
* ``reach``: on its own cluster (100 namespaces / 1,000 pods / 500 policies at every
  scale), the DFW is compiled once (untimed) and ``reach_matrix(dfw, protocol="TCP",
  port=80, among=<the 1,000 pod endpoints>)`` is timed.
* ``explain``: on the compile case's cluster, ``evaluate_flow(dfw, src, dst, protocol="TCP",
  port=P, explain=True)`` is timed alone for each of 2,000 seeded random pairs of distinct
  pods (P drawn from the generator's policy ports 80, 443, 5432, 8080), once per repeat.
* ``label_change``: one pod port's ``app`` tag changes (``app: X`` becomes
  ``app: X-relabeled``), for pods chosen (seeded) among those in a group that selects on
  ``app``, so that every change moves the pod out of at least one group (checked). How the
  change reaches the compiled DFW depends on what the tree offers (``--label-method``):

  - ``incremental`` (the default when ``sdn.policy`` has ``MembershipUpdater.relabel``):
    ``MembershipUpdater(dfw, inv)`` is built once (untimed, ``updater_build_s``), then
    ``relabel(index, tags)`` is timed alone for 1,000 pods per repeat, each change undone
    (untimed) before the next; reported as ``median_us`` / ``p99_us``. The case fails
    unless undoing every change restores the DFW exactly and one change gives the same
    groups, signatures and applied-to sets as a full compile of the relabelled inventory
    (whose time is reported as ``full_recompile_s``).
  - ``full`` (the fallback without that API, or ``--label-method full``, or
    ``--cases label_change_full_recompile``): reported as ``label_change_full_recompile``;
    the relabelled inventory is built (untimed, ``inventory_update_s``) and the whole DFW
    compiled again (timed), once per repeat, each from the original inventory.

Method: each cluster is generated with ``generate_cluster(namespaces=N, pods=P,
policies=K, nodes=max(3, P // 100), seed=S)``, written as YAML and synced into a state by
``sync_cluster`` with ``bench/large-cluster.yaml`` in a separate process; none of that is
timed, but the sync's duration is reported as ``sync_s``. The case processes open that state
read-only. ``groups``, ``security_policies`` and ``rules`` count the NSX objects the sync
made (the inventory's groups, security policies and their rules).

Each line: ``{"bench": "dfw", "case", "namespaces", "pods", "policies", "nodes", "seed",
"repeat", "median_s", "p95_s"`` (``explain`` and incremental ``label_change``:
``"median_us", "p99_us"``; ``label_change_full_recompile`` also ``"p99_s"``),
``"peak_rss_mib"``, extra fields, ``"machine": {"cpus", "python"}, "revision"}``.
Percentiles are nearest-rank (with few repeats, the slowest run); ``revision`` is as in
``bench_sync.py``. ``--profile`` prints the top of a cProfile of each case's timed calls on
stderr (the timings are then inflated). Exit status: 0 when every case ran and kept its
invariants, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ("compile", "reach", "explain", "label_change")
#: The name ``label_change`` is reported under while it is measured as a full recompile.
LABEL_CHANGE_CASE = "label_change_full_recompile"
#: (namespaces, pods, policies) of the compile, explain and label_change cluster.
DEFAULT_SIZE = (2500, 10000, 7500)
LARGE_SIZE = FULL_SIZE = (25000, 100000, 75000)  # full: with realistic policy shapes
#: (namespaces, pods, policies) of the reach cluster, at every scale.
REACH_SIZE = (100, 1000, 500)
REACH_PROTOCOL, REACH_PORT = "TCP", 80
EXPLAIN_PAIRS = 2000
EXPLAIN_PORTS = (80, 443, 5432, 8080)  # topologies.generate.POLICY_PORTS
#: Offsets added to the seed for the explain pairs and the relabelled pods, so that these
#: choices do not mirror the generator's own draws.
EXPLAIN_SEED_OFFSET = 2000
RELABEL_SEED_OFFSET = 3000
RELABEL_SUFFIX = "-relabeled"
#: Relabels timed per repeat when the incremental API exists (enough for a p99).
LABEL_SAMPLES = 1000
#: Epoch seconds of the preparing sync.
T0 = 1_700_000_000.0


sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BenchParser,
    emit,
    peak_rss_mib,
    percentile,
    run_child,
    run_info,
    workspace,
)


def log(msg: str) -> None:
    print(f"[bench_dfw {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- helpers


class Profiler:
    """cProfile around the timed calls when ``--profile`` is given; a no-op otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.prof: Any = None
        if enabled:
            import cProfile

            self.prof = cProfile.Profile()

    def __enter__(self) -> Profiler:
        if self.prof is not None:
            self.prof.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.prof is not None:
            self.prof.disable()

    def report(self, case: str) -> None:
        if self.prof is None:
            return
        import pstats

        log(f"cProfile of the timed calls of {case} (cumulative, top 20):")
        pstats.Stats(self.prof, stream=sys.stderr).sort_stats("cumulative").print_stats(20)


# --------------------------------------------------------------------------- child side


def prepare(cluster: Path, state: Path, config_path: Path) -> dict[str, Any]:
    """Sync the generated cluster into a new state (untimed by the cases)."""
    from ncp.config import load_config
    from ncp.reconcile.sync import sync_cluster
    from sdn.store import Store

    config = load_config(config_path)
    start = time.perf_counter()
    with Store.open(state) as store:
        report = sync_cluster(store, paths=[cluster], config=config, now=T0)
    elapsed = time.perf_counter() - start
    if not report.created:
        raise SystemExit("FAILED: the preparing sync created nothing")
    return {"sync_s": round(elapsed, 3), "problems": len(report.problems),
            "problem_codes": sorted({p.code for p in report.problems}),
            "pods_realized": report.pods}


def load(state: Path) -> tuple[Any, dict[str, Any]]:
    """The state's inventory (timed separately as ``load_s``) and its DFW object counts."""
    from sdn.model import Group, SecurityPolicy
    from sdn.store import Store

    start = time.perf_counter()
    with Store.open_readonly(state) as store:
        inv = store.inventory()
    load_s = time.perf_counter() - start
    policies = inv.of_type(SecurityPolicy)
    return inv, {"load_s": round(load_s, 3), "groups": len(inv.of_type(Group)),
                 "security_policies": len(policies),
                 "rules": sum(len(p.rules) for p in policies)}


def pod_indexes(inv: Any, dfw: Any) -> list[int]:
    """Endpoints that are pod ports (tagged ``ncp/pod``), in endpoint order."""
    from sdn.model import SegmentPort

    pods = {p.path for p in inv.of_type(SegmentPort) if p.tag("ncp/pod")}
    return [i for i, ep in enumerate(dfw.endpoints) if ep.path in pods]


def compile_once(inv: Any) -> tuple[Any, float]:
    """The DFW compiled once (untimed by the case) and how long that took."""
    from sdn.policy import compile_dfw

    start = time.perf_counter()
    dfw = compile_dfw(inv)
    return dfw, time.perf_counter() - start


def case_compile(inv: Any, counts: dict[str, Any], args: argparse.Namespace,
                 prof: Profiler) -> dict[str, Any]:
    from sdn.policy import compile_dfw

    times: list[float] = []
    dfw = None
    for i in range(args.repeat):
        dfw = None  # drop the previous result first: peak memory holds one DFW, not two
        with prof:
            start = time.perf_counter()
            dfw = compile_dfw(inv)
            elapsed = time.perf_counter() - start
        times.append(elapsed)
        log(f"  compile repeat {i + 1}/{args.repeat}: {elapsed:.3f} s")
    assert dfw is not None
    if len(dfw.rules) != counts["rules"]:
        raise SystemExit(f"FAILED: compile: {len(dfw.rules)} compiled rules, "
                         f"{counts['rules']} in the inventory")
    return {"times": times, "endpoints": len(dfw.endpoints),
            "compiled_groups": len(dfw.groups),
            "signature_classes": len(set(dfw.classes))}


def case_reach(inv: Any, counts: dict[str, Any], args: argparse.Namespace,
               prof: Profiler) -> dict[str, Any]:
    from sdn.policy import reach_matrix

    dfw, compile_s = compile_once(inv)
    log(f"  compiled once (untimed) in {compile_s:.3f} s")
    among = pod_indexes(inv, dfw)
    if len(among) != args.pods:
        raise SystemExit(f"FAILED: reach: {len(among)} pod endpoints, expected {args.pods}")
    times: list[float] = []
    pairs: set[tuple[int, int]] = set()
    for i in range(args.repeat):
        pairs = set()
        with prof:
            start = time.perf_counter()
            pairs = reach_matrix(dfw, protocol=REACH_PROTOCOL, port=REACH_PORT, among=among)
            elapsed = time.perf_counter() - start
        times.append(elapsed)
        log(f"  reach repeat {i + 1}/{args.repeat}: {elapsed:.3f} s, {len(pairs)} pairs allowed")
    n = len(among)
    return {"times": times, "protocol": REACH_PROTOCOL, "port": REACH_PORT, "among": n,
            "pairs_allowed": len(pairs), "pairs_total": n * (n - 1),
            "signature_classes": len({dfw.classes[i] for i in among}),
            "compile_s": round(compile_s, 3)}


def case_explain(inv: Any, counts: dict[str, Any], args: argparse.Namespace,
                 prof: Profiler) -> dict[str, Any]:
    from sdn.policy import evaluate_flow

    dfw, compile_s = compile_once(inv)
    log(f"  compiled once (untimed) in {compile_s:.3f} s")
    pods = pod_indexes(inv, dfw)
    if len(pods) < 2:
        raise SystemExit("FAILED: explain: fewer than two pods")
    rng = random.Random(args.seed + EXPLAIN_SEED_OFFSET)
    flows = []
    for _ in range(EXPLAIN_PAIRS):
        s, d = rng.sample(pods, 2)
        flows.append((dfw.endpoints[s], dfw.endpoints[d], rng.choice(EXPLAIN_PORTS)))
    samples: list[float] = []
    allowed = considered = 0
    clock = time.perf_counter_ns
    for i in range(args.repeat):
        allowed = considered = 0
        with prof:
            for src, dst, port in flows:
                start = clock()
                v = evaluate_flow(dfw, src, dst, protocol="TCP", port=port, explain=True)
                samples.append((clock() - start) / 1000)
                allowed += v.allowed
                considered += sum(len(d.trail) for d in (v.egress, v.ingress) if d is not None)
        log(f"  explain repeat {i + 1}/{args.repeat}: {len(flows)} flows, {allowed} allowed")
    if not considered:
        raise SystemExit("FAILED: explain: no trail considered any rule")
    return {"samples_us": samples, "pairs": len(flows), "samples": len(samples),
            "flows_allowed": allowed, "mean_rules_considered": round(considered / len(flows), 1),
            "compile_s": round(compile_s, 3)}


def _app_groups(inv: Any) -> set[str]:
    """Paths of the groups with a ``SegmentPort`` condition on the ``app`` tag."""
    from sdn.model import Condition, Group, NestedExpression

    def selects_app(items: Sequence[object]) -> bool:
        for item in items:
            if (isinstance(item, Condition) and item.member_type == "SegmentPort"
                    and item.scope == "app"):
                return True
            if isinstance(item, NestedExpression) and selects_app(item.expressions):
                return True
        return False

    return {g.path for g in inv.of_type(Group) if selects_app(g.expression)}


def incremental_api() -> Any:
    """``sdn.policy.MembershipUpdater`` when the tree has it (with ``relabel``), else None."""
    import sdn.policy

    updater = getattr(sdn.policy, "MembershipUpdater", None)
    return updater if updater is not None and hasattr(updater, "relabel") else None


def relabeled(inv: Any, path: str) -> tuple[Any, Any]:
    """A copy of ``inv`` in which the port at ``path`` has ``app: X`` -> ``app: X-relabeled``,
    and that new port."""
    from sdn.model import Inventory, SegmentPort, Tag

    port = inv[path]
    assert isinstance(port, SegmentPort)
    tags = tuple(Tag(scope=t.scope, tag=t.tag + RELABEL_SUFFIX) if t.scope == "app" else t
                 for t in port.tags)
    new_port = port.model_copy(update={"tags": tags})
    changed = Inventory((new_port if o.path == path else o for o in inv.values()),
                        revision=inv.revision + 1)
    return changed, new_port


def membership(dfw: Any) -> tuple[dict[str, frozenset[int]], list[frozenset[str]],
                                  list[frozenset[int] | None]]:
    """What a label change may alter: group members, signatures, rules' applied-to sets."""
    return ({p: frozenset(g.endpoints) for p, g in dfw.groups.items()}, list(dfw.signatures),
            [None if r.applied_to is None else frozenset(r.applied_to) for r in dfw.rules])


def case_label_change(inv: Any, counts: dict[str, Any], args: argparse.Namespace,
                      prof: Profiler) -> dict[str, Any]:
    from sdn.policy import compile_dfw

    base, compile_s = compile_once(inv)
    log(f"  compiled once (untimed) in {compile_s:.3f} s")
    app_groups = _app_groups(inv)
    candidates = [i for i in pod_indexes(inv, base) if base.signatures[i] & app_groups]
    updater_cls = incremental_api() if args.label_method != "full" else None
    if args.label_method == "incremental" and updater_cls is None:
        raise SystemExit("FAILED: label_change: --label-method incremental, but sdn.policy "
                         "has no MembershipUpdater.relabel")
    wanted = args.repeat * (LABEL_SAMPLES if updater_cls is not None else 1)
    if not candidates:
        raise SystemExit("FAILED: label_change: no pod is selected by an app label")
    rng = random.Random(args.seed + RELABEL_SEED_OFFSET)
    chosen = (rng.sample(candidates, wanted) if wanted <= len(candidates)
              else [rng.choice(candidates) for _ in range(wanted)])
    if updater_cls is not None:
        return _label_change_incremental(inv, base, updater_cls, chosen, compile_s, args,
                                         prof, len(candidates))

    times: list[float] = []
    updates: list[float] = []
    changed: list[int] = []
    for n, index in enumerate(chosen):
        path = base.endpoints[index].path
        start = time.perf_counter()
        changed_inv, _ = relabeled(inv, path)
        updates.append(time.perf_counter() - start)
        dfw = None
        with prof:
            start = time.perf_counter()
            dfw = compile_dfw(changed_inv)
            elapsed = time.perf_counter() - start
        times.append(elapsed)
        if dfw.endpoints[index].path != path:
            raise SystemExit("FAILED: label_change: endpoint order changed")
        diff = len(dfw.signatures[index] ^ base.signatures[index])
        if not diff:
            raise SystemExit(f"FAILED: label_change: relabelling {path} changed no group")
        changed.append(diff)
        log(f"  label_change repeat {n + 1}/{args.repeat}: {elapsed:.3f} s, pod in/out of "
            f"{diff} group(s)")
        del changed_inv, dfw
    return {"times": times, "method": "full_recompile",
            "inventory_update_s": round(statistics.median(updates), 4),
            "groups_changed": changed, "candidates": len(candidates),
            "compile_s": round(compile_s, 3)}


def _label_change_incremental(inv: Any, dfw: Any, updater_cls: Any, chosen: list[int],
                              compile_s: float, args: argparse.Namespace, prof: Profiler,
                              candidates: int) -> dict[str, Any]:
    """Time ``MembershipUpdater.relabel`` (each change undone, untimed, before the next),
    then check one change against a full recompile of the relabelled inventory."""
    from sdn.policy import compile_dfw

    before = membership(dfw)
    start = time.perf_counter()
    updater = updater_cls(dfw, inv)
    build_s = time.perf_counter() - start
    log(f"  built the MembershipUpdater (untimed) in {build_s:.3f} s")
    tags = {i: [(t.scope, t.tag) for t in inv[dfw.endpoints[i].path].tags] for i in chosen}
    new_tags = {i: [(s, v + RELABEL_SUFFIX if s == "app" else v) for s, v in tags[i]]
                for i in chosen}
    samples: list[float] = []
    moved: list[int] = []
    clock = time.perf_counter_ns
    for index in chosen:
        with prof:
            start = clock()
            changed = updater.relabel(index, new_tags[index])
            samples.append((clock() - start) / 1000)
        moved.append(len(changed))
        updater.relabel(index, tags[index])  # undo, untimed
    log(f"  label_change: {len(samples)} relabels, median {statistics.median(samples):.1f} us")
    if not all(moved):
        raise SystemExit(f"FAILED: label_change: {moved.count(0)} relabel(s) changed no group")
    if membership(dfw) != before:
        raise SystemExit("FAILED: label_change: undoing every relabel did not restore the DFW")
    # The invariant: the incremental result equals a full compile of the changed inventory.
    index = chosen[0]
    updater.relabel(index, new_tags[index])
    changed_inv, _ = relabeled(inv, dfw.endpoints[index].path)
    start = time.perf_counter()
    full = compile_dfw(changed_inv)
    full_s = time.perf_counter() - start
    if membership(full) != membership(dfw):
        raise SystemExit(f"FAILED: label_change: relabel of {dfw.endpoints[index].path} "
                         "differs from a full recompile")
    log(f"  checked against a full recompile ({full_s:.3f} s): identical")
    return {"samples_us": samples, "method": "incremental", "relabels": len(samples),
            "groups_changed_median": statistics.median(moved), "candidates": candidates,
            "updater_build_s": round(build_s, 3), "full_recompile_s": round(full_s, 3),
            "compile_s": round(compile_s, 3)}


RUNNERS: dict[str, Callable[[Any, dict[str, Any], argparse.Namespace, Profiler],
                            dict[str, Any]]] = {
    "compile": case_compile, "reach": case_reach, "explain": case_explain,
    "label_change": case_label_change,
}


def child(args: argparse.Namespace) -> int:
    """Run one case (or the preparing sync) in this fresh process; print a JSON result."""
    state = Path(args.state)
    if args.child == "prepare":
        print(json.dumps(prepare(Path(args.cluster_dir), state, Path(args.config))))
        return 0
    inv, counts = load(state)
    log(f"  loaded the inventory in {counts['load_s']:.3f} s: {counts['groups']} groups, "
        f"{counts['security_policies']} security policies, {counts['rules']} rules")
    prof = Profiler(args.profile)
    result = RUNNERS[args.child](inv, counts, args, prof)
    prof.report(args.child)
    print(json.dumps({**counts, **result, "peak_rss_mib": peak_rss_mib()}))
    return 0


# --------------------------------------------------------------------------- parent side


def spawn(args: argparse.Namespace, case: str, state: Path, *, pods: int,
          cluster_dir: Path | None = None, repeat: int = 1) -> dict[str, Any] | None:
    """Run ``case`` in a fresh interpreter; its JSON result, or None when it failed."""
    cmd = ["--state", str(state), "--config", str(args.config), "--repeat", str(repeat),
           "--seed", str(args.seed), "--pods", str(pods)]
    if cluster_dir is not None:
        cmd += ["--cluster-dir", str(cluster_dir)]
    if args.profile:
        cmd.append("--profile")
    cmd += ["--label-method", args.label_method]
    return run_child(__file__, case, cmd, log=log)


def build_cluster(args: argparse.Namespace, name: str, size: tuple[int, int, int],
                  work: Path) -> dict[str, Any] | None:
    """Generate, write and sync one cluster (untimed); the state and the sync's figures."""
    from topologies.generate import generate_cluster, write_cluster

    namespaces, pods, policies = size
    nodes = max(3, pods // 100)
    shapes = args.shapes if name != "reach" else "simple"
    log(f"cluster {name}: generating {namespaces} namespaces / {pods} pods / {policies} "
        f"policies ({shapes}) / {nodes} nodes, seed {args.seed}")
    start = time.perf_counter()
    objects = generate_cluster(namespaces=namespaces, pods=pods, policies=policies,
                               nodes=nodes, seed=args.seed, shapes=shapes)
    write_cluster(objects, work / name)
    del objects
    log(f"cluster {name}: generated and written in {time.perf_counter() - start:.1f} s "
        "(untimed); syncing (untimed)")
    state = work / f"{name}.db"
    prep = spawn(args, "prepare", state, pods=pods, cluster_dir=work / name)
    if prep is None:
        return None
    log(f"cluster {name}: synced in {prep['sync_s']:.1f} s, {prep['problems']} problem(s) "
        f"{prep['problem_codes']}")
    return {"state": state, "namespaces": namespaces, "pods": pods, "policies": policies,
            "nodes": nodes, "shapes": shapes, **prep}


def result_line(case: str, cluster: dict[str, Any], result: dict[str, Any], seed: int,
                repeat: int, common: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {
        "bench": "dfw", "case": case,
        "namespaces": cluster["namespaces"], "pods": cluster["pods"],
        "policies": cluster["policies"], "shapes": cluster["shapes"],
        "nodes": cluster["nodes"], "seed": seed,
        "repeat": repeat,
    }
    if case == "label_change" and result["method"] == "full_recompile":
        line["case"] = LABEL_CHANGE_CASE
    if "samples_us" in result:
        samples = result.pop("samples_us")
        line["median_us"] = round(statistics.median(samples), 1)
        line["p99_us"] = round(percentile(samples, 99), 1)
    else:
        times = result.pop("times")
        line["median_s"] = round(statistics.median(times), 4)
        line["p95_s"] = round(percentile(times, 95), 4)
        if case == "label_change":
            line["p99_s"] = round(percentile(times, 99), 4)
    line["peak_rss_mib"] = result.pop("peak_rss_mib")
    line["sync_s"] = cluster["sync_s"]
    line["sync_problems"] = cluster["problems"]
    line.update(result)
    line.update(common)
    return line


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; on the parent side with the values :meth:`BenchParser.resolve`
    settles (cases as a list, sizes and repeats from ``--scale``)."""
    parser = BenchParser(
        "Time the distributed firewall (compile, reach, explain, a label change) on "
        "generated clusters; one JSON line per case.",
        cases=CASES, more_cases=(LABEL_CHANGE_CASE,), child=True)
    parser.add_repeat(3, large=1)
    parser.add_sizes(DEFAULT_SIZE, large=LARGE_SIZE, full=FULL_SIZE, at_least=(1, 2, 0),
                     what="the compile cluster's")
    parser.add_shapes()
    parser.add_config()
    parser.add_argument("--label-method", choices=["auto", "incremental", "full"],
                        default="auto",
                        help="label_change: MembershipUpdater.relabel when sdn.policy has it "
                             "(auto), always it, or a full compile_dfw")
    parser.add_profile("print a cProfile of each case's timed calls on stderr")
    parser.add_keep()
    # Hidden: the per-case process.
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--cluster-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return args
    parser.resolve(args)
    if LABEL_CHANGE_CASE in args.cases:  # the full-recompile measurement, asked for by name
        args.label_method = "full"
        args.cases = ["label_change" if c == LABEL_CHANGE_CASE else c for c in args.cases]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.child:
        return child(args)

    size = (args.namespaces, args.pods, args.policies)
    repeat, cases = args.repeat, args.cases

    common = run_info()
    clusters: dict[str, dict[str, Any] | None] = {}
    failed = False
    with workspace("bench-dfw-", keep=args.keep, log=log) as work:
        log(f"working in {work}")
        for case in cases:
            name = "reach" if case == "reach" else "main"
            if name not in clusters:
                clusters[name] = build_cluster(
                    args, name, REACH_SIZE if name == "reach" else size, work)
            cluster = clusters[name]
            if cluster is None:
                failed = True
                continue
            log(f"case {case}: {repeat} timed run(s) in a fresh process")
            result = spawn(args, case, cluster["state"], pods=cluster["pods"], repeat=repeat)
            if result is None:
                failed = True
                continue
            emit(result_line(case, cluster, result, args.seed, repeat, common))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
