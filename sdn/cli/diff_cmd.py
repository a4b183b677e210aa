"""``sdn diff --from REV --to REV``: objects and flows changed between two kept revisions
(:mod:`sdn.query.history_diff`). Unknown revisions or times are ``HISTORY_UNKNOWN_REVISION``
(text that is neither: ``HISTORY_BAD_REVISION``), exit 2."""

from __future__ import annotations

import argparse
from typing import Any

from sdn.cli.questions import answers, open_index
from sdn.policy.connectivity import FlowChange, delta_json
from sdn.query.history_diff import Diff, diff
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.store import past


@answers
def run(args: argparse.Namespace) -> int:
    """Resolve both revisions, rebuild them, print the difference."""
    store = open_index(args).store
    from_rev = past.resolve(store, args.from_rev, option="--from")
    to_rev = store.revision if args.to_rev is None else \
        past.resolve(store, args.to_rev, option="--to")
    answer = diff(store, from_rev, to_rev, default_action=args.default_action)
    doc = diff_json(answer)
    if args.output in STRUCTURED:
        print_data(doc, args.output)
        return 0
    _print(answer)
    return 0


def diff_json(answer: Diff) -> dict[str, Any]:
    """``{"from", "to", "objects": [{"path", "kind", "change"}], "reachability":
    {"gained": [...], "lost": [...]}}``."""
    return {"from": answer.from_revision, "to": answer.to_revision,
            "objects": [{"path": c.path, "kind": c.kind, "change": c.change}
                        for c in answer.objects],
            "reachability": delta_json(answer.gained, answer.lost)}


def _ports(change: FlowChange) -> str:
    if change.ports is None:
        return "-"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in change.ports)


def _print(answer: Diff) -> None:
    print_table(["CHANGE", "KIND", "PATH"],
                [[c.change, c.kind, c.path] for c in answer.objects],
                title=f"objects from revision {answer.from_revision} to "
                      f"{answer.to_revision}: {len(answer.objects)} changed")
    for word, flows in (("gained", answer.gained), ("lost", answer.lost)):
        print()
        print_table(["FROM", "TO", "PROTOCOL", "PORTS", "RULE"],
                    [[f.src, f.dst, f.protocol, _ports(f),
                      "default rule" if f.rule is None else f.rule.rsplit("/", 1)[-1]]
                     for f in flows],
                    title=f"flows {word}: {len(flows)}")
