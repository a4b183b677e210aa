"""``sdn traceflow``: walk a packet and show every observation (DESIGN.md contract)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

from pydantic import ValidationError

from sdn.cli.questions import answers, http_request, load_revision
from sdn.errors import SdnError
from sdn.model import Inventory
from sdn.render.output import STRUCTURED, print_data, print_table, print_text
from sdn.render.pictures import topology_dot
from sdn.render.traces import path_line, path_objects, trace_rows
from sdn.traceflow import PacketSpec, Trace, TraceContext, trace
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.outside import external_virtual_server, trace_from_outside
from sdn.traceflow.targets import Source, Target, resolve_source, resolve_target, service_legs
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
    ctx, revision = load_revision(args)
    if args.tep_pool is not None:
        ctx = replace(ctx, tep_pool=args.tep_pool)
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
    if args.live or args.compare:
        return _live(args, ctx, revision, source, target, pkt, http)
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


def _live(args: argparse.Namespace, ctx: TraceContext, revision: int, source: Source,
          target: Target, pkt: PacketSpec, http: HttpRequest) -> int:
    """``--live`` and ``--compare``: the packet sent through the realized data plane
    (:mod:`sdn.dataplane.livetrace`, imported only here: it is the slow part)."""
    if source.port is None:
        raise SdnError("--live sends from a pod: give a pod as --src", code="BAD_ARGUMENT",
                       obj=args.src)
    for flag, given in (("--bidirectional", args.bidirectional),
                        ("--all-backends", args.all_backends),
                        ("-o dot/svg", args.output in ("dot", "svg"))):
        if given:
            raise SdnError(f"{flag} cannot be combined with --live or --compare",
                           code="BAD_ARGUMENT", obj=flag)
    import random

    from sdn.dataplane import livetrace, tracecompare

    livetrace.preflight()
    tag, realized = livetrace.realized_for(args.state, revision)
    view = livetrace.view_of(ctx.inventory, tag, realized)
    port = view.ports.get(source.port.path)
    if port is None:
        raise SdnError("the source pod is not realized; run `sdn realize` (without a "
                       "narrower --cluster/--namespace) first", code="NOT_REALIZED",
                       obj=args.src)
    legs = service_legs(ctx, source, target, pkt.protocol, http)
    destinations = [target.ip] + [leg.ip for leg in legs.legs] if legs else [target.ip]
    flow = livetrace.live_flow(pkt, random.Random())
    live = livetrace.run(view, tag, port, flow, destinations)
    if not args.compare:
        if args.output in STRUCTURED:
            print_data(live.to_api(), args.output)
        else:
            _print(live, args.src, f"live traceflow {args.src} -> {args.dst} "
                                   f"{_proto(flow.packet)}, TTL {pkt.ttl}")
        return 0
    simulated = trace(ctx, source.port.path, flow.packet, http=http)
    result = tracecompare.comparison(simulated, live)
    if args.output in STRUCTURED:
        print_data(result, args.output)
    else:
        _print(simulated, args.src, f"simulated {args.src} -> {args.dst} {_proto(pkt)}")
        print()
        _print(live, args.src, f"live {args.src} -> {args.dst} {_proto(flow.packet)}")
        print()
        diff = result["first_difference"]
        print("first difference: " + (json.dumps(diff, sort_keys=True) if diff else "none"))
        print("AGREE" if result["agree"] else "DISAGREE (disposition or dropping rule)")
    return 0 if result["agree"] else 1


def _proto(pkt: PacketSpec) -> str:
    return pkt.protocol + (f"/{pkt.dst_port}" if pkt.dst_port else "")
