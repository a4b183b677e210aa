"""Benchmark of ``sdn realize`` on this host's kernel (root): one JSON line per case on
stdout, progress on stderr.

How to run (from the repository root, as root, with ``ip`` and ``nft``)::

    sudo python bench/bench_realize.py          # guestbook, 100 ns / 1,000 pods / 200 policies
    sudo python bench/bench_realize.py --cases guestbook_cold,guestbook_noop,guestbook_teardown
    sudo python bench/bench_realize.py --namespaces 20 --pods 200 --policies 40 --repeat 3

Targets (issue 13; speed is measured here, not asserted in tests):

* guestbook realize (cold) <= 3 s;
* 100 namespaces / 1,000 pods / 200 policies: cold <= 60 s, no-op <= 2 s, one policy
  change <= 1 s, teardown <= 30 s.

Cases (``guestbook_*`` on ``topologies/guestbook``, the others on the generated cluster):

* ``cold``: ``sdn realize`` with nothing realized (every repeat after a teardown);
* ``noop``: ``sdn realize`` again, unchanged state; fails loudly unless it reports zero
  changes;
* ``policy`` (generated cluster only): the first port of the first rule of the first
  NetworkPolicy becomes 8443, ``ncp sync`` (untimed), then ``sdn realize`` (timed; fails
  unless it updates something); the policy is changed back (untimed) afterwards;
* ``teardown``: ``sdn realize --teardown`` (returns once the kernel freed the namespaces).

Method: the cluster is generated with ``generate_cluster(namespaces=N, pods=P, policies=K,
nodes=max(3, P // 100), seed=S)``, written as YAML and synced by ``ncp sync`` (untimed)
with settings of its own (:data:`SETTINGS`: ``bench/large-cluster.yaml`` puts the no-SNAT
block in 100.64.0.0/10, where the realized Tier-0/Tier-1 transit links live). Each timed
run is the real command in a fresh interpreter (``python -m sdn realize --state S -o
json``: start-up and imports included), with ``SDN_RUN_DIR`` in the bench's temporary
folder. A repeat is cold, noop, policy, teardown in that order; the cases not asked for run untimed
when a later one needs them.

Each line: ``{"bench": "realize", "case", "namespaces", "pods", "policies", "seed",
"repeat", "median_s", "p95_s", "changes": {"created", "updated", "deleted"}, "ports",
"peak_rss_mib", "machine", "revision"}``; ``peak_rss_mib`` is the largest of the timed
commands' (``RUSAGE_CHILDREN``). Exit status: 0 when every case ran and kept its
invariants, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, BenchParser, emit, p95, peak_rss_mib, run_info, workspace

CASES = ("guestbook_cold", "guestbook_noop", "guestbook_teardown", "cold", "noop",
         "policy", "teardown")
STEPS = ("cold", "noop", "policy", "teardown")
#: The port the ``policy`` case gives the first rule of the first NetworkPolicy.
CHANGED_PORT = 8443
#: The generated cluster's settings: blocks clear of 100.64.0.0/16 (realized transit).
SETTINGS = """\
cluster: bench
container_ip_blocks:
  - {id: ip-block-pods, cidr: 10.0.0.0/9}
no_snat_ip_blocks:
  - {id: ip-block-nosnat, cidr: 10.128.0.0/9}
node_ip_blocks:
  - {id: ip-block-nodes, cidr: 172.16.0.0/12}
extra_ip_blocks: []
external_ip_pools:
  - {id: ip-pool-snat, cidr: 198.18.0.0/15}
external_ip_pools_lb:
  - {id: ip-pool-lb, cidr: 203.0.113.0/24}
"""
T0 = 1_700_000_000.0


def log(msg: str) -> None:
    print(f"[bench_realize {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def command(prog: str, *argv: object, env: dict[str, str]) -> tuple[float, str]:
    """Run ``python -m PROG ARGV``; seconds and stdout (a failure ends the bench)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", prog, *map(str, argv)], env=env, text=True,
                          capture_output=True, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"FAILED: {prog} {' '.join(map(str, argv))}: {proc.stderr.strip()}")
    return elapsed, proc.stdout


def sync(cluster: Path, state: Path, config: Path | None, env: dict[str, str]) -> float:
    extra = ["--config", config] if config else []
    elapsed, _ = command("ncp", "sync", "--cluster", cluster, "--state", state, "--now", T0,
                         "-q", *extra, env=env)
    return elapsed


