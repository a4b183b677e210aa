"""Benchmark of the question commands end to end: one JSON line per case on stdout.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_questions.py                    # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_questions.py --before /tmp/before # an older tree, side by side
    python bench/bench_questions.py --namespaces 250 --pods 1000 --policies 750 --repeat 5
    python bench/bench_questions.py --scale full --cases traceflow,reach_small  # 100,000 pods
    python bench/bench_questions.py --repeat 20 --daemon   # also through ``sdn daemon``
    python bench/bench_questions.py --auto     # also as by default (a daemon left behind)

Goals (issue 12; measured here, never asserted in tests), at 2,500 namespaces / 10,000
pods / 7,500 policies: the first call after a sync at most 2 s, every later call at most
300 ms (p95 of 20), a single-flow question (traceflow, explain, path) under 300 MiB peak.

Cases (each a whole ``python -m sdn ...`` subprocess: start-up, imports, loading,
answering and printing, stdout thrown away):

* ``traceflow``, ``explain``, ``path``: pod to pod (a pod of the smallest namespace to a
  pod of the medium one, TCP 8080);
* ``reach_small``, ``reach_medium``, ``reach_large``: ``reach -n NS`` on the namespace with
  the fewest pods, the one nearest 31 pods and the one with the most;
* ``show_ports_table``, ``show_ports_json``: ``show segment-ports -n NS`` (medium);
* ``show_groups_tag``: ``show groups --tag ncp/project=NS`` (medium);
* ``topology_ns``: ``topology -n NS`` (medium); ``ipam``; ``validate``; ``lint``.
* ``policies_pod``: ``policies --pod NS/POD`` (the pod of the medium namespace the flow
  cases ask about); ``show_groups_member``: ``show groups --member`` of that pod;
  ``show_groups_members``: ``show groups --id ID --members`` of a group of the medium
  namespace (the first NetworkPolicy group of it, by path).

Scales: ``--scale full`` is 25,000 namespaces / 100,000 pods / 75,000 policies of
realistic shapes (``--shapes realistic``, as ``bench_sync.py --scale full``), 3 later calls
per case; ``--scale large`` the same sizes with the simple shapes.

Method: the cluster is generated with ``generate_cluster(namespaces=N, pods=P,
policies=K, nodes=max(3, P // 100), seed=S, shapes=SHAPES)``, written as YAML and synced once with
``ncp sync --config bench/large-cluster.yaml`` (untimed). Each case then starts from a
fresh copy of the synced state with the query index that sync saved beside it (as right
after ``ncp sync``; a ``--before`` tree's copy has none, as its sync saved none), times
the first call, then ``--repeat`` later calls. With ``--before TREE`` every
case also runs with ``PYTHONPATH=TREE`` (``--before-repeat`` later calls: without an index
every call costs the same), so before and after come from one run on one machine; each
"after" line then says whether its output was byte-identical to the "before" one.

The plain run answers every call in-process (``SDN_DAEMON=off``). With ``--daemon`` every
case is also run through ``sdn daemon`` (``"daemon": "started"``: started on another fresh
copy, timed apart as ``daemon_start_s``; every call must be answered by it), side by side
with the plain run; ``daemon_rss_mib`` is the daemon's memory at the end and
``same_output_as_in_process`` compares its output with the plain run's. With ``--auto``
every case is also run as a user's calls run by default (``"daemon": "auto"``,
``SDN_DAEMON=auto``: the first call answers in-process and leaves a daemon behind, later
calls go to it once it listens; ``answered_by_daemon`` counts those that did).

Each line: ``{"bench": "questions", "case", "tree" ("after" or "before"), "daemon"
("none", "started" or "auto"), "command", "namespaces", "pods", "policies", "shapes",
"seed", "repeat", "first_s", "median_s", "p95_s", "min_s", "first_rss_mib",
"peak_rss_mib" (of the later calls' children), "exit", "same_output_as_before",
("daemon_start_s", "daemon_rss_mib", "same_output_as_in_process" with a started daemon;
"answered_by_daemon" and "same_output_as_in_process" with auto), "machine",
"revision"}``. Exit status 1 when a command failed or its outputs differed between calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, BenchParser, emit, p95, run_info, source_revision, workspace

#: ``--scale large`` and ``full``: Antrea's controller-benchmark size (``full`` with the
#: realistic policy shapes, as ``bench_sync.py --scale full``).
FULL_SIZE = (25000, 100000, 75000)

CASES = ("traceflow", "traceflow_outside", "explain", "path", "reach_small", "reach_medium",
         "reach_large", "show_ports_table", "show_ports_json", "show_groups_tag",
         "topology_ns", "ipam", "validate", "lint", "policies_pod", "show_groups_member",
         "show_groups_members")


def log(msg: str) -> None:
    print(f"[bench_questions {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def commands(picks: dict[str, str]) -> dict[str, list[str]]:
    """Each case's ``sdn`` arguments (after ``--state``)."""
    flow = ["--src", picks["src"], "--dst", picks["dst"], "--protocol", "TCP",
            "--dport", "8080"]
    medium = picks["medium"]
    return {
        "traceflow": ["traceflow", *flow],
        "traceflow_outside": ["traceflow", "--src", picks["src"], "--dst", "192.0.2.7",
                              "--protocol", "TCP", "--dport", "443"],
        "explain": ["explain", *flow],
        "path": ["path", *flow],
        "reach_small": ["reach", "-n", picks["small"], "--port", "8080"],
        "reach_medium": ["reach", "-n", medium, "--port", "8080"],
        "reach_large": ["reach", "-n", picks["large"], "--port", "8080"],
        "show_ports_table": ["show", "segment-ports", "-n", medium],
        "show_ports_json": ["show", "segment-ports", "-n", medium, "-o", "json"],
        "show_groups_tag": ["show", "groups", "--tag", f"ncp/project={medium}"],
        "topology_ns": ["topology", "-n", medium],
        "ipam": ["ipam"],
        "validate": ["validate"],
        "lint": ["lint", "--fail-on", "never"],
        "policies_pod": ["policies", "--pod", picks["dst"]],
        "show_groups_member": ["show", "groups", "--member", picks["dst"]],
        "show_groups_members": ["show", "groups", "--id", picks["group"], "--members"],
    }


