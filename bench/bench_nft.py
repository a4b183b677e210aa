"""Benchmark: the nftables of a realization, generated and applied.

The data-plane issue's targets: a 1,000-pod / 200-policy realization ready in 60 s cold
and a one-policy change in under 1 s; the spike measured 0.58 s for a cold ``nft -f`` of
1,000 ports and 200 policies in one Tier-1, 0.03 s for one policy replaced. The cluster:
``topologies.generate`` (``--namespaces`` 100, ``--pods`` 1,000, ``--policies`` 200,
seeded) synced with ``bench/large-cluster.yaml`` and the ``shared-t1`` profile, so that
one Tier-1 namespace hosts every port (the spike's shape; the largest ruleset).

Run: ``python bench/bench_nft.py`` (root for the ``apply_*`` cases and ``one_policy``'s
apply; without root they report ``"skipped"``). One JSON line per case:

* ``generate``: ``nftgen.rulesets(inv, layout, firewall)`` of every namespace (the DFW
  compile is not timed: ``compile_s``);
* ``noop``: generation again plus ``transaction(old, new)`` for every namespace (all "");
* ``apply_cold``: ``nft -f`` of the largest namespace's fresh script inside a throwaway
  ``sdnt-nft-bench-*`` namespace (deleted afterwards);
* ``one_policy``: one policy's first rule flipped (ALLOW/DROP): generation, transaction
  and its ``nft -f`` on top of the cold tables (the changed state's DFW compile is not
  timed); ``changes`` is ``nftgen.count``, ``nft_apply_median_s`` the ``nft -f`` alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import DEFAULT_CONFIG, ROOT, BenchParser, emit, peak_rss_mib, run_info

sys.path.insert(0, str(ROOT))

CASES = ("generate", "noop", "apply_cold", "one_policy")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchParser(__doc__.splitlines()[0], cases=CASES)
    parser.add_sizes((100, 1000, 200))
    parser.add_repeat(3)
    parser.add_argument("--shapes", choices=["simple", "realistic"], default="simple",
                        help="the generated policies' shapes (simple)")
    parser.add_argument("--ncp-profile", default=str(ROOT / "topologies" / "profiles"
                                                 / "shared-t1.json"),
                        help="the NCP profile (shared-t1: one Tier-1 hosts every port)")
    args = parser.parse_args(argv)
    parser.resolve(args)
    return args


def build(args: argparse.Namespace) -> Any:
    """The synced inventory of the generated cluster."""
    from ncp.config import load_config
    from ncp.objects import CLUSTER_SCOPED_KINDS, K8sObject
    from ncp.reconcile.sync import sync_cluster
    from ncp.sources.manifests import ManifestSet
    from sdn.profiles import parse_profile
    from sdn.store import Store
    from topologies.generate import generate_cluster

    docs = generate_cluster(namespaces=args.namespaces, pods=args.pods,
                            policies=args.policies, seed=args.seed, shapes=args.shapes)
    objs = tuple(K8sObject(kind=d["kind"], api_version=d.get("apiVersion", ""),
                           namespace="" if d["kind"] in CLUSTER_SCOPED_KINDS
                           else d["metadata"].get("namespace", "default"),
                           name=d["metadata"]["name"], body=d, source=f"bench#{i}")
                 for i, d in enumerate(docs))
    profile = parse_profile(json.loads(Path(args.ncp_profile).read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "s.db")
        sync_cluster(store, manifests=ManifestSet(objects=objs, problems=(), notes=()),
                     config=load_config(DEFAULT_CONFIG), profile=profile, now=1)
        inv = store.inventory()
        store.close()
    return inv


class Netns:
    """A throwaway namespace for the apply cases (deleted by :meth:`close`)."""

    def __init__(self) -> None:
        self.name = f"sdnt-nft-bench-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)

    def nft_f(self, script: str) -> float:
        started = time.perf_counter()
        done = subprocess.run(["ip", "netns", "exec", self.name, "nft", "-f", "-"],
                              input=script, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"FAILED: nft -f: {done.stderr[:500]}")
        return elapsed

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def can_apply() -> bool:
    return os.geteuid() == 0 and shutil.which("nft") is not None \
        and shutil.which("ip") is not None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    from sdn.dataplane.layout import Layout
    from sdn.dataplane.nftgen import count, rulesets, transaction
    from sdn.policy import compile_dfw
    from tests.support.nft_cases import one_policy_changed

    inv = build(args)
    started = time.perf_counter()
    fw = compile_dfw(inv)
    compile_s = time.perf_counter() - started
    layout = Layout.of(inv, "bench0")
    common = {"bench": "nft", "namespaces": args.namespaces, "pods": args.pods,
              "policies": args.policies, "shapes": args.shapes, "seed": args.seed,
              "repeat": args.repeat,
              "ports": len(layout.ports), **run_info()}
    times: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        rs = rulesets(inv, layout, fw)
        times.append(time.perf_counter() - started)
    biggest = max(rs, key=lambda n: sum(len(c.rules) for t in rs[n].tables for c in t.chains))
    script = transaction(None, rs[biggest])
    tables = rs[biggest].tables
    shape = {"namespaces_with_tables": len(rs), "lines": script.count("\n"),
             "chains": sum(len(t.chains) for t in tables),
             "rules": sum(len(c.rules) for t in tables for c in t.chains),
             "sets": sum(len(t.sets) for t in tables)}
    cases = set(args.cases)
    if "generate" in cases:
        emit({**common, "case": "generate", "median_s": round(statistics.median(times), 4),
              "compile_s": round(compile_s, 4), **shape, "peak_rss_mib": peak_rss_mib()})
    if "noop" in cases:
        noop: list[float] = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            again = rulesets(inv, layout, fw)
            scripts = [transaction(rs.get(n), again.get(n)) for n in rs.keys() | again]
            noop.append(time.perf_counter() - started)
            if any(scripts):
                raise SystemExit("FAILED: an unchanged state gave a transaction")
        emit({**common, "case": "noop", "median_s": round(statistics.median(noop), 4)})
    applying = can_apply()
    if not applying:
        for case in ("apply_cold", "one_policy"):
            if case in cases:
                emit({**common, "case": case, "skipped": "needs root, ip and nft"})
        return 0
    changed_inv, _ = one_policy_changed(inv)
    for case in ("apply_cold", "one_policy"):
        if case not in cases:
            continue
        runs: list[float] = []
        applies: list[float] = []
        info: dict[str, Any] = {}
        for _ in range(args.repeat):
            ns = Netns()
            try:
                cold = ns.nft_f(script)
                if case == "apply_cold":
                    runs.append(cold)
                    continue
                changed_fw, changed_layout = compile_dfw(changed_inv), Layout.of(
                    changed_inv, "bench0")
                started = time.perf_counter()
                new = rulesets(changed_inv, changed_layout, changed_fw)
                diff = transaction(rs[biggest], new[biggest])
                generated = time.perf_counter() - started
                applied = ns.nft_f(diff)
                runs.append(generated + applied)
                applies.append(applied)
                info = {"changes": count(rs[biggest], new[biggest]),
                        "script_lines": diff.count("\n")}
            finally:
                ns.close()
        line = {**common, "case": case, "median_s": round(statistics.median(runs), 4),
                **shape, **info}
        if applies:
            line["nft_apply_median_s"] = round(statistics.median(applies), 4)
        emit(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