def measure(state: Path, steps: Sequence[str], repeat: int, env: dict[str, str],
            change: Callable[[bool], None] | None) -> dict[str, dict[str, Any]]:
    """``repeat`` rounds of cold, noop, policy (with ``change``: the policy changed and
    synced, untimed, then realized; changed back afterwards), teardown on ``state``: per
    step its times and the last answer's changes and ports."""
    found: dict[str, dict[str, Any]] = {s: {"times": []} for s in steps}
    command("sdn", "realize", "--teardown", "--state", state, env=env)  # start from nothing
    for _ in range(repeat):
        for step in STEPS:
            if step == "policy" and (change is None or step not in steps):
                continue
            if step == "policy" and change is not None:
                change(True)
            argv: list[object] = ["realize", "--state", state, "-o", "json"]
            if step == "teardown":
                argv.append("--teardown")
            elapsed, out = command("sdn", *argv, env=env)
            answer = json.loads(out)
            if step == "noop" and answer["changes"] != {"created": 0, "updated": 0,
                                                         "deleted": 0}:
                raise SystemExit(f"FAILED: the no-op realize changed {answer['changes']}")
            if step == "policy" and change is not None:
                if not answer["changes"]["updated"]:
                    raise SystemExit("FAILED: the policy change updated nothing")
                change(False)
            if step in found:
                found[step]["times"].append(elapsed)
                found[step]["changes"] = answer.get("changes")
                found[step]["ports"] = len(answer.get("ports", []))
            log(f"{step}: {elapsed:.2f} s")
    return found


def lines(prefix: str, found: dict[str, dict[str, Any]], sizes: tuple[int, int, int],
          args: Any) -> None:
    for step, result in found.items():
        times = result["times"]
        emit({"bench": "realize", "case": f"{prefix}{step}", "namespaces": sizes[0],
              "pods": sizes[1], "policies": sizes[2], "seed": args.seed,
              "repeat": args.repeat, "median_s": round(statistics.median(times), 3),
              "p95_s": round(p95(times), 3), "changes": result.get("changes"),
              "ports": result.get("ports"),
              "peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN),
              **run_info()})


def generated(work: Path, args: Any,
              env: dict[str, str]) -> tuple[Path, Callable[[bool], None]]:
    """The generated cluster synced into a state (untimed), and how to change one policy
    in it (the first rule's first port of the first NetworkPolicy, and back)."""
    from topologies.generate import generate_cluster, write_cluster

    folder, state, config = work / "cluster", work / "cluster.db", work / "settings.yaml"
    config.write_text(SETTINGS)
    objects = generate_cluster(namespaces=args.namespaces, pods=args.pods,
                               policies=args.policies, nodes=max(3, args.pods // 100),
                               seed=args.seed)
    write_cluster(objects, folder)
    log(f"syncing {args.namespaces} namespaces / {args.pods} pods / {args.policies} "
        "policies (untimed)")
    log(f"synced in {sync(folder, state, config, env):.1f} s")
    policy = next(o for o in objects if o["kind"] == "NetworkPolicy")
    rule = (policy["spec"].get("ingress") or policy["spec"].get("egress"))[0]
    original = rule["ports"][0]["port"]

    def change(changed: bool) -> None:
        rule["ports"][0]["port"] = CHANGED_PORT if changed else original
        write_cluster(objects, folder)
        sync(folder, state, config, env)

    return state, change


def bench_env(work: Path) -> dict[str, str]:
    """The commands' environment: ``SDN_RUN_DIR`` in the bench's folder, this checkout
    first on the path."""
    return {**os.environ, "SDN_RUN_DIR": str(work / "run"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                          if p)}


def clusters(args: Any, all_steps: Sequence[str]) -> Iterator[tuple[str, tuple[int, int, int],
                                                                    list[str]]]:
    """The guestbook, then the generated cluster: each one's case prefix, sizes and the
    steps of ``all_steps`` that ``--cases`` asked for (a cluster without any is left out)."""
    for prefix, sizes in (("guestbook_", (1, 6, 1)),
                          ("", (args.namespaces, args.pods, args.policies))):
        steps = [c[len(prefix):] for c in args.cases
                 if c.startswith(prefix) and c[len(prefix):] in all_steps]
        if steps:
            yield prefix, sizes, steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = BenchParser("Time sdn realize (cold, no-op, teardown) on the guestbook and a "
                         "generated cluster; one JSON line per case.", cases=CASES)
    parser.add_sizes((100, 1000, 200))
    parser.add_repeat(1)
    parser.add_keep()
    args = parser.parse_args(argv)
    parser.resolve(args)
    if os.geteuid() != 0:
        log("needs root (network namespaces, nftables)")
        return 1
    with workspace("bench-realize-", keep=args.keep, log=log) as work:
        env = bench_env(work)
        for prefix, sizes, steps in clusters(args, STEPS):
            change = None
            if prefix:
                state = work / "guestbook.db"
                sync(ROOT / "topologies" / "guestbook", state, None, env)
            else:
                state, change = generated(work, args, env)
            try:
                lines(prefix, measure(state, steps, args.repeat, env, change), sizes, args)
            finally:
                command("sdn", "realize", "--teardown", "--state", state, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
