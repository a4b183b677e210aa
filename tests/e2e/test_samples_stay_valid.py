"""NCP's own translated objects pass the field validators: every sample topology and the
generator's clusters (ipBlock peers become address expressions, NetworkPolicy ports become
service entries) still sync with no problem, and ``sdn validate`` finds the state clean,
with the admin's guardrails applied on top."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from topologies.generate import generate_cluster, write_cluster

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ["guestbook", "multi-tenant", "lb-heavy"]


def _clean(cli: Any, folder: Path) -> None:
    res = cli.sync(folder)
    assert res.code == 0, res.err
    assert res.json()["problems"] == []
    guardrails = ROOT / "topologies" / "admin" / "guardrails.yaml"
    assert cli.sdn("apply", "-f", guardrails, "--state", cli.state).code == 0
    res = cli.sdn("validate", "--state", cli.state)
    assert res.code == 0, res.out
    assert cli.sdn("lint", "--state", cli.state).code == 0  # no error-level finding


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_topologies_sync_clean(cli: Any, sample: str) -> None:
    _clean(cli, ROOT / "topologies" / sample)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_clusters_sync_clean(cli: Any, tmp_path: Path, seed: int) -> None:
    objects = generate_cluster(namespaces=12, pods=60, seed=seed, policies=12, nodes=3)
    policies = [str(o) for o in objects if o["kind"] == "NetworkPolicy"]
    assert any("ipBlock" in p for p in policies) and any("'port'" in p for p in policies)
    write_cluster(objects, tmp_path / "gen")
    _clean(cli, tmp_path / "gen")
