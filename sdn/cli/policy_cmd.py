"""``sdn reach`` and ``sdn explain``: questions to the distributed firewall.

Both compile the DFW of the state once and run the same decision function, so a pair
``reach`` lists as allowed is one ``explain`` shows allowed, rule for rule. Sources and
destinations (pods, addresses, cluster IPs, LoadBalancer and Ingress VIPs, ``svc:``) are
resolved by :mod:`sdn.traceflow.targets`, the resolver ``traceflow`` uses, and a flow to a
virtual server is judged per backend (:mod:`sdn.traceflow.verdicts`), so the three
commands give one verdict and name one rule.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sdn.cli.at_revision import context_at
from sdn.cli.questions import (
    answers,
    decision_json,
    http_request,
    pod_names,
    pod_ports,
    rule_of,
)
from sdn.errors import SdnError
from sdn.policy import FlowVerdict
from sdn.policy.reach import Blocks, reach_blocks
from sdn.render.output import STRUCTURED, print_data, print_table, print_text
from sdn.traceflow import TraceContext
from sdn.traceflow.targets import Source, Target, resolve_source, resolve_target
from sdn.traceflow.verdicts import Answer, LegVerdict, judge

PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP")


@answers
def reach(args: argparse.Namespace) -> int:
    """The allowed pod pairs per port; with ``--dst``, who reaches that target."""
    if args.src is not None and args.dst is None:
        raise SdnError("--src needs --dst (without --dst, reach answers for every pair)",
                       code="BAD_ARGUMENT", obj="--src")
    ctx = context_at(args)[0]
    dfw = ctx.dfw
    pods = pod_ports(ctx, args.cluster, args.namespace)
    if args.dst is not None:
        return _reach_target(args, ctx, pods)
    names = pod_names(pods)
    found = dfw.endpoints_of(pods)
    by_index = {ep.index: names[path] for path, ep in found.items() if ep.index is not None}
    chosen = sorted(by_index, key=lambda i: by_index[i])
    label = [by_index[i] for i in chosen]
    # Names are distinct, so ordering pairs of indexes by their names' ranks orders the
    # pairs of names, without building and comparing 2-lists of strings.
    rank = {i: r for r, i in enumerate(chosen)}
    matrices = [(port, [([rank[s] for s in sources], [rank[d] for d in destinations])
                        for sources, destinations in reach_blocks(
                            dfw, protocol=args.protocol, port=port, among=chosen)])
                for port in args.port or [None]]
    if args.output == "json" or args.output in STRUCTURED:
        results = [{"port": port, "pods": label, "allowed": _named_pairs(blocks, label)}
                   for port, blocks in matrices]
        if args.output == "json":
            print_text(matrix_json(args.protocol, results))
        else:
            print_data({"protocol": args.protocol, "results": results}, args.output)
        return 0
    for port, blocks in matrices:
        _print_matrix(args.protocol, port, label, blocks)
    return 0


def _named_pairs(blocks: Blocks, label: list[str]) -> list[list[str]]:
    """The allowed pairs of names, sorted (by source rank, then destination rank)."""
    reached: list[list[int]] = [[] for _ in label]
    for sources, destinations in blocks:
        for s in sources:
            reached[s] += destinations
    out: list[list[str]] = []
    for s, destinations in enumerate(reached):
        destinations.sort()
        name = label[s]
        out += [[name, label[d]] for d in destinations if d != s]
    return out


def matrix_json(protocol: str, results: list[dict[str, Any]]) -> str:
    """``{"protocol", "results"}`` exactly as ``print_json`` writes it (``json.dumps`` with
    ``indent=2``), written directly: with an indent, ``json`` encodes in Python, and at
    25,000 pairs that was a third of the command's time."""
    quoted: dict[str, str] = {}

    def q(name: str) -> str:
        text = quoted.get(name)
        if text is None:
            text = quoted[name] = json.dumps(name)
        return text

    def block(items: list[str], indent: str) -> str:
        if not items:
            return "[]"
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"

    out = []
    for res in results:
        pods = block([f"        {q(p)}" for p in res["pods"]], "      ")
        pairs = block([f"        [\n          {q(a)},\n          {q(b)}\n        ]"
                       for a, b in res["allowed"]], "      ")
        out.append(f'    {{\n      "port": {json.dumps(res["port"])},\n      "pods": {pods},'
                   f'\n      "allowed": {pairs}\n    }}')
    return (f'{{\n  "protocol": {json.dumps(protocol)},\n  "results": '
            f'{block(out, "  ")}\n}}\n')


