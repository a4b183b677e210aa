"""Benchmark of ``sdn replay``: recorded flows against a policy set, one JSON line per case.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_flow_replay.py                  # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_flow_replay.py --flows 20000 --repeat 1 --cases csv
    python bench/bench_flow_replay.py --namespaces 250 --pods 1000 --policies 750

(Not ``bench_replay.py``, which replays a cluster's history through ``ncp run``.)

Goal (issue 15; measured here, never asserted in tests): 100,000 flows replayed in at
most 10 s at 2,500 namespaces / 10,000 pods / 7,500 policies (seed 1).

Cases (each a whole ``python -m sdn replay ... -o json`` subprocess: start-up, reading and
parsing the flows, loading the firewall from the query index the sync saved, answering,
printing):

* ``csv``: the flows as CSV ``src_ip,dst_ip,protocol,dst_port``, against the state;
* ``hubble``: the same flows as Hubble's JSON export (``{"flow": {...}}`` lines, with a
  reply line after every fourth flow, skipped as replies are);
* ``candidate_admin``: the CSV flows against a candidate folder of NSX admin documents (an
  Emergency policy letting everything into the ``tier: data`` pods) applied in memory
  over the state: the state is parsed whole and its firewall compiled in memory.

Flows (``--flows``, 100,000; seeded by ``--seed``): a pod to a pod of its own namespace
(60%), to a pod of any namespace (25%), to an outside address (10%), an outside address to
a pod (5%); TCP on 80, 443, 5432, 6379, 8080 or 9090 (85%), UDP 53 (10%), ICMP (5%).

Method: the cluster is generated with ``generate_cluster(namespaces=N, pods=P,
policies=K, nodes=max(3, P // 100), seed=S, shapes=SHAPES)``, written as YAML and synced
once with ``ncp sync --config bench/large-cluster.yaml`` (untimed, as ``bench_questions``
does). Each case starts from a fresh copy of the synced state with the query index that
sync saved, times the first call, then ``--repeat`` later calls.

Each line: ``{"bench": "flow_replay", "case", "command", "namespaces", "pods",
"policies", "shapes", "seed", "flows", "repeat", "first_s", "median_s", "p95_s",
"min_s", "first_rss_mib", "peak_rss_mib", "exit", "stable", "cpu_mean_s" (user and system
CPU per call: wall-clock figures on a shared machine carry others' load), "allowed", "dropped",
"skipped", "distinct_questions", "machine", "revision"}``. Exit status 1 when a command
failed or its outputs differed between calls.
"""

from __future__ import annotations

import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_questions import prepare, prepare_copy, timed_calls
from benchlib import ROOT, BenchParser, emit, run_info, source_revision, workspace

CASES = ("csv", "hubble", "candidate_admin")
OUTSIDE = ("192.0.2.7", "198.51.100.20", "203.0.113.9", "10.50.1.1")
TCP_PORTS = (80, 443, 5432, 6379, 8080, 9090)

Flow = tuple[str, str, str, int | None]


