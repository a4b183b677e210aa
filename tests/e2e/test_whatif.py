"""What-if through the commands: ``ncp sync --dry-run`` and ``sdn apply/delete --dry-run``
report the flows a change gains and loses, ``--fail-on`` gates on them with exit 3, and a
dry run reads the state without touching a byte of it (nor creating one).

The expected flows are the guestbook's, worked out by hand from ``policy.yaml``: only the
frontend pods may open connections to the Redis pods, on TCP 6379.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.statefiles import state_files

ROOT = Path(__file__).resolve().parents[2]
FRONTENDS = [f"default/frontend-{i}" for i in range(3)]
REDIS = ["default/redis-master-0", "default/redis-slave-0", "default/redis-slave-1"]
ALLOW_RULE = ("/infra/domains/default/security-policies/"
              "np_k8s-cluster_default_redis-allow-frontend_allow/rules/ingress-0")
ISOLATION_RULE = ("/infra/domains/default/security-policies/"
                  "np_k8s-cluster_default_redis-allow-frontend_isolation/rules/"
                  "ingress-isolation")
GROUPS = "/infra/domains/default/groups"
#: An admin policy dropping TCP 6379-6380 into the Redis pods.
REDIS_GROUP = {"resource_type": "Group", "id": "redis", "expression": [
    {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
     "operator": "EQUALS", "value": "app|redis"}]}
DROP_REDIS = {"resource_type": "SecurityPolicy", "id": "no-redis", "category": "Environment",
              "sequence_number": 10, "scope": [f"{GROUPS}/redis"], "rules": [
                  {"id": "drop", "destination_groups": [f"{GROUPS}/redis"], "action": "DROP",
                   "direction": "IN", "service_entries": [
                       {"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP",
                        "destination_ports": ["6379-6380"]}]}]}


def _cli(prog: str, *argv: object) -> subprocess.CompletedProcess[str]:
    """``python -m PROG ARGV...`` from this tree, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", prog, *map(str, argv)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def _port_moved(folder: Path) -> None:
    """The Redis policy's port moves from 6379 to 6380."""
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text().replace("port: 6379", "port: 6380"))


def _pairs(port: int, rule: str) -> list[dict[str, Any]]:
    return [{"src": s, "dst": d, "protocol": "TCP", "ports": [[port, port]], "rule": rule}
            for s in FRONTENDS for d in REDIS]


@pytest.mark.parametrize(("fail_on", "code"), [
    pytest.param(None, 0, id="no-gate"), pytest.param("lost", 3, id="lost"),
    pytest.param("gained", 3, id="gained"), pytest.param("any", 3, id="any")])
def test_sync_dry_run_reports_flows_gained_and_lost(cli: Any, fail_on: str | None,
                                                     code: int) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    _port_moved(folder)
    gate = ["--fail-on", fail_on] if fail_on else []
    res = _cli("ncp", "sync", "--dry-run", "--cluster", folder, "--state", cli.state,
               "--now", cli.T0 + 60, "-o", "json", *gate)
    assert res.returncode == code, res.stderr
    report = json.loads(res.stdout)
    assert report["reachability"] == {"gained": _pairs(6380, ALLOW_RULE),
                                      "lost": _pairs(6379, ISOLATION_RULE)}
    assert report["changes"]  # the existing keys stay


