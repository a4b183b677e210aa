"""``sdn replay --flows FILE [--candidate DIR]``: recorded flows against a policy set.

The audit a user wants before enforcing a change, without an audit mode: every flow of a
Hubble export or a CSV (:mod:`sdn.policy.flows`) is decided by the DFW of the state, or
of a candidate policy set built in memory (:mod:`sdn.cli.candidate`), exactly as
``sdn explain`` would decide it (:mod:`sdn.policy.replay`), and the answer says which
flows would be dropped and by which rule, with counts per rule.

A flow file with a bad line is refused whole (``INVALID_FLOWS``, every bad line named
``FILE:LINE``): a partial answer would be read as a complete one. Nothing is written: the
state is opened read-only (as every question), a candidate lives only in memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdn.cli.questions import answers, open_index, pod_names, pod_ports, rule_of
from sdn.errors import FlowFileError, SdnError
from sdn.policy import compile_dfw
from sdn.policy.flows import SKIP_REASONS, Flow, FlowFile, detect_format, parse_flows
from sdn.policy.replay import Replayed, Replayer
from sdn.render.output import STRUCTURED, print_data, print_table, print_text
from sdn.traceflow import TraceContext
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.targets import resolve_source, resolve_target
from sdn.traceflow.verdicts import judge

#: Dropped flows listed in the table (all of them in JSON).
TABLE_ROWS = 50


def read_flows(path: str, fmt: str) -> FlowFile:
    """The flows of ``path`` (``-``: standard input), every bad line refused at once."""
    try:
        if path == "-":
            lines = sys.stdin.read().splitlines()
        else:
            lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SdnError(str(err), code="FILE_NOT_FOUND" if isinstance(err, OSError)
                       else "MALFORMED_FILE", obj=path) from err
    found = parse_flows(lines, fmt=detect_format(lines) if fmt == "auto" else fmt,
                        source=path)
    if found.problems:
        raise FlowFileError(found.problems, obj=path)
    return found


def _context(args: argparse.Namespace) -> TraceContext:
    """The policy set flows are replayed against: the state's (from the query index, as
    ``explain`` reads it), or the candidate's, compiled in memory."""
    index = open_index(args)
    if args.candidate is None:
        return index.trace_context(args.default_action)
    from sdn.cli.candidate import candidate_inventory

    inv = candidate_inventory(index.store, args.candidate, cluster=args.cluster)
    return TraceContext.build(inv, dfw=compile_dfw(inv, default_action=args.default_action),
                              default_action=args.default_action)


def elsewhere_judge(ctx: TraceContext) -> Callable[[Flow], Replayed]:
    """How a flow to a virtual server's address is judged: as ``explain --src IP --dst IP``
    judges it, through the load balancer."""
    http = HttpRequest(host=None, path="/")

    def judge_flow(flow: Flow) -> Replayed:
        src = resolve_source(ctx, flow.src, None)
        target = resolve_target(ctx, flow.dst, source=src, cluster=None,
                                protocol=flow.protocol, dport=flow.port)
        ans = judge(ctx, src, target, flow.protocol, http=http)
        if not ans.legs:
            return Replayed("DROPPED", None, ans.lb_drop)
        deciding = next((lv.verdict.deciding for lv in ans.legs if not lv.verdict.allowed),
                        ans.legs[0].verdict.deciding)
        return Replayed(ans.disposition, deciding)

    return judge_flow


@dataclass
class Summary:
    """What the answer counts: flows per disposition, per deciding rule, and the dropped
    ones, each distinct (source, destination, protocol, port) once with its count."""

    dispositions: Counter[str] = field(default_factory=Counter)
    rules: dict[tuple[str | None, ...], dict[str, Any]] = field(default_factory=dict)
    dropped: dict[tuple[str, str, str, int | None], dict[str, Any]] = field(
        default_factory=dict)


def _rule_json(r: Replayed) -> dict[str, Any]:
    if r.deciding is None:
        return {"rule_id": None, "path": None, "security_policy": None, "category": None,
                "point": None, "action": None if r.lb_drop is None else "DROP",
                "load_balancer": r.lb_drop}
    return {**rule_of(r.deciding), "point": r.deciding.point, "action": r.deciding.action,
            "load_balancer": None}


def summarize(flows: list[Flow], answers: list[Replayed], names: dict[str, str],
              replayer: Replayer) -> Summary:
    """Count the answers (see :class:`Summary`). Flows of one class share one answer
    object, so what is derived from an answer is derived once per answer."""
    out = Summary()
    entries: dict[int, dict[str, Any]] = {}  # by the answer's id: its rule's entry
    for flow, r in zip(flows, answers, strict=True):
        entry = entries.get(id(r))
        if entry is None:
            rule = _rule_json(r)
            key = (rule["path"], rule["point"], rule["load_balancer"])
            entry = out.rules.get(key)
            if entry is None:
                entry = out.rules[key] = {**rule, "allowed": 0, "dropped": 0}
            entries[id(r)] = entry
        out.dispositions[r.disposition] += 1
        if r.allowed:
            entry["allowed"] += 1
            continue
        entry["dropped"] += 1
        k = (flow.src, flow.dst, flow.protocol, flow.port)
        seen = out.dropped.get(k)
        if seen is not None:
            seen["flows"] += 1
            continue
        out.dropped[k] = {"src": flow.src, "dst": flow.dst,
                          "src_pod": names.get(replayer.side(flow.src, source=False)[0].path),
                          "dst_pod": names.get(replayer.side(flow.dst, source=False)[0].path),
                          "protocol": flow.protocol, "port": flow.port, "flows": 1,
                          "first_line": flow.line, "disposition": r.disposition,
                          "rule": {k: v for k, v in entry.items()
                                   if k not in ("allowed", "dropped")}}
    return out


