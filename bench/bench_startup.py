"""Benchmark of the commands' fixed costs, end to end from the shell: start-up and
``--help`` (imports alone), and ``sdn show`` filtered to one namespace at scale. One JSON
line per case on stdout, progress on stderr.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_startup.py                          # this tree
    git worktree add /tmp/startup-before main              # once: the tree to compare with
    python bench/bench_startup.py --before /tmp/startup-before
    python bench/bench_startup.py --cases sdn_help,ncp_help --repeat 50
    python bench/bench_startup.py --state .sdn/state.db    # show cases on a synced state

Targets (issue 12): ``sdn --help`` and ``ncp --help`` at most 150 ms; ``sdn show KIND -n
NS`` and ``sdn show KIND --tag`` at 2,500 namespaces / 10,000 pods / 7,500 policies at
most 300 ms (p95).

Cases (each a whole command in a fresh interpreter, run as ``python -m sdn ...`` or
``python -m ncp ...`` runs it, timed from the start of the process to its exit):

* ``sdn_help``, ``ncp_help``: ``sdn --help``, ``ncp --help``;
* ``traceflow_help``, ``show_help``: ``sdn traceflow --help``, ``sdn show --help``;
* ``bad_argument``: ``sdn show no-such-kind`` (the one-line ``BAD_ARGUMENT`` error, exit 2);
* ``show_ports_table``, ``show_ports_json``: ``sdn show segment-ports -n NS`` as a table
  and ``-o json``, NS the first namespace (by name) with exactly one pod, so one row;
* ``show_groups_tag``: ``sdn show groups --tag ncp/project=NS``, NS the namespace with the
  most groups.

Method: the show cases need a synced state: ``--state`` names one, else a cluster is
generated with ``generate_cluster(namespaces=N, pods=P, policies=K, nodes=max(3, P //
100), seed=S)``, written as YAML and synced with ``ncp sync --config
bench/large-cluster.yaml`` into a temporary folder (not timed). Every case runs
``--repeat`` times (the show cases ``--show-repeat`` times) for this tree and, with
``--before PATH``, for the tree at PATH as well, alternately, so that both see the same
machine; each command's tree is first on its ``PYTHONPATH``. Each run's peak memory is
its own (``VmHWM``, read by the command's interpreter as it ends: Linux). Before timing,
each command runs once untimed (the file cache warm) and its output is compared between
the trees: a difference fails the case.

Each line: ``{"bench": "startup", "case", "argv", "repeat", "after": {"median_s", "p95_s",
"min_s", "peak_rss_mib", "exit"}, "before": {...} or null, "speedup": before median /
after median or null, "namespaces", "pods", "policies", "seed" (show cases), "machine",
"revision"}``. Exit status 0 when every case ran, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, BenchParser, emit, p95, run_info, workspace

HELP_CASES = ("sdn_help", "ncp_help", "traceflow_help", "show_help", "bad_argument")
SHOW_CASES = ("show_ports_table", "show_ports_json", "show_groups_tag")
#: Epoch seconds of the preparing sync (as bench_sync.py).
T0 = 1_700_000_000.0


def log(msg: str) -> None:
    print(f"[bench_startup {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def argv_of(case: str, state: Path | None, picks: dict[str, str]) -> list[str]:
    """The command line of one case (program first)."""
    fixed = {"sdn_help": ["sdn", "--help"], "ncp_help": ["ncp", "--help"],
             "traceflow_help": ["sdn", "traceflow", "--help"],
             "show_help": ["sdn", "show", "--help"],
             "bad_argument": ["sdn", "show", "no-such-kind"]}
    if case in fixed:
        return fixed[case]
    assert state is not None
    tail = ["--state", str(state)]
    if case == "show_ports_table":
        return ["sdn", "show", "segment-ports", "-n", picks["one_pod"], *tail]
    if case == "show_ports_json":
        return ["sdn", "show", "segment-ports", "-n", picks["one_pod"], "-o", "json", *tail]
    return ["sdn", "show", "groups", "--tag", f"ncp/project={picks['most_groups']}", *tail]


#: Runs ``python -m MODULE ARGS`` (as runpy does for ``-m``) and, whatever way it ends,
#: writes its peak resident memory (``VmHWM``, kB) to the descriptor ``$BENCH_HWM_FD``.
#: Measured from inside: a child's ``ru_maxrss`` starts from its parent's size when it is
#: spawned, which would hide a small command's own figure.
_LAUNCH = """
import os, runpy, sys
module, sys.argv = sys.argv[1], sys.argv[1:]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        hwm = next((ln.split()[1] for ln in status if ln.startswith("VmHWM")), "0")
    os.write(int(os.environ["BENCH_HWM_FD"]), hwm.encode())
