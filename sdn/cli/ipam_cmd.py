"""``sdn ipam [show|check]``: how full blocks and pools are, and what leaked.

Shaped after ``calicoctl ipam show --show-blocks`` and ``calicoctl ipam check``.
"""

from __future__ import annotations

import argparse
import time

from sdn.cli.questions import answers, open_index
from sdn.ipam import find_orphans, with_holds
from sdn.render.ipam_json import usage_json
from sdn.render.output import STRUCTURED, print_data, print_table


def _pct(part: int, whole: int) -> str:
    return f"{part} ({(100.0 * part / whole if whole else 0):.0f}%)"


@answers
def show(args: argparse.Namespace) -> int:
    """Usage per block (and carved subnet) and per pool."""
    now = args.now if getattr(args, "now", None) is not None else time.time()
    index = open_index(args)
    blocks, pools = with_holds(index.ipam_usage(), index.store.holds(), now)
    if args.output in STRUCTURED:
        print_data(usage_json(blocks, pools, show_blocks=args.show_blocks), args.output)
        return 0
    print_table(["BLOCK", "CIDR", "TOTAL", "CARVED", "HELD", "FREE", "SUBNETS"], [
        [b.path.rsplit("/", 1)[1], str(b.cidr), str(b.total), _pct(b.used, b.total),
         str(b.held_addresses), _pct(b.free, b.total), str(len(b.carved))] for b in blocks],
        title="IP blocks")
    if args.show_blocks:
        for b in blocks:
            if b.carved:
                print()
                print_table(["SUBNET", "OWNER", "POOL", "IN USE", "FREE"], [
                    [str(s.cidr), s.owner, s.pool_path.rsplit("/", 1)[1],
                     _pct(s.allocated, s.capacity), str(s.capacity - s.allocated)]
                    for s in b.carved], title=f"subnets carved from {b.path.rsplit('/', 1)[1]}")
    static = [p for p in pools if p.kind == "static"]
    carved = [p for p in pools if p.kind == "block"]
    print()
    print_table(["POOL", "CIDR", "CAPACITY", "ALLOCATED", "HELD", "FREE"], [
        [p.path.rsplit("/", 1)[1], " ".join(str(c) for c in p.cidrs), str(p.capacity),
         _pct(p.allocated, p.capacity), str(p.held), _pct(p.free, p.capacity)]
        for p in static], title="external IP pools")
    if carved:
        total = sum(p.capacity for p in carved)
        used = sum(p.allocated for p in carved)
        fullest = sorted(carved, key=lambda p: (-p.allocated / max(p.capacity, 1), p.path))[:5]
        print()
        print(f"namespace and node pools: {len(carved)}, {_pct(used, total)} of {total} "
              "addresses allocated")
        print_table(["FULLEST POOLS", "OWNER", "SUBNETS", "ALLOCATED", "FREE"], [
            [p.path.rsplit("/", 1)[1], p.owner, str(len(p.cidrs)),
             _pct(p.allocated, p.capacity), str(p.free)] for p in fullest])
    return 0


@answers
def check(args: argparse.Namespace) -> int:
    """Allocations nothing uses and used addresses nothing allocated; exit 1 if any."""
    index = open_index(args)
    orphans = find_orphans(index.inventory())
    if args.output in STRUCTURED:
        print_data([{"kind": o.kind, "address": str(o.address), "where": o.where,
                     "detail": o.detail} for o in orphans], args.output)
    elif orphans:
        print_table(["KIND", "ADDRESS", "WHERE", "DETAIL"],
                    [[o.kind, str(o.address), o.where, o.detail] for o in orphans],
                    title=f"{len(orphans)} inconsistent address(es)")
    else:
        print("IPAM is consistent: every allocation has an owner and every used address "
              "is allocated")
    return 1 if orphans else 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``sdn ipam`` (``show`` is the default)."""
    return check(args) if getattr(args, "ipam_command", None) == "check" else show(args)