def pick(state: Path) -> dict[str, str]:
    """The namespaces and pods the cases ask about, read from the synced state."""
    db = sqlite3.connect(f"{state.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT json_extract(body, '$.tags') FROM objects WHERE resource_type='SegmentPort'"
        ).fetchall()
        groups = [path for (path,) in db.execute(
            "SELECT path FROM objects WHERE resource_type='Group' ORDER BY path")]
    finally:
        db.close()
    pods: dict[str, list[str]] = {}
    for (tags,) in rows:
        t = {x["scope"]: x["tag"] for x in json.loads(tags)}
        if "ncp/pod" in t and "ncp/project" in t:
            pods.setdefault(t["ncp/project"], []).append(t["ncp/pod"])
    by_size = sorted(pods, key=lambda ns: (len(pods[ns]), ns))
    small, large = by_size[0], by_size[-1]
    medium = min(by_size, key=lambda ns: (abs(len(pods[ns]) - 31), ns))
    return {"small": small, "medium": medium, "large": large,
            "src": f"{small}/{sorted(pods[small])[0]}",
            "dst": f"{medium}/{sorted(pods[medium])[0]}",
            "sizes": f"{len(pods[small])}/{len(pods[medium])}/{len(pods[large])}",
            "group": next((g.rsplit("/", 1)[-1] for g in groups if f"_{medium}_" in g),
                          groups[0].rsplit("/", 1)[-1] if groups else "none")}


def timed(tree: Path, state: Path, argv: list[str],
          daemon_mode: str = "off") -> tuple[float, float, int, str]:
    """One ``python -m sdn`` call (``SDN_DAEMON=daemon_mode``): seconds, the child's peak
    RSS (MiB), its exit code and the SHA-256 of its stdout."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1",
           "SDN_DAEMON": daemon_mode}
    start = time.perf_counter()
    # cwd: ``python -m`` puts the working folder first on sys.path, ahead of PYTHONPATH,
    # so running from a source tree would import that tree whatever PYTHONPATH says.
    proc = subprocess.Popen([sys.executable, "-m", "sdn", "--state", str(state), *argv],
                            stdout=subprocess.PIPE, env=env, cwd=state.parent)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, round(usage.ru_maxrss / 1024, 1), proc.returncode, \
        hashlib.sha256(out).hexdigest()


def sdn_daemon(tree: Path, state: Path, *argv: str) -> str:
    """``sdn daemon ARGV --state STATE`` (its stdout)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, "-m", "sdn", "daemon", *argv, "--state",
                           str(state)], env=env, cwd=state.parent, check=argv[0] != "status",
                          capture_output=True, text=True).stdout