"""


def run_once(argv: Sequence[str], tree: Path) -> tuple[float, float, int, bytes]:
    """One command in a fresh interpreter: (seconds, peak RSS MiB, exit code, output)."""
    read, write = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(tree), "BENCH_HWM_FD": str(write)}
    env.pop("NO_COLOR", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCH, *argv], env=env, cwd=tree,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          pass_fds=(write,), check=False)
    elapsed = time.perf_counter() - start
    os.close(write)
    with os.fdopen(read, "rb") as hwm:
        kib = int(hwm.read() or b"0")
    return elapsed, round(kib / 1024, 1), done.returncode, done.stdout


def summary(times: list[float], rss: list[float], code: int) -> dict[str, Any]:
    return {"median_s": round(statistics.median(times), 4), "p95_s": round(p95(times), 4),
            "min_s": round(min(times), 4), "peak_rss_mib": max(rss), "exit": code}


def measure(argv: list[str], trees: dict[str, Path], repeat: int) -> dict[str, Any] | None:
    """Every tree's figures for one command, runs alternating between the trees."""
    outputs = {name: run_once(argv, tree)[3] for name, tree in trees.items()}
    if len(set(outputs.values())) > 1:
        log(f"{' '.join(argv)}: the trees print different output; case failed")
        return None
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in trees}
    for _ in range(repeat):
        for name, tree in trees.items():
            elapsed, rss, code, _out = run_once(argv, tree)
            runs[name].append((elapsed, rss, code))
    return {name: summary([r[0] for r in rs], [r[1] for r in rs], rs[-1][2])
            for name, rs in runs.items()}


def prepare_state(args: argparse.Namespace, work: Path) -> Path:
    """A state of a generated cluster, synced by this tree's ``ncp sync`` (untimed)."""
    from topologies.generate import generate_cluster, write_cluster

    nodes = max(3, args.pods // 100)
    log(f"generating {args.namespaces} namespaces / {args.pods} pods / {args.policies} "
        f"policies / {nodes} nodes, seed {args.seed}, in {work}")
    write_cluster(generate_cluster(namespaces=args.namespaces, pods=args.pods,
                                   policies=args.policies, nodes=nodes, seed=args.seed),
                  work / "cluster")
    state = work / "state.db"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ncp", "sync", "--cluster", str(work / "cluster"),
                    "--config", str(args.config), "--state", str(state), "--now", repr(T0),
                    "-q"], env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                   stdout=subprocess.DEVNULL)
    log(f"synced in {time.perf_counter() - start:.1f} s (untimed)")
    return state


def pick_namespaces(state: Path) -> dict[str, str]:
    """The namespace with one pod (the first by name) and the one with the most groups."""
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        project = ("SELECT json_extract(t.value, '$.tag') AS ns, count(*) AS n FROM objects, "
                   "json_each(objects.body, '$.tags') AS t WHERE resource_type=? AND "
                   "json_extract(t.value, '$.scope')='ncp/project' GROUP BY ns ")
        one = db.execute(project + "HAVING n=1 ORDER BY ns LIMIT 1", ("SegmentPort",)).fetchone()
        most = db.execute(project + "ORDER BY n DESC, ns LIMIT 1", ("Group",)).fetchone()
    finally:
        db.close()
    if one is None or most is None:
        raise SystemExit("the state has no namespace with one pod, or no groups")
    return {"one_pod": one[0], "most_groups": most[0]}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchParser(__doc__.split("\n\n")[0] if __doc__ else "",
                         cases=(*HELP_CASES, *SHOW_CASES))
    parser.add_sizes((2500, 10000, 7500), at_least=(1, 1, 0))
    parser.add_repeat(20)
    parser.add_bounded("--show-repeat", 1, type=int, default=10,
                       help="timed runs per show case (10)")
    parser.add_config()
    parser.add_keep()
    parser.add_argument("--before", type=Path, default=None,
                        help="a checkout of the code to compare with (e.g. a git worktree "
                             "of main), run side by side in the same run")
    parser.add_argument("--state", type=Path, default=None,
                        help="a synced state for the show cases (default: generate one)")
    args = parser.parse_args(argv)
    parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    trees = {"after": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    failed = False
    with workspace("bench-startup-", keep=args.keep, log=log) as work:
        state, picks, sizes = None, {}, {}
        if any(c in SHOW_CASES for c in args.cases):
            state = args.state.resolve() if args.state else prepare_state(args, work)
            picks = pick_namespaces(state)
            sizes = {"namespaces": args.namespaces, "pods": args.pods,
                     "policies": args.policies, "seed": args.seed,
                     "state": str(args.state) if args.state else None, **picks}
            log(f"show cases on {state}: {picks}")
        where = run_info()
        for case in args.cases:
            show = case in SHOW_CASES
            argv_ = argv_of(case, state, picks)
            repeat = args.show_repeat if show else args.repeat
            log(f"case {case}: {' '.join(argv_)}, {repeat} run(s) per tree")
            figures = measure(argv_, trees, repeat)
            if figures is None:
                failed = True
                continue
            before = figures.get("before")
            emit({"bench": "startup", "case": case, "argv": argv_, "repeat": repeat,
                  "after": figures["after"], "before": before,
                  "speedup": round(before["median_s"] / figures["after"]["median_s"], 1)
                  if before else None, **(sizes if show else {}), **where})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
