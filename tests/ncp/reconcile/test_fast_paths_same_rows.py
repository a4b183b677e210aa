"""The sync's fast paths write exactly the rows of the plain, validate-everything path.

A cold ``ncp sync`` takes shortcuts that must not show in what it writes
(:mod:`ncp.sources.yamlfast` builds YAML values without the general constructor, and the
DFW translator shares one validated tag condition and service entry per distinct value,
``ncp.translate.dfwkit.selectors.tag_condition`` and ``ports._service_entry``). Each sync
here runs twice, with the shortcuts and with them taken out (PyYAML's own safe
constructor, every condition and entry built and validated anew), into two empty
states; every row of every table must be equal, byte for byte.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

import ncp.sources.loading
from ncp.translate.dfwkit import ports, selectors
from tests.support.cli_runs import TOPOLOGIES, sync_sample
from topologies.generate import generate_cluster, write_cluster

SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@contextmanager
def plain_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shortcuts taken out for the duration."""
    with monkeypatch.context() as patch:
        patch.setattr(ncp.sources.loading, "_Loader", SAFE)
        patch.setattr(selectors, "tag_condition", selectors.tag_condition.__wrapped__)
        patch.setattr(ports, "_service_entry", ports._service_entry.__wrapped__)
        yield


def table_rows(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted (the state's random id and the command lines
    the history records left out)."""
    db = sqlite3.connect(state)
    try:
        tables = [t for (t,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        rows = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in tables}
    finally:
        db.close()
    rows["meta"] = [r for r in rows["meta"] if r[0] != "state_id"]
    # The history records each write's command line, which names the state's own path.
    rows["history"] = [(r[0], r[1], *r[3:]) for r in rows.get("history", [])]
    return rows


def both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync: Any) -> None:
    fast, plain = tmp_path / "fast.db", tmp_path / "plain.db"
    sync(fast)
    with plain_path(monkeypatch):
        sync(plain)
    fast_rows, plain_rows = table_rows(fast), table_rows(plain)
    assert fast_rows["objects"], "the sync wrote no objects"
    assert fast_rows == plain_rows


@pytest.mark.parametrize("sample", ["guestbook", "multi-tenant", "lb-heavy"])
def test_sample_topology_cold_sync_writes_the_plain_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: str) -> None:
    assert (TOPOLOGIES / sample).is_dir()
    both_ways(tmp_path, monkeypatch, lambda state: sync_sample(state, sample))


@pytest.mark.parametrize("shapes", ["simple", "realistic"])
def test_generated_cluster_cold_sync_writes_the_plain_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shapes: str) -> None:
    cluster = tmp_path / "cluster"
    cluster.mkdir()
    write_cluster(generate_cluster(namespaces=30, pods=120, policies=90, nodes=4, seed=5,
                                   shapes=shapes), cluster, per_file=40)
    both_ways(tmp_path, monkeypatch, lambda state: sync_sample(state, str(cluster)))
