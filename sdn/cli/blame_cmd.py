"""``sdn blame``: which kept write last flipped a flow between two pods, with the rule
that decided before and after it (:mod:`sdn.query.blame` does the walk).

Codes (exit 2): ``HISTORY_NEVER_FLIPPED`` (the flow has had this verdict throughout the
kept history, or since a pod of it was created), ``BLAME_NOT_A_POD`` (``--src``/``--dst``
must name pods: the history follows ports, an outside address has none), and the pod
errors of the other questions (``UNKNOWN_POD``, ...).
"""

from __future__ import annotations

import argparse
from ipaddress import IPv4Address
from typing import Any

from sdn.cli.filters import check_scope
from sdn.cli.questions import answers, open_index
from sdn.errors import SdnError
from sdn.model import SegmentPort
from sdn.query.blame import Blame, Flow, blame, relevant_now, rule_json
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.store.past import iso
from sdn.traceflow import TraceContext


def _pod(ctx: TraceContext, text: str, cluster: str | None, option: str) -> SegmentPort:
    """The pod port ``text`` names (``NS/POD`` or a pod's address)."""
    try:
        ip: IPv4Address | None = IPv4Address(text)
    except ValueError:
        ip = None
    if ip is None:
        return ctx.port_by_name(text, cluster)
    port = ctx.index.port_for_ip(ip)
    if port is None or not port.tag("ncp/pod"):
        raise SdnError(f"{text} is no pod's address; blame follows pods through the history",
                       code="BLAME_NOT_A_POD", obj=option)
    return port


@answers
def run(args: argparse.Namespace) -> int:
    """``sdn blame --src A --dst B --protocol P --port N``."""
    if args.protocol != "ICMP" and args.port is None:
        raise SdnError(f"--port is needed for {args.protocol}", code="BAD_ARGUMENT",
                       obj="--port")
    index = open_index(args)
    check_scope(index.store, args.cluster)
    ctx = index.trace_context(args.default_action)
    src, dst = (_pod(ctx, args.src, args.cluster, "--src"),
                _pod(ctx, args.dst, args.cluster, "--dst"))
    if src.path == dst.path:
        raise SdnError("a pod to itself is not a question of the DFW", code="BAD_ARGUMENT",
                       obj="--dst")
    port = None if args.protocol == "ICMP" else args.port
    flow = Flow(src.path, dst.path, args.protocol, port, args.src, args.dst)
    answer = blame(index.store, flow, relevant_now(ctx.dfw, flow),
                   default_action=args.default_action)
    doc = blame_json(answer, flow)
    if args.output in STRUCTURED:
        print_data(doc, args.output)
        return 0
    _print(doc)
    return 0


def blame_json(answer: Blame, flow: Flow) -> dict[str, Any]:
    """The answer as ``-o json`` prints it (``before``/``after``: the deciding rules,
    null for NSX's default rule)."""
    rev = answer.revision
    return {
        "revision": rev.revision, "time": iso(rev.at), "command": rev.command,
        "flow": {"src": flow.src_name, "dst": flow.dst_name, "protocol": flow.protocol,
                 "port": flow.port},
        "allowed_before": answer.before.allowed, "allowed_after": answer.after.allowed,
        "before": rule_json(answer.before), "after": rule_json(answer.after),
        "changes": [{"path": c.path, "kind": c.kind, "change": c.change}
                    for c in answer.changes],
        "revisions_evaluated": answer.evaluated,
    }


def _verdict(allowed: bool, rule: dict[str, Any] | None) -> str:
    word = "ALLOWED" if allowed else "DROPPED"
    if rule is None:
        return f"{word} by the default rule"
    return f"{word} by {rule['point']} rule {rule['rule_id']} ({rule['path']})"


def _print(doc: dict[str, Any]) -> None:
    flow = doc["flow"]
    print(f"{flow['src']} -> {flow['dst']} {flow['protocol']}/{flow['port'] or 'any'} "
          f"last flipped at revision {doc['revision']} ({doc['time']})")
    print(f"  command: {doc['command']}")
    print(f"  before:  {_verdict(doc['allowed_before'], doc['before'])}")
    print(f"  after:   {_verdict(doc['allowed_after'], doc['after'])}")
    print_table(["CHANGE", "KIND", "PATH"],
                [[c["change"], c["kind"], c["path"]] for c in doc["changes"]],
                title="what that write changed that can touch the flow")
