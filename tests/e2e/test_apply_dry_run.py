"""``sdn apply --dry-run`` and ``sdn delete --dry-run``: the same checks and the same
computation as the real command, nothing written, and what would change printed (text and
``-o json``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GUARDRAILS = ROOT / "topologies" / "admin" / "guardrails.yaml"
GROUPS = "/infra/domains/default/groups"
POLICIES = "/infra/domains/default/security-policies"


def _every_table(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(state) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in tables}


def _changed_guardrails(cli: Any) -> Path:
    """Guardrails with admin-top's port changed and a new group added."""
    docs = [d for d in yaml.safe_load_all(GUARDRAILS.read_text()) if d]
    for d in docs:
        if d["id"] == "admin-top":
            d["rules"][0]["service_entries"][0]["destination_ports"] = ["9101"]
    docs.append({"resource_type": "Group", "id": "new-group"})
    path: Path = cli.write_yaml("changed.yaml", *docs)
    return path


def test_dry_run_on_a_missing_state_creates_nothing(cli: Any) -> None:
    res = cli.sdn("apply", "--dry-run", "-f", GUARDRAILS, "--state", cli.state)
    assert res.code == 0, res.err
    assert res.out.splitlines()[0] == "would apply 5 object(s): 5 created, 0 updated, 0 unchanged"
    assert f"  create    Group {GROUPS}/quarantined-pods" in res.out.splitlines()
    assert not cli.state.exists()


def test_dry_run_says_exactly_what_the_real_run_does(cli: Any) -> None:
    cli.sync(cli.GUESTBOOK)
    assert cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state).code == 0
    changed = _changed_guardrails(cli)
    before = _every_table(cli.state)
    dry = cli.sdn("apply", "--dry-run", "-f", changed, "-o", "json", "--state", cli.state)
    assert dry.code == 0, dry.err
    assert _every_table(cli.state) == before
    plan = dry.json()
    assert plan["dry_run"] is True
    assert plan["counts"] == {"create": 1, "update": 1, "delete": 0, "unchanged": 4}
    assert {(c["action"], c["path"]) for c in plan["changes"] if c["action"] != "unchanged"} \
        == {("update", f"{POLICIES}/admin-top"), ("create", f"{GROUPS}/new-group")}
    assert [c["fields"] for c in plan["changes"] if c["action"] == "update"] == [["rules"]]
    assert plan.pop("reachability") == {"gained": [], "lost": []}  # a new group, a port
    real = cli.sdn("apply", "-f", changed, "-o", "json", "--state", cli.state)
    assert real.code == 0
    assert real.json() == {**plan, "dry_run": False}  # the real run says no reachability
    again = cli.sdn("apply", "--dry-run", "-f", changed, "--state", cli.state)
    assert again.out.splitlines()[0] == "would apply 6 object(s): 0 created, 0 updated, " \
        "6 unchanged"


def test_dry_run_refuses_what_the_real_run_refuses(cli: Any) -> None:
    assert cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state).code == 0
    dangling = cli.write_yaml("d.yaml", {"resource_type": "SecurityPolicy", "id": "q", "rules": [
        {"id": "r", "source_groups": [f"{GROUPS}/none"]}]})
    before = _every_table(cli.state)
    for extra in (["--dry-run"], []):
        res = cli.sdn("apply", *extra, "-f", dangling, "--state", cli.state)
        assert res.code == 2 and res.out == ""
        assert res.err.splitlines() == [f"error: DANGLING_REFERENCE {POLICIES}/q: "
                                        f"rules[r].source_groups[0] names missing {GROUPS}/none"]
    assert _every_table(cli.state) == before


def test_delete_dry_run(cli: Any) -> None:
    assert cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state).code == 0
    before = _every_table(cli.state)
    res = cli.sdn("delete", "--dry-run", "-f", GUARDRAILS, "--state", cli.state)
    assert res.code == 0, res.err
    assert res.out.splitlines()[0] == "would delete 5 object(s): 2 Group, 3 SecurityPolicy"
    assert f"  delete    SecurityPolicy {POLICIES}/admin-top" in res.out.splitlines()
    assert _every_table(cli.state) == before
    group_only = cli.write_yaml("g.yaml", {"resource_type": "Group", "id": "quarantined-pods"})
    res = cli.sdn("delete", "--dry-run", "-f", group_only, "-o", "json", "--state", cli.state)
    assert res.code == 2 and "GROUP_IN_USE" in res.err
    res = cli.sdn("delete", "-f", GUARDRAILS, "-o", "json", "--state", cli.state)
    assert res.json()["counts"] == {"create": 0, "update": 0, "delete": 5, "unchanged": 0}
    assert cli.sdn("delete", "--dry-run", "-f", GUARDRAILS, "--state", cli.state).out \
        .splitlines() == ["would delete 0 object(s): none found"]
