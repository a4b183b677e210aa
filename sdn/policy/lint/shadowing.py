"""``SHADOWED_RULE``: a rule one earlier rule takes all the traffic of."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from sdn.policy.compiler import CompiledDfw
from sdn.policy.lint.findings import INFO, SHADOWED_RULE, WARNING, Finding
from sdn.policy.lint.index import Dim
from sdn.policy.lint.values import (
    Addresses,
    Members,
    Peers,
    Services,
    peers_cover,
    peers_register,
    peers_witnesses,
    services_cover,
    services_register,
    services_witnesses,
)
from sdn.policy.lint.views import View
from sdn.policy.lint.witness import Pair, witness

JUMP = "JUMP_TO_APPLICATION"


#: The dimensions whose values are small (applied-to ports, services): their supersets
#: are cheap to find. Sources and destinations can select a third of a cluster's pods.
_CHEAP = (0, 3)
#: Walk the earlier rules of a cheap dimension unless it lets more rules than this
#: through; only then are the supersets of the sides found too, to walk fewer.
_WIDE_WALK = 2_000


def _walked_dimension(dims: Sequence[Dim[Peers] | Dim[Services]], ids: Sequence[int]) -> int:
    """The dimension whose covering rules a later rule walks: the cheap one with the
    fewest, unless both let many through (then the fewest of all four). The others are
    checked rule by rule (:meth:`Dim.covers`): the same answer either way."""
    k = min(_CHEAP, key=lambda j: dims[j].count(ids[j]))
    if dims[k].count(ids[k]) <= _WIDE_WALK:
        return k
    return min(range(len(dims)), key=lambda j: dims[j].count(ids[j]))


def shadowed(dfw: CompiledDfw, views: Sequence[View]) -> list[Finding]:
    """``SHADOWED_RULE``: see :mod:`sdn.policy.lint`."""
    at_cache: dict[Members, Peers] = {}
    at_dim: Dim[Peers] = Dim((at_cache.setdefault(v.at, Peers(v.at, ())) for v in views),
                             register=peers_register, witnesses=peers_witnesses,
                             covers=peers_cover)
    ports = Addresses(int(ep.ip) for ep in dfw.endpoints)

    def cover(a: Peers | None, b: Peers | None) -> bool:
        return peers_cover(a, b, ports)

    src_dim: Dim[Peers] = Dim((v.src for v in views), register=peers_register,
                              witnesses=peers_witnesses, covers=cover)
    dst_dim: Dim[Peers] = Dim((v.dst for v in views), register=peers_register,
                              witnesses=peers_witnesses, covers=cover)
    svc_dim: Dim[Services] = Dim((v.rule.services for v in views),
                                 register=services_register,
                                 witnesses=services_witnesses, covers=services_cover)
    dims: tuple[Dim[Peers] | Dim[Services], ...] = (at_dim, src_dim, dst_dim, svc_dim)
    shadower = [v.plain and v.rule.action != JUMP and v.nothing is None for v in views]
    jumps = [v.rule.order for v in views if v.rule.action == JUMP and not v.rule.disabled]
    first_jump = min(jumps) if jumps else len(views)
    app = dfw.application_start

    findings = []
    for b in views:
        rb = b.rule
        if not b.plain or rb.is_default or b.nothing is not None or rb.order == 0:
            continue
        ids = [d.ids[rb.order] for d in dims]
        k = _walked_dimension(dims, ids)
        others = [j for j in range(len(dims)) if j != k]
        walk = heapq.merge(*(dims[k].rules_of[vid] for vid in dims[k].supersets(ids[k])))
        for order in walk:
            if order >= rb.order:
                break
            if not shadower[order]:
                continue
            a = views[order]
            ra = a.rule
            if not a.dirs >= b.dirs:
                continue
            if first_jump < ra.order < app <= rb.order:
                continue  # a jump above may skip the earlier rule but not this one
            if not all(dims[j].covers(dims[j].ids[order], ids[j]) for j in others):
                continue
            if ra.action == rb.action:
                msg = (f"redundant: the earlier rule {ra.path} ({ra.action}) already matches "
                       "all of its traffic at the same ports with the same action")
            else:
                msg = (f"never matches: the earlier rule {ra.path} ({ra.action}) matches all "
                       f"of its traffic at the same ports, so its {rb.action} never applies")
            proof = witness(dfw, Pair(ra.order, rb.order, b.dirs, b.at, (a.src, b.src),
                                      (a.dst, b.dst), (ra.services, rb.services)), ports)
            findings.append(Finding(SHADOWED_RULE, WARNING if ra.action != rb.action else INFO,
                                    rb.path, msg, related=(ra.path,), witness=proof))
            break
    return findings
