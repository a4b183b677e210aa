"""``sdn connectivity -o json``'s writer shares work (a party's row formatted once, each
answer formatted once per destination, a pod's own entries sliced out of its party's
row): on random small firewalls its text must equal ``json.dumps(..., indent=2)`` of
every entry computed pair by pair, with nothing shared (:func:`pair_outcomes` of the two
endpoints), over the same members in the same order."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.cli.connectivity_cmd import entry
from sdn.cli.connectivity_json import json_chunks
from sdn.model import Inventory
from sdn.policy import compile_dfw
from sdn.policy.compiler import CompiledDfw
from sdn.policy.connectivity import Connection, Matrix, allowed_ports, pair_outcomes
from tests.support.random_dfw import random_inventory


def _unshared(dfw: CompiledDfw, matrix: Matrix) -> list[Connection]:
    """Every entry, each pair decided on its own (no party, no numbering, no row)."""
    out = []
    for src in matrix.sources:
        for dst in matrix.destinations:
            if src.endpoint.index is None and dst.endpoint.index is None:
                continue
            if src.endpoint.index is not None and src.endpoint.index == dst.endpoint.index:
                continue
            answer = allowed_ports(pair_outcomes(dfw, src.endpoint, dst.endpoint))
            out += [Connection(src.label, dst.label, protocol,
                               None if protocol == "ICMP" else ports,
                               src.endpoint.ip, dst.endpoint.ip)
                    for protocol, ports in answer.items()]
    return out


@settings(max_examples=120, deadline=None)
@given(inv=random_inventory(), default=st.sampled_from(["ALLOW", "DROP"]),
       sources=st.none() | st.sets(st.integers(0, 4)),
       destinations=st.none() | st.sets(st.integers(0, 4)), witness=st.booleans())
def test_writer_equals_every_pair_decided_alone(inv: Inventory, default: str,
                                                sources: set[int] | None,
                                                destinations: set[int] | None,
                                                witness: bool) -> None:
    dfw = compile_dfw(inv, default_action=default)

    def paths(picked: set[int] | None) -> list[str] | None:
        return None if picked is None else [dfw.endpoints[i].path for i in sorted(picked)]

    matrix = Matrix(dfw, sources=paths(sources), destinations=paths(destinations))
    data: dict[str, Any] = {"connections": [entry(c, witness)
                                            for c in _unshared(dfw, matrix)]}
    text = "".join(json_chunks(matrix, witness=witness))
    assert text == json.dumps(data, indent=2) + "\n"
