"""Benchmark of ``ncp run --cluster DIR --realize`` (root): from a manifest change to the
kernel holding it; one JSON line per case on stdout, progress on stderr.

How to run (from the repository root, as root, with ``ip`` and ``nft``)::

    sudo python bench/bench_run_realize.py                    # guestbook, 10 ns / 100 pods
    sudo python bench/bench_run_realize.py --namespaces 100 --pods 1000 --policies 200

Cases (``guestbook_*`` on a copy of ``topologies/guestbook``, the others on
``generate_cluster(namespaces=N, pods=P, policies=K, nodes=max(3, P // 100), seed=S)``
synced with ``bench_realize.SETTINGS``), each timed from the file write (or removal):

* ``pod_add``: a Pod manifest written; until the realize record lists the pod, nothing is
  left dirty, and its network namespace exists;
* ``pod_delete``: that manifest removed; until its namespace is gone;
* ``policy_add``: a NetworkPolicy (every pod of the pod's namespace, ingress on one TCP
  port) written; until the record's nftables rulesets carry every one of its rule ids
  (``rule <id>``, the comment the generator gives its rules) and nothing is left dirty.
  It is removed (untimed) before the next repeat.

Method: one ``ncp run --cluster DIR --state S --realize`` process per cluster, started
after an untimed ``ncp sync``, with ``SDN_RUN_DIR`` in the bench's temporary folder; the
first realize is awaited (untimed). The record (``$SDN_RUN_DIR/<tag>.json``, written
atomically once the kernel holds a realize) is polled every 10 ms. The time includes
``ncp run``'s manifest polling (1 s), its debounce (0.3 s) for a full pass, the reconcile
and the realize. The data plane is torn down at the end.

Each line: ``{"bench": "run_realize", "case", "namespaces", "pods", "policies", "seed",
"repeat", "median_s", "p95_s", "max_s", "peak_rss_mib", "machine", "revision"}``
(``peak_rss_mib``: the largest of the child processes, ``ncp run`` included). Exit status:
0 when every case ran, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_realize import SETTINGS, bench_env, clusters, command, sync
from benchlib import ROOT, BenchParser, emit, p95, peak_rss_mib, run_info, stop, workspace

CASES = ("guestbook_pod_add", "guestbook_pod_delete", "guestbook_policy_add", "pod_add",
         "pod_delete", "policy_add")
STEPS = ("pod_add", "pod_delete", "policy_add")


def log(msg: str) -> None:
    print(f"[bench_run_realize {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def wait(predicate: Callable[[], bool], what: str, timeout: float) -> float:
    """Poll every 10 ms; the seconds until ``predicate`` held (a timeout ends the bench)."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"FAILED: timed out waiting for {what}")
        time.sleep(0.01)
    return time.perf_counter() - start


