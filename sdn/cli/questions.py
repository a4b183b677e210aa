"""What ``explain``, ``traceflow``, ``reach`` and ``path`` share on the command line: the
state they load, how ``--src``/``--dst``/``--cluster``/``--http-*`` become a flow, and how
a DFW decision is written in JSON, so the first three name rules the same way."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sdn.cli.filters import check_scope
from sdn.policy import Decision
from sdn.query import QueryIndex
from sdn.traceflow import TraceContext
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.walk import DEFAULT_RULE_ID, DEFAULT_RULE_PATH

#: The indexes opened by the running command (closed by :func:`answers` when it ends).
_OPEN: list[QueryIndex] = []

Command = TypeVar("Command", bound=Callable[[argparse.Namespace], int])


def answers(command: Command) -> Command:
    """Mark a command that reads through :func:`open_index`: when it returns (or fails),
    every index it opened is closed. The inventory of an index may be lazy, reading from
    the pinned store while the answer is printed, so the index must live as long as the
    command, and not a moment longer (a state on a mount that is then unmounted)."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        mark = len(_OPEN)
        try:
            return command(args)
        finally:
            while len(_OPEN) > mark:
                _OPEN.pop().close()

    return cast(Command, run)


def open_index(args: argparse.Namespace) -> QueryIndex:
    """The state at its current revision, read-only, through the query index
    (:mod:`sdn.query`): what was computed for this revision before is loaded, not
    recomputed. Open only inside a command marked :func:`answers`, which closes it."""
    index = QueryIndex.open(args.state)
    _OPEN.append(index)
    return index


def load_context(args: argparse.Namespace) -> TraceContext:
    """The state's inventory indexed for questions (read-only), ``--cluster`` and
    ``--namespace`` checked against the state. The context's inventory may be parsed
    lazily, from the store kept open (pinned to this revision) until the command ends
    (:func:`answers`)."""
    return load_revision(args)[0]


def load_revision(args: argparse.Namespace) -> tuple[TraceContext, int]:
    """:func:`load_context` and the revision it is of (what a realized data plane is
    checked against)."""
    index = open_index(args)
    check_scope(index.store, args.cluster, getattr(args, "namespace", None) or ())
    return index.trace_context(getattr(args, "default_action", "ALLOW")), index.key.revision


def pod_ports(ctx: TraceContext, cluster: str | None,
              namespaces: list[str] | None) -> dict[str, tuple[str, str, str]]:
    """Pod ports by path: (cluster, namespace, pod), filtered by ``cluster`` and
    ``namespaces`` (from the context's lookups: no port is parsed to be listed). Shared by
    ``reach`` and ``verify``, so both name and choose pods alike."""
    return {path: (c, ns, pod) for path, c, ns, pod in ctx.lookups.pods
            if not (cluster and c != cluster) and not (namespaces and ns not in namespaces)}


def pod_names(pods: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    """``ns/pod``, or ``cluster/ns/pod`` when pods of several clusters are shown."""
    several = len({c for c, _, _ in pods.values()}) > 1
    return {path: (f"{c}/{ns}/{pod}" if several else f"{ns}/{pod}")
            for path, (c, ns, pod) in pods.items()}


def http_request(args: argparse.Namespace) -> HttpRequest:
    """``--http-host`` / ``--http-path`` (defaults: the VIP as Host, ``/``)."""
    path = args.http_path or "/"
    return HttpRequest(host=args.http_host, path=path if path.startswith("/") else "/" + path)


def rule_of(d: Decision) -> dict[str, Any]:
    """The rule that decided, named as traceflow names it (NSX's default rule included)."""
    if d.rule is None:
        return {"rule_id": DEFAULT_RULE_ID, "path": DEFAULT_RULE_PATH, "security_policy": None,
                "category": None}
    return {"rule_id": d.rule.rule_id, "path": d.rule.path,
            "security_policy": d.rule.policy_path, "category": d.rule.category}


def decision_json(d: Decision | None) -> dict[str, Any] | None:
    """One enforcement point's decision and (with explain) its trail."""
    if d is None:
        return None
    return {
        "port_path": d.port_path, "action": d.action,
        "rule": rule_of(d),
        "default_rule": d.rule is None,
        "considered": [{"category": c.rule.category, "security_policy": c.rule.policy_path,
                        "rule": c.rule.path, "rule_id": c.rule.rule_id,
                        "action": c.rule.action, "matched": c.matched, "reason": c.reason}
                       for c in d.trail],
    }

