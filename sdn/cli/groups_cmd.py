"""``sdn show groups --member NS/POD`` and ``sdn show groups --id ID --members``: who is in
which group now, as the firewall resolved it.

Both read the compiled firewall's member sets (the query index's ``groups`` table and the
endpoints' set numbers, :mod:`sdn.query.records`), so they say exactly what the rules
evaluate, and the reasons come from :mod:`sdn.policy.selection`.

* ``--member NS/POD``: every group holding the pod (``--namespace``/``--tag`` keep the
  groups with those tags; ``--cluster`` also picks the pod's cluster), each with why.
  JSON: ``{"pod", "port_path", "ip", "groups": [{"path", "id", "display_name", "why"}]}``.
* ``--id ID --members`` (an id, or a group's path): the group's member pods (``NS/POD``,
  address, port path), its other member ports (a node's, ...), the addresses outside the
  inventory it matches (its CIDR terms: ``a, b`` is either network, ``x & y`` both) and the
  groups it includes by path, directly or through others (their members are among the
  members). JSON: ``{"group", "pods": [{"pod", "ip", "port_path"}], "other_ports":
  [{"name", "ip", "port_path"}], "addresses": [text], "nested": [paths]}``.
"""

from __future__ import annotations

import argparse
from ipaddress import IPv4Network
from typing import Any

from sdn.cli.filters import object_filter
from sdn.cli.policies_cmd import pod_endpoint, reasons_for
from sdn.cli.questions import answers, load_context, pod_names
from sdn.errors import NotFoundError, SdnError
from sdn.model import Group
from sdn.policy.selection import nested_groups
from sdn.query.groupindex import GroupIndex
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.traceflow import TraceContext


def check(args: argparse.Namespace) -> None:
    """Refuse the membership options where they mean nothing (``BAD_ARGUMENT``)."""
    if (args.member or args.members) and args.kind != "groups":
        raise SdnError("--member and --members list groups: use `sdn show groups`",
                       code="BAD_ARGUMENT", obj=args.kind)
    if args.members and not args.id:
        raise SdnError("--members needs --id ID (the group whose members to list)",
                       code="BAD_ARGUMENT", obj="--members")
    if args.member and args.members:
        raise SdnError("--member (a pod's groups) and --members (a group's members) are "
                       "two questions: ask one", code="BAD_ARGUMENT", obj="--member")


def _context(args: argparse.Namespace) -> TraceContext:
    """The question's context, ``--cluster`` and ``--namespace`` checked (``show`` takes
    one namespace, the questions a list)."""
    asked = argparse.Namespace(**{**vars(args), "namespace": [args.namespace]
                                  if args.namespace else None})
    return load_context(asked)


def _group(ctx: TraceContext, path: str) -> Group | None:
    found = ctx.inventory.get(path)
    return found if isinstance(found, Group) else None


@answers
def member(args: argparse.Namespace) -> int:
    """The groups holding one pod (see the module's doc)."""
    ctx = _context(args)
    port, ep = pod_endpoint(ctx, args.member, args.cluster)
    assert ep.index is not None
    classes = ctx.dfw.classes_of(ep.index)
    reasons = reasons_for(ctx, port, ep)
    keep = object_filter(argparse.Namespace(cluster=None, namespace=args.namespace,
                                            tag=args.tag))
    rows: list[dict[str, Any]] = []
    for path in GroupIndex(ctx.dfw).holding(classes):
        group = _group(ctx, path)
        if group is None or (keep is not None and not keep(group)):
            continue
        rows.append({"path": path, "id": group.id, "display_name": group.display_name,
                     "why": reasons.why(path)})
    if args.output in STRUCTURED:
        print_data({"pod": args.member, "port_path": port.path, "ip": str(ep.ip),
                    "groups": rows}, args.output)
        return 0
    print_table(["GROUP", "HOLDS THE POD BECAUSE"],
                [[str(r["id"]), str(r["why"] or "member (reason not shown)")] for r in rows],
                title=f"groups holding {args.member} ({ep.ip}): {len(rows)}")
    return 0


def _find(groups: GroupIndex, text: str) -> str:
    """A group's path from its id or path (``UNKNOWN_GROUP``, ``AMBIGUOUS_GROUP``)."""
    found = groups.find(text)
    if not found:
        raise NotFoundError(f"no group {text!r} in this state", code="UNKNOWN_GROUP",
                            obj=text)
    if len(found) > 1:
        raise NotFoundError(f"{text!r} is the id of {len(found)} groups ("
                            f"{', '.join(found)}): give its path", code="AMBIGUOUS_GROUP",
                            obj=text)
    return found[0]


def address_text(term: tuple[tuple[IPv4Network, ...], ...]) -> str:
    """One outside-address term: its criteria (each an OR of networks) ANDed."""
    return " & ".join(", ".join(map(str, crit)) for crit in term)


@answers
def members(args: argparse.Namespace) -> int:
    """What one group holds now (see the module's doc)."""
    ctx = _context(args)
    groups = GroupIndex(ctx.dfw)
    path = _find(groups, args.id)
    found = groups.sets([path])[path]
    names = pod_names({p: (c, ns, pod) for p, c, ns, pod in ctx.lookups.pods})
    pods: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for ep in groups.members(found.number):
        if ep.path in names:
            pods.append({"pod": names[ep.path], "ip": str(ep.ip), "port_path": ep.path})
        else:
            others.append({"name": ep.name, "ip": str(ep.ip), "port_path": ep.path})
    pods.sort(key=lambda p: p["pod"])
    others.sort(key=lambda p: p["port_path"])
    group = _group(ctx, path)
    data: dict[str, Any] = {"group": path, "pods": pods, "other_ports": others,
            "addresses": [address_text(t) for t in found.outside_terms],
            "nested": nested_groups(group, lambda p: _group(ctx, p)) if group else []}
    if args.output in STRUCTURED:
        print_data(data, args.output)
        return 0
    rows = [[p["pod"], p["ip"], "pod"] for p in pods] \
        + [[o["name"], o["ip"], "port"] for o in others] \
        + [[net, "", "addresses"] for term in found.outside_terms
           for net in ([str(n) for n in term[0]] if len(term) == 1 else [address_text(term)])] \
        + [[n.rsplit("/", 1)[-1], "", "nested group"] for n in data["nested"]]
    print_table(["MEMBER", "IP", "KIND"], rows,
                title=f"group {path.rsplit('/', 1)[-1]}: {len(pods)} pods, {len(others)} "
                      f"other ports, {len(data['addresses'])} address terms")
    return 0
