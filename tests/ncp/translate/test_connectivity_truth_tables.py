"""The truth tables, answered by ``connectivity`` instead of ``reach``: every case's
expected matrix at each probed protocol and port must be exactly the pairs whose allowed
port set for that protocol holds the port (manifests -> ncp sync -> compiled DFW ->
exact connectivity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdn.policy.connectivity import connectivity, reachability_delta
from tests.support.dfw_harness import Realized
from tests.support.truth_tables import ALL as ALL_PAIRS
from tests.support.truth_tables import CASES, TruthCase, fixture


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_truth_table_by_connectivity(tmp_path: Path, case: TruthCase) -> None:
    realized = Realized(tmp_path, case.cluster(), case.policies)
    assert realized.problems == [], realized.problems
    pods = [realized.dfw.endpoints[i].path for i in realized.names]
    conns = list(connectivity(realized.dfw, sources=pods, destinations=pods, outside=False))
    assert all(c.src != c.dst for c in conns)
    for check in case.checks:
        got = {(c.src, c.dst) for c in conns if c.protocol == check.protocol and any(
            lo <= check.port <= hi for lo, hi in c.ports or ())}
        assert got == set(check.allowed), f"{check.protocol}/{check.port}: " \
            f"missing {sorted(set(check.allowed) - got)}, extra {sorted(got - check.allowed)}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES
                                  if not c.extra_labels])
def test_truth_table_as_a_delta_from_no_policy(tmp_path: Path, case: TruthCase) -> None:
    """Before: the fixture without policies (everything allowed); after: the case. The
    delta must be the difference of the two expected matrices: nothing gained, and lost
    exactly what the case's matrix leaves out."""
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    before = Realized(tmp_path / "before", fixture(), [])
    after = Realized(tmp_path / "after", fixture(), case.policies)
    gained, lost = reachability_delta(before.dfw, after.dfw)
    assert [c for c in gained if (c.src, c.dst) in ALL_PAIRS] == []
    for check in case.checks:
        got = {(c.src, c.dst) for c in lost if (c.src, c.dst) in ALL_PAIRS
               and c.protocol == check.protocol and any(
            lo <= check.port <= hi for lo, hi in c.ports or ())}
        assert got == ALL_PAIRS - check.allowed, f"{check.protocol}/{check.port}"
