"""``sdn traceflow``: walk a packet and show every observation (DESIGN.md contract)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from ipaddress import IPv4Address
from typing import Any

from pydantic import ValidationError

from sdn.cli.questions import answers, http_request, load_context
from sdn.errors import SdnError
from sdn.model import Inventory
from sdn.render.output import STRUCTURED, print_data, print_table, print_text
from sdn.render.pictures import topology_dot
from sdn.render.traces import path_line, path_objects, trace_rows
from sdn.traceflow import PacketSpec, Trace, TraceContext, trace
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.outside import external_virtual_server, trace_from_outside
from sdn.traceflow.targets import resolve_source, resolve_target
from sdn.traceflow.walk import trace_all_backends


def _packet(args: argparse.Namespace, src: IPv4Address, dst: IPv4Address) -> PacketSpec:
    dport = args.dport
    if dport is None and args.protocol != "ICMP":
        dport = 80
    try:
        return PacketSpec(src_ip=src, dst_ip=dst, protocol=args.protocol, dst_port=dport,
                          src_port=args.sport, ttl=args.ttl)
    except ValidationError as err:
        msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'packet'}: {e['msg']}"
                         for e in err.errors())
        raise SdnError(msgs, code="INVALID_PACKET", obj="packet") from err


def _print(t: Trace, source: str, title: str) -> None:
    header, rows = trace_rows(t)
    print_table(header, rows, title=title)
    print()
    print(path_line(t, source))
    print(t.summary)


def _outside_branches(ctx: TraceContext, pkt: PacketSpec, http: HttpRequest) -> list[Trace]:
    hit = external_virtual_server(ctx, pkt)
    pool = ctx.choose(hit[0], hit[1], http).pool if hit is not None else None
    count = len(pool.members) if pool is not None else 0
    if count <= 1:
        return [trace_from_outside(ctx, pkt, http=http)]
    return [trace_from_outside(ctx, pkt, backend=i, http=http) for i in range(count)]


def branches_summary(branches: list[Trace]) -> dict[str, Any]:
    """``--all-backends -o json``: the branches' common disposition (``MIXED`` when they
    differ), how many ended each way, and the branches as NSX traces."""
    counts: dict[str, int] = {}
    for b in branches:
        counts[b.disposition.value] = counts.get(b.disposition.value, 0) + 1
    disposition = next(iter(counts)) if len(counts) == 1 else "MIXED"
    return {"disposition": disposition, "counts": counts,
            "branches": [b.to_api() for b in branches]}


def _picture(inv: Inventory, traces: list[Trace], output: str) -> None:
    """The topology with every given trace's path highlighted (all branches in one)."""
    marked: set[str] = set()
    for t in traces:
        marked |= set(path_objects(t))
    text = topology_dot(inv, highlight=marked, max_ports=64)
    if output == "svg":
        dot = shutil.which("dot")
        if dot is None:
            raise SdnError("-o svg needs Graphviz's `dot`", code="GRAPHVIZ_MISSING")
        text = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True,
                              check=True).stdout
    print_text(text)


@answers
def run(args: argparse.Namespace) -> int:
    """Trace one packet; exit 0 whatever the network did (outcomes are data)."""
    ctx = load_context(args)
    inv = ctx.inventory
    source = resolve_source(ctx, args.src, args.cluster)
    port = source.port
    if port is None and args.bidirectional:
        raise SdnError("--bidirectional needs a pod as --src", code="BAD_ARGUMENT",
                       obj=args.src)
    target = resolve_target(ctx, args.dst, source=source, cluster=args.cluster,
                            protocol=args.protocol, dport=args.dport)
    args.dport = target.port
    pkt = _packet(args, source.ip, target.ip)
    http = http_request(args)
    if args.all_backends:
        branches = (_outside_branches(ctx, pkt, http) if port is None
                    else trace_all_backends(ctx, port.path, pkt, http))
        if args.output in STRUCTURED:
            print_data(branches_summary(branches), args.output)
            return 0
        if args.output in ("dot", "svg"):
            _picture(inv, branches, args.output)
            return 0
        for i, branch in enumerate(branches, start=1):
            _print(branch, args.src, f"branch {i} of {len(branches)}: {args.src} -> "
                                     f"{args.dst}")
            print()
        summary = branches_summary(branches)
        counts = ", ".join(f"{n} {d}" for d, n in summary["counts"].items())
        print(f"{summary['disposition']}: {len(branches)} branch(es), {counts}")
        return 0
    result = (trace_from_outside(ctx, pkt, http=http) if port is None
              else trace(ctx, port.path, pkt, bidirectional=args.bidirectional, http=http))
    if args.output in STRUCTURED:
        data: dict[str, Any] = result.to_api()
        print_data(data, args.output)
        return 0
    if args.output in ("dot", "svg"):
        _picture(inv, [result], args.output)
        return 0
    proto = pkt.protocol + (f"/{pkt.dst_port}" if pkt.dst_port else "")
    _print(result, args.src, f"traceflow {args.src} -> {args.dst} {proto}, TTL {pkt.ttl}")
    if result.reply is not None:
        print()
        _print(result.reply, args.dst, f"reply {args.dst} -> {args.src}")
    return 0