def stop_when_started(tree: Path, state: Path, wait: float = 60.0) -> None:
    """Stop the daemon a call left behind, waiting for it to listen first (one still
    loading would not hear the stop and would answer the next case's calls)."""
    log = state.with_name(state.name + ".idx") / "daemon.log"
    deadline = time.monotonic() + wait
    while log.exists() and time.monotonic() < deadline:
        if json.loads(sdn_daemon(tree, state, "status", "-o", "json"))["running"]:
            break
        time.sleep(0.1)
    sdn_daemon(tree, state, "stop")


def rss_mib(pid: int) -> float:
    """A process's resident memory now (MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run_case(tree: Path, work: Path, synced: Path, argv: list[str],
             repeat: int, *, with_index: bool, daemon: str = "") -> dict[str, Any]:
    """First call on a fresh copy of the synced state, then ``repeat`` later calls.
    ``with_index``: the copy keeps the query index ``ncp sync`` saved beside the state
    (copied with the state's stamps, so it is the state's own, as right after the sync);
    without it the first call builds it (as the older tree's sync saved none).
    ``daemon``: ``started``: ``sdn daemon start`` on the copy first (timed apart), every
    call then answered through it; ``auto``: the calls as a user makes them by default
    (``SDN_DAEMON=auto``: the first leaves a daemon, the later ones go to it once it has
    loaded; ``answered_by_daemon`` says how many did); the daemon is stopped at the end."""
    state = prepare_copy(work, synced, with_index=with_index)
    if daemon == "auto":
        try:
            res = timed_calls(tree, state, argv, repeat, "auto")
            info = json.loads(sdn_daemon(tree, state, "status", "-o", "json"))
            return {**res, "answered_by_daemon": info.get("requests", 0)}
        finally:
            stop_when_started(tree, state)
    if not daemon:
        return timed_calls(tree, state, argv, repeat)
    started = time.perf_counter()
    sdn_daemon(tree, state, "start")
    start_s = time.perf_counter() - started
    try:
        res = timed_calls(tree, state, argv, repeat)
        info = json.loads(sdn_daemon(tree, state, "status", "-o", "json"))
        res["stable"] &= info["requests"] == repeat + 1  # every call answered by it
        return {**res, "daemon_start_s": round(start_s, 3),
                "daemon_rss_mib": rss_mib(info["pid"])}
    finally:
        sdn_daemon(tree, state, "stop")


def prepare_copy(work: Path, synced: Path, *, with_index: bool) -> Path:
    """A fresh copy of the synced state (``case.db``), with its index or without."""
    state = work / "case.db"
    shutil.rmtree(work / "case.db.idx", ignore_errors=True)
    for suffix in ("-wal", "-shm"):  # the previous case's: this copy starts as synced
        Path(str(state) + suffix).unlink(missing_ok=True)
    shutil.copy2(synced, state)  # the stamps too: the index is keyed by them
    index = synced.with_name(synced.name + ".idx")
    if with_index and index.is_dir():
        shutil.copytree(index, work / "case.db.idx", copy_function=shutil.copy2)
    return state


def timed_calls(tree: Path, state: Path, argv: list[str], repeat: int,
                daemon_mode: str = "off") -> dict[str, Any]:
    """The first call, then ``repeat`` later ones."""
    first, first_rss, code, digest = timed(tree, state, argv, daemon_mode)
    times, rss, same = [], [], True
    for _ in range(repeat):
        t, r, c, d = timed(tree, state, argv, daemon_mode)
        times.append(t)
        rss.append(r)
        same = same and c == code and d == digest
    return {"first_s": round(first, 3), "median_s": round(statistics.median(times), 3),
            "p95_s": round(p95(times), 3), "min_s": round(min(times), 3),
            "first_rss_mib": first_rss, "peak_rss_mib": max(rss), "exit": code,
            "stable": same, "digest": digest}


def prepare(args: Any, work: Path) -> Path:
    """Generate, write and sync the cluster (untimed)."""
    from topologies.generate import generate_cluster, write_cluster

    nodes = max(3, args.pods // 100)
    log(f"generating {args.namespaces} namespaces / {args.pods} pods / {args.policies} "
        f"policies ({args.shapes}) / {nodes} nodes, seed {args.seed}")
    objects = generate_cluster(namespaces=args.namespaces, pods=args.pods,
                               policies=args.policies, nodes=nodes, seed=args.seed,
                               shapes=args.shapes)
    write_cluster(objects, work / "cluster")
    del objects
    state = work / "synced.db"
    log("syncing (untimed)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "ncp.cli", "sync", "--cluster",
                    str(work / "cluster"), "--config", str(args.config), "--state",
                    str(state), "-o", "json"], env=env, check=True, stdout=subprocess.DEVNULL)
    wait_for_index(state)
    return state


def wait_for_index(state: Path) -> None:
    """Wait until the index the sync saves is whole: a big state's is saved by a child
    after ``ncp sync`` returns (``sdn.query.saving``), and every case starts from a copy
    of the state as it is once that is done."""
    from sdn.query import QueryIndex
    from sdn.query.index import WARM_ACTIONS

    started = time.perf_counter()
    while True:
        with QueryIndex.open(state) as index:
            if index.current(WARM_ACTIONS):
                break
        time.sleep(0.2)
    log(f"index whole {time.perf_counter() - started:.1f} s after the sync returned")


def main() -> int:
    parser = BenchParser(__doc__.split("\n\n")[0], cases=CASES)
    parser.add_sizes((2500, 10000, 7500), large=FULL_SIZE, full=FULL_SIZE)
    parser.add_shapes()
    parser.add_repeat(20, large=3, help="later calls per case")
    parser.add_bounded("--before-repeat", 1, type=int, default=3,
                       help="later calls per case with --before (3)")
    parser.add_argument("--before", type=Path,
                        help="an older source tree to run the same cases with, side by side")
    parser.add_argument("--daemon", action="store_true",
                        help="also answer every case through `sdn daemon` (started on the "
                             "fresh copy, timed apart), side by side with the plain run")
    parser.add_argument("--auto", action="store_true",
                        help="also run every case as a user does by default "
                             "(SDN_DAEMON=auto: the first call leaves a daemon behind)")
    parser.add_config()
    parser.add_keep()
    args = parser.parse_args()
    parser.resolve(args)
    failed = False
    with workspace("bench-questions-", keep=args.keep, log=log) as work:
        synced = prepare(args, work)
        picks = pick(synced)
        log(f"namespaces small/medium/large {picks['small']}/{picks['medium']}/"
            f"{picks['large']} ({picks['sizes']} pods); flow {picks['src']} -> {picks['dst']}")
        argvs = commands(picks)
        trees = [("after", ROOT, args.repeat, "")]
        if args.before is not None:
            trees.insert(0, ("before", args.before.resolve(), args.before_repeat, ""))
        if args.daemon:
            trees.append(("after", ROOT, args.repeat, "started"))
        if args.auto:
            trees.append(("after", ROOT, args.repeat, "auto"))
        for case in args.cases:
            digests: dict[str, str] = {}
            for name, tree, repeat, daemon in trees:
                res = run_case(tree, work, synced, argvs[case], repeat,
                               with_index=name == "after", daemon=daemon)
                digest = res.pop("digest")
                line = {"bench": "questions", "case": case, "tree": name,
                        "daemon": daemon or "none", "command": "sdn " + " ".join(argvs[case]),
                        "namespaces": args.namespaces, "pods": args.pods,
                        "policies": args.policies, "shapes": args.shapes,
                        "seed": args.seed, "repeat": repeat,
                        **res}
                if daemon:
                    line["same_output_as_in_process"] = digest == digests["after"]
                    failed |= not line["same_output_as_in_process"]
                else:
                    digests[name] = digest
                if name == "after" and not daemon and "before" in digests:
                    line["same_output_as_before"] = digests["before"] == digests["after"]
                    failed |= not line["same_output_as_before"]
                failed |= res["exit"] not in (0, 1) or not res["stable"]
                emit({**line, **run_info(), "revision": source_revision(tree)})
                mode = f"{name} daemon {daemon}" if daemon else name
                log(f"{case} [{mode}]: first {res['first_s']} s, median {res['median_s']} s, "
                    f"p95 {res['p95_s']} s, peak {res['peak_rss_mib']} MiB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
