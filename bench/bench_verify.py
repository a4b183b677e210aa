"""Benchmark of ``sdn verify``: real probes between every ordered pair of realized pods,
compared with the simulator. One JSON line per case on stdout, progress on stderr.

How to run (as root, from the repository root, after ``pip install -e .``)::

    sudo python bench/bench_verify.py                        # 100 pods, all pairs, TCP
    sudo python bench/bench_verify.py --cases tcp,udp,icmp --pods 50

Target (issue 13): ``sdn verify`` of 100 pods, all ordered pairs, two ports (19,800
probes) in at most 60 s. Each line says whether its case met it (``target_met``).

Method: ``generate_cluster(namespaces=N, pods=P, policies=K, nodes=max(3, P // 100),
seed=S)`` written as YAML, then ``ncp sync`` (with ``bench/large-cluster.yaml``) and
``sdn realize`` as commands (untimed; ``realize_s`` reported). Each case runs the real
command ``python -m sdn verify --state S --protocol P [--port 80 --port 6379] -o json``
in a fresh process, timed from start to exit (``verify_s``: loading the state, the
simulator's verdicts, the listeners, the probes, the report). Afterwards ``sdn realize
--teardown`` runs whatever happened (``teardown_s``).

Cases: ``tcp`` (ports 80 and 6379), ``udp`` (the same ports, UDP echo), ``icmp`` (one
echo per pair).

Each line: ``{"bench": "verify", "case", "namespaces", "pods", "policies", "seed",
"protocol", "ports", "probes", "agreements", "disagreements", "verify_s", "target_s",
"target_met", "realize_s", "sync_s", "machine", "revision"}``. Exit status 0 when every
case ran (whatever the agreement), 1 otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, BenchParser, emit, run_info, workspace

CASES = ("tcp", "udp", "icmp")
PORTS = (80, 6379)
#: The issue's budget for 100 pods, all ordered pairs, two ports.
TARGET_S = 60.0


def log(msg: str) -> None:
    print(f"[bench_verify {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def command(*argv: object, check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``python -m ARGV`` on this repository's code; its wall time and result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *map(str, argv)], capture_output=True,
                          text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if check and done.returncode not in (0, 1):
        raise SystemExit(f"FAILED: {' '.join(map(str, argv))}: exit {done.returncode}\n"
                         f"{done.stderr}")
    return elapsed, done


def prepare(args: Any, work: Path, state: Path) -> dict[str, Any]:
    """Generate, write, sync and realize the cluster (all untimed by the cases)."""
    from topologies.generate import generate_cluster, write_cluster

    objects = generate_cluster(namespaces=args.namespaces, pods=args.pods,
                               policies=args.policies, nodes=max(3, args.pods // 100),
                               seed=args.seed)
    write_cluster(objects, work / "cluster")
    sync_s, _ = command("ncp", "sync", "--cluster", work / "cluster", "--state", state,
                        "--config", args.config, "-q")
    log(f"synced in {sync_s:.1f} s; realizing")
    realize_s, _ = command("sdn", "realize", "--state", state)
    log(f"realized in {realize_s:.1f} s")
    return {"sync_s": round(sync_s, 3), "realize_s": round(realize_s, 3)}


def case(state: Path, name: str) -> dict[str, Any]:
    protocol = name.upper()
    ports = [] if protocol == "ICMP" else list(PORTS)
    argv: list[object] = ["sdn", "verify", "--state", state, "--protocol", protocol]
    for port in ports:
        argv += ["--port", port]
    verify_s, done = command(*argv, "-o", "json")
    data = json.loads(done.stdout)
    return {"protocol": protocol, "ports": ports, "probes": data["probes"],
            "agreements": data["agreements"], "disagreements": len(data["disagreements"]),
            "verify_s": round(verify_s, 3), "target_s": TARGET_S,
            "target_met": verify_s <= TARGET_S}


def main(argv: Sequence[str] | None = None) -> int:
    parser = BenchParser("Time sdn verify (real probes vs the simulator) on a realized "
                         "generated cluster; one JSON line per case.", cases=CASES)
    parser.add_config()
    parser.add_sizes((10, 100, 20), at_least=(1, 2, 0))
    parser.add_keep()
    args = parser.parse_args(argv)
    parser.resolve(args)
    common = run_info()
    if os.geteuid() != 0:
        log("needs root (sdn realize and sdn verify enter network namespaces)")
        return 1
    with workspace("bench-verify-", keep=args.keep, log=log) as work:
        os.environ["SDN_RUN_DIR"] = str(work / "run")  # the realize record: ours alone
        state = work / "state.db"
        try:
            prep = prepare(args, work, state)
            for name in args.cases:
                log(f"case {name}")
                result = case(state, name)
                emit({"bench": "verify", "case": name, "namespaces": args.namespaces,
                      "pods": args.pods, "policies": args.policies, "seed": args.seed,
                      **result, **prep, **common})
        finally:
            teardown_s, _ = command("sdn", "realize", "--teardown", "--state", state,
                                    check=False)
            log(f"torn down in {teardown_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