class Record:
    """The realize record of one state, read as the bench needs it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return found if not found.get("private", {}).get("dirty") else None

    def netns(self, pod: str) -> str | None:
        """The namespace of ``pod`` in a clean record (None: not there)."""
        found = self.read()
        return next((p["netns"] for p in found["ports"] if p["pod"] == pod), None) \
            if found else None

    def carries(self, comments: set[str]) -> bool:
        found = self.read()
        text = json.dumps(found["private"].get("nft", {})) if found else ""
        return bool(comments) and all(c in text for c in comments)


def pod_manifest(namespace: str, name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": namespace,
                                    "labels": {"bench": name}},
                       "spec": {"containers": [{"name": "c", "image": "x"}]}})


def policy_manifest(namespace: str, name: str, port: int) -> str:
    return json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": name, "namespace": namespace},
                       "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                                "ingress": [{"from": [{"podSelector": {}}],
                                             "ports": [{"protocol": "TCP", "port": port}]}]}})


def rule_comments(state: Path, policy: str) -> set[str]:
    """``rule <id>`` of every rule the state has for the NetworkPolicy ``policy``."""
    from sdn.model import SecurityPolicy
    from sdn.store import Store

    try:
        with Store.open_readonly(state) as store:
            return {f"rule {r.rule_id}" for p in store.inventory().of_type(SecurityPolicy)
                    if p.tag("ncp/network_policy") == policy for r in p.rules}
    except Exception:  # the state mid-write: try again on the next poll
        return set()


def one_round(folder: Path, state: Path, rec: Record, pod: str, port: int,
               timeout: float) -> dict[str, float]:
    """One repeat: the pod added, then deleted, then a policy added (removed untimed)."""
    namespace, name = pod.split("/")
    pod_file, policy_file = folder / f"{name}-pod.json", folder / f"{name}-np.json"
    took: dict[str, float] = {}
    pod_file.write_text(pod_manifest(namespace, name))
    took["pod_add"] = wait(lambda: (ns := rec.netns(pod)) is not None
                           and Path("/run/netns", ns).exists(), "the pod's namespace", timeout)
    netns = str(rec.netns(pod))
    pod_file.unlink()
    took["pod_delete"] = wait(lambda: not Path("/run/netns", netns).exists(),
                              "the namespace gone", timeout)
    policy_file.write_text(policy_manifest(namespace, name, port))
    took["policy_add"] = wait(lambda: rec.carries(rule_comments(state, name)),
                              "the policy's rules", timeout)
    policy_file.unlink()
    wait(lambda: not rule_comments(state, name), "the policy gone", timeout)
    return took


def measure(folder: Path, state: Path, namespace: str, args: Any, env: dict[str, str],
            extra: Sequence[object]) -> dict[str, list[float]]:
    """Start ``ncp run --realize`` on ``folder`` and time each step ``args.repeat`` times."""
    from sdn.dataplane.layout import owner_tag

    rec = Record(Path(env["SDN_RUN_DIR"]) / f"{owner_tag(state)}.json")
    logs = state.with_suffix(".log")  # a file: a pipe nobody reads would fill and block it
    with logs.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ncp.cli", "run", "--cluster",
                                 str(folder), "--state", str(state), "--realize",
                                 *map(str, extra)],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    times: dict[str, list[float]] = {s: [] for s in STEPS}
    try:
        first = wait(lambda: rec.read() is not None, "the first realize", args.timeout)
        log(f"first realize: {first:.2f} s")
        for r in range(args.repeat):
            took = one_round(folder, state, rec, f"{namespace}/bench-{args.seed}-{r}",
                             20000 + r, args.timeout)
            for step in STEPS:
                times[step].append(took[step])
            log(f"repeat {r}: " + ", ".join(f"{s} {took[s]:.2f} s" for s in STEPS))
    finally:
        stop(proc, 30)
        if proc.returncode != 0:
            log(f"ncp run ended with {proc.returncode}: {logs.read_text()[-2000:]}")
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = BenchParser("Time ncp run --realize from a manifest change to the kernel; one "
                         "JSON line per case.", cases=CASES)
    parser.add_sizes((10, 100, 20))
    parser.add_repeat(5)
    parser.add_keep()
    parser.add_timeout(120.0)
    args = parser.parse_args(argv)
    parser.resolve(args)
    if os.geteuid() != 0:
        log("needs root (network namespaces, nftables)")
        return 1
    with workspace("bench-run-realize-", keep=args.keep, log=log) as work:
        env = bench_env(work)
        for prefix, sizes, steps in clusters(args, STEPS):
            folder, state = work / f"{prefix}cluster", work / f"{prefix}state.db"
            if prefix:
                shutil.copytree(ROOT / "topologies" / "guestbook", folder)
                namespace, extra = "default", ()
                sync(folder, state, None, env)
            else:
                from topologies.generate import generate_cluster, write_cluster

                config = work / "settings.yaml"
                config.write_text(SETTINGS)
                objects = generate_cluster(namespaces=args.namespaces, pods=args.pods,
                                           policies=args.policies,
                                           nodes=max(3, args.pods // 100), seed=args.seed)
                write_cluster(objects, folder)
                namespace = next(o["metadata"]["name"] for o in objects
                                 if o["kind"] == "Namespace")
                extra = ("--config", config)
                sync(folder, state, config, env)
            try:
                times = measure(folder, state, namespace, args, env, extra)
            finally:
                command("sdn", "realize", "--teardown", "--state", state, env=env)
            for step in steps:
                emit({"bench": "run_realize", "case": f"{prefix}{step}",
                      "namespaces": sizes[0], "pods": sizes[1], "policies": sizes[2],
                      "seed": args.seed, "repeat": args.repeat,
                      "median_s": round(statistics.median(times[step]), 3),
                      "p95_s": round(p95(times[step]), 3),
                      "max_s": round(max(times[step]), 3),
                      "peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN), **run_info()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
