"""``sdn replay`` end to end on the sample topologies: flows of both formats, tables and
JSON, against the state's policy set and against candidates (NSX admin documents, and
Kubernetes manifests through ncp's registered translator) that change a decision; every
kind of bad input refused with a coded error; nothing written, ever."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.entry_points import metadata_folder
from tests.support.statefiles import state_files

POLICIES = "/infra/domains/default/security-policies"
ISOLATION = f"{POLICIES}/np_k8s-cluster_default_redis-allow-frontend_isolation/rules/" \
    "ingress-isolation"
FRONTEND_0, FRONTEND_1 = "172.16.0.2", "172.16.0.3"
MASTER, SLAVE_0, NODE_0 = "172.16.0.5", "172.16.0.6", "172.23.0.2"
MASTER_VIP = "10.100.200.3"

#: Guestbook flows: one allowed by the policy, one dropped by its isolation rule (twice),
#: one through redis-master's cluster IP, ICMP between frontends, a node to redis.
CSV = f"""src_ip,dst_ip,protocol,dst_port
{FRONTEND_0},{MASTER},TCP,6379
{SLAVE_0},{MASTER},TCP,6379
{SLAVE_0},{MASTER},tcp,6379
{SLAVE_0},{MASTER_VIP},TCP,6379
{FRONTEND_1},{FRONTEND_0},ICMP
{NODE_0},{MASTER},6,6379
"""


def hubble(src: str, dst: str, l4: dict[str, Any], **extra: Any) -> str:
    """One line of ``hubble observe -o json`` (the newer, wrapped shape)."""
    return json.dumps({"flow": {"time": "2026-12-06T07:00:00Z", "verdict": "FORWARDED",
                                "IP": {"source": src, "destination": dst,
                                       "ipVersion": "IPv4"},
                                "l4": l4, "Type": "L3_L4", **extra},
                       "node_name": "worker-0", "time": "2026-12-06T07:00:00Z"})


@pytest.fixture
def synced(cli: Any) -> Any:
    assert cli.sync(cli.GUESTBOOK).code == 0
    return cli


@pytest.fixture
def flows(cli: Any) -> Path:
    path: Path = cli.tmp / "flows.csv"
    path.write_text(CSV)
    return path


def replay(cli: Any, *argv: object) -> Any:
    res = cli.sdn("replay", "--state", cli.state, *argv)
    assert res.code == 0, res.err
    return res


def test_csv_flows_against_the_current_policy_set(synced: Any, flows: Path) -> None:
    data = replay(synced, "--flows", flows, "-o", "json").json()
    assert data["policy_set"] == "current" and data["format"] == "csv"
    assert data["counts"] == {"flows": 6, "allowed": 2, "dropped": 4, "mixed": 0,
                              "skipped": 0, "distinct_questions": 5}
    dropped = {(e["src"], e["dst"]): e for e in data["dropped"]}
    assert set(dropped) == {(SLAVE_0, MASTER), (SLAVE_0, MASTER_VIP), (NODE_0, MASTER)}
    slave = dropped[(SLAVE_0, MASTER)]
    assert (slave["src_pod"], slave["dst_pod"], slave["flows"], slave["first_line"]) == \
        ("default/redis-slave-0", "default/redis-master-0", 2, 3)
    assert (slave["rule"]["path"], slave["rule"]["point"], slave["rule"]["action"]) == \
        (ISOLATION, "ingress", "DROP")
    by_rule = {r["path"]: (r["allowed"], r["dropped"]) for r in data["rules"]}
    assert by_rule[ISOLATION] == (0, 4)


def test_the_table_fits_and_names_the_rule(synced: Any, flows: Path) -> None:
    out = replay(synced, "--flows", flows).out
    lines = out.splitlines()
    assert lines[0] == "6 flows replayed against the current policy set: 2 allowed, " \
        "4 dropped"
    assert max(len(line) for line in lines) <= 80
    assert "default/redis-slave-0 default/redis-master-0 TCP/6379 2     355819735" in lines
    assert "355819735  ingress-isolation   ingress DROP   0       4      " in lines


def test_hubble_flows_replies_and_other_events(synced: Any) -> None:
    tcp = {"TCP": {"source_port": 40000, "destination_port": 6379, "flags": {"SYN": True}}}
    lines = [hubble(SLAVE_0, MASTER, tcp),
             hubble(MASTER, SLAVE_0, {"TCP": {"source_port": 6379,
                                              "destination_port": 40000}}, is_reply=True),
             json.dumps({"node_status": {"state_change": "NODE_CONNECTED"}}),
             hubble(FRONTEND_0, MASTER, {"UDP": {"destinationPort": 53}}),
             hubble(FRONTEND_0, MASTER, tcp, Type="L7"),
             hubble(FRONTEND_0, FRONTEND_1, {"ICMPv4": {"type": 8}})]
    path = synced.tmp / "flows.json"
    path.write_text("\n".join(lines) + "\n")
    data = replay(synced, "--flows", path, "-o", "json").json()
    assert data["format"] == "hubble"
    assert data["counts"]["flows"] == 3 and data["counts"]["dropped"] == 2
    assert {k: v for k, v in data["skipped"].items() if v} == \
        {"reply": 1, "not_a_flow": 1, "l7": 1}
    assert [(e["first_line"], e["protocol"], e["port"]) for e in data["dropped"]] == \
        [(1, "TCP", 6379), (4, "UDP", 53)]


def test_an_admin_candidate_changes_a_decision(synced: Any, flows: Path) -> None:
    folder = synced.tmp / "candidate"
    synced.write_yaml("candidate/block.yaml", {
        "resource_type": "Group", "id": "frontends", "expression": [
            {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
             "operator": "EQUALS", "value": "tier|frontend"}]}, {
        "resource_type": "SecurityPolicy", "id": "block-frontends", "category": "Emergency",
        "rules": [{"id": "drop-frontends", "action": "DROP", "direction": "IN_OUT",
                   "source_groups": ["/infra/domains/default/groups/frontends"]}]})
    before = state_files(synced.state)
    data = replay(synced, "--flows", flows, "--candidate", folder, "-o", "json").json()
    assert state_files(synced.state) == before
    assert data["policy_set"] == "candidate"
    dropped = {(e["src"], e["dst"]): e["rule"]["path"] for e in data["dropped"]}
    assert dropped[(FRONTEND_0, MASTER)] == f"{POLICIES}/block-frontends/rules/drop-frontends"
    assert dropped[(FRONTEND_1, FRONTEND_0)].endswith("/drop-frontends")
    assert data["counts"]["allowed"] == 0
    current = replay(synced, "--flows", flows, "-o", "json").json()
    assert current["counts"]["allowed"] == 2  # the state itself is as it was


@pytest.fixture
def translator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ncp's translator visible as an install of this checkout lists it."""
    folder = metadata_folder(tmp_path / "meta")
    if folder is not None:
        monkeypatch.syspath_prepend(str(folder))


