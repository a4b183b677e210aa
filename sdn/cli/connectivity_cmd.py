"""``sdn connectivity``: every allowed port of every ordered pair of pods.

The answer is :func:`~sdn.policy.connectivity.connectivity` over the pods ``reach``
would list (``--cluster``, ``--namespace``: both ends of a pod pair in the given
namespaces), plus the pods to and from the outside CIDRs the rules at those pods name
(an outside address is in no namespace, so ``--namespace`` keeps the pairs of the chosen
pods with it). The firewall is read from the query index as ``reach`` reads it; with
``--at REV|TIME``, from the inventory of that kept revision rebuilt and compiled in memory
(:mod:`sdn.cli.at_revision`).

``--witness`` adds one concrete packet per entry (the first allowed port of it, from the
source's address to the destination's; for an outside CIDR an address of it that no port
owns), which ``sdn explain --src SRC_IP --dst DST_IP --protocol P --dport N`` replays.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from sdn.cli.at_revision import context_at
from sdn.cli.connectivity_json import json_chunks, witness_of
from sdn.cli.questions import answers, pod_names, pod_ports
from sdn.gcpause import gc_paused
from sdn.policy.connectivity import Connection, Matrix
from sdn.render.output import print_data, print_table, print_text


@answers
def run(args: argparse.Namespace) -> int:
    """Print the allowed connections (see the module's doc)."""
    ctx = context_at(args)[0]
    pods = pod_ports(ctx, args.cluster, args.namespace)
    chosen = sorted(pods)
    with gc_paused():  # bounded bulk work: millions of entries at 1,000 pods
        matrix = Matrix(ctx.dfw, sources=chosen, destinations=chosen, names=pod_names(pods))
        if args.output == "json":
            for chunk in json_chunks(matrix, witness=args.witness):
                print_text(chunk)
        elif args.output == "table":
            _print_table(list(matrix.connections()), len(pods), witness=args.witness)
        else:
            print_data({"connections": [entry(c, args.witness)
                                        for c in matrix.connections()]}, args.output)
    return 0


def entry(c: Connection, with_witness: bool = False) -> dict[str, Any]:
    """One connection as JSON: ``ports`` as ``[[lo, hi], ...]``, absent for ICMP."""
    out: dict[str, Any] = {"src": c.src, "dst": c.dst, "protocol": c.protocol}
    if c.ports is not None:
        out["ports"] = [list(r) for r in c.ports]
    if with_witness:
        out["witness"] = witness_of(c)
    return out


def ports_text(c: Connection) -> str:
    """``all``, or the ranges as ``80,443,8000-8080``; empty for ICMP."""
    if c.ports is None:
        return ""
    if c.ports == ((1, 65535),):
        return "all"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in c.ports)


def _rows(conns: list[Connection], with_witness: bool) -> Iterator[list[str]]:
    for c in conns:
        row = [c.src, c.dst, c.protocol, ports_text(c)]
        if with_witness:
            w = witness_of(c)
            dst = f"{w['dst_ip']}:{w['dst_port']}" if "dst_port" in w else w["dst_ip"]
            row.append(f"{w['src_ip']} → {dst}")
        yield row


def _print_table(conns: list[Connection], pods: int, *, witness: bool) -> None:
    pairs = len({(c.src, c.dst) for c in conns})
    title = f"{len(conns)} allowed (pair, protocol) entries over {pairs} pairs ({pods} pods)"
    header = ["FROM", "TO", "PROTO", "PORTS"] + (["WITNESS"] if witness else [])
    print_table(header, list(_rows(conns, witness)), title=title)
