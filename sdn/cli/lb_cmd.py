"""``sdn lb``: load balancer capacity, like ``sdn ipam`` for addresses: per LB service,
virtual servers, pools and pool members used of what its size allows."""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

from sdn.cli.filters import check_scope
from sdn.model import LBPool, LBService, LBVirtualServer
from sdn.model.lb import CAPACITY
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.store import Store


def _pct(used: int, limit: int | None) -> str:
    return f"{used}/{limit} ({100 * used / limit:.0f}%)" if limit else f"{used}"


def run(args: argparse.Namespace) -> int:
    """One row per LB service; a DLB (cluster IPs) has no size limits."""
    with Store.open_readonly(args.state) as store:
        check_scope(store, args.cluster)
        inv = store.inventory()
    pools = {p.path: p for p in inv.of_type(LBPool)}
    used: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for vs in inv.of_type(LBVirtualServer):
        counts = used[vs.lb_service_path]
        counts[0] += 1
        paths = {vs.pool_path} if vs.pool_path else {a.pool_id for r in vs.rules
                                                     for a in r.actions}
        for path in paths:
            pool = pools.get(path)
            if pool is not None:
                counts[1] += 1
                counts[2] += len(pool.members)
    rows: list[dict[str, Any]] = []
    for lb in inv.of_type(LBService):
        if args.cluster and lb.tag("ncp/cluster") != args.cluster:
            continue
        limit = CAPACITY.get(lb.size)
        v, p, m = used[lb.path]
        rows.append({"path": lb.path, "size": lb.size, "cluster": lb.tag("ncp/cluster"),
                     "virtual_servers": v, "pools": p, "members": m,
                     "limits": None if limit is None else
                     {"virtual_servers": limit[0], "pools": limit[1], "members": limit[2]}})
    if args.output in STRUCTURED:
        print_data(rows, args.output)
        return 0
    print_table(["LB SERVICE", "SIZE", "CLUSTER", "VIRTUAL SERVERS", "POOLS", "MEMBERS"], [
        [r["path"].rsplit("/", 1)[-1], r["size"], r["cluster"] or "-",
         _pct(r["virtual_servers"], (r["limits"] or {}).get("virtual_servers")),
         _pct(r["pools"], (r["limits"] or {}).get("pools")),
         _pct(r["members"], (r["limits"] or {}).get("members"))] for r in rows],
        title=f"load balancer services: {len(rows)}")
    return 0
