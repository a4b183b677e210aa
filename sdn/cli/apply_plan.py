"""What ``sdn apply`` / ``sdn delete`` change, as they print it.

The plan itself is :mod:`sdn.model.admin_plan` (shared with NSX Manager's API): computed
once, then either printed (``--dry-run``) or written and printed, so a dry run says
exactly what the real run does.
A dry run adds the flows the write would gain and lose (DESIGN.md's what-if,
:mod:`sdn.policy.whatif`): ``"reachability": {"gained", "lost"}`` in JSON, a section of
one line per flow in the text (:mod:`sdn.render.reachability`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sdn.model.admin_plan import ACTIONS, Plan
from sdn.policy.whatif import WhatIf
from sdn.render.reachability import reachability_lines


def plan_json(plan: Plan, *, dry_run: bool, whatif: WhatIf | None = None) -> dict[str, Any]:
    """``-o json``: ``{"dry_run", "counts": {action: n}, "changes": [{"action", "path",
    "resource_type"[, "fields"]}]}``, and with ``whatif`` (a dry run) ``"reachability":
    {"gained", "lost"}``."""
    out: dict[str, Any] = {"dry_run": dry_run,
                           "counts": {a: len(plan.of(a)) for a in ACTIONS},
                           "changes": [c.to_json() for c in plan.changes]}
    if whatif is not None:
        out["reachability"] = whatif.to_json()
    return out


#: How the text summary names each action's count.
_PAST = {"create": "created", "update": "updated", "delete": "deleted",
         "unchanged": "unchanged", "apply": "applied"}


def plan_lines(plan: Plan, *, dry_run: bool, verb: str,
               whatif: WhatIf | None = None) -> list[str]:
    """The text summary: ``applied N object(s): a created, b updated, c unchanged`` (or
    ``would apply ...``), then for a dry run one line per object, and with ``whatif``
    the reachability section."""
    head = f"would {verb}" if dry_run else _PAST[verb]
    if verb == "delete":
        kinds = Counter(c.obj.resource_type for c in plan.changes)
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none found"
    else:
        counts = ", ".join(f"{len(plan.of(a))} {_PAST[a]}"
                           for a in ("create", "update", "unchanged"))
    lines = [f"{head} {len(plan.changes)} object(s): {counts}"]
    if dry_run:
        for c in plan.changes:
            extra = f" ({', '.join(c.fields)})" if c.fields else ""
            lines.append(f"  {c.action:<9} {c.obj.resource_type} {c.obj.path}{extra}")
    if whatif is not None and plan.writes:  # nothing written, nothing to compare
        lines += reachability_lines(whatif)
    return lines
