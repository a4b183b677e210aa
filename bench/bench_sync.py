"""Benchmark of ``ncp sync`` at scale: one JSON line per case on stdout, progress on stderr.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_sync.py                   # 2,500 namespaces / 10,000 pods, 3 repeats
    python bench/bench_sync.py --scale large     # 25,000 namespaces / 100,000 pods, 1 repeat
    python bench/bench_sync.py --scale full --cases cold   # 25,000 / 100,000 / 75,000 policies
    python bench/bench_sync.py --policies 7500 --shapes realistic   # full's shapes at 1/10
    python bench/bench_sync.py --namespaces 200 --pods 800 --repeat 2 --cases cold,noop
    python bench/bench_sync.py --via-cli         # time the real `ncp sync` command instead

Targets (DESIGN.md: speed is measured here, not asserted in unit tests):

* cold sync of 2,500 namespaces / 10,000 pods: under 10 s, under 1 GiB peak memory, on a
  2-core machine;
* no-op re-sync of the same cluster: under 2 s;
* 25,000 namespaces / 100,000 pods (``--scale large``): cold sync under 2 minutes (a goal);
* 25,000 namespaces / 100,000 pods / 75,000 NetworkPolicies of realistic shapes (``--scale
  full``, Antrea's controller benchmark): cold sync under 60 s.

Cases:

* ``cold``: empty state, full sync. Every repeat starts from a new, empty state file.
* ``noop``: identical re-sync of an already synced state through the default path (the
  input fingerprint short-cut). Must change nothing.
* ``noop_full``: identical re-sync with ``full=True`` (``ncp sync --full``): the whole
  reconcile runs and must change nothing; the case fails loudly if it changes anything.
* ``churn``: re-sync after ~1% of the populated namespaces lost all their Deployments and as
  many pods were added in other namespaces (a second manifest set, derived from the first
  with a seeded RNG at ``seed + CHURN_SEED_OFFSET``), ``now`` advanced by 120 s. Every
  repeat starts from a fresh copy of the prepared state.

Method: the cluster is generated once per run with ``generate_cluster(namespaces=N, pods=P,
seed=S, nodes=max(3, P // 100), policies=K, shapes=SHAPES)`` (``K`` 0 and shapes ``simple``
unless ``--policies`` / ``--shapes`` or ``--scale full`` say otherwise) and written as YAML
into a temporary folder (untimed). Each case runs in a fresh interpreter (this script with
the hidden ``--child`` option), so its peak memory (``ru_maxrss``) is its own. A timed run
is what ``ncp sync --cluster DIR --config bench/large-cluster.yaml`` does minus interpreter
start-up, imports and printing: load the config, open the state, ``sync_cluster`` (which
reads the YAML from disk), close, and save the query index from what the sync holds
(``sdn.query.saving.save_index``, as the command does when it wrote or the index is
stale: for a big state in a child process, after which the command returns; the run then
waits for that child, untimed, and says when the index was saved, ``index_saved_s``). The
state that ``noop``, ``noop_full`` and ``churn`` start from is prepared once by a cold
sync in a separate process (untimed) and copied. With
``--via-cli`` each timed run is a ``ncp sync ... -o json`` subprocess instead (start-up,
imports and JSON output included) and the peak memory is that of those subprocesses.

Each line: ``{"bench": "ncp_sync", "case", "namespaces", "pods", "nodes", "seed", "repeat",
"median_s", "p95_s", "min_s", "peak_rss_mib", "objects_written", "machine": {"cpus",
"python"}, "revision", ...}``. ``revision`` is the source revision (``$BENCH_REVISION``,
else the commit that ``.git/HEAD`` names, read from the files; uncommitted edits are not
reflected); ``state_revision`` is the state's revision after the last timed run;
``objects_written`` counts the NSX objects the last timed run created, updated or deleted;
``p95_s`` is the nearest-rank 95th percentile (with few repeats, the slowest run);
``index_in_background``, ``index_saved_s`` (since the run's start) and, when in the
background, ``index_peak_rss_mib`` (the saving child's peak) say how the query index was
saved by the last timed run.
Exit status: 0 when every case ran and kept its invariants, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ("cold", "noop", "noop_full", "churn")
#: (namespaces, pods, policies) of ``--scale full``: Antrea's controller benchmark, with
#: realistic policy shapes (``topologies.shapes``).
FULL_SIZE = (25000, 100000, 75000)
#: Epoch seconds of the preparing (cold) sync; re-syncs run ``RESYNC_AFTER`` later.
T0 = 1_700_000_000.0
RESYNC_AFTER = 120.0
#: Offset added to the seed for the churn's RNG, so churn does not mirror generation.
CHURN_SEED_OFFSET = 1000
CHURN_FRACTION = 0.01
CHURN_APP = "canary"


sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BenchParser,
    emit,
    p95,
    peak_rss_mib,
    run_child,
    run_info,
    workspace,
)


def log(msg: str) -> None:
    print(f"[bench_sync {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- helpers










def copy_state(src: Path, dst: Path) -> None:
    """Copy a closed SQLite state (with its WAL files, if any were left)."""
    for suffix in ("", "-wal", "-shm"):
        s = Path(str(src) + suffix)
        d = Path(str(dst) + suffix)
        if d.exists():
            d.unlink()
        if s.exists():
            shutil.copyfile(s, d)


def remove_state(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


# --------------------------------------------------------------------------- cluster


def churned(objects: list[dict[str, Any]],
            seed: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``objects`` with the Deployments of ~1% of the populated namespaces removed and as
    many pods added, as one new Deployment each, in as many other namespaces."""
    rng = random.Random(seed + CHURN_SEED_OFFSET)
    replicas: dict[str, int] = {}
    for o in objects:
        if o["kind"] == "Deployment":
            ns = o["metadata"]["namespace"]
            replicas[ns] = replicas.get(ns, 0) + int(o["spec"]["replicas"])
    all_ns = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    populated = sorted(replicas)
    k = max(1, round(len(populated) * CHURN_FRACTION)) if populated else 0
    emptied = set(rng.sample(populated, k))
    moved = sum(replicas[ns] for ns in emptied)
    others = sorted(set(all_ns) - emptied)
    targets = rng.sample(others, min(k, len(others)))
    out = [o for o in objects
           if not (o["kind"] == "Deployment" and o["metadata"]["namespace"] in emptied)]
    for i, ns in enumerate(targets):
        count = moved // len(targets) + (1 if i < moved % len(targets) else 0)
        if count:
            out.append(_deployment(ns, count))
    return out, {"namespaces_emptied": len(emptied), "namespaces_grown": len(targets),
                 "pods_moved": moved}


