"""``sdn path``: the segments and gateways between two endpoints, from the topology graph
(:mod:`sdn.traceflow.paths`)."""

from __future__ import annotations

import argparse

from sdn.cli.questions import answers, http_request, load_context
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.render.paths import path_line, path_rows, path_summary
from sdn.traceflow.paths import answer_json, path_answer


@answers
def run(args: argparse.Namespace) -> int:
    """Answer one path question; exit 0 whatever the path is (outcomes are data)."""
    ctx = load_context(args)
    answer = path_answer(ctx, args.src, args.dst, cluster=args.cluster,
                         protocol=args.protocol, dport=args.dport, http=http_request(args))
    if args.output in STRUCTURED:
        print_data(answer_json(ctx, answer, args.dst), args.output)
        return 0
    inv = ctx.inventory
    title = f"path {args.src} -> {args.dst}"
    if answer.translation is not None:
        vs = answer.translation.virtual_server
        title += f" (virtual server {vs.display_name or vs.id}, {vs.ip_address})"
    elif str(answer.target.ip) != args.dst:
        title += f" ({answer.target.ip})"
    print(title)
    if answer.translation is not None and not answer.legs:
        print("no backend: the load balancer has no pool member to send it to")
        return 0
    for i, leg in enumerate(answer.legs, start=1):
        heading = ""
        if leg.backend is not None:
            heading = (f"backend {i} of {len(answer.legs)}: {leg.backend} "
                       f"({leg.path.destination})")
        header, rows = path_rows(inv, leg.path)
        print_table(header, rows, title=heading)
        print()
        print(path_line(inv, leg.path))
        print(path_summary(inv, leg.path))
        if i < len(answer.legs):
            print()
    return 0
