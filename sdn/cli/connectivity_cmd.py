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
import json
from collections.abc import Iterator
from typing import Any

from sdn.cli.at_revision import context_at
from sdn.cli.questions import answers, pod_names, pod_ports
from sdn.gcpause import gc_paused
from sdn.policy.connectivity import Connection, Matrix, Member, PortRange
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
            _print_table(list(_connections(matrix)), len(pods), witness=args.witness)
        else:
            print_data({"connections": [entry(c, args.witness)
                                        for c in _connections(matrix)]}, args.output)
    return 0


def _connections(matrix: Matrix) -> Iterator[Connection]:
    for src in matrix.sources:
        for dst in matrix.destinations:
            if matrix.paired(src, dst):
                for protocol, ports in matrix.allowed(src, dst).items():
                    yield Connection(src.label, dst.label, protocol,
                                     None if protocol == "ICMP" else ports,
                                     src.endpoint.ip, dst.endpoint.ip)


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


def json_chunks(matrix: Matrix, *, witness: bool = False) -> Iterator[str]:
    """``{"connections": [...]}`` exactly as ``print_json`` writes it (``json.dumps`` with
    ``indent=2``), written directly and a source at a time: at 1,000 pods the answer is
    2.4 million entries (380 MB of text), and the encoder's indenting, done in Python,
    took most of the command's time, the whole text most of its memory. Each pair of
    parties' entries are formatted once (:class:`~sdn.policy.connectivity.Matrix`), then
    only the two names are put in front."""
    tails: dict[int, list[str]] = {}  # by the answer's identity (the matrix keeps it)
    quoted = {m.label: json.dumps(m.label) for m in (*matrix.sources, *matrix.destinations)}
    names = [quoted[dst.label] for dst in matrix.destinations]
    sep = "\n"
    yield '{\n  "connections": ['
    for src in matrix.sources:
        head = f'    {{\n      "src": {quoted[src.label]},\n      "dst": '
        chunk: list[str] = []
        row: dict[int, list[str]] = {}  # this source's entries by destination party
        for dst, name in zip(matrix.destinations, names, strict=True):
            if not matrix.paired(src, dst):
                continue
            if witness:
                entries = [_entry_tail(c, True)
                           for c in _pair(src, dst, matrix.allowed(src, dst))]
            else:
                found = row.get(dst.party)
                if found is None:
                    allowed = matrix.allowed(src, dst)
                    found = tails.get(id(allowed))
                    if found is None:
                        found = tails[id(allowed)] = [
                            _entry_tail(c, False) for c in _pair(src, dst, allowed)]
                    row[dst.party] = found
                entries = found
            for tail in entries:
                chunk += (sep, head, name, tail)
                sep = ",\n"
        if chunk:
            yield "".join(chunk)
    yield "]\n}\n" if sep == "\n" else "\n  ]\n}\n"


def _pair(src: Member, dst: Member,
          allowed: dict[str, tuple[PortRange, ...]]) -> Iterator[Connection]:
    for protocol, ports in allowed.items():
        yield Connection(src.label, dst.label, protocol, None if protocol == "ICMP" else ports,
                         src.endpoint.ip, dst.endpoint.ip)


def _entry_tail(c: Connection, with_witness: bool) -> str:
    """An entry's text after ``"dst": NAME``."""
    lines = [f'      "protocol": "{c.protocol}"']
    if c.ports is not None:
        ranges = ",\n".join(f"        [\n          {lo},\n          {hi}\n        ]"
                            for lo, hi in c.ports)
        lines.append(f'      "ports": [\n{ranges}\n      ]')
    if with_witness:
        w = witness(c)
        inner = ",\n".join(f"        {json.dumps(k)}: {json.dumps(v)}" for k, v in w.items())
        lines.append(f'      "witness": {{\n{inner}\n      }}')
    return ",\n" + ",\n".join(lines) + "\n    }"


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