def _print_matrix(protocol: str, port: int | None, pods: list[str], blocks: Blocks) -> None:
    """The matrix (up to 24 pods) or each pod's counts, from the blocks of allowed flows
    (pods by rank), without listing every pair of a large namespace."""
    can_reach = [0] * len(pods)
    reached_by = [0] * len(pods)
    for sources, destinations in blocks:
        both = set(sources).intersection(destinations)  # a pod does not reach itself
        for s in sources:
            can_reach[s] += len(destinations) - (s in both)
        for d in destinations:
            reached_by[d] += len(sources) - (d in both)
    title = f"{protocol}/{port if port is not None else 'any'}: " \
            f"{sum(can_reach)} of {len(pods) * (len(pods) - 1)} pairs allowed"
    if len(pods) <= 24:
        allowed = {(s, d) for sources, destinations in blocks for s in sources
                   for d in destinations}
        short = [str(i) for i in range(len(pods))]
        rows = [[f"{s} {src}"] + ["." if s == d else ("✓" if (s, d) in allowed else "✗")
                                  for d in range(len(pods))]
                for s, src in enumerate(pods)]
        print_table(["FROM \\ TO", *short], rows, title=title)
    else:
        rows = [[src, str(can_reach[s]), str(reached_by[s])] for s, src in enumerate(pods)]
        print_table(["POD", "CAN REACH", "REACHED BY"], rows, title=title)


def _leg_json(lv: LegVerdict) -> dict[str, Any]:
    v = lv.verdict
    deciding = v.deciding
    return {"name": lv.leg.name, "ip": str(lv.leg.ip), "port": lv.leg.port,
            "allowed": v.allowed,
            "deciding": None if deciding is None else {"point": deciding.point,
                                                       "action": deciding.action,
                                                       **rule_of(deciding)}}


def _service_json(ans: Answer) -> dict[str, Any] | None:
    tr = ans.translation
    if tr is None:
        return None
    vs, choice = tr.virtual_server, tr.choice
    return {"virtual_server": vs.path, "name": vs.display_name or vs.id,
            "ip": str(vs.ip_address), "port": ans.target.port, "lb_rule": choice.rule,
            "lb_rule_name": choice.rule_name or None,
            "pool": choice.pool.path if choice.pool is not None else None,
            "dropped_by_lb": ans.lb_drop}


def _reach_target(args: argparse.Namespace, ctx: TraceContext,
                  pods: dict[str, tuple[str, str, str]]) -> int:
    """``reach --dst``: each source (``--src``, else every chosen pod) to one target, per
    backend, with the rule that decided."""
    names = pod_names(pods)
    http = http_request(args)
    if args.src is not None:
        sources = [resolve_source(ctx, args.src, args.cluster)]
    else:
        sources = [Source(names[path], ctx.ports[path].address_bindings[0].ip_address,
                          ctx.ports[path]) for path in sorted(pods, key=lambda p: names[p])]
    results = []
    # A target depends on the source only through its cluster (and being outside).
    targets: dict[tuple[str | None, bool, int | None], Target] = {}
    for port in args.port or [None]:
        rows = []
        for src in sources:
            key = (src.cluster, src.port is None, port)
            if key not in targets:
                targets[key] = resolve_target(ctx, args.dst, source=src, cluster=args.cluster,
                                              protocol=args.protocol, dport=port)
            target = targets[key]
            if target.pod is not None and src.port is not None and \
                    target.pod.path == src.port.path:
                continue  # a pod to itself is not a question of the DFW
            ans = judge(ctx, src, target, args.protocol, http=http)
            rows.append({"src": src.text, "allowed": ans.allowed,
                         "disposition": ans.disposition, "service": _service_json(ans),
                         "backends": [_leg_json(lv) for lv in ans.legs]})
        results.append({"port": port, "sources": rows})
    if args.output in STRUCTURED:
        print_data({"protocol": args.protocol, "dst": args.dst, "results": results},
                   args.output)
        return 0
    for res in results:
        table = []
        for row in res["sources"]:
            for b in row["backends"] or [None]:
                if b is None:
                    table.append([row["src"], "-", "-", "DROPPED",
                                  f"load balancer: {row['service']['dropped_by_lb']}"])
                    continue
                d = b["deciding"]
                rule = "not enforced" if d is None else f"{d['point']} rule {d['rule_id']} " \
                    f"({d['path'].rsplit('/', 1)[-1]})"
                table.append([row["src"], f"{b['name']} ({b['ip']})", str(b["port"] or "any"),
                              "ALLOWED" if b["allowed"] else "DROPPED", rule])
        allowed = sum(1 for r in res["sources"] if r["allowed"])
        print_table(["FROM", "BACKEND", "PORT", "VERDICT", "DECIDED BY"], table,
                    title=f"{args.protocol} to {args.dst}"
                          f"{'/' + str(res['port']) if res['port'] is not None else ''}: "
                          f"{allowed} of {len(res['sources'])} sources allowed")
    return 0


