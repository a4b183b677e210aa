"""Benchmark of a dry run's reachability delta (what-if), end to end: one JSON line per case.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_whatif.py                      # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_whatif.py --repeat 5 --cases apply_one_policy
    python bench/bench_whatif.py --namespaces 250 --pods 1000 --policies 750

Goal (issue 15; measured here, never asserted in tests): at 2,500 namespaces / 10,000 pods
/ 7,500 policies, a dry run of a one-policy change with its reachability delta in at most
3 s, end to end.

Cases (each a whole subprocess, start-up, imports, reading, planning, the delta and
printing ``-o json``, stdout kept to count the flows):

* ``apply_one_policy``: ``sdn apply --dry-run -f FILE -o json``, FILE one admin security
  policy (and its two groups) dropping TCP 80 from the pods of namespace SRC to those of
  namespace DST (two populated namespaces without NetworkPolicies, chosen by the seed);
* ``sync_one_policy``: ``ncp sync --dry-run --cluster DIR -o json``, DIR the generated
  cluster plus one NetworkPolicy in DST taking ingress from SRC only (every other pod
  loses every port into DST's pods: a large delta, as isolating a namespace is);
* ``sync_one_policy_no_index``: the same with the query index beside the state removed
  before each run (nothing reused from it: the manifests parsed, the state parsed and its
  firewall compiled; the plan is still made from the last sync's record).

Method: the cluster is generated with ``generate_cluster(namespaces=N, pods=P,
policies=K, nodes=max(3, P // 100), seed=S)``, written as YAML and synced once with
``ncp sync --config bench/large-cluster.yaml`` (untimed, ``sync_s``). Every timed run reads
that same state (a dry run writes nothing: the state's bytes are checked unchanged after
each case), once the sync's background index saver has saved every part (``index_wait_s``:
how long after the sync that took; a user's next command, seconds later, finds them).
Each line: ``{"bench": "whatif", "case", "namespaces", "pods", "policies", "seed",
"repeat", "median_s", "p95_s", "min_s", "peak_rss_mib" (of the children), "gained",
"lost" (flows in the delta), "exit" (0: no ``--fail-on``), "sync_s", "index_wait_s",
"machine", "revision"}``. Exit status 1 when a command failed or the state changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    ROOT,
    BenchParser,
    emit,
    p95,
    peak_rss_mib,
    run_info,
    workspace,
)

CASES = ("apply_one_policy", "sync_one_policy", "sync_one_policy_no_index")
#: The index parts the sync's background saver writes last (``sdn.query.objects``,
#: ``ncp.reuse``): the bench waits for them.
LAST_PARTS = ("objects", "manifests")
T0 = 1_700_000_000.0
GROUPS = "/infra/domains/default/groups"


def log(msg: str) -> None:
    print(f"[bench_whatif] {msg}", file=sys.stderr, flush=True)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "SDN_DAEMON": "off"}


def _run(argv: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", *argv], env=_env(), cwd=ROOT,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr)
    return elapsed, proc.returncode, proc.stdout


def _wait_for_index(state: Path, limit: float = 300.0) -> float:
    """Seconds until the sync's background saver has written its last parts (or the
    limit: the timed runs then parse what is missing, as a user would)."""
    start = time.perf_counter()
    folder = Path(f"{state}.idx")
    while time.perf_counter() - start < limit:
        if all((folder / p).exists() for p in LAST_PARTS) \
                and not any(folder.glob(".*.tmp")):
            break
        time.sleep(0.1)
    return time.perf_counter() - start


def _digest(state: Path) -> str:
    h = hashlib.sha256()
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(f"{state}{suffix}")
        h.update(p.read_bytes() if p.exists() else b"-")
    return h.hexdigest()


def _targets(objects: list[dict[str, Any]], seed: int) -> tuple[str, str]:
    """Two populated namespaces without a NetworkPolicy (so that the change decides
    their flows), chosen by the seed: the sources and the destinations."""
    with_policy = {o["metadata"]["namespace"] for o in objects if o["kind"] == "NetworkPolicy"}
    free = sorted({o["metadata"]["namespace"] for o in objects
                   if o["kind"] == "Deployment"} - with_policy)
    src, dst = random.Random(seed).sample(free, 2)
    return src, dst


def _project(ident: str, namespace: str) -> dict[str, Any]:
    return {"resource_type": "Group", "id": ident, "expression": [
        {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
         "operator": "EQUALS", "value": f"ncp/project|{namespace}"}]}


def _admin_file(work: Path, src: str, dst: str) -> Path:
    """One admin policy: drop TCP 80 from the pods of ``src`` to those of ``dst``."""
    policy = {"resource_type": "SecurityPolicy", "id": "whatif-drop-80",
              "category": "Environment", "sequence_number": 10,
              "scope": [f"{GROUPS}/whatif-dst"], "rules": [
                  {"id": "drop-80", "source_groups": [f"{GROUPS}/whatif-src"],
                   "destination_groups": [f"{GROUPS}/whatif-dst"],
                   "action": "DROP", "direction": "IN", "service_entries": [
                       {"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP",
                        "destination_ports": ["80"]}]}]}
    path = work / "one-policy.yaml"
    path.write_text(yaml.safe_dump_all([_project("whatif-src", src),
                                        _project("whatif-dst", dst), policy],
                                       sort_keys=False))
    return path


def _changed_cluster(work: Path, cluster: Path, src: str, dst: str) -> Path:
    """The cluster plus one NetworkPolicy in ``dst``: its pods take ingress from the pods
    of ``src`` only (isolated from every other pod, the outside included)."""
    changed = work / "changed"
    changed.mkdir()
    for f in cluster.iterdir():
        (changed / f.name).symlink_to(f)
    only = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "whatif-only-from-src", "namespace": dst},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [
                {"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": src}}}]}]}}
    (changed / "whatif.yaml").write_text(yaml.safe_dump(only))
    return changed


def main() -> int:
    parser = BenchParser(__doc__.split("\n\n")[0], cases=CASES)
    parser.add_sizes((2500, 10000, 7500))
    parser.add_repeat(3)
    parser.add_config()
    parser.add_keep()
    args = parser.parse_args()
    parser.resolve(args)
    from topologies.generate import generate_cluster, write_cluster

    with workspace("bench-whatif-", keep=args.keep, log=log) as work:
        nodes = max(3, args.pods // 100)
        log(f"generating {args.namespaces} namespaces / {args.pods} pods / {args.policies} "
            f"policies, seed {args.seed}")
        objects = generate_cluster(namespaces=args.namespaces, pods=args.pods,
                                   policies=args.policies, nodes=nodes, seed=args.seed)
        write_cluster(objects, work / "cluster")
        src, dst = _targets(objects, args.seed)
        del objects
        state = work / "state.db"
        sync_s, code, _ = _run(["ncp", "sync", "--cluster", str(work / "cluster"), "--config",
                                str(args.config), "--state", str(state), "--now", repr(T0),
                                "-q"])
        if code not in (0, 1):
            log("the preparing sync failed")
            return 1
        log(f"synced in {sync_s:.1f} s (untimed); from {src} to {dst}")
        index_wait_s = _wait_for_index(state)
        log(f"index saved {index_wait_s:.1f} s later")
        sync_cmd = ["ncp", "sync", "--dry-run", "--cluster",
                    str(_changed_cluster(work, work / "cluster", src, dst)),
                    "--config", str(args.config), "--state", str(state),
                    "--now", repr(T0 + 60), "-o", "json"]
        commands = {
            "apply_one_policy": ["sdn", "apply", "--dry-run", "-f",
                                 str(_admin_file(work, src, dst)), "--state", str(state),
                                 "-o", "json"],
            "sync_one_policy": sync_cmd,
            "sync_one_policy_no_index": sync_cmd,
        }
        failed = False
        for case in args.cases:
            before = _digest(state)
            times, out, code = [], "", 0
            for _ in range(args.repeat):
                if case.endswith("_no_index"):
                    shutil.rmtree(f"{state}.idx", ignore_errors=True)
                elapsed, code, out = _run(commands[case])
                times.append(elapsed)
            if code not in (0, 1) or _digest(state) != before:
                log(f"case {case} FAILED (exit {code}, state unchanged: "
                    f"{_digest(state) == before})")
                failed = True
                continue
            delta = json.loads(out)["reachability"]
            times.sort()
            emit({"bench": "whatif", "case": case, "namespaces": args.namespaces,
                  "pods": args.pods, "policies": args.policies, "seed": args.seed,
                  "repeat": args.repeat, "median_s": round(times[len(times) // 2], 3),
                  "p95_s": round(p95(times), 3), "min_s": round(times[0], 3),
                  "peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN),
                  "gained": len(delta["gained"]), "lost": len(delta["lost"]), "exit": code,
                  "sync_s": round(sync_s, 3), "index_wait_s": round(index_wait_s, 3),
                  **run_info()})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