def _deployment(namespace: str, replicas: int) -> dict[str, Any]:
    labels = {"app": CHURN_APP, "tier": "backend"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": CHURN_APP, "namespace": namespace, "labels": {"app": CHURN_APP}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": {**labels, "version": "v1"}},
                "spec": {"containers": [{
                    "name": CHURN_APP, "image": f"example/{CHURN_APP}:v1",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                }]},
            },
        },
    }


# --------------------------------------------------------------------------- child side


def ncp_command() -> list[str]:
    """The installed ``ncp`` script next to this interpreter, else ``python -m ncp.cli``."""
    beside = Path(sys.executable).parent / "ncp"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("ncp")
    return [found] if found else [sys.executable, "-m", "ncp.cli"]


def run_api(cluster: Path, state: Path, config_path: Path, now: float,
            full: bool) -> tuple[float, dict[str, Any]]:
    """One timed sync through the Python API; returns seconds and a summary."""
    from ncp.config import load_config
    from ncp.reconcile.sync import sync_cluster
    from sdn.query.saving import save_index
    from sdn.store import Store

    start = time.perf_counter()
    config = load_config(config_path)
    with Store.open(state) as store:
        report = sync_cluster(store, paths=[cluster], config=config, now=now, full=full,
                              keep_inventory=True)
    saver = None
    if report.inventory is not None:  # what the command does after closing the state
        saver = save_index(state, report.inventory, force=report.written,
                           validated=report.validated)
    elapsed = time.perf_counter() - start
    index_s = elapsed
    if saver is not None:  # saved in the background: wait for it, untimed
        os.waitpid(saver, 0)
        index_s = time.perf_counter() - start
    return elapsed, {
        "index_in_background": saver is not None, "index_saved_s": round(index_s, 3),
        "changed": report.changed, "written": report.written,
        "objects_written": sum(report.created.values()) + sum(report.updated.values())
        + sum(report.deleted.values()),
        "created": sum(report.created.values()), "deleted": sum(report.deleted.values()),
        "state_revision": report.revision, "problems": len(report.problems),
        "problem_codes": sorted({p.code for p in report.problems}),
    }