@answers
def run(args: argparse.Namespace) -> int:
    """Replay the flows; exit 0 (whatever they would meet), 2 for bad input."""
    found = read_flows(args.flows, args.format)
    ctx = _context(args)
    pods = pod_ports(ctx, None, None)
    names = pod_names(pods)
    vips = {str(ip) for _, ip, _, _ in ctx.vips} | {str(ip) for ip, _, _ in ctx.outside_vips}
    replayer = Replayer(ctx.dfw, pods, elsewhere=vips, judge_elsewhere=elsewhere_judge(ctx))
    results = replayer.replay_all(found.flows)
    summary = summarize(found.flows, results, names, replayer)
    data = {
        "policy_set": "candidate" if args.candidate else "current",
        "candidate": args.candidate, "format": found.format,
        "counts": {"flows": len(found.flows),
                   "allowed": summary.dispositions["ALLOWED"],
                   "dropped": len(found.flows) - summary.dispositions["ALLOWED"],
                   "mixed": summary.dispositions["MIXED"],
                   "skipped": sum(found.skipped.values()),
                   "distinct_questions": replayer.evaluated},
        "skipped": {reason: found.skipped[reason] for reason in SKIP_REASONS},
        "rules": sorted(summary.rules.values(),
                        key=lambda e: (-e["dropped"], -e["allowed"], str(e["path"]))),
        "dropped": sorted(summary.dropped.values(), key=lambda e: e["first_line"]),
    }
    if args.output == "json":
        print_text(replay_json(data))
    elif args.output in STRUCTURED:
        print_data(data, args.output)
    else:
        _print(data)
    return 0


def replay_json(data: dict[str, Any]) -> str:
    """``-o json``: the answer indented as ``print_json`` indents it, except that each
    dropped flow is one line (compact): at 100,000 flows the list holds tens of thousands
    of them, which Python's indenting encoder takes seconds to write, and a flow a line
    reads (and greps) better."""
    head = {k: v for k, v in data.items() if k != "dropped"}
    text = json.dumps(head, indent=2)
    rows = ",\n".join("    " + json.dumps(e) for e in data["dropped"])
    dropped = f"[\n{rows}\n  ]" if rows else "[]"
    return text[:-2] + f',\n  "dropped": {dropped}\n}}\n'


def _rule_id(rule: dict[str, Any]) -> str:
    """How the dropped flows' table names a rule: its id (``LB``: the load balancer)."""
    if rule["load_balancer"] is not None:
        return "LB"
    return "-" if rule["rule_id"] is None else str(rule["rule_id"])


def _rule_name(rule: dict[str, Any]) -> str:
    if rule["load_balancer"] is not None:
        return f"load balancer: {rule['load_balancer']}"
    return "not enforced" if rule["path"] is None else rule["path"].rsplit("/", 1)[-1]


def _print(data: dict[str, Any]) -> None:
    """The counts, the rules that decided, then the dropped flows (the first
    :data:`TABLE_ROWS`; ``-o json`` lists all)."""
    c = data["counts"]
    skipped = ", ".join(f"{n} {reason}" for reason, n in data["skipped"].items() if n)
    print(f"{c['flows']} flows replayed against the {data['policy_set']} policy set: "
          f"{c['allowed']} allowed, {c['dropped']} dropped"
          + (f" ({c['mixed']} by some backends only)" if c["mixed"] else "")
          + (f"; skipped {skipped}" if skipped else ""))
    print_table(["RULE ID", "RULE", "AT", "ACTION", "ALLOWED", "DROPPED"],
                [[_rule_id(r), _rule_name(r), r["point"] or "-", r["action"] or "-",
                  str(r["allowed"]), str(r["dropped"])] for r in data["rules"]],
                title="deciding rules")
    rows = [[e["src_pod"] or e["src"], e["dst_pod"] or e["dst"],
             e["protocol"] + (f"/{e['port']}" if e["port"] is not None else ""),
             str(e["flows"]), _rule_id(e["rule"])] for e in data["dropped"]]
    if rows:
        more = len(rows) - TABLE_ROWS
        print_table(["SOURCE", "DESTINATION", "SERVICE", "FLOWS", "RULE ID"],
                    rows[:TABLE_ROWS], title="dropped flows"
                    + (f" (first {TABLE_ROWS} of {len(rows)}; -o json lists all)"
                       if more > 0 else ""))