@pytest.mark.usefixtures("translator")
def test_a_kubernetes_candidate_is_planned_as_ncp_sync_would(synced: Any, flows: Path) -> None:
    folder = synced.copy_sample(synced.GUESTBOOK, "candidate")
    (folder / "policy.yaml").unlink()
    before = state_files(synced.state)
    data = replay(synced, "--flows", flows, "--candidate", folder, "-o", "json").json()
    assert state_files(synced.state) == before
    assert data["counts"]["dropped"] == 0  # without the policy, redis takes everyone
    (folder / "extra.yaml").write_text("resource_type: Group\nid: extra\n")
    mixed = replay(synced, "--flows", flows, "--candidate", folder, "-o", "json").json()
    assert mixed["counts"]["dropped"] == 0  # admin documents apply on top


@pytest.mark.usefixtures("translator")
def test_a_kubernetes_candidate_with_a_rejected_object_is_refused(synced: Any,
                                                                  flows: Path) -> None:
    folder = synced.copy_sample(synced.GUESTBOOK, "candidate")
    text = (folder / "policy.yaml").read_text().replace("port: 6379", "port: 70000")
    (folder / "policy.yaml").write_text(text)
    res = synced.sdn("replay", "--state", synced.state, "--flows", flows,
                     "--candidate", folder)
    assert res.code == 2 and res.out == ""
    assert res.err.startswith(f"error: INVALID_CANDIDATE {folder}")
    assert "redis-allow-frontend" in res.err


