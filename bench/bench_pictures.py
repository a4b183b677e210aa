"""Benchmark the whole-cluster picture: ``sdn topology -o text|dot|svg`` end to end.

Usage::

    python bench/bench_pictures.py                        # 2,500 namespaces / 10,000 pods
    python bench/bench_pictures.py --before /tmp/pics-before   # and main's copy, side by side
    python bench/bench_pictures.py --namespaces 200 --pods 800 --cases text,dot --repeat 5

Method: the cluster is ``generate_cluster(namespaces=N, pods=P, seed=S,
nodes=max(3, P // 100))``, written as YAML and synced with ``sync_cluster`` and
``bench/large-cluster.yaml`` (untimed, ``sync_s``). A timed run is the whole command in a
fresh interpreter, ``python -m sdn topology -o FORMAT --out FILE --state STATE`` (imports,
the state's load, the graph, the picture, Graphviz for ``svg``), with this tree first on
``PYTHONPATH``; with ``--before DIR`` the same command with ``DIR`` (a checkout of another
revision, e.g. ``git worktree add --detach /tmp/pics-before main``) instead, each of its
runs right after one of this tree's, so both see the same machine. One JSON line per case
and tree; exit 1 when a run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    ROOT,
    BenchParser,
    emit,
    p95,
    run_info,
    source_revision,
)

CASES = ("text", "dot", "svg")
#: The issue's target for the whole-cluster picture, end to end.
TARGET_S = 5.0
T0 = 1_700_000_000.0


def log(msg: str) -> None:
    print(f"[bench_pictures] {msg}", file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Generate, write and sync the cluster (untimed)."""
    from ncp.config import load_config
    from ncp.reconcile.sync import sync_cluster
    from sdn.store import Store
    from topologies.generate import generate_cluster, write_cluster

    nodes = max(3, args.pods // 100)
    log(f"generating {args.namespaces} namespaces / {args.pods} pods / {nodes} nodes, "
        f"seed {args.seed}")
    write_cluster(generate_cluster(namespaces=args.namespaces, pods=args.pods, seed=args.seed,
                                   nodes=nodes), work / "cluster")
    state = work / "state.db"
    start = time.perf_counter()
    with Store.open(state) as store:
        report = sync_cluster(store, paths=[work / "cluster"], config=load_config(args.config),
                              now=T0)
    sync_s = time.perf_counter() - start
    log(f"synced in {sync_s:.1f} s (untimed), {len(report.problems)} problem(s)")
    return {"state": state, "nodes": nodes, "sync_s": round(sync_s, 3),
            "sync_problems": len(report.problems)}


def run_once(tree: Path, fmt: str, state: Path, out: Path,
             extra: Sequence[str]) -> tuple[float, float] | None:
    """One timed ``sdn topology``: its seconds and peak memory (MiB), or None when it
    failed. In-process (``SDN_DAEMON=off``): this measures drawing, not a daemon."""
    env = {**os.environ, "PYTHONPATH": str(tree), "SDN_DAEMON": "off"}
    cmd = [sys.executable, "-m", "sdn", "topology", "-o", fmt, "--out", str(out),
           "--state", str(state), *extra]
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        # cwd: ``python -m`` puts the working folder before PYTHONPATH on sys.path
        proc = subprocess.Popen(cmd, env=env, cwd=tree, stdout=subprocess.DEVNULL,
                                stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            log(f"{tree}: {' '.join(cmd[3:])} failed (exit {proc.returncode}): "
                f"{err.read()[-500:]}")
            return None
    return elapsed, round(usage.ru_maxrss / 1024, 1)


def picture_facts(fmt: str, path: Path) -> dict[str, Any]:
    """What the picture holds: bytes, lines, nodes (DOT), the drawing's size (SVG)."""
    text = path.read_text()
    facts: dict[str, Any] = {"bytes": len(text.encode()), "lines": text.count("\n"),
                             "collapsed": re.search(r"tier(-|&#45;)1s collapsed", text) is not None}
    if fmt == "dot":
        facts["picture_nodes"] = len(re.findall(r"^\s+\"[^\"]+\" \[", text, flags=re.M))
    if fmt == "svg":
        size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', text)
        if size:
            facts["width_pt"], facts["height_pt"] = float(size[1]), float(size[2])
        facts["picture_nodes"] = text.count('class="node"')
    return facts


def breakdown(state: Path) -> dict[str, dict[str, float]]:
    """Where this tree's time goes, in this process (imports excluded): the state's load,
    the graph, each picture, Graphviz's layout of the DOT. Per format, seconds."""
    import shutil

    from sdn.graph import graph_for
    from sdn.render.pictures import topology_dot, topology_tree
    from sdn.store import Store

    start = time.perf_counter()
    with Store.open_readonly(state) as store:
        inv = store.inventory()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    graph_for(inv)
    graph_s = time.perf_counter() - start
    start = time.perf_counter()
    topology_tree(inv)
    text_s = time.perf_counter() - start
    start = time.perf_counter()
    dot = topology_dot(inv)
    dot_s = time.perf_counter() - start
    start = time.perf_counter()
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
    layout_s = time.perf_counter() - start
    base = {"load_s": round(load_s, 3), "graph_s": round(graph_s, 3)}
    return {"text": {**base, "draw_s": round(text_s, 3)},
            "dot": {**base, "draw_s": round(dot_s, 3)},
            "svg": {**base, "draw_s": round(dot_s, 3), "graphviz_s": round(layout_s, 3)}}


def line(tree: str, case: str, args: argparse.Namespace, prep: dict[str, Any],
         times: list[float], facts: dict[str, Any], revision: str) -> dict[str, Any]:
    median = statistics.median(times)
    return {"bench": "pictures", "case": case, "tree": tree, "namespaces": args.namespaces,
            "pods": args.pods, "nodes": prep["nodes"], "seed": args.seed,
            "repeat": len(times), "median_s": round(median, 3), "p95_s": round(p95(times), 3),
            "min_s": round(min(times), 3), "target_met": median <= TARGET_S,
            "collapse": args.collapse, **facts, "sync_s": prep["sync_s"],
            "sync_problems": prep["sync_problems"], **run_info(), "revision": revision}


def bench_case(args: argparse.Namespace, case: str, prep: dict[str, Any], work: Path,
               trees: dict[str, Path]) -> bool:
    """Time ``case`` in every tree, interleaved; emit a line per tree. False on a failure."""
    times: dict[str, list[float]] = {name: [] for name in trees}
    rss: dict[str, float] = dict.fromkeys(trees, 0.0)
    extra = ["--collapse", args.collapse] if args.collapse != "default" else []
    for i in range(max(args.repeat, args.before_repeat if "before" in trees else 0)):
        for name, tree in trees.items():
            if i >= (args.repeat if name == "after" else args.before_repeat):
                continue
            flags = extra if name == "after" else []
            run = run_once(tree, case, prep["state"], work / f"{name}.{case}", flags)
            if run is None:
                return False
            log(f"{case} {name} run {i + 1}: {run[0]:.2f} s, {run[1]} MiB")
            times[name].append(run[0])
            rss[name] = max(rss[name], run[1])
    for name, tree in trees.items():
        facts = {"peak_rss_mib": rss[name], **picture_facts(case, work / f"{name}.{case}")}
        if name == "after" and args.collapse == "default":
            if "breakdown" not in prep:
                prep["breakdown"] = breakdown(prep["state"])
            facts["in_process"] = prep["breakdown"][case]
        emit(line(name, case, args, prep, times[name], facts, source_revision(tree)))
    return True


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchParser("Time the whole-cluster `sdn topology` (text, dot, svg) end to end; "
                         "one JSON line per case and tree.", cases=CASES)
    parser.add_sizes((2500, 10000))
    parser.add_repeat(3)
    parser.add_config()
    parser.add_keep()
    parser.add_argument("--before", type=Path,
                        help="another checkout (e.g. main's) to time the same commands with")
    parser.add_bounded("--before-repeat", 1, type=int, default=1,
                       help="timed runs per case in --before (1: main's svg takes a minute)")
    parser.add_argument("--collapse", choices=["default", "auto", "all", "none"],
                        default="default",
                        help="pass --collapse to this tree's command (default: not passed)")
    args = parser.parse_args(argv)
    parser.resolve(args)
    if args.before is not None and not (args.before / "sdn").is_dir():
        parser.error(f"--before {args.before}: no sdn/ there")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    trees = {"after": ROOT}
    if args.before is not None:
        trees["before"] = args.before.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-pictures-") as tmp:
        work = Path(tmp)
        prep = prepare(args, work)
        failed = [case for case in args.cases if not bench_case(args, case, prep, work, trees)]
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="bench-pictures-kept-"))
            subprocess.run(["cp", "-r", f"{work}/.", str(kept)], check=False)
            log(f"kept {kept}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