def run_cli(cluster: Path, state: Path, config_path: Path, now: float,
            full: bool) -> tuple[float, dict[str, Any]]:
    """One timed ``ncp sync ... -o json`` subprocess; returns seconds and a summary."""
    cmd = [*ncp_command(), "sync", "--cluster", str(cluster), "--config", str(config_path),
           "--state", str(state), "--now", repr(now), "-o", "json"]
    if full:
        cmd.append("--full")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    out = json.loads(proc.stdout)
    counts = {k: sum(out[k].values()) for k in ("created", "updated", "deleted")}
    return elapsed, {
        "changed": any(counts.values()), "written": None,
        "objects_written": sum(counts.values()),
        "created": counts["created"], "deleted": counts["deleted"],
        "state_revision": out["revision"], "problems": len(out["problems"]),
        "problem_codes": sorted({p["code"] for p in out["problems"]}),
    }


def check(case: str, info: dict[str, Any]) -> None:
    """The case's invariants; a broken one ends the child with a loud error."""
    broken = None
    if case in ("noop", "noop_full") and info["changed"]:
        broken = f"an identical re-sync changed {info['objects_written']} object(s)"
    elif case == "noop" and info["written"]:
        broken = "an identical re-sync wrote to the state"
    elif case == "churn" and not (info["created"] and info["deleted"]):
        broken = (f"the churn created {info['created']} and deleted {info['deleted']} "
                  "object(s); expected both above 0")
    elif case == "cold" and not info["created"]:
        broken = "a cold sync created nothing"
    if broken:
        raise SystemExit(f"FAILED: case {case}: {broken}")


