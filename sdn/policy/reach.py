"""Who can reach whom: the allowed pairs of pods for a protocol and port.

Naively this is pods x pods evaluations. Two pods whose signatures (the sets of groups
they belong to; :attr:`~sdn.policy.compiler.CompiledDfw.classes` gives the same partition
compactly) are equal are indistinguishable to every rule (as source, destination
and enforcement point), so the matrix is computed per pair of signature classes and then
expanded; the rules enforced at a class are filtered once per direction. Each pair still
goes through :func:`~sdn.policy.evaluator.decide`, the same function ``explain`` uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sdn.policy.compiler import PROTOCOL_NUMBERS, CompiledDfw
from sdn.policy.evaluator import candidates, decide


def reach_matrix(dfw: CompiledDfw, *, protocol: str, port: int | None,
                 among: Sequence[int] | None = None) -> set[tuple[int, int]]:
    """Allowed directed pairs of distinct endpoints (indexes) among ``among`` (all)."""
    proto = PROTOCOL_NUMBERS[protocol.upper()]
    chosen = list(range(len(dfw.endpoints))) if among is None else list(among)
    classes: dict[frozenset[int], list[int]] = defaultdict(list)
    for i in chosen:
        classes[dfw.classes[i]].append(i)
    reps = {sig: members[0] for sig, members in classes.items()}
    out_rules = {sig: candidates(dfw, rep, "OUT") for sig, rep in reps.items()}
    in_rules = {sig: candidates(dfw, rep, "IN") for sig, rep in reps.items()}
    allowed: set[tuple[int, int]] = set()
    for s_sig, s_members in classes.items():
        src = dfw.endpoints[reps[s_sig]]
        for d_sig, d_members in classes.items():
            dst = dfw.endpoints[reps[d_sig]]
            if s_sig == d_sig and len(s_members) == 1:
                continue  # the only pair would be a pod with itself
            eg = decide(dfw, out_rules[s_sig], point="egress", at=src, src=src, dst=dst,
                        proto=proto, dport=port, sport=None)
            if not eg.allowed:
                continue
            ing = decide(dfw, in_rules[d_sig], point="ingress", at=dst, src=src, dst=dst,
                         proto=proto, dport=port, sport=None)
            if ing.allowed:
                allowed.update((s, d) for s in s_members for d in d_members if s != d)
    return allowed
