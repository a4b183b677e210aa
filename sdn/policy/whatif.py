"""What a change does to reachability, before it lands: the flows it gains and loses.

Why here: ``ncp sync --dry-run`` and ``sdn apply/delete --dry-run`` both hold the state's
inventory as read and the inventory the write would leave, with the paths it would
create, update or delete. Both firewalls are compiled from those in memory (nothing is
written, nothing read back), the endpoints the change can affect are found from the
changed paths (:mod:`sdn.policy.affected`), and only pairs with an end among them are
compared (:func:`~sdn.policy.connectivity.reachability_delta`); a change touching no
firewall input compares nothing. ``--fail-on`` reads :meth:`WhatIf.has`.

Assumption, named: the default rule's action is ALLOW, as NSX ships it and as ``sdn
reach`` assumes unless told otherwise (the state keeps NCP's own default section as a
policy, which is evaluated, when a cluster asks for one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sdn.model import Group, Inventory, Segment, SegmentPort
from sdn.policy.affected import affected_ports, with_referrers
from sdn.policy.compiler import CompiledDfw, compile_dfw
from sdn.policy.connectivity import FlowChange, delta_json, reachability_delta

#: The most ordered pairs of endpoints a dry run compares. A change that can affect more
#: (a first sync of a large cluster: every pair is gained) would list millions of flows,
#: more than memory or a reader can hold; its flows are then not listed (see
#: :attr:`WhatIf.too_many`), and ``sdn connectivity`` after the write answers instead.
MAX_PAIRS = 250_000


@dataclass(frozen=True)
class WhatIf:
    """The flows a change gains and loses, and how many ports were compared for it
    (None: every pair was). ``too_many``: the pairs the change can affect, when more
    than :data:`MAX_PAIRS` (the flows are then not listed)."""

    gained: list[FlowChange] = field(default_factory=list)
    lost: list[FlowChange] = field(default_factory=list)
    affected: int | None = 0
    too_many: int = 0

    def to_json(self) -> dict[str, Any]:
        """``{"gained": [...], "lost": [...]}`` (:func:`delta_json`), with
        ``"not_compared": {"pairs", "limit"}`` when there were too many pairs."""
        out = delta_json(self.gained, self.lost)
        if self.too_many:
            out["not_compared"] = {"pairs": self.too_many, "limit": MAX_PAIRS}
        return out

    def has(self, kind: str) -> bool:
        """Whether there are changes of ``kind``: ``lost``, ``gained`` or ``any``
        (``--fail-on``); a delta not compared may hold any, so it says yes."""
        if self.too_many:
            return True
        if kind == "any":
            return bool(self.gained or self.lost)
        return bool(self.gained if kind == "gained" else self.lost)


def reachability_change(before: Inventory, after: Inventory, changed: Iterable[str], *,
                        before_dfw: CompiledDfw | None = None) -> WhatIf:
    """The reachability delta from ``before`` to ``after``, the inventories on either
    side of a write of the ``changed`` paths (see the module's doc). ``before_dfw``: the
    firewall of ``before`` when the caller has it compiled already."""
    paths = list(changed)
    if not paths:
        return WhatIf()
    old = before_dfw if before_dfw is not None else compile_dfw(before)
    new = after_firewall(before, after, paths, old)
    ports = affected_ports(paths, before=before, after=after, before_dfw=old, after_dfw=new)
    if ports is not None and not ports:
        return WhatIf()
    pairs = _pairs(ports, old, new)
    if pairs > MAX_PAIRS:
        return WhatIf(affected=None if ports is None else len(ports), too_many=pairs)
    gained, lost = reachability_delta(old, new, endpoints=ports)
    return WhatIf(gained, lost, None if ports is None else len(ports))


def _pairs(ports: set[str] | None, old: CompiledDfw, new: CompiledDfw) -> int:
    """The ordered pairs of distinct endpoints with an end in ``ports`` (None: all)."""
    everyone = len({ep.path for dfw in (old, new) for ep in dfw.endpoints})
    chosen = everyone if ports is None else len(ports)
    return chosen * (everyone - 1) * 2 - chosen * (chosen - 1)


def after_firewall(before: Inventory, after: Inventory, changed: list[str],
                   old: CompiledDfw) -> CompiledDfw:
    """The firewall of ``after`` compiled from ``old``, the one of ``before``: when no
    port or segment changed (the endpoints are the same, in the same order), every group
    that did not change and names none that did keeps its resolved members; only the
    rest is resolved again (at 10,000 pods and 7,500 policies, resolving groups is most
    of a compile). Any other change compiles ``after`` whole."""
    kinds = {type(inv.get(p)) for p in changed for inv in (before, after)}
    if kinds & {SegmentPort, Segment}:
        return compile_dfw(after)
    ports = [p.path for p in after.of_type(SegmentPort) if p.address_bindings]
    if ports != [ep.path for ep in old.endpoints]:
        return compile_dfw(after)
    stale = with_referrers({p for p in changed
                            if isinstance(before.get(p) or after.get(p), Group)},
                           [before, after])
    return compile_dfw(after, reuse={path: members for path, members in old.groups.items()
                                     if path not in stale})
