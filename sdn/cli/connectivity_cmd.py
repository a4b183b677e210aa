"""``sdn connectivity``: every allowed port of every ordered pair of pods.

The answer is :func:`~sdn.policy.connectivity.connectivity` over the pods ``reach``
would list (``--cluster``, ``--namespace``: both ends of a pod pair in the given
namespaces), plus the pods to and from the outside CIDRs the rules at those pods name
(an outside address is in no namespace, so ``--namespace`` keeps the pairs of the chosen
pods with it). The firewall is read from the query index as ``reach`` reads it.

``--witness`` adds one concrete packet per entry (the first allowed port of it, from the
source's address to the destination's; for an outside CIDR an address of it that no port
owns), which ``sdn explain --src SRC_IP --dst DST_IP --protocol P --dport N`` replays.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from typing import Any

from sdn.cli.questions import answers, load_context, pod_names, pod_ports
from sdn.policy.connectivity import Connection, connectivity
from sdn.render.output import print_data, print_table, print_text


@answers
def run(args: argparse.Namespace) -> int:
    """Print the allowed connections (see the module's doc)."""
    ctx = load_context(args)
    pods = pod_ports(ctx, args.cluster, args.namespace)
    names = pod_names(pods)
    chosen = sorted(pods)
    conns = connectivity(ctx.dfw, sources=chosen, destinations=chosen, names=names)
    if args.output == "json":
        print_text(connections_json(conns, witness=args.witness))
    elif args.output == "table":
        _print_table(list(conns), len(pods), witness=args.witness)
    else:
        print_data({"connections": [entry(c, args.witness) for c in conns]}, args.output)
    return 0


def witness(c: Connection) -> dict[str, Any]:
    """One packet of the entry: the first allowed port (none for ICMP)."""
    out: dict[str, Any] = {"src_ip": str(c.src_ip), "dst_ip": str(c.dst_ip),
                           "protocol": c.protocol}
    if c.ports is not None:
        out["dst_port"] = c.ports[0][0]
    return out


def entry(c: Connection, with_witness: bool = False) -> dict[str, Any]:
    """One connection as JSON: ``ports`` as ``[[lo, hi], ...]``, absent for ICMP."""
    out: dict[str, Any] = {"src": c.src, "dst": c.dst, "protocol": c.protocol}
    if c.ports is not None:
        out["ports"] = [list(r) for r in c.ports]
    if with_witness:
        out["witness"] = witness(c)
    return out


def connections_json(conns: Iterable[Connection], *, witness: bool = False) -> str:
    """``{"connections": [...]}`` exactly as ``print_json`` writes it (``json.dumps`` with
    ``indent=2``), written directly: at 240,000 entries the encoder's indenting, done in
    Python, took most of the command's time."""
    body = ",\n".join(_entry_text(c, witness) for c in conns)
    if not body:
        return '{\n  "connections": []\n}\n'
    return '{\n  "connections": [\n' + body + "\n  ]\n}\n"


def _entry_text(c: Connection, with_witness: bool) -> str:
    lines = [f'      "src": {json.dumps(c.src)}', f'      "dst": {json.dumps(c.dst)}',
             f'      "protocol": "{c.protocol}"']
    if c.ports is not None:
        ranges = ",\n".join(f"        [\n          {lo},\n          {hi}\n        ]"
                            for lo, hi in c.ports)
        lines.append(f'      "ports": [\n{ranges}\n      ]')
    if with_witness:
        w = witness(c)
        inner = ",\n".join(f"        {json.dumps(k)}: {json.dumps(v)}" for k, v in w.items())
        lines.append(f'      "witness": {{\n{inner}\n      }}')
    return "    {\n" + ",\n".join(lines) + "\n    }"


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
            w = witness(c)
            dst = f"{w['dst_ip']}:{w['dst_port']}" if "dst_port" in w else w["dst_ip"]
            row.append(f"{w['src_ip']} → {dst}")
        yield row


def _print_table(conns: list[Connection], pods: int, *, witness: bool) -> None:
    pairs = len({(c.src, c.dst) for c in conns})
    title = f"{len(conns)} allowed (pair, protocol) entries over {pairs} pairs ({pods} pods)"
    header = ["FROM", "TO", "PROTO", "PORTS"] + (["WITNESS"] if witness else [])
    print_table(header, list(_rows(conns, witness)), title=title)
