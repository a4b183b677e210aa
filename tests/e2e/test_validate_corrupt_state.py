"""Invalid objects already in a state (written by an older version, or by hand with
``sqlite3``): ``sdn validate`` reports each field problem with the cross-object problems of
the valid rest (exit 1); every other command that loads the state says in one coded line
which objects are bad and points at ``sdn validate`` (exit 2), never a traceback, and a
writer writes nothing.

Before the fix, ``sdn validate`` itself died on such a row, and so did every other tool.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

GROUPS = "/infra/domains/default/groups"
POLICIES = "/infra/domains/default/security-policies"
ROOT = Path(__file__).resolve().parents[2]
GUARDRAILS = ROOT / "topologies" / "admin" / "guardrails.yaml"

BAD_GROUP = f"{GROUPS}/hand-made"
BAD_POLICY = f"{POLICIES}/hand-made"
NOT_JSON = f"{GROUPS}/not-json"
DANGLING = f"{POLICIES}/dangling"


def _body(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def corrupt(state: Path) -> None:
    """Rows no current version writes: bad fields, a body that is not JSON, and a valid
    policy naming a group that does not exist."""
    group = {"resource_type": "Group", "id": "hand-made", "path": BAD_GROUP,
             "parent_path": "/infra/domains/default",
             "expression": [{"resource_type": "IPAddressExpression",
                             "ip_addresses": ["10.0.0.300/8", "not-an-ip"]}]}
    policy = {"resource_type": "SecurityPolicy", "id": "hand-made", "path": BAD_POLICY,
              "parent_path": "/infra/domains/default", "category": "Application",
              "rules": [{"resource_type": "Rule", "id": "r", "path": f"{BAD_POLICY}/rules/r",
                         "parent_path": BAD_POLICY, "action": "PERMIT",
                         "service_entries": [{"resource_type": "L4PortSetServiceEntry",
                                              "l4_protocol": "TCP",
                                              "destination_ports": ["70000"]}]}]}
    dangling = {"resource_type": "SecurityPolicy", "id": "dangling", "path": DANGLING,
                "parent_path": "/infra/domains/default", "scope": [f"{GROUPS}/gone"]}
    with sqlite3.connect(state) as db:
        db.executemany("INSERT INTO objects VALUES (?,?,NULL,?)", [
            (BAD_GROUP, "Group", _body(group)), (BAD_POLICY, "SecurityPolicy", _body(policy)),
            (NOT_JSON, "Group", "{not json"), (DANGLING, "SecurityPolicy", _body(dangling))])


@pytest.fixture
def corrupted(cli: Any) -> Any:
    assert cli.sync(cli.GUESTBOOK).code == 0
    corrupt(cli.state)
    return cli


def test_validate_reports_every_invalid_object_and_the_rest(corrupted: Any) -> None:
    res = corrupted.sdn("validate", "-o", "json", "--state", corrupted.state)
    assert res.code == 1, res.err
    got = {(p["code"], p["object"], p["message"].split(":")[0]) for p in res.json()}
    assert got == {
        ("INVALID_VALUE", BAD_GROUP, "expression[0].ip_addresses[0]"),
        ("INVALID_VALUE", BAD_GROUP, "expression[0].ip_addresses[1]"),
        ("INVALID_VALUE", BAD_POLICY, "rules[0].action"),
        ("INVALID_VALUE", BAD_POLICY, "rules[0].service_entries[0].destination_ports[0]"),
        ("MALFORMED_OBJECT", NOT_JSON, "(object)"),
        ("DANGLING_REFERENCE", DANGLING, f"scope[0] names missing {GROUPS}/gone"),
    }
    table = corrupted.sdn("validate", "--state", corrupted.state)
    assert table.code == 1 and "not-an-ip" in table.out and table.err == ""


_READERS = {
    "lint": ["lint"],
    "reach": ["reach"],
    "explain": ["explain", "--src", "default/frontend-0", "--dst", "default/redis-master-0",
                "--protocol", "TCP", "--dport", "6379"],
    "traceflow": ["traceflow", "--src", "default/frontend-0", "--dst", "default/redis-master-0"],
    "path": ["path", "--src", "default/frontend-0", "--dst", "default/redis-master-0"],
    "ipam": ["ipam"],
    "ipam-check": ["ipam", "check"],
    "topology": ["topology"],
    "lb": ["lb"],
    "show-table": ["show", "segments"],
    "apply": ["apply", "-f", GUARDRAILS],
    "apply-dry-run": ["apply", "--dry-run", "-f", GUARDRAILS],
    "delete": ["delete", "-f", GUARDRAILS],
}


@pytest.mark.parametrize("argv", list(_READERS.values()), ids=list(_READERS))
def test_other_commands_give_one_coded_line(corrupted: Any, argv: list[Any]) -> None:
    before = corrupted.dump()
    res = corrupted.sdn(*argv, "--state", corrupted.state)
    assert res.code == 2
    (line,) = res.err.splitlines()
    assert line.startswith(f"error: INVALID_STATE_OBJECT {BAD_GROUP}: 3 stored objects are "
                           "invalid")
    assert all(p in line for p in (BAD_GROUP, BAD_POLICY, NOT_JSON)) and DANGLING not in line
    assert "`sdn validate`" in line
    assert corrupted.dump() == before


def test_ncp_sync_refuses_to_work_on_it(corrupted: Any) -> None:
    before = corrupted.dump()
    res = corrupted.sync(corrupted.GUESTBOOK, now=corrupted.T0 + 5, extra=["--full"])
    assert res.code == 2
    assert res.err.startswith("error: INVALID_STATE_OBJECT ")
    assert "Traceback" not in res.err
    assert corrupted.dump() == before


def test_one_bad_row_is_named_alone(cli: Any) -> None:
    assert cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state).code == 0
    with sqlite3.connect(cli.state) as db:
        db.execute("UPDATE objects SET body=replace(body, '\"9100\"', '\"91000\"') "
                   "WHERE path LIKE '%admin-top'")
    res = cli.sdn("reach", "--state", cli.state)
    assert res.code == 2
    assert res.err == (f"error: INVALID_STATE_OBJECT {POLICIES}/admin-top: the stored object is "
                       "invalid; `sdn validate` lists every problem\n")
    res = cli.sdn("validate", "-o", "json", "--state", cli.state)
    assert res.code == 1
    assert [p["message"] for p in res.json()] == [
        "rules[0].service_entries[0].destination_ports[0]: '91000' is not a port: ports are "
        "1-65535"]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_show_structured_names_the_bad_row_of_its_kind(corrupted: Any, output: str) -> None:
    before = corrupted.dump()
    res = corrupted.sdn("show", "groups", "-o", output, "--state", corrupted.state)
    assert res.code == 2
    (line,) = res.err.splitlines()
    assert line.startswith(f"error: INVALID_STATE_OBJECT {BAD_GROUP}: ")
    assert corrupted.dump() == before
