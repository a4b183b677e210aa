"""The truth tables, run through the whole pipeline: manifests -> ncp sync -> NSX groups
and security policies -> compiled DFW -> reach. Every case states the full matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dfw_harness import Realized
from tests.support.truth_tables import CASES, TruthCase


def _diff(got: set[tuple[str, str]], want: frozenset[tuple[str, str]]) -> str:
    missing = sorted(want - got)
    extra = sorted(got - want)
    return f"missing (should be allowed): {missing}\nextra (should be denied): {extra}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_truth_table(tmp_path: Path, case: TruthCase) -> None:
    realized = Realized(tmp_path, case.cluster(), case.policies)
    assert realized.problems == [], realized.problems
    for check in case.checks:
        got = realized.matrix(check.protocol, check.port)
        assert got == set(check.allowed), f"{check.protocol}/{check.port}\n" + _diff(
            got, check.allowed)
