"""``sdn reach`` and ``sdn explain``: questions to the distributed firewall.

Both compile the DFW of the state once and run the same decision function, so a pair
``reach`` lists as allowed is one ``explain`` shows allowed, rule for rule.
"""

from __future__ import annotations

import argparse
from ipaddress import AddressValueError, IPv4Address
from typing import Any

from sdn.errors import NotFoundError, SdnError
from sdn.model import Inventory, SegmentPort
from sdn.policy import CompiledDfw, Decision, Endpoint, compile_dfw, evaluate_flow, reach_matrix
from sdn.render.output import print_json, print_table
from sdn.store import Store

PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP")


def _pods(inv: Inventory, cluster: str | None,
          namespaces: list[str] | None) -> dict[str, tuple[str, str, str]]:
    """Pod ports by path: (cluster, namespace, pod), filtered."""
    out = {}
    for p in inv.of_type(SegmentPort):
        pod, ns, c = p.tag("ncp/pod"), p.tag("ncp/project"), p.tag("ncp/cluster")
        if not (pod and ns and c) or not p.address_bindings:
            continue
        if (cluster and c != cluster) or (namespaces and ns not in namespaces):
            continue
        out[p.path] = (c, ns, pod)
    return out


def _names(pods: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """``ns/pod``, or ``cluster/ns/pod`` when pods of several clusters are shown."""
    several = len({c for c, _, _ in pods.values()}) > 1
    return {path: (f"{c}/{ns}/{pod}" if several else f"{ns}/{pod}")
            for path, (c, ns, pod) in pods.items()}


def _load(args: argparse.Namespace) -> tuple[Inventory, CompiledDfw]:
    with Store.open_readonly(args.state) as store:
        inv = store.inventory()
    return inv, compile_dfw(inv, default_action=args.default_action)


def reach(args: argparse.Namespace) -> int:
    """The allowed pod pairs per port."""
    inv, dfw = _load(args)
    pods = _pods(inv, args.cluster, args.namespace)
    names = _names(pods)
    index = {ep.path: ep.index for ep in dfw.endpoints if ep.index is not None}
    chosen = sorted((index[p] for p in pods if p in index),
                    key=lambda i: names[dfw.endpoints[i].path])
    label = [names[dfw.endpoints[i].path] for i in chosen]
    results = []
    for port in args.port or [None]:
        pairs = reach_matrix(dfw, protocol=args.protocol, port=port, among=chosen)
        allowed = sorted([names[dfw.endpoints[s].path], names[dfw.endpoints[d].path]]
                         for s, d in pairs)
        results.append({"port": port, "pods": label, "allowed": allowed})
    if args.output == "json":
        print_json({"protocol": args.protocol, "results": results})
        return 0
    for res in results:
        _print_matrix(args.protocol, res)
    return 0


def _print_matrix(protocol: str, res: dict[str, Any]) -> None:
    pods: list[str] = res["pods"]
    allowed = {tuple(p) for p in res["allowed"]}
    title = f"{protocol}/{res['port'] if res['port'] is not None else 'any'}: " \
            f"{len(allowed)} of {len(pods) * (len(pods) - 1)} pairs allowed"
    if len(pods) <= 24:
        short = [str(i) for i in range(len(pods))]
        rows = [[f"{i} {src}"] + ["." if src == dst else ("✓" if (src, dst) in allowed else "✗")
                                  for dst in pods]
                for i, src in enumerate(pods)]
        print_table(["FROM \\ TO", *short], rows, title=title)
    else:
        rows = [[src, str(sum(1 for d in pods if (src, d) in allowed)),
                 str(sum(1 for s in pods if (s, src) in allowed))] for src in pods]
        print_table(["POD", "CAN REACH", "REACHED BY"], rows, title=title)


def _endpoint(dfw: CompiledDfw, pods: dict[str, tuple[str, str, str]], text: str,
              what: str) -> Endpoint:
    names = _names(pods)
    matches = [path for path, name in names.items() if name == text]
    if len(matches) == 1:
        for ep in dfw.endpoints:
            if ep.path == matches[0]:
                return ep
    if "/" not in text:
        try:
            return dfw.endpoint_for_ip(IPv4Address(text))
        except AddressValueError:
            pass
    raise NotFoundError(f"no pod {text!r} (give NS/POD, or an IP address; add --cluster "
                        "when several clusters are synced)", code="UNKNOWN_ENDPOINT", obj=what)


def _decision_json(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    rule = d.rule
    return {
        "port_path": d.port_path, "action": d.action,
        "rule": None if rule is None else {"rule_id": rule.rule_id, "path": rule.path,
                                            "security_policy": rule.policy_path,
                                            "category": rule.category},
        "default_rule": rule is None,
        "considered": [{"category": c.rule.category, "security_policy": c.rule.policy_path,
                        "rule": c.rule.path, "rule_id": c.rule.rule_id,
                        "action": c.rule.action, "matched": c.matched, "reason": c.reason}
                       for c in d.trail],
    }


def explain(args: argparse.Namespace) -> int:
    """The decision chain of one flow at the source's egress and the destination's ingress."""
    if args.protocol != "ICMP" and args.dport is None:
        raise SdnError("--dport is needed for TCP, UDP and SCTP", code="BAD_ARGUMENT")
    if args.dport is not None and not 1 <= args.dport <= 65535:
        raise SdnError(f"--dport {args.dport} is outside 1-65535", code="BAD_ARGUMENT")
    inv, dfw = _load(args)
    pods = _pods(inv, args.cluster, None)
    src = _endpoint(dfw, pods, args.src, "--src")
    dst = _endpoint(dfw, pods, args.dst, "--dst")
    v = evaluate_flow(dfw, src, dst, protocol=args.protocol, port=args.dport, explain=True)
    data = {"src": args.src, "dst": args.dst, "protocol": v.protocol, "port": v.port,
            "allowed": v.allowed, "egress": _decision_json(v.egress),
            "ingress": _decision_json(v.ingress)}
    if args.output == "json":
        print_json(data)
        return 0
    for label, d in (("egress at " + args.src, v.egress), ("ingress at " + args.dst, v.ingress)):
        if d is None:
            print(f"{label}: not enforced (an address outside the inventory)\n")
            continue
        rows = [[c.rule.category, c.rule.policy_path.rsplit("/", 1)[-1],
                 c.rule.path.rsplit("/", 1)[-1], str(c.rule.rule_id), c.rule.action,
                 "MATCH" if c.matched else c.reason] for c in d.trail]
        decided = ("default rule" if d.rule is None else
                   f"rule {d.rule.rule_id} ({d.rule.path})")
        print_table(["CATEGORY", "POLICY", "RULE", "ID", "ACTION", "RESULT"], rows,
                    title=f"{label}: {d.action} by {decided}")
        print()
    verdict = "ALLOWED" if v.allowed else "DROPPED"
    where = v.deciding
    if where is not None and not v.allowed:
        by = "the default rule" if where.rule is None else \
            f"rule {where.rule.rule_id} of security policy {where.rule.policy_path}"
        print(f"{verdict} at {args.src if where.point == 'egress' else args.dst} "
              f"{where.point} by {by}")
    else:
        print(f"{verdict}: {args.src} -> {args.dst} {v.protocol}"
              + (f"/{v.port}" if v.port is not None else ""))
    return 0