def test_the_translator_missing_is_a_coded_error(synced: Any, flows: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sdn.cli.candidate as candidate

    monkeypatch.setattr(candidate, "entry_points", lambda group: [])
    res = synced.sdn("replay", "--state", synced.state, "--flows", flows,
                     "--candidate", synced.GUESTBOOK)
    assert res.code == 2
    assert res.err.startswith("error: CANDIDATE_PLUGIN_MISSING kubernetes:")


def test_every_bad_line_is_named_and_nothing_is_evaluated(synced: Any) -> None:
    path = synced.tmp / "bad.csv"
    path.write_text(CSV + "10.0.0.1,10.0.0.2,TCP\n" + f"{FRONTEND_0},{MASTER},ICMP,8\n"
                    + "\n" * 3 + "nope,10.0.0.2,UDP,53\n")
    res = synced.sdn("replay", "--state", synced.state, "--flows", path)
    assert res.code == 2 and res.out == ""
    assert res.err.splitlines() == [
        f"error: INVALID_FLOWS {path}: 3 problem(s):",
        f"  BAD_FLOW {path}:8: TCP needs dst_port",
        f"  BAD_FLOW {path}:9: ICMP has no port, got '8'",
        f"  BAD_FLOW {path}:13: src_ip is not an IPv4 address: 'nope'"]


@pytest.mark.parametrize("case", ["malformed-yaml", "admin-dangling", "missing-folder",
                                  "empty-folder"])
def test_a_candidate_that_does_not_parse_names_its_file_or_object(
        synced: Any, flows: Path, case: str) -> None:
    folder = synced.tmp / "candidate"
    folder.mkdir()
    if case == "malformed-yaml":
        (folder / "broken.yaml").write_text("resource_type: Group\nid: [unclosed\n")
        expect = f"error: MALFORMED_FILE {folder / 'broken.yaml'}"
    elif case == "admin-dangling":
        synced.write_yaml("candidate/p.yaml", {
            "resource_type": "SecurityPolicy", "id": "p", "rules": [
                {"id": "r", "source_groups": ["/infra/domains/default/groups/none"]}]})
        expect = f"error: INVALID_CANDIDATE {folder}: 1 problem(s):"
    elif case == "missing-folder":
        shutil.rmtree(folder)
        expect = f"error: FILE_NOT_FOUND {folder}"
    else:
        expect = f"error: CANDIDATE_EMPTY {folder}"
    before = state_files(synced.state)
    res = synced.sdn("replay", "--state", synced.state, "--flows", flows,
                     "--candidate", folder)
    assert res.code == 2 and res.out == ""
    assert res.err.startswith(expect), res.err
    assert state_files(synced.state) == before


def test_a_missing_state_is_not_created(cli: Any, flows: Path) -> None:
    res = cli.sdn("replay", "--state", cli.state, "--flows", flows)
    assert res.code == 2
    assert "STATE_NOT_FOUND" in res.err
    assert not cli.state.exists() and not cli.state.parent.exists()


def test_several_clusters_need_cluster_for_kubernetes(cli: Any, flows: Path) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    assert cli.sync(cli.MULTI_TENANT, extra=["--cluster-name", "mt"]).code == 0
    res = cli.sdn("replay", "--state", cli.state, "--flows", flows,
                  "--candidate", cli.GUESTBOOK)
    assert res.code == 2
    assert res.err.startswith("error: CANDIDATE_CLUSTER_NEEDED --cluster:")


def test_flows_from_standard_input_and_a_forced_format(synced: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(CSV))
    data = replay(synced, "--flows", "-", "--format", "csv", "-o", "json").json()
    assert (data["format"], data["counts"]["flows"]) == ("csv", 6)
    monkeypatch.setattr("sys.stdin", io.StringIO(CSV))
    res = synced.sdn("replay", "--state", synced.state, "--flows", "-", "--format", "hubble")
    assert res.code == 2
    assert res.err.splitlines()[1].startswith("  BAD_FLOW -:1: not JSON")
