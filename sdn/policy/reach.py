"""Who can reach whom: the allowed pairs of pods for a protocol and port.

Naively this is pods x pods evaluations. Two pods whose signatures (the sets of groups
they belong to; :attr:`~sdn.policy.compiler.CompiledDfw.classes` gives the same partition
compactly) are equal are indistinguishable to every rule (as source, destination
and enforcement point), so the matrix is computed per pair of signature classes and then
expanded; the rules enforced at a class are filtered once per direction. Each pair still
goes through :func:`~sdn.policy.evaluator.decide`, the same function ``explain`` uses.
The answer is kept as blocks of classes (:func:`reach_blocks`): a namespace of 2,000 pods
that all reach each other is a few lists, not four million pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sdn.policy.compiler import PROTOCOL_NUMBERS
from sdn.policy.evaluator import candidates, decide
from sdn.policy.firewall import Firewall

#: Allowed flows as blocks: every source of a block reaches every destination of it,
#: except itself (a block of one class with itself holds each pod on both sides).
Blocks = list[tuple[list[int], list[int]]]


def reach_blocks(dfw: Firewall, *, protocol: str, port: int | None,
                 among: Sequence[int] | None = None) -> Blocks:
    """The allowed flows among ``among`` (all endpoints) as blocks of classes, each pair
    of classes evaluated once (see the module's doc). Blocks are disjoint, and a pod is
    never paired with itself: the pairs are ``(s, d)`` for ``s`` in a block's sources and
    ``d`` in its destinations, ``s != d``. Kept as blocks, a namespace of 2,000 pods that
    all reach each other is a few lists, not four million pairs.

    Each endpoint's class is read from the firewall (:meth:`~sdn.policy.firewall.
    Firewall.classes_of`): from the query index, only the chosen endpoints' records are
    read, never every group's members."""
    proto = PROTOCOL_NUMBERS[protocol.upper()]
    chosen = list(range(dfw.endpoint_count)) if among is None else list(among)
    classes: dict[frozenset[int], list[int]] = defaultdict(list)
    for i in chosen:
        classes[dfw.classes_of(i)].append(i)
    reps = {sig: members[0] for sig, members in classes.items()}
    out_rules = {sig: candidates(dfw, rep, "OUT") for sig, rep in reps.items()}
    in_rules = {sig: candidates(dfw, rep, "IN") for sig, rep in reps.items()}
    blocks: Blocks = []
    for s_sig, s_members in classes.items():
        src = dfw.endpoint(reps[s_sig])
        for d_sig, d_members in classes.items():
            dst = dfw.endpoint(reps[d_sig])
            if s_sig == d_sig and len(s_members) == 1:
                continue  # the only pair would be a pod with itself
            eg = decide(dfw, out_rules[s_sig], point="egress", at=src, src=src, dst=dst,
                        proto=proto, dport=port, sport=None)
            if not eg.allowed:
                continue
            ing = decide(dfw, in_rules[d_sig], point="ingress", at=dst, src=src, dst=dst,
                         proto=proto, dport=port, sport=None)
            if ing.allowed:
                blocks.append((s_members, d_members))
    return blocks


def reach_matrix(dfw: Firewall, *, protocol: str, port: int | None,
                 among: Sequence[int] | None = None) -> set[tuple[int, int]]:
    """Allowed directed pairs of distinct endpoints (indexes) among ``among`` (all)."""
    return {(s, d) for sources, destinations in reach_blocks(
        dfw, protocol=protocol, port=port, among=among)
        for s in sources for d in destinations if s != d}