def _dport_check(args: argparse.Namespace) -> None:
    if args.protocol != "ICMP" and args.dport is None and not args.dst.startswith("svc:"):
        raise SdnError("--dport is needed for TCP, UDP and SCTP (a svc: target may leave it "
                       "out when the service has one port)", code="BAD_ARGUMENT",
                       obj="--dport")


@answers
def explain(args: argparse.Namespace) -> int:
    """The decision chain of one flow at the source's egress and the destination's
    ingress; through a virtual server, for each backend (as ``traceflow --all-backends``)."""
    _dport_check(args)
    ctx = context_at(args)[0]
    src = resolve_source(ctx, args.src, args.cluster)
    target = resolve_target(ctx, args.dst, source=src, cluster=args.cluster,
                            protocol=args.protocol, dport=args.dport)
    ans = judge(ctx, src, target, args.protocol, http=http_request(args), explain=True)
    single = ans.legs[0].verdict if len(ans.legs) == 1 else None
    data = {"src": args.src, "dst": args.dst, "protocol": args.protocol, "port": target.port,
            "allowed": ans.allowed, "disposition": ans.disposition,
            "egress": decision_json(single.egress) if single else None,
            "ingress": decision_json(single.ingress) if single else None,
            "service": _service_json(ans),
            "backends": [{**_leg_json(lv), "egress": decision_json(lv.verdict.egress),
                          "ingress": decision_json(lv.verdict.ingress)} for lv in ans.legs]}
    if args.output in STRUCTURED:
        print_data(data, args.output)
        return 0
    _print_explain(args, ans)
    return 0


def _print_decisions(src: str, dst: str, v: FlowVerdict) -> None:
    for label, d in (("egress at " + src, v.egress), ("ingress at " + dst, v.ingress)):
        if d is None:
            print(f"{label}: not enforced (an address outside the inventory)\n")
            continue
        decided = ("the default rule" if d.rule is None else
                   f"rule {d.rule.rule_id} ({d.rule.path})")
        if not d.trail:
            print(f"{label}: {d.action} by {decided}; no rule of the DFW applies here\n")
            continue
        rows = [[c.rule.category, c.rule.policy_path.rsplit("/", 1)[-1],
                 c.rule.path.rsplit("/", 1)[-1], str(c.rule.rule_id), c.rule.action,
                 "MATCH" if c.matched else c.reason] for c in d.trail]
        print_table(["CATEGORY", "POLICY", "RULE", "ID", "ACTION", "RESULT"], rows,
                    title=f"{label}: {d.action} by {decided}")
        print()


def _verdict_line(src: str, dst: str, v: FlowVerdict) -> str:
    verdict = "ALLOWED" if v.allowed else "DROPPED"
    where = v.deciding
    if where is not None and not v.allowed:
        by = "the default rule" if where.rule is None else \
            f"rule {where.rule.rule_id} of security policy {where.rule.policy_path}"
        return f"{verdict} at {src if where.point == 'egress' else dst} {where.point} by {by}"
    return f"{verdict}: {src} -> {dst} {v.protocol}" + (f"/{v.port}" if v.port is not None
                                                         else "")


def _print_explain(args: argparse.Namespace, ans: Answer) -> None:
    tr = ans.translation
    if tr is None:
        v = ans.legs[0].verdict
        _print_decisions(args.src, args.dst, v)
        print(_verdict_line(args.src, args.dst, v))
        return
    vs, choice = tr.virtual_server, tr.choice
    via = f"; LB rule {choice.rule} ({choice.rule_name})" if choice.rule is not None else ""
    pool = choice.pool.display_name or choice.pool.id if choice.pool is not None else "none"
    print(f"{args.dst} is virtual server {vs.display_name or vs.id} "
          f"({vs.ip_address}:{ans.target.port}){via}; pool {pool}, "
          f"{len(ans.legs)} backend(s)\n")
    if not ans.legs:
        print(f"DROPPED at {vs.display_name or vs.id} by the load balancer: {ans.lb_drop}")
        return
    for i, lv in enumerate(ans.legs, start=1):
        dst = f"{lv.leg.name}:{lv.leg.port}" if lv.leg.port is not None else lv.leg.name
        print(f"backend {i} of {len(ans.legs)}: {dst}\n")
        _print_decisions(args.src, lv.leg.name, lv.verdict)
    for lv in ans.legs:
        print(_verdict_line(args.src, lv.leg.name, lv.verdict))
    allowed = sum(1 for lv in ans.legs if lv.verdict.allowed)
    print(f"{ans.disposition}: {allowed} of {len(ans.legs)} backends allowed")
