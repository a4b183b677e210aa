"""Benchmark ``sdn connectivity``: against network-config-analyzer's connectivity map on the
same manifests (``vs_nca``), one namespace of a 10,000-pod cluster (``namespace``), and the
reachability delta of a one-policy change there (``delta``).

Usage::

    python bench/bench_connectivity.py --cases vs_nca      # 30 ns / 300 pods / 100 policies
    python bench/bench_connectivity.py --cases vs_nca --namespaces 100 --pods 1000 \
        --policies 500 --repeat 1
    python bench/bench_connectivity.py --cases namespace,delta   # 2,500 / 10,000 / 7,500
    python bench/bench_connectivity.py --daemon            # also through `sdn daemon`

``vs_nca``: the cluster of ``--namespaces/--pods/--policies`` is generated, written and
synced as ``bench_peers.py`` does (the same functions); the peer is installed in its own
venv the same way. Each repeat runs, in fresh processes (start-up included):
``sdn connectivity -o json --state STATE`` (``SDN_NO_DAEMON=1``; with ``--daemon`` also
answered by a started daemon), ``nca --connectivity DIR -o txt_no_fw_rules
--output_endpoints pods`` (its connectivity map as explicit pairs with every protocol and
port: the answer compared) and ``nca --connectivity DIR`` (its default map, summarised as
firewall rules). The answers must be identical, compared as
:mod:`tests.support.nca_compare` says (pairs of pods, and pods with the outside CIDRs
policies name, per protocol and port). Pods inside an ``ipBlock`` (the peer never matches a
pod by address) and named ports are counted as in ``bench_peers.py``.
Like ``bench_peers.py`` (whose runner it shares), it byte-compiles this project's
packages (``python -m compileall -q sdn ncp topologies``) once before timing, as ``pip
install`` compiled the peer's.

``namespace``: at ``--large`` (2,500 namespaces / 10,000 pods / 7,500 policies, seed 1),
``sdn connectivity -n NS -o json`` end to end for the namespace of median size and for the
largest (the generator makes a few very large ones), after one untimed question has built
the state's query index.

``delta``: on that cluster, in process: the inventory loaded and compiled (untimed), then
for ``--changes`` policies spread over the cluster, each deleted in a copy of the inventory
that is compiled (``compile_s``), and :func:`~sdn.policy.connectivity.reachability_delta`
over the pods of the policy's applied-to (``delta_s``, and its CPU time): median and p95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_peers
from benchlib import ROOT, BenchParser, emit, p95, run_info

CASES = ("vs_nca", "namespace", "delta")
GOALS = {300: 3.0, 1000: 10.0}  # the speedups over the peer, by pod count


def log(msg: str) -> None:
    print(f"[bench_connectivity] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- cases


def vs_nca(args: argparse.Namespace) -> int:
    from tests.support.nca_compare import compare, read_sdn

    version = bench_peers.install_peer(args.peer_venv.resolve())
    work = Path(tempfile.mkdtemp(prefix="bench-connectivity-"))
    log(f"working in {work}; {bench_peers.PEER} {version}")
    prep = bench_peers.prepare(args, work)
    nca = str(args.peer_venv.resolve() / "bin" / "nca")
    sdn = [sys.executable, "-m", "sdn", "connectivity", "-o", "json", "--state",
           str(prep["state"])]
    cmds = {"sdn": (sdn, work / "sdn.json"),
            **({"sdn_daemon": (sdn, work / "sdn-daemon.json")} if args.daemon else {}),
            "nca": ([nca, "--connectivity", "-r", str(prep["cluster"]), "-o",
                     "txt_no_fw_rules", "--output_endpoints", "pods", "--return_0", "-f",
                     str(work / "nca.txt")], work / "nca.log"),
            "nca_map": ([nca, "--connectivity", "-r", str(prep["cluster"]), "--return_0",
                         "-f", str(work / "nca-map.txt")], work / "nca-map.log")}
    daemon_start_s = bench_peers.start_daemon(prep["state"]) if args.daemon else None
    try:
        runs = bench_peers.run_all(args, cmds)
    finally:
        if args.daemon:
            bench_peers.sdn_daemon(prep["state"], "stop")
    if args.daemon and (work / "sdn-daemon.json").read_bytes() != \
            (work / "sdn.json").read_bytes():
        log("the daemon's answer differs from the in-process one")
        return 1
    pods = sorted(f"{ip_pod}" for ip_pod in pod_names(prep["state"]))
    answers = compare(work / "sdn.json", work / "nca.txt", pods, log)
    med = {name: statistics.median(t for t, _ in r) for name, r in runs.items()}
    line: dict[str, Any] = {
        "bench": "connectivity", "case": "vs_nca", "namespaces": args.namespaces,
        "pods": args.pods, "policies": args.policies, "seed": args.seed,
        "repeat": args.repeat, "peer": {"name": bench_peers.PEER, "version": version},
        "entries": sum(1 for _ in read_sdn(work / "sdn.json"))}
    for name, r in runs.items():
        line[f"{name}_median_s"] = round(med[name], 3)
        line[f"{name}_p95_s"] = round(p95([t for t, _ in r]), 3)
        line[f"{name}_peak_rss_mib"] = max(m for _, m in r)
    line["speedup"] = round(med["nca"] / med["sdn"], 2)
    line["speedup_map"] = round(med["nca_map"] / med["sdn"], 2)
    if "sdn_daemon" in med:
        line["speedup_daemon"] = round(med["nca"] / med["sdn_daemon"], 2)
        line["daemon_start_s"] = daemon_start_s
    goal = GOALS.get(args.pods)
    if goal is not None:
        line["goal"] = goal
        line["goal_met"] = line["speedup"] >= goal
    line.update(answers)
    line.update({k: prep[k] for k in ("ipblock_pods", "named_ports", "ip_blocks",
                                      "sync_problems")})
    emit({**line, **run_info()})
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0 if answers["answers_identical"] else 1


def pod_names(state: Path) -> list[str]:
    """``NS/POD`` of every pod of the state."""
    from sdn.model import SegmentPort
    from sdn.store import Store

    with Store.open_readonly(state) as store:
        return [p.display_name for p in store.inventory().of_type(SegmentPort)
                if p.tag("ncp/pod") and p.display_name]


def large_cluster(args: argparse.Namespace, work: Path) -> Path:
    """The ``--large`` cluster synced into a state (untimed); its path."""
    sizes = argparse.Namespace(**vars(args))
    sizes.namespaces, sizes.pods, sizes.policies = args.large
    return Path(bench_peers.prepare(sizes, work)["state"])


def namespace_case(args: argparse.Namespace, state: Path) -> None:
    names = pod_names(state)
    sizes: dict[str, int] = {}
    for name in names:
        sizes[name.split("/")[0]] = sizes.get(name.split("/")[0], 0) + 1
    ordered = sorted(sizes, key=lambda ns: (sizes[ns], ns))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDN_NO_DAEMON": "1"}
    base = [sys.executable, "-m", "sdn", "connectivity", "-o", "json", "--state", str(state)]
    bench_peers.byte_compile()
    bench_peers.timed([*base, "-n", ordered[0]], env=env, cwd=ROOT)  # builds the index
    for label, ns in (("median", ordered[len(ordered) // 2]), ("largest", ordered[-1])):
        runs = [bench_peers.timed([*base, "-n", ns], env=env, cwd=ROOT)
                for _ in range(args.repeat)]
        times = [t for t, _ in runs]
        emit({"bench": "connectivity", "case": "namespace", "which": label, "namespace": ns,
              "namespace_pods": sizes[ns], "namespaces": args.large[0], "pods": args.large[1],
              "policies": args.large[2], "seed": args.seed, "repeat": args.repeat,
              "median_s": round(statistics.median(times), 3), "p95_s": round(p95(times), 3),
              "peak_rss_mib": max(m for _, m in runs), "goal_s": 2.0, **run_info()})


def delta_case(args: argparse.Namespace, state: Path) -> None:
    from sdn.model import SecurityPolicy
    from sdn.policy import compile_dfw
    from sdn.policy.connectivity import reachability_delta
    from sdn.store import Store

    with Store.open_readonly(state) as store:
        inv = store.inventory()
    before = compile_dfw(inv)
    policies = [p for p in inv.of_type(SecurityPolicy) if p.id.startswith("np_") and p.rules]
    step = max(1, len(policies) // args.changes)
    compile_s, delta_s, cpu_s, flows = [], [], [], []
    for policy in policies[::step][:args.changes]:
        start = time.perf_counter()
        after = compile_dfw(inv.changed([], [policy.path]))
        compile_s.append(time.perf_counter() - start)
        chosen = {before.endpoints[i].path for r in before.rules
                  if r.policy_path == policy.path for i in (r.applied_to or ())}
        start, cpu = time.perf_counter(), time.process_time()
        gained, lost = reachability_delta(before, after, endpoints=chosen)
        delta_s.append(time.perf_counter() - start)
        cpu_s.append(time.process_time() - cpu)
        flows.append(len(gained) + len(lost))
    emit({"bench": "connectivity", "case": "delta", "namespaces": args.large[0],
          "pods": args.large[1], "policies": args.large[2], "seed": args.seed,
          "changes": len(delta_s), "changed_flows_max": max(flows),
          "compile_median_s": round(statistics.median(compile_s), 3),
          "delta_median_s": round(statistics.median(delta_s), 3),
          "delta_p95_s": round(p95(delta_s), 3),
          "delta_cpu_median_s": round(statistics.median(cpu_s), 3), "delta_goal_s": 1.0,
          **run_info()})


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchParser("Time `sdn connectivity` against network-config-analyzer's "
                         "connectivity map (identical answers required), one namespace of "
                         "a 10,000-pod cluster, and a one-policy reachability delta.",
                         cases=CASES)
    parser.add_sizes((30, 300, 100), at_least=(1, 2, 0))
    parser.add_repeat(3)
    parser.add_config()
    parser.add_keep()
    parser.add_argument("--large", default="2500,10000,7500",
                        help="namespaces,pods,policies of the namespace and delta cases "
                             "(2500,10000,7500)")
    parser.add_argument("--changes", type=int, default=12,
                        help="one-policy changes timed by the delta case (12)")
    parser.add_argument("--daemon", action="store_true",
                        help="vs_nca: also time `sdn connectivity` answered by `sdn daemon`")
    parser.add_argument("--peer-venv", type=Path, default=bench_peers.default_venv(),
                        help="the venv network-config-analyzer is installed in (made when "
                             "missing; default ~/.cache/nsx-sdn-bench/nca-venv)")
    args = parser.parse_args(argv)
    parser.resolve(args)
    try:
        args.large = tuple(int(v) for v in args.large.split(","))
        assert len(args.large) == 3
    except (ValueError, AssertionError):
        parser.error(f"--large wants three numbers, got {args.large!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    status = 0
    if "vs_nca" in args.cases:
        status |= vs_nca(args)
    if {"namespace", "delta"} & set(args.cases):
        work = Path(tempfile.mkdtemp(prefix="bench-connectivity-large-"))
        state = large_cluster(args, work)
        if "namespace" in args.cases:
            namespace_case(args, state)
        if "delta" in args.cases:
            delta_case(args, state)
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
