"""``sdn clusters``: the clusters synced into this manager, their profile and health."""

from __future__ import annotations

import argparse
import time
from typing import Any

from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.store import Store


def run(args: argparse.Namespace) -> int:
    """One row per cluster: profile, topology, realized counts, problems, last sync."""
    with Store.open_readonly(args.state) as store:
        clusters = store.clusters()
        problems = {c.name: len(store.problems(c.name)) for c in clusters}
    rows: list[dict[str, Any]] = []
    for c in clusters:
        shared = bool(c.summary.get("shared_tier1"))
        rows.append({
            "name": c.name, "profile": c.profile, "tier0": c.config.get("tier0"),
            "topology": "shared-tier1" if shared else "tier1-per-namespace",
            **{k: c.summary.get(k, 0) for k in ("namespaces", "pods", "nodes")},
            "problems": problems[c.name], "synced_at": c.synced_at, "revision": c.revision,
        })
    if args.output in STRUCTURED:
        print_data(rows, args.output)
        return 0
    header = ["CLUSTER", "PROFILE", "TOPOLOGY", "TIER-0", "NAMESPACES", "PODS", "NODES",
              "PROBLEMS", "LAST SYNC (UTC)"]
    table = [[r["name"], r["profile"] or "-", r["topology"], str(r["tier0"]),
              str(r["namespaces"]), str(r["pods"]), str(r["nodes"]), str(r["problems"]),
              time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["synced_at"]))] for r in rows]
    print_table(header, table, title=f"clusters: {len(rows)}")
    return 0