def child(args: argparse.Namespace) -> int:
    """Run one case (or the preparing sync) in this fresh process; print a JSON result."""
    case, work = args.child, Path(args.workdir)
    config = Path(args.config)
    base, churn = Path(args.cluster_dir), Path(args.churn_dir)
    prepared = work / "prepared.db"
    if case == "prepare":
        elapsed, prep = run_api(base, prepared, config, T0, full=False)
        check("cold", prep)
        print(json.dumps({"times": [elapsed], **prep}))
        return 0

    run = run_cli if args.via_cli else run_api
    times: list[float] = []
    info: dict[str, Any] = {}
    state = work / f"{case}.db"
    if case in ("noop", "noop_full"):
        copy_state(prepared, state)
    for i in range(args.repeat):
        if case == "cold":
            remove_state(state)
            elapsed, info = run(base, state, config, T0, full=False)
        elif case == "churn":
            copy_state(prepared, state)
            elapsed, info = run(churn, state, config, T0 + RESYNC_AFTER, full=False)
        else:
            elapsed, info = run(base, state, config, T0 + RESYNC_AFTER,
                                full=case == "noop_full")
        check(case, info)
        times.append(elapsed)
        log(f"  {case} repeat {i + 1}/{args.repeat}: {elapsed:.3f} s, "
            f"{info['objects_written']} object(s) written")
    remove_state(state)
    who = resource.RUSAGE_CHILDREN if args.via_cli else resource.RUSAGE_SELF
    if not args.via_cli and info.get("index_in_background"):  # the saving child's peak
        info["index_peak_rss_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    print(json.dumps({"times": times, "peak_rss_mib": peak_rss_mib(who), **info}))
    return 0


# --------------------------------------------------------------------------- parent side


def spawn(args: argparse.Namespace, case: str, dirs: dict[str, Path],
          repeat: int) -> dict[str, Any] | None:
    """Run ``case`` in a fresh interpreter; its JSON result, or None when it failed."""
    cmd = ["--workdir", str(dirs["work"]), "--cluster-dir", str(dirs["base"]),
           "--churn-dir", str(dirs["churn"]), "--config", str(args.config),
           "--repeat", str(repeat)]
    if args.via_cli:
        cmd.append("--via-cli")
    return run_child(__file__, case, cmd, log=log)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; on the parent side with the values :meth:`BenchParser.resolve`
    settles (cases as a list, sizes and repeats from ``--scale``)."""
    parser = BenchParser("Time `ncp sync` on a generated cluster; one JSON line per case.",
                         cases=CASES, child=True)
    parser.add_sizes((2500, 10000), large=(25000, 100000), full=FULL_SIZE, at_least=(1, 0))
    parser.add_shapes()
    parser.add_repeat(3, large=1)
    parser.add_argument("--via-cli", action="store_true",
                        help="time the `ncp sync` command in a subprocess instead of the API")
    parser.add_config()
    parser.add_keep()
    # Hidden: the per-case process.
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--cluster-dir", help=argparse.SUPPRESS)
    parser.add_argument("--churn-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.child:
        parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        return child(args)

    namespaces, pods, repeat, cases = args.namespaces, args.pods, args.repeat, args.cases
    policies, shapes = args.policies, args.shapes
    nodes = max(3, pods // 100)

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from topologies.generate import generate_cluster, write_cluster

    with workspace("bench-sync-", keep=args.keep, log=log) as work:
        dirs = {"work": work, "base": work / "cluster", "churn": work / "cluster-churn"}
        failed = False
        log(f"generating {namespaces} namespaces / {pods} pods / {policies} policies "
            f"({shapes}) / {nodes} nodes, seed {args.seed}, in {work}")
        start = time.perf_counter()
        objects = generate_cluster(namespaces=namespaces, pods=pods, seed=args.seed,
                                   nodes=nodes, policies=policies, shapes=shapes)
        write_cluster(objects, dirs["base"])
        churn_info: dict[str, int] = {}
        if "churn" in cases:
            churn_objects, churn_info = churned(objects, args.seed)
            write_cluster(churn_objects, dirs["churn"])
            del churn_objects
        del objects
        log(f"generated and written in {time.perf_counter() - start:.1f} s (untimed)")

        if any(c != "cold" for c in cases):
            log("preparing the synced state (cold sync, untimed)")
            prep = spawn(argparse.Namespace(**{**vars(args), "via_cli": False}), "prepare",
                         dirs, 1)
            if prep is None:
                return 1
            log(f"prepared in {prep['times'][0]:.1f} s: {prep['objects_written']} objects, "
                f"{prep['problems']} problem(s) {prep['problem_codes']}")

        where = run_info()
        for case in cases:
            log(f"case {case}: {repeat} timed run(s) in a fresh process")
            result = spawn(args, case, dirs, repeat)
            if result is None:
                failed = True
                continue
            times = result["times"]
            line: dict[str, Any] = {
                "bench": "ncp_sync", "case": case, "namespaces": namespaces, "pods": pods,
                "policies": policies, "shapes": shapes, "nodes": nodes, "seed": args.seed,
                "repeat": repeat,
                "median_s": round(statistics.median(times), 4),
                "p95_s": round(p95(times), 4), "min_s": round(min(times), 4),
                "peak_rss_mib": result["peak_rss_mib"],
                "objects_written": result["objects_written"],
                **where,
                "mode": "cli" if args.via_cli else "api",
                "state_revision": result["state_revision"],
                "problems": result["problems"], "written": result["written"],
                **{k: result[k] for k in ("index_in_background", "index_saved_s",
                                          "index_peak_rss_mib") if k in result},
            }
            if case == "churn":
                line["churn"] = churn_info
            emit(line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
