"""Network profiles through the CLI: the update rules on ``ncp sync``, and
``sdn profile create|list|show|delete`` with TKGI's immutability."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture
def dedicated(cli: Any) -> Any:
    """The guestbook synced with ``profiles/dedicated-t1.json``."""
    res = cli.sync(cli.GUESTBOOK, extra=("--profile", cli.PROFILES / "dedicated-t1.json"))
    assert res.code == 0, res.out + res.err
    return res.json()


UPDATES = [
    pytest.param({"pod_ip_block_ids": ["ip-block-pods-routable"]}, 2,
                 "field pod_ip_block_ids has conflict", id="drop-pod-block"),
    pytest.param({"pod_ip_block_ids": ["ip-block-pods", "ip-block-pods-routable"]}, 0, "",
                 id="add-pod-block"),
    pytest.param({"nodes_dns": ["192.168.110.20"]}, 0, "", id="replace-nodes-dns"),
    pytest.param({"lb_size": "large"}, 2, "field lb_size is not updatable", id="lb-size-fixed"),
    pytest.param({"pod_subnet_prefix": 26}, 2, "FIELD_NOT_UPDATABLE", id="prefix-fixed"),
    pytest.param({"single_tier_topology": True}, 2, "FIELD_NOT_UPDATABLE",
                 id="topology-fixed"),
]


@pytest.mark.parametrize(("change", "code", "message"), UPDATES)
def test_profile_update_rules(cli: Any, dedicated: Any, change: dict[str, Any], code: int,
                              message: str) -> None:
    rev, before = cli.revision(), cli.dump()
    new = cli.write_profile("dedicated-t1-v2", **change)
    res = cli.sync(cli.GUESTBOOK, now=cli.T0 + 5, extra=("--profile", new))
    assert res.code == code, res.out + res.err
    if code == 2:
        assert message in res.err
        assert res.out == ""
        assert cli.revision() == rev
        assert cli.dump() == before
        return
    listed = cli.sdn("profile", "list", "-o", "json", "--state", cli.state).json()
    users = {p["name"]: p["clusters"] for p in listed}
    assert users == {"dedicated-t1": [], "dedicated-t1-v2": ["k8s-cluster"]}
    # Pods keep their addresses across a compatible profile change.
    assert res.json()["deleted"] == {}


def test_same_name_other_content_is_refused_on_sync(cli: Any, dedicated: Any) -> None:
    rev = cli.revision()
    changed = cli.write_profile("dedicated-t1", lb_size="large")
    res = cli.sync(cli.GUESTBOOK, now=cli.T0 + 5, extra=("--profile", changed))
    assert res.code == 2
    assert "PROFILE_EXISTS" in res.err
    assert cli.revision() == rev


def test_profile_by_name_from_the_state(cli: Any, dedicated: Any) -> None:
    rev = cli.revision()
    res = cli.sync(cli.GUESTBOOK, now=cli.T0 + 5, extra=("--profile", "dedicated-t1"))
    assert res.code == 0
    assert cli.revision() == rev


def test_profile_list_show(cli: Any, dedicated: Any) -> None:
    res = cli.sdn("profile", "list", "-o", "json", "--state", cli.state)
    assert res.code == 0
    assert [(p["name"], p["clusters"]) for p in res.json()] == [("dedicated-t1",
                                                                  ["k8s-cluster"])]
    table = cli.sdn("profile", "list", "--state", cli.state)
    assert table.code == 0 and "dedicated-t1" in table.out and "k8s-cluster" in table.out
    shown = cli.sdn("profile", "show", "dedicated-t1", "--state", cli.state)
    assert shown.code == 0
    body = shown.json()
    original = json.loads((cli.PROFILES / "dedicated-t1.json").read_text())
    assert body["name"] == "dedicated-t1"
    assert body["parameters"]["pod_ip_block_ids"] == original["parameters"]["pod_ip_block_ids"]
    assert body["parameters"]["single_tier_topology"] is False


def test_profile_show_missing(cli: Any, dedicated: Any) -> None:
    res = cli.sdn("profile", "show", "nope", "--state", cli.state)
    assert res.code == 2
    assert "nope" in res.err


def test_profile_create_and_delete(cli: Any, dedicated: Any) -> None:
    res = cli.sdn("profile", "create", cli.PROFILES / "shared-t1.json", "--state", cli.state)
    assert res.code == 0, res.err
    names = [p["name"] for p in
             cli.sdn("profile", "list", "-o", "json", "--state", cli.state).json()]
    assert names == ["dedicated-t1", "shared-t1"]
    # An unused profile can be deleted; objects are untouched.
    objects = cli.dump()["objects"]
    res = cli.sdn("profile", "delete", "shared-t1", "--state", cli.state)
    assert res.code == 0, res.err
    names = [p["name"] for p in
             cli.sdn("profile", "list", "-o", "json", "--state", cli.state).json()]
    assert names == ["dedicated-t1"]
    assert cli.dump()["objects"] == objects


@pytest.mark.parametrize(("argv", "code_text"), [
    pytest.param(("delete", "dedicated-t1"), "PROFILE_IN_USE", id="delete-in-use"),
    pytest.param(("delete", "nope"), "nope", id="delete-missing"),
    pytest.param(("create", "SAME_NAME"), "PROFILE_EXISTS", id="create-existing-name"),
    pytest.param(("create", "IDENTICAL"), "PROFILE_EXISTS", id="create-identical"),
    pytest.param(("create", "INVALID"), "INVALID_PROFILE", id="create-invalid"),
    pytest.param(("create", "MISSING"), "PROFILE_NOT_FOUND", id="create-missing-file"),
])
def test_profile_commands_refuse(cli: Any, dedicated: Any, argv: tuple[str, str],
                                 code_text: str) -> None:
    files = {
        "SAME_NAME": cli.write_profile("dedicated-t1", lb_size="large"),
        "IDENTICAL": cli.PROFILES / "dedicated-t1.json",
        "INVALID": cli.write_profile("invalid", no_such_parameter=True),
        "MISSING": cli.tmp / "missing.json",
    }
    args = [files.get(a, a) for a in argv]
    before = cli.dump()
    res = cli.sdn("profile", *args, "--state", cli.state)
    assert res.code == 2, res.out
    assert code_text in res.err
    assert cli.dump() == before


def test_profile_create_names_the_bad_field(cli: Any) -> None:
    path = cli.write_profile("invalid", no_such_parameter=True)
    res = cli.sdn("profile", "create", path, "--state", cli.state)
    assert res.code == 2
    assert "parameters.no_such_parameter" in res.err


# --- issue 10, defect 8: profile names are NSX ids; each problem printed once ---------

@pytest.mark.parametrize("name", ["Bad Name!", "-leading-dash", "a/b", "ünïcode", "x" * 256],
                         ids=["space-and-bang", "leading-dash", "slash", "non-ascii", "too-long"])
def test_profile_name_must_be_an_nsx_id(cli: Any, name: str) -> None:
    res = cli.sdn("profile", "create", _renamed(cli, name), "--state", cli.state)
    assert res.code == 2
    lines = res.err.splitlines()
    assert lines[0] == f"error: INVALID_PROFILE {name}: 1 problem(s) in network profile"
    assert lines[1].startswith(f"  INVALID_VALUE {name}: name: {name!r} is not a valid profile "
                               "name")
    assert len(lines) == 2
    assert not cli.state.exists() or cli.sdn("profile", "list", "-o", "json", "--state",
                                             cli.state).json() == []


def _renamed(cli: Any, name: str, **params: Any) -> Any:
    path = cli.write_profile("placeholder", **params)
    body = json.loads(path.read_text())
    body["name"] = name
    path.write_text(json.dumps(body))
    return path


def test_profile_names_with_every_allowed_character_are_accepted(cli: Any) -> None:
    res = cli.sdn("profile", "create", _renamed(cli, "Prod_np-2.v1"), "--state", cli.state)
    assert res.code == 0, res.err


def test_each_profile_problem_is_printed_once(cli: Any) -> None:
    path = _renamed(cli, "Bad Name!", pod_subnet_prefix=99, lb_size="HUGE")
    res = cli.sdn("profile", "create", path, "--state", cli.state)
    assert res.code == 2
    lines = res.err.splitlines()
    assert len(lines) == 4 and len(set(lines)) == 4
    assert [line.split()[0] for line in lines[1:]] == ["INVALID_VALUE"] * 3
    assert sorted(line.split(": ")[1] for line in lines[1:]) == [
        "name", "parameters.lb_size", "parameters.pod_subnet_prefix"]


def test_ncp_sync_refuses_a_new_profile_with_a_bad_name(cli: Any) -> None:
    res = cli.sync(cli.GUESTBOOK, extra=["--profile", _renamed(cli, "Bad Name!")])
    assert res.code == 2
    assert "INVALID_VALUE Bad Name!: name: 'Bad Name!' is not a valid profile name" in res.err
    assert not cli.state.exists() or cli.sdn("profile", "list", "-o", "json", "--state",
                                             cli.state).json() == []


def test_a_stored_profile_with_an_old_style_name_still_reads(cli: Any) -> None:
    """Written by a version that did not check names: still usable, still listed."""
    import sqlite3

    assert cli.sdn("profile", "create", _renamed(cli, "legacy"), "--state", cli.state).code == 0
    with sqlite3.connect(cli.state) as db:
        db.execute("UPDATE profiles SET name='Old Name', body=replace(body, '\"legacy\"', "
                   "'\"Old Name\"')")
    res = cli.sync(cli.GUESTBOOK, extra=["--profile", "Old Name"])
    assert res.code == 0, res.err
    assert cli.sdn("profile", "show", "Old Name", "--state", cli.state).code == 0
