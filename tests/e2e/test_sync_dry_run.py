"""``ncp sync --dry-run``: everything a sync computes, nothing written, and what would
change. The oracle for "what would change" is the real sync run right after it: the rows
of the state before and after it say which NSX objects it created, updated and deleted,
and which annotations it changed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.support.statefiles import every_table


def _objects(state: Path | None) -> dict[str, str]:
    if state is None or not state.exists():
        return {}
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT path, body FROM objects").fetchall()
        allocations = db.execute("SELECT pool, id, body FROM allocations").fetchall()
    out = dict(rows)
    for pool, ident, body in allocations:  # split pools: an allocation changes its pool
        out[pool] = out.get(pool, "") + f"|{ident}={body}"
    return out


def _status(state: Path | None) -> dict[tuple[str, str, str, str], str]:
    if state is None or not state.exists():
        return {}
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT kind, namespace, name, annotations FROM k8s_status")
        return {(k, ns, n, key): value for k, ns, n, body in rows
                for key, value in json.loads(body).items()}


def _real_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    return {"created": sorted(set(after) - set(before)),
            "updated": sorted(p for p in set(after) & set(before) if after[p] != before[p]),
            "deleted": sorted(set(before) - set(after))}


def _real_annotations(before: dict[Any, str], after: dict[Any, str]) -> list[dict[str, Any]]:
    return [{"kind": k, "namespace": ns, "name": n, "key": key,
             "old": before.get((k, ns, n, key)), "new": after.get((k, ns, n, key))}
            for k, ns, n, key in sorted(set(before) | set(after))
            if before.get((k, ns, n, key)) != after.get((k, ns, n, key))]


def _edit(cli: Any, k8s: Any) -> dict[str, Any]:
    """Case id -> how the cluster changes after a first sync (None: no first sync)."""
    def remove_frontend(folder: Path) -> None:
        (folder / "frontend.yaml").unlink()

    def add_namespace_and_pods(folder: Path) -> None:
        cli.write_yaml(folder / "shop.yaml", k8s.namespace("shop"),
                       *(k8s.pod(f"web-{i}", "shop", labels={"app": "web"}) for i in range(3)))

    def relabel_and_reject(folder: Path) -> None:
        cli.write_yaml(folder / "extra.yaml", k8s.pod("orphan", "nope"),
                       k8s.pod("solo", labels={"tier": "new"}))

    return {"first-sync-into-no-state": None, "remove-a-deployment": remove_frontend,
            "add-namespace-and-pods": add_namespace_and_pods,
            "pods-added-one-rejected": relabel_and_reject,
            "nothing-changed": lambda folder: None}


CASES = ["first-sync-into-no-state", "remove-a-deployment", "add-namespace-and-pods",
         "pods-added-one-rejected", "nothing-changed"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_dry_run_writes_nothing_and_says_what_the_sync_then_does(cli: Any, k8s: Any,
                                                                  case: str) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    edit = _edit(cli, k8s)[case]
    if edit is not None:
        assert cli.sync(folder).code == 0
        edit(folder)
    before_tables = every_table(cli.state) if cli.state.exists() else None
    dry = cli.sync(folder, now=cli.T0 + 120, extra=("--dry-run",))
    assert dry.code in (0, 1), dry.err
    # Nothing written: no state where there was none, every table as it was.
    if before_tables is None:
        assert not cli.state.exists() and not cli.state.parent.exists()
    else:
        assert every_table(cli.state) == before_tables
    plan = dry.json()
    assert plan["dry_run"] is True
    objects_before, status_before = _objects(cli.state), _status(cli.state)
    real = cli.sync(folder, now=cli.T0 + 120)
    assert real.code == dry.code
    report = real.json()
    # Computed exactly as the real sync: the same report, but for the revision.
    same = {k: v for k, v in plan.items()
            if k not in ("dry_run", "changes", "annotation_changes", "reachability",
                         "revision")}
    assert same == {k: v for k, v in report.items() if k != "revision"}
    expected = _real_changes(objects_before, _objects(cli.state))
    listed = {action: sorted(c["path"] for c in plan["changes"] if c["action"] == action)
              for action in ("create", "update", "delete")}
    assert listed == {"create": expected["created"], "update": expected["updated"],
                      "delete": expected["deleted"]}
    assert all(c["resource_type"] for c in plan["changes"])
    assert plan["annotation_changes"] == _real_annotations(status_before, _status(cli.state))
    if case == "nothing-changed":
        assert plan["changes"] == [] and plan["annotation_changes"] == []


def test_dry_run_table_lists_each_change(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    (folder / "frontend.yaml").unlink()
    res = cli.sync(folder, now=cli.T0 + 120, output="table", extra=("--dry-run",))
    assert res.code == 0, res.err
    assert "dry run, nothing written" in res.out.splitlines()[0]
    assert ["delete", "SegmentPort", "/infra/segments/seg_k8s-cluster_default/ports/frontend-0"
            ] in [line.split() for line in res.out.splitlines()]
    assert "Pod default/frontend-0" in res.out and "ncp/network_config" in res.out
    again = cli.sync(cli.GUESTBOOK, now=cli.T0 + 120, output="table", extra=("--dry-run",))
    assert "nothing would change" in again.out


def test_dry_run_refuses_input_not_read_in_full_as_a_sync_does(cli: Any) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    before = every_table(cli.state)
    res = cli.sync(cli.tmp / "misspelt", now=cli.T0 + 120, extra=("--dry-run",))
    assert res.code == 2
    assert res.err.startswith("error: PATH_NOT_FOUND ")
    assert every_table(cli.state) == before