def test_a_change_that_only_gains_passes_the_lost_gate(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    (folder / "policy.yaml").unlink()
    lost = cli.sync(folder, now=cli.T0 + 60, extra=("--dry-run", "--fail-on", "lost"))
    assert lost.code == 0, lost.err
    delta = lost.json()["reachability"]
    assert delta["lost"] == [] and delta["gained"]
    assert {(g["src"], g["dst"]) for g in delta["gained"]} >= {
        (s, d) for s in FRONTENDS for d in REDIS}
    gained = cli.sync(folder, now=cli.T0 + 60, extra=("--dry-run", "--fail-on", "gained"))
    assert gained.code == 3 and gained.json() == lost.json()


def test_an_unchanged_cluster_prints_empty_lists_and_exits_0(cli: Any) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    res = cli.sync(cli.GUESTBOOK, now=cli.T0 + 60, extra=("--dry-run", "--fail-on", "any"))
    assert res.code == 0, res.err
    assert res.json()["reachability"] == {"gained": [], "lost": []}


def test_the_table_has_a_reachability_section(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    _port_moved(folder)
    res = cli.sync(folder, now=cli.T0 + 60, output="table", extra=("--dry-run",))
    lines = res.out.splitlines()
    assert "reachability that would change: 9 flow(s) gained, 9 lost" in lines
    at = lines.index("lost, now denied by")
    assert lines[at + 1] == \
        "  np_k8s-cluster_default_redis-allow-frontend_isolation/ingress-isolation:"
    assert lines[at + 2] == "    TCP 6379     default/frontend-0 -> default/redis-master-0"
    assert "    TCP 6380     default/frontend-0 -> default/redis-master-0" in lines
    start = lines.index("reachability that would change: 9 flow(s) gained, 9 lost")
    assert all(len(line) <= 80 for line in lines[start:])


def test_apply_and_delete_dry_run_report_flows(cli: Any) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    policy = cli.write_yaml("drop.yaml", REDIS_GROUP, DROP_REDIS)
    dropped = [{**f, "rule": "/infra/domains/default/security-policies/no-redis/rules/drop"}
               for f in _pairs(6379, "")]
    res = _cli("sdn", "apply", "--dry-run", "-f", policy, "--state", cli.state, "-o", "json",
               "--fail-on", "lost")
    assert res.returncode == 3, res.stderr
    plan = json.loads(res.stdout)
    assert plan["reachability"] == {"gained": [], "lost": dropped}
    assert plan["counts"]["create"] == 2
    assert cli.sdn("apply", "-f", policy, "--state", cli.state).code == 0
    undo = cli.sdn("delete", "--dry-run", "-f", policy, "--state", cli.state, "-o", "json",
                   "--fail-on", "gained")
    assert undo.code == 3, undo.err
    assert undo.json()["reachability"] == {
        "gained": [{**f, "rule": ALLOW_RULE} for f in _pairs(6379, "")], "lost": []}


@pytest.mark.parametrize("argv", [
    pytest.param(("ncp", "sync", "--cluster", "topologies/guestbook"), id="ncp-sync"),
    pytest.param(("sdn", "apply", "-f", "topologies/admin/guardrails.yaml"), id="sdn-apply")])
def test_fail_on_needs_dry_run(cli: Any, argv: tuple[str, ...]) -> None:
    res = _cli(*argv, "--state", cli.state, "--fail-on", "lost")
    assert res.returncode == 2
    assert res.stderr.startswith("error: BAD_ARGUMENT --fail-on: --fail-on needs --dry-run")
    assert not cli.state.exists()


# --------------------------------------------------------------------------- read-only


def _dry_runs(cli: Any, folder: Path, policy: Path) -> list[tuple[str, ...]]:
    state = str(cli.state)
    return [("ncp", "sync", "--dry-run", "--cluster", str(folder), "--state", state,
             "--fail-on", "any", "-o", "json"),
            ("sdn", "apply", "--dry-run", "-f", str(policy), "--state", state, "-o", "json"),
            ("sdn", "delete", "--dry-run", "-f", str(policy), "--state", state)]


def test_dry_runs_leave_the_state_and_its_journal_byte_identical(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    policy = cli.write_yaml("drop.yaml", REDIS_GROUP, DROP_REDIS)
    assert cli.sdn("apply", "-f", policy, "--state", cli.state).code == 0
    _port_moved(folder)
    before = state_files(cli.state)
    for argv in _dry_runs(cli, folder, policy):
        res = _cli(*argv)
        assert res.returncode in (0, 3), (argv, res.stderr)
        assert state_files(cli.state) == before, argv


def test_dry_runs_create_no_state(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    policy = cli.write_yaml("drop.yaml", REDIS_GROUP, DROP_REDIS)
    for argv in _dry_runs(cli, folder, policy):
        res = _cli(*argv)
        assert res.returncode in (0, 2, 3), (argv, res.stderr)
        assert not cli.state.parent.exists(), argv
    first = _cli(*_dry_runs(cli, folder, policy)[0])
    # Into no state, everything is gained: the delta of a first sync.
    assert first.returncode == 3
    assert json.loads(first.stdout)["reachability"]["gained"]


def test_a_change_affecting_too_many_pairs_is_not_listed(cli: Any, monkeypatch: Any) -> None:
    """A first sync gains every pair: past :data:`~sdn.policy.whatif.MAX_PAIRS` pairs the
    flows are not listed (millions at scale), and any ``--fail-on`` gate closes."""
    monkeypatch.setattr("sdn.policy.whatif.MAX_PAIRS", 10)
    res = cli.sync(cli.GUESTBOOK, extra=("--dry-run", "--fail-on", "lost"))
    assert res.code == 3, res.err
    delta = res.json()["reachability"]
    assert delta["gained"] == [] and delta["lost"] == []
    assert delta["not_compared"] == {"pairs": 9 * 8, "limit": 10}  # 6 pods, 3 nodes
    table = cli.sync(cli.GUESTBOOK, output="table", extra=("--dry-run",))
    assert "reachability: not compared: the change can affect 72 pairs of endpoints" \
        in table.out.splitlines()
    assert not cli.state.exists()
