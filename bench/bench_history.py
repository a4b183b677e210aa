"""Benchmark of the history questions: ``sdn blame``, ``sdn reach --at`` and ``sdn diff``
over a state with ``--revisions`` kept writes; one JSON line per case on stdout,
progress on stderr.

How to run (from the repository root, after ``pip install -e .``)::

    python bench/bench_history.py                       # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_history.py --cases blame --repeat 5
    python bench/bench_history.py --namespaces 250 --pods 1000 --policies 750 --revisions 20

Target (issue 15): ``sdn blame`` over 100 revisions at 10,000 pods in at most 2 s.

Method: the cluster is generated with ``generate_cluster(namespaces=N, pods=P,
policies=K, nodes=max(3, P // 100), seed=S)``, written as YAML and synced (``sync_cluster``
with ``bench/large-cluster.yaml``; reported as ``sync_s``). Then ``--revisions - 1`` writes
go through the store as ``sdn apply`` would write them (seeded): half relabel 20 random pods
(a tag ``bench/rev`` on their ports: writes blame passes over without evaluating), half
flip one rule's action (ALLOW <-> DROP) of a random security policy outside the flow's
namespace (writes blame must judge again); at 30 % of the way one more write, the
*planted* one, adds an Environment-category policy that drops everything if the flow was
allowed, else allows everything (reported as ``planted``). The flow is the first two pods
of the first namespace with two, TCP on the first port a policy there names (else 80).

Each case runs the real command in a fresh interpreter (``python -m sdn ... -o json``,
``SDN_NO_DAEMON=1``: no daemon answers), ``--repeat`` times after one untimed run that
builds the current revision's query index (its time is ``first_s``):

* ``blame``: ``sdn blame --src A --dst B --protocol TCP --port N``; fails unless it names
  the planted revision;
* ``reach_at``: ``sdn reach --at R --dst B --src A --port N`` at the revision before the
  planted one (the inventory rebuilt there and its firewall compiled in memory);
* ``diff``: ``sdn diff --from R --to R+10`` from the planted write on (five relabels and
  five rule flips: objects, and the reachability delta of the affected ports; across the
  planted write every pair is affected, a whole-matrix delta, not what this case times).

Each line: ``{"bench": "history", "case", "namespaces", "pods", "policies", "revisions",
"seed", "repeat", "median_s", "p95_s", "first_s", "sync_s", ..., "machine", "revision"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any

from benchlib import ROOT, BenchParser, emit, p95, run_info, workspace

CASES = ("blame", "reach_at", "diff")


def log(msg: str) -> None:
    print(f"[bench_history {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The synced state with its history; what the cases ask about."""
    from ncp.config import load_config
    from ncp.reconcile.sync import sync_cluster
    from sdn.store import Store
    from topologies.generate import generate_cluster, write_cluster

    objs = generate_cluster(namespaces=args.namespaces, pods=args.pods, seed=args.seed,
                            policies=args.policies, nodes=max(3, args.pods // 100))
    write_cluster(objs, work / "cluster")
    state = work / "state.db"
    log("syncing the cluster")
    start = time.perf_counter()
    with Store.open(state) as store:
        sync_cluster(store, paths=[work / "cluster"], config=load_config(args.config),
                     now=1_700_000_000.0)
    sync_s = time.perf_counter() - start
    log(f"synced in {sync_s:.1f} s; writing {args.revisions - 1} revisions")
    with Store.open(state) as store:
        found = _history(store, args)
    return {"state": state, "sync_s": round(sync_s, 3), **found}


def _history(store: Any, args: argparse.Namespace) -> dict[str, Any]:
    from sdn.model import SecurityPolicy, SegmentPort, Tag
    from sdn.model.dfw import ANY, Rule
    from sdn.store import ChangeSet
    from sdn.store.codec import to_stored

    rng = random.Random(args.seed)
    inv = store.inventory()
    pods = [p for p in inv.of_type(SegmentPort) if p.tag("ncp/pod")]
    by_ns: dict[str, list[Any]] = {}
    for p in pods:
        by_ns.setdefault(str(p.tag("ncp/project")), []).append(p)
    ns, (src, dst) = next((n, ps[:2]) for n, ps in sorted(by_ns.items()) if len(ps) >= 2)
    policies = inv.of_type(SecurityPolicy)
    own = [p for p in policies if f"_{ns}_" in p.path]
    port = next((int(e.split("-")[0]) for p in own for r in p.rules for e in
                 _ports(r)), 80)
    others = [p for p in policies if f"_{ns}_" not in p.path and p.rules]
    writes = args.revisions - 1
    plant_at = max(1, writes * 3 // 10)
    planted = 0
    for n in range(writes):
        if n == plant_at:
            action = "DROP" if _allowed(store, src.path, dst.path, port) else "ALLOW"
            path = "/infra/domains/default/security-policies/bench-planted"
            rule = Rule(id="flip", path=f"{path}/rules/flip", parent_path=path,
                        rule_id=99_999, action=action, source_groups=(ANY,),
                        destination_groups=(ANY,), scope=(ANY,))
            planted = store.apply(ChangeSet(upserts=[to_stored(SecurityPolicy(
                id="bench-planted", path=path, display_name="bench-planted",
                category="Environment", rules=(rule,)))], command=f"bench: planted {action}"))
        elif n % 2:
            chosen = rng.sample(pods, 20)
            rows = [to_stored(p.model_copy(update={"tags": (
                *(t for t in p.tags if t.scope != "bench/rev"),
                Tag(scope="bench/rev", tag=str(n)))})) for p in chosen]
            store.apply(ChangeSet(upserts=rows, command="bench: relabel 20 pods"))
        else:
            i = rng.randrange(len(others))
            pol = others[i]
            first = pol.rules[0]
            flipped = first.model_copy(update={"action": "DROP" if first.action == "ALLOW"
                                               else "ALLOW"})
            others[i] = pol.model_copy(update={"rules": (flipped, *pol.rules[1:])})
            store.apply(ChangeSet(upserts=[to_stored(others[i])],
                                  command=f"bench: flip a rule of {pol.id}"))
    return {"src": f"{ns}/{src.tag('ncp/pod')}", "dst": f"{ns}/{dst.tag('ncp/pod')}",
            "port": port, "planted": planted, "current": store.revision}


def _allowed(store: Any, src: str, dst: str, port: int) -> bool:
    from sdn.policy.compiler import compile_dfw
    from sdn.policy.evaluator import evaluate_flow

    dfw = compile_dfw(store.inventory())
    eps = dfw.endpoints_of([src, dst])
    return evaluate_flow(dfw, eps[src], eps[dst], protocol="TCP", port=port).allowed


def _ports(rule: Any) -> list[str]:
    return [p for e in rule.service_entries for p in getattr(e, "destination_ports", ())]


def command(case: str, built: dict[str, Any]) -> list[str]:
    flow = ["--src", built["src"], "--dst", built["dst"]]
    if case == "blame":
        return ["blame", *flow, "--protocol", "TCP", "--port", str(built["port"])]
    before = built["planted"] - 1
    if case == "reach_at":
        return ["reach", "--at", str(before), *flow, "--port", str(built["port"])]
    after = built["planted"]
    return ["diff", "--from", str(after), "--to", str(min(after + 10, built["current"]))]


def run(case: str, built: dict[str, Any]) -> tuple[float, Any]:
    cmd = [sys.executable, "-m", "sdn", "--state", str(built["state"]),
           *command(case, built), "-o", "json"]
    env = {**os.environ, "SDN_NO_DAEMON": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get(
               "PYTHONPATH", "")) if p)}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def check(case: str, answer: Any, built: dict[str, Any]) -> dict[str, Any]:
    if case == "blame":
        if answer["revision"] != built["planted"]:
            raise SystemExit(f"FAILED: blame named revision {answer['revision']}, the "
                             f"planted write made {built['planted']}")
        return {"revisions_evaluated": answer["revisions_evaluated"]}
    if case == "diff":
        return {"objects": len(answer["objects"]),
                "gained": len(answer["reachability"]["gained"]),
                "lost": len(answer["reachability"]["lost"])}
    return {}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchParser("Time sdn blame, reach --at and diff over a kept history; one "
                         "JSON line per case.", cases=CASES)
    parser.add_repeat(3)
    parser.add_sizes((2500, 10_000, 7500), at_least=(1, 2, 0))
    parser.add_bounded("--revisions", 3, type=int, default=100,
                       help="revisions kept, the sync's included (100)")
    parser.add_config()
    parser.add_keep()
    args = parser.parse_args(argv)
    parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args, common = parse(argv), run_info()
    with workspace("bench-history-", keep=args.keep, log=log) as work:
        built = build(args, work)
        log(f"flow {built['src']} -> {built['dst']} TCP/{built['port']}; planted at "
            f"revision {built['planted']} of {built['current']}")
        for case in args.cases:
            first, answer = run(case, built)
            extra = check(case, answer, built)
            times = []
            for n in range(args.repeat):
                elapsed, answer = run(case, built)
                check(case, answer, built)
                times.append(elapsed)
                log(f"  {case} {n + 1}/{args.repeat}: {elapsed:.3f} s")
            emit({"bench": "history", "case": case, "namespaces": args.namespaces,
                  "pods": args.pods, "policies": args.policies,
                  "revisions": built["current"], "seed": args.seed, "repeat": args.repeat,
                  "median_s": round(median(times), 3), "p95_s": round(p95(times), 3),
                  "first_s": round(first, 3), "sync_s": built["sync_s"],
                  "command": "sdn " + " ".join(command(case, built)), **extra, **common})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
