"""``CONFLICTING_SAME_PRIORITY``: overlapping rules of equal-priority policies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

from sdn.policy.compiler import CompiledDfw
from sdn.policy.lint.findings import CONFLICTING_SAME_PRIORITY, ERROR, Finding
from sdn.policy.lint.values import (
    SMALL_RANGE,
    Addresses,
    Members,
    Peers,
    Services,
    services_surely_overlap,
)
from sdn.policy.lint.views import View, short
from sdn.policy.lint.witness import Pair, witness
from sdn.policy.portspace import intersect_ranges as intersect


def surely_overlap(a: View, b: View, ports: Addresses) -> bool:
    """Whether some flow surely matches both rules at one enforcement point (``ports``:
    the inventory's addresses, which are never an outside end)."""
    dirs = a.dirs & b.dirs
    if not dirs or not services_surely_overlap(a.rule.services, b.rule.services):
        return False
    points = a.at if a.at is b.at else a.at & b.at
    if not points:
        return False
    for d in dirs:
        # IN: the point is the destination; OUT: the point is the source.
        here_a, here_b = (a.dst, b.dst) if d == "IN" else (a.src, b.src)
        there_a, there_b = (a.src, b.src) if d == "IN" else (a.dst, b.dst)
        at = points
        for side in (here_a, here_b):
            if side is not None:
                at = at & side.endpoints
        if at and other_end_overlaps(there_a, there_b, at, ports):
            return True
    return False


def other_end_overlaps(a: Peers | None, b: Peers | None, at: Members,
                       ports: Addresses) -> bool:
    """Whether both rules surely match one other end of a flow checked at a port of ``at``.

    The other end is an outside address (one of no port: a port's address is that port),
    or an endpoint that is not the port itself (a port's traffic to itself never reaches
    the DFW).
    """
    if a is None and b is None:
        return True  # ANY includes every outside address
    if a is None or b is None:
        other = b if a is None else a
        assert other is not None
        shared, outside = other.endpoints, other.flat
    else:
        shared, outside = a.endpoints & b.endpoints, intersect(a.flat, b.flat)
    return ports.first_free(outside) is not None \
        or (bool(shared) and not (len(shared) == 1 and shared == at))


def service_keys(services: Services | None) -> tuple[list[Hashable], list[Hashable]]:
    """Index keys of a rule's services, and the keys its overlapping partners sit under.

    A partner overlaps only if it shares a protocol and a port: ANY services sit under
    ``any``; every service also sits under its protocol; small port ranges under each
    port, wide ones under ``range``, all ports under ``all``.
    """
    if services is None:
        return ["any"], ["every"]
    keys: list[Hashable] = []
    probes: list[Hashable] = ["any"]
    for sv in services:
        proto = sv.protocol
        keys.append(("proto", proto))
        if not sv.ports:
            keys.append(("all", proto))
            probes.append(("proto", proto))
            continue
        for lo, hi in sv.ports:
            if hi - lo < SMALL_RANGE:
                ports = [("port", proto, p) for p in range(lo, hi + 1)]
                keys += ports
                probes += [*ports, ("all", proto), ("range", proto)]
            else:
                keys.append(("range", proto))
                probes.append(("proto", proto))
    return keys, probes


def conflicts(dfw: CompiledDfw, views: Sequence[View]) -> list[Finding]:
    """``CONFLICTING_SAME_PRIORITY``: see :mod:`sdn.policy.lint`; each finding with a
    flow both rules match (:mod:`sdn.policy.lint.witness`)."""
    ports: Addresses | None = None
    buckets: dict[tuple[str, int], list[View]] = defaultdict(list)
    for v in views:
        if v.plain and not v.rule.is_default and v.nothing is None:
            buckets[(v.rule.category, v.rule.policy_sequence)].append(v)
    findings = []
    for (category, sequence), members in sorted(buckets.items()):
        if len({v.rule.policy_path for v in members}) < 2 \
                or len({v.rule.action for v in members}) < 2:
            continue
        index: dict[Hashable, list[int]] = defaultdict(list)
        probes = []
        for i, v in enumerate(members):
            keys, probe = service_keys(v.rule.services)
            for key in set(keys):
                index[key].append(i)
            probes.append(probe)
        for i, a in enumerate(members):
            ra = a.rule
            if probes[i] == ["every"]:
                partners: Iterable[int] = range(i + 1, len(members))
            else:
                partners = sorted({j for key in probes[i] for j in index.get(key, ()) if j > i})
            for j in partners:
                b = members[j]
                rb = b.rule
                if ra.policy_path == rb.policy_path or ra.action == rb.action:
                    continue
                if ports is None:
                    ports = Addresses(int(ep.ip) for ep in dfw.endpoints)
                if not surely_overlap(a, b, ports):
                    continue
                proof = witness(dfw, Pair(ra.order, rb.order, a.dirs & b.dirs, a.at & b.at,
                                          (a.src, b.src), (a.dst, b.dst),
                                          (ra.services, rb.services)), ports)
                findings.append(Finding(
                    CONFLICTING_SAME_PRIORITY, ERROR, ra.path,
                    f"overlaps rule {rb.path} ({rb.action}) with a different action "
                    f"({ra.action}): security policies {short(ra.policy_path)} and "
                    f"{short(rb.policy_path)} are both {category} sequence_number "
                    f"{sequence}, and NSX leaves their order undefined (here "
                    f"{short(ra.policy_path)} is evaluated first)", related=(rb.path,),
                    witness=proof))
    return findings
