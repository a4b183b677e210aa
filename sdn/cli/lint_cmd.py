"""``sdn lint``: review the distributed firewall of the state.

The DFW findings come from :func:`sdn.policy.lint.lint_dfw` (shadowed and redundant rules,
conflicting equal priorities, empty and unused groups, rules that match nothing); the
NCP-limit warnings that the last ``ncp sync`` of each cluster stored (``TOO_MANY_MATCH_LABELS``
and the other codes of NCP's documented limits) are passed through with their own codes.

The whole DFW is analysed even with ``--cluster`` (an admin rule can shadow a cluster's
rule); ``--cluster`` then keeps the findings on that cluster's objects (tag
``ncp/cluster``) and that cluster's sync warnings. Findings have a severity (``error``,
``warning``, ``info``); exit 1 when one is at least as severe as ``--fail-on`` (default
``error``: the firewall's answer is an accident; ``--fail-on warning`` for a CI gate that
also stops lost intent; ``never`` only reports). ``-o json`` gives each finding's
``related`` paths (the shadowing rule, the conflicting rule, ...) as a list.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from sdn.cli.filters import check_scope
from sdn.cli.questions import answers, open_index
from sdn.model import Group, Inventory, SecurityPolicy
from sdn.policy.lint import SEVERITIES, WARNING, Finding, sort_findings
from sdn.render.output import STRUCTURED, print_data, print_table


def _owners(inv: Inventory) -> dict[str, str | None]:
    """The owning cluster of every group, security policy and rule (None: the admin's)."""
    owners: dict[str, str | None] = {}
    for g in inv.of_type(Group):
        owners[g.path] = g.tag("ncp/cluster")
    for p in inv.of_type(SecurityPolicy):
        owner = p.tag("ncp/cluster")
        owners[p.path] = owner
        for r in p.rules:
            owners[r.path] = r.tag("ncp/cluster") or owner
    return owners


@answers
def run(args: argparse.Namespace) -> int:
    """Print the findings; 1 when any is at least as severe as ``--fail-on``."""
    index = open_index(args)
    store = index.store
    inv = index.inventory()
    check_scope(store, args.cluster)
    clusters = [c.name for c in store.clusters()]
    chosen = [args.cluster] if args.cluster is not None else clusters
    stored = [(c, p) for name in chosen
              for c, p in store.problems(name, table="findings")]
    findings = index.lint_findings()
    if args.cluster is not None:
        owners = _owners(inv)
        findings = [f for f in findings if owners.get(f.path) == args.cluster]
    several = len(clusters) > 1
    if stored:  # the lint's own findings come sorted (and stay so when filtered)
        findings = sort_findings([
            *findings,
            *(Finding(p.code, WARNING, p.obj,
                      f"cluster {c}: {p.message}" if several else p.message)
              for c, p in stored),
        ])
    failed = fails(findings, args.fail_on)
    if args.output in STRUCTURED:
        print_data([finding_json(f) for f in findings], args.output)
        return 1 if failed else 0
    if not findings:
        print("no findings")
        return 0
    counts = Counter(f.severity for f in findings)
    title = f"findings: {len(findings)} (" + ", ".join(
        f"{counts[s]} {s}" for s in SEVERITIES if counts[s]) + ")"
    print_table(["CODE", "SEVERITY", "OBJECT", "MESSAGE"],
                [[f.code, f.severity, f.path, f.message] for f in findings], title=title)
    return 1 if failed else 0


def finding_json(f: Finding) -> dict[str, Any]:
    """One finding as ``-o json`` prints it: ``witness`` only on the findings that carry
    one (a flow proving a shadowed or conflicting rule, :mod:`sdn.policy.lint.witness`)."""
    out: dict[str, Any] = {"code": f.code, "severity": f.severity, "object": f.path,
                           "message": f.message, "related": list(f.related)}
    if f.witness is not None:
        out["witness"] = f.witness.as_json()
    return out


def fails(findings: list[Finding], fail_on: str) -> bool:
    """Whether any finding is at least as severe as ``fail_on`` (``never``: none is)."""
    if fail_on == "never":
        return False
    limit = SEVERITIES.index(fail_on)
    return any(SEVERITIES.index(f.severity) <= limit for f in findings)
