"""``sdn traceflow``: walk a packet and show every observation (DESIGN.md contract)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from ipaddress import AddressValueError, IPv4Address
from typing import Any

from pydantic import ValidationError

from sdn.errors import SdnError
from sdn.model import LBService, LBVirtualServer, SegmentPort
from sdn.render.output import print_json, print_table
from sdn.render.pictures import topology_dot
from sdn.render.traces import path_line, path_objects, trace_rows
from sdn.store import Store
from sdn.traceflow import PacketSpec, Trace, TraceContext, trace
from sdn.traceflow.outside import external_virtual_server, trace_from_outside
from sdn.traceflow.walk import trace_all_backends


def _service(ctx: TraceContext, target: str, cluster: str | None,
             args: argparse.Namespace) -> tuple[IPv4Address, int]:
    """A Service's cluster IP (from a pod of ``cluster``) or, from outside (``cluster``
    None), its LoadBalancer VIP; and the port asked with --dport, or its only one."""
    ns, _, name = target.removeprefix("svc:").partition("/")

    def reachable(vs: LBVirtualServer) -> bool:
        if cluster is not None:
            return vs.tag("ncp/cluster") == cluster
        lbs = ctx.inventory.get(vs.lb_service_path)
        return isinstance(lbs, LBService) and lbs.size != "DLB"
    found = [vs for vs in ctx.inventory.of_type(LBVirtualServer)
             if vs.tag("ncp/project") == ns and vs.tag("ncp/service") == name
             and vs.protocol == args.protocol and reachable(vs)]
    if not found:
        raise SdnError(f"no {args.protocol} virtual server for service {ns}/{name} (is it "
                       "synced, and not headless?)", code="UNKNOWN_SERVICE", obj=target)
    ports = sorted({int(p) for vs in found for p in vs.ports})
    port = args.dport if args.dport is not None else (ports[0] if len(ports) == 1 else None)
    if port not in ports:
        raise SdnError(f"service {ns}/{name} serves {args.protocol} ports {ports}; pick one "
                       "with --dport", code="UNKNOWN_SERVICE_PORT", obj=target)
    return found[0].ip_address, port


def _destination(ctx: TraceContext, target: str) -> IPv4Address:
    if "/" in target:
        port = ctx.port_by_name(target)
        if not port.address_bindings:
            raise SdnError("the destination port has no address", code="NO_ADDRESS",
                           obj=target)
        return port.address_bindings[0].ip_address
    try:
        return IPv4Address(target)
    except AddressValueError as err:
        raise SdnError("--dst is NS/POD, an IPv4 address or svc:NS/NAME",
                       code="BAD_ARGUMENT", obj=target) from err


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


def _outside_source(src: str) -> IPv4Address | None:
    """``--src`` given as an address: a client outside NSX (``sdn.traceflow.outside``)."""
    try:
        return IPv4Address(src)
    except AddressValueError:
        return None


def _outside_branches(ctx: TraceContext, pkt: PacketSpec) -> list[Trace]:
    hit = external_virtual_server(ctx, pkt)
    count = len(hit[1].members) if hit is not None and hit[1] is not None else 0
    if count <= 1:
        return [trace_from_outside(ctx, pkt)]
    return [trace_from_outside(ctx, pkt, backend=i) for i in range(count)]


def run(args: argparse.Namespace) -> int:
    """Trace one packet; exit 0 whatever the network did (outcomes are data)."""
    with Store.open_readonly(args.state) as store:
        inv = store.inventory()
    ctx = TraceContext.build(inv, default_action=args.default_action)
    outside = _outside_source(args.src)
    if outside is not None and args.bidirectional:
        raise SdnError("--bidirectional needs a pod as --src", code="BAD_ARGUMENT",
                       obj=args.src)
    port: SegmentPort | None = None
    src_ip = outside
    if src_ip is None:
        port = ctx.port_by_name(args.src)
        if not port.address_bindings:
            raise SdnError("the source port has no address", code="NO_ADDRESS", obj=args.src)
        src_ip = port.address_bindings[0].ip_address
    if args.dst.startswith("svc:"):
        vip, args.dport = _service(ctx, args.dst, port.tag("ncp/cluster") if port else None,
                                   args)
    else:
        vip = _destination(ctx, args.dst)
    pkt = _packet(args, src_ip, vip)
    if args.all_backends:
        branches = (_outside_branches(ctx, pkt) if port is None
                    else trace_all_backends(ctx, port.path, pkt))
        if args.output == "json":
            print_json({"branches": [b.to_api() for b in branches]})
            return 0
        for i, branch in enumerate(branches, start=1):
            _print(branch, args.src, f"branch {i} of {len(branches)}: {args.src} -> "
                                     f"{args.dst}")
            print()
        return 0
    result = (trace_from_outside(ctx, pkt) if port is None
              else trace(ctx, port.path, pkt, bidirectional=args.bidirectional))
    if args.output == "json":
        data: dict[str, Any] = result.to_api()
        print_json(data)
        return 0
    if args.output in ("dot", "svg"):
        text = topology_dot(inv, highlight=path_objects(result), max_ports=64)
        if args.output == "svg":
            dot = shutil.which("dot")
            if dot is None:
                raise SdnError("-o svg needs Graphviz's `dot`", code="GRAPHVIZ_MISSING")
            text = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True,
                                  check=True).stdout
        sys.stdout.write(text)
        return 0
    proto = pkt.protocol + (f"/{pkt.dst_port}" if pkt.dst_port else "")
    _print(result, args.src, f"traceflow {args.src} -> {args.dst} {proto}, TTL {pkt.ttl}")
    if result.reply is not None:
        print()
        _print(result.reply, args.dst, f"reply {args.dst} -> {args.src}")
    return 0