def log(msg: str) -> None:
    print(f"[bench_flow_replay {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def pod_addresses(state: Path) -> dict[str, list[str]]:
    """Pod addresses by namespace, read from the synced state."""
    db = sqlite3.connect(f"{state.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT json_extract(body, '$.tags'), json_extract(body, "
            "'$.address_bindings[0].ip_address') FROM objects "
            "WHERE resource_type='SegmentPort'").fetchall()
    finally:
        db.close()
    out: dict[str, list[str]] = {}
    for tags, ip in rows:
        t = {x["scope"]: x["tag"] for x in json.loads(tags)}
        if ip and "ncp/pod" in t and "ncp/project" in t:
            out.setdefault(t["ncp/project"], []).append(ip)
    return {ns: sorted(ips) for ns, ips in sorted(out.items())}


def make_flows(pods: dict[str, list[str]], count: int, seed: int) -> list[Flow]:
    """``count`` flows drawn as the module's doc says."""
    rng = random.Random(seed)
    namespaces = [ns for ns, ips in pods.items() if ips]
    every = [ip for ns in namespaces for ip in pods[ns]]
    flows: list[Flow] = []
    for _ in range(count):
        ns = rng.choice(namespaces)
        src = rng.choice(pods[ns])
        kind = rng.random()
        if kind < 0.60:
            dst = rng.choice(pods[ns])
        elif kind < 0.85:
            dst = rng.choice(every)
        elif kind < 0.95:
            dst = rng.choice(OUTSIDE)
        else:
            src, dst = rng.choice(OUTSIDE), src
        service = rng.random()
        if service < 0.85:
            flows.append((src, dst, "TCP", rng.choice(TCP_PORTS)))
        elif service < 0.95:
            flows.append((src, dst, "UDP", 53))
        else:
            flows.append((src, dst, "ICMP", None))
    return flows


def write_csv(flows: list[Flow], path: Path) -> None:
    path.write_text("src_ip,dst_ip,protocol,dst_port\n" + "".join(
        f"{s},{d},{p},{'' if n is None else n}\n" for s, d, p, n in flows))


def write_hubble(flows: list[Flow], path: Path) -> None:
    """Hubble's export of the flows: every fourth followed by its reply."""
    lines = []
    for i, (s, d, p, n) in enumerate(flows):
        l4: dict[str, Any] = {"ICMPv4": {"type": 8}} if n is None else \
            {p: {"source_port": 40000 + i % 20000, "destination_port": n}}
        flow = {"time": "2026-12-06T07:00:00Z", "verdict": "FORWARDED",
                "IP": {"source": s, "destination": d, "ipVersion": "IPv4"}, "l4": l4,
                "Type": "L3_L4", "node_name": "worker-0", "is_reply": False}
        lines.append(json.dumps({"flow": flow, "node_name": "worker-0"}))
        if i % 4 == 0 and n is not None:
            reply = {**flow, "IP": {"source": d, "destination": s, "ipVersion": "IPv4"},
                     "l4": {p: {"source_port": n, "destination_port": 40000 + i % 20000}},
                     "is_reply": True}
            lines.append(json.dumps({"flow": reply, "node_name": "worker-0"}))
    path.write_text("\n".join(lines) + "\n")


def write_candidate(folder: Path) -> None:
    """An Emergency policy letting everything into the ``tier: data`` pods (a quarter of
    them), above the developers' policies: many dropped flows become allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open-data.json").write_text(json.dumps([
        {"resource_type": "Group", "id": "bench-data-pods", "expression": [
            {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
             "operator": "EQUALS", "value": "tier|data"}]},
        {"resource_type": "SecurityPolicy", "id": "bench-open-data",
         "category": "Emergency", "rules": [
             {"id": "allow-in", "action": "ALLOW", "direction": "IN",
              "destination_groups": ["/infra/domains/default/groups/bench-data-pods"]}]}]))


def children_cpu() -> float:
    """CPU seconds (user and system) of every child waited for so far: on a shared
    machine the wall-clock figures carry other processes' load, these do not."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def counts_of(tree: Path, state: Path, argv: list[str]) -> dict[str, Any]:
    """The answer's counts (one more call, untimed)."""
    out = subprocess.run([sys.executable, "-m", "sdn", "--state", str(state), *argv],
                         capture_output=True, text=True, cwd=state.parent,
                         env={"PYTHONPATH": str(tree), "SDN_DAEMON": "off",
                              "PATH": "/usr/bin:/bin"})
    if out.returncode != 0:
        return {"error": out.stderr.strip()}
    counts = json.loads(out.stdout)["counts"]
    return {k: counts[k] for k in ("allowed", "dropped", "skipped", "distinct_questions")}


def main() -> int:
    parser = BenchParser(__doc__.split("\n\n")[0], cases=CASES)
    parser.add_sizes((2500, 10000, 7500))
    parser.add_shapes()
    parser.add_repeat(3, help="later calls per case")
    parser.add_bounded("--flows", 1, type=int, default=100000,
                       help="flows replayed (100,000)")
    parser.add_config()
    parser.add_keep()
    args = parser.parse_args()
    parser.resolve(args)
    args.shapes = args.shapes or "simple"  # no --scale here: the generator's own shapes
    failed = False
    with workspace("bench-flow-replay-", keep=args.keep, log=log) as work:
        synced = prepare(args, work)
        pods = pod_addresses(synced)
        flows = make_flows(pods, args.flows, args.seed)
        write_csv(flows, work / "flows.csv")
        write_hubble(flows, work / "flows.json")
        write_candidate(work / "candidate")
        argvs = {"csv": ["replay", "--flows", str(work / "flows.csv"), "-o", "json"],
                 "hubble": ["replay", "--flows", str(work / "flows.json"), "-o", "json"],
                 "candidate_admin": ["replay", "--flows", str(work / "flows.csv"),
                                     "--candidate", str(work / "candidate"), "-o", "json"]}
        for case in args.cases:
            state = prepare_copy(work, synced, with_index=True)
            before = children_cpu()
            res = timed_calls(ROOT, state, argvs[case], args.repeat)
            res["cpu_mean_s"] = round((children_cpu() - before) / (args.repeat + 1), 3)
            res.pop("digest")
            counts = counts_of(ROOT, state, argvs[case])
            failed |= res["exit"] != 0 or not res["stable"] or "error" in counts
            emit({"bench": "flow_replay", "case": case,
                  "command": "sdn " + " ".join(argvs[case]).replace(str(work) + "/", ""),
                  "namespaces": args.namespaces, "pods": args.pods,
                  "policies": args.policies, "shapes": args.shapes, "seed": args.seed,
                  "flows": args.flows, "repeat": args.repeat, **res, **counts,
                  **run_info(), "revision": source_revision(ROOT)})
            log(f"{case}: first {res['first_s']} s, median {res['median_s']} s, "
                f"CPU {res['cpu_mean_s']} s a call, peak {res['peak_rss_mib']} MiB, {counts}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
