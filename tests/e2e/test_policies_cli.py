"""``sdn policies --pod`` and ``sdn show groups --member`` / ``--id ID --members`` end to
end on the sample topologies: the rules are the ones ``explain`` walks, in its order; the
groups are the ones the firewall resolved; unknown names are coded errors; nothing is
written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def snapshot_files(state: Path) -> tuple[bytes, bytes]:
    """The database's bytes and its journal's (the write-ahead log; none reads as
    empty: a reader's open may leave an empty one, which holds nothing)."""
    wal = Path(f"{state}-wal")
    return state.read_bytes(), wal.read_bytes() if wal.exists() else b""


@pytest.fixture
def guestbook(cli: Any) -> Any:
    assert cli.sync(cli.GUESTBOOK).code == 0
    return cli


@pytest.fixture
def tenants(cli: Any) -> Any:
    assert cli.sync(cli.MULTI_TENANT).code == 0
    return cli


def policies(cli: Any, pod: str, *extra: str) -> dict[str, Any]:
    res = cli.sdn("policies", "--state", cli.state, "--pod", pod, "-o", "json", *extra)
    assert res.code == 0, res.err
    data: dict[str, Any] = res.json()
    return data


def short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def test_redis_master_has_the_allow_then_the_isolation(guestbook: Any) -> None:
    data = policies(guestbook, "default/redis-master-0")
    assert data["directions"] == ["egress", "ingress"]
    assert [(r["point"], r["position"], short(r["security_policy"]), short(r["rule"]),
             r["action"]) for r in data["rules"]] == [
        ("ingress", 1, "np_k8s-cluster_default_redis-allow-frontend_allow", "ingress-0",
         "ALLOW"),
        ("ingress", 2, "np_k8s-cluster_default_redis-allow-frontend_isolation",
         "ingress-isolation", "DROP")]
    first = data["rules"][0]
    assert [short(g["group"]) for g in first["applied_to"]] == [
        "np_k8s-cluster_default_redis-allow-frontend_target"]
    assert "app=redis" in first["applied_to"][0]["why"]
    assert first["selected_by"] == {"side": "destinations", "any": True, "excluded": False,
                                    "groups": []}
    assert first["can_match"] is True
    assert [short(p) for p in first["peers"]] == [
        "np_k8s-cluster_default_redis-allow-frontend_in0_peer0"]
    assert first["services"] == ["TCP/6379"]
    assert data["default_action"] == "ALLOW"


@pytest.mark.parametrize(("direction", "points"), [
    pytest.param("in", {"ingress"}, id="in"), pytest.param("out", set(), id="out"),
    pytest.param("both", {"ingress"}, id="both")])
def test_direction_picks_the_point(guestbook: Any, direction: str, points: set[str]) -> None:
    data = policies(guestbook, "default/redis-master-0", "--direction", direction)
    assert {r["point"] for r in data["rules"]} == points


def test_the_table_names_rules_groups_and_reasons(guestbook: Any) -> None:
    res = guestbook.sdn("policies", "--state", guestbook.state, "--pod",
                        "default/redis-master-0")
    assert res.code == 0
    assert "in evaluation order: 0 egress, 2 ingress" in res.out
    assert "ingress-isolation" in res.out and "HOLDS THE POD BECAUSE" in res.out
    assert "then the default rule: ALLOW" in res.out


MT_PODS = ["shop/frontend-0", "payments/api-0", "payments/db-0", "analytics/worker-0",
           "monitoring/prometheus-0", "kube-system/coredns-0"]
MT_FLOWS = [("shop/frontend-0", "payments/api-0", "8443"),
            ("analytics/worker-0", "kube-system/coredns-0", "53"),
            ("monitoring/prometheus-0", "payments/db-0", "5432"),
            ("payments/api-0", "shop/frontend-0", "80")]


@pytest.mark.parametrize(("src", "dst", "port"), MT_FLOWS, ids=[f"{s}-{d}" for s, d, _ in
                                                               MT_FLOWS])
def test_explain_walks_the_listed_rules_in_their_order(tenants: Any, src: str, dst: str,
                                                       port: str) -> None:
    """What ``explain`` considers at each point (the rules enforced there for that
    direction, up to the deciding one) is a prefix of what ``policies`` lists there."""
    res = tenants.sdn("explain", "--state", tenants.state, "--src", src, "--dst", dst,
                      "--dport", port, "-o", "json")
    assert res.code == 0, res.err
    flow = res.json()
    for point, pod, direction in (("egress", src, "out"), ("ingress", dst, "in")):
        listed = [r["rule"] for r in policies(tenants, pod, "--direction", direction)["rules"]]
        walked = [c["rule"] for c in flow[point]["considered"]
                  if not c["reason"].startswith("direction ")]
        assert walked == listed[:len(walked)], (point, walked, listed)
        if flow[point]["rule"]["security_policy"] is not None:
            assert flow[point]["rule"]["path"] in listed


def groups_json(cli: Any, *args: str) -> Any:
    res = cli.sdn("show", "groups", "--state", cli.state, *args, "-o", "json")
    assert res.code == 0, res.err
    return res.json()


def test_member_and_members_agree_on_every_pod_and_group(tenants: Any) -> None:
    """Each pod's groups (``--member``) are exactly the groups whose members
    (``--members``) list the pod, over every group and pod of the sample."""
    every = [g["id"] for g in groups_json(tenants)]
    held: dict[str, set[str]] = {pod: set() for pod in MT_PODS}
    for gid in every:
        data = groups_json(tenants, "--id", gid, "--members")
        assert data["group"].endswith("/" + gid)
        for p in data["pods"]:
            if p["pod"] in held:
                held[p["pod"]].add(gid)
    for pod in MT_PODS:
        data = groups_json(tenants, "--member", pod)
        assert {g["id"] for g in data["groups"]} == held[pod], pod
        assert all(g["why"] for g in data["groups"]), data


def test_policies_name_the_groups_member_lists(tenants: Any) -> None:
    """Every group ``policies`` says holds the pod is among its ``--member`` groups."""
    for pod in MT_PODS:
        member = {g["path"] for g in groups_json(tenants, "--member", pod)["groups"]}
        for r in policies(tenants, pod)["rules"]:
            named = [*(r["applied_to"] or ()), *r["selected_by"]["groups"]]
            assert {g["group"] for g in named} <= member, (pod, r["rule"])


def test_an_ip_block_group_lists_its_addresses_less_the_except(tenants: Any) -> None:
    data = groups_json(tenants, "--id", "np_k8s-cluster_analytics_worker-egress_eg0_peer0",
                       "--members")
    assert data["pods"] == [] and data["nested"] == []
    assert "10.50.99.0/24" not in data["addresses"][0]
    assert data["addresses"][0].startswith("10.50.0.0/18, ")


def test_members_of_a_group_of_pods(guestbook: Any) -> None:
    data = groups_json(guestbook, "--id", "np_k8s-cluster_default_redis-allow-frontend_target",
                       "--members")
    assert [p["pod"] for p in data["pods"]] == ["default/redis-master-0",
                                                "default/redis-slave-0",
                                                "default/redis-slave-1"]
    assert all(p["ip"].startswith("172.16.") for p in data["pods"])
    plain = guestbook.sdn("show", "groups", "--state", guestbook.state, "--id",
                          "np_k8s-cluster_default_redis-allow-frontend_target")
    assert plain.code == 0 and "groups: 1" in plain.out


@pytest.mark.parametrize(("argv", "code"), [
    pytest.param(["policies", "--pod", "default/nope"], "UNKNOWN_POD", id="policies-pod"),
    pytest.param(["policies", "--pod", "nope/frontend-0"], "UNKNOWN_POD", id="policies-ns"),
    pytest.param(["policies", "--pod", "default/frontend-0", "--cluster", "c9"],
                 "UNKNOWN_CLUSTER", id="policies-cluster"),
    pytest.param(["show", "groups", "--member", "default/nope"], "UNKNOWN_POD",
                 id="member-pod"),
    pytest.param(["show", "groups", "--id", "nope", "--members"], "UNKNOWN_GROUP",
                 id="members-group"),
    pytest.param(["show", "groups", "--members"], "BAD_ARGUMENT", id="members-without-id"),
    pytest.param(["show", "segments", "--member", "default/frontend-0"], "BAD_ARGUMENT",
                 id="member-of-segments"),
])
def test_bad_input_is_a_coded_error(guestbook: Any, argv: list[str], code: str) -> None:
    res = guestbook.sdn(*argv[:1], "--state", guestbook.state, *argv[1:])
    assert res.code == 2
    assert code in res.err and res.out == ""


@pytest.mark.parametrize("argv", [
    ["policies", "--pod", "default/redis-master-0"],
    ["show", "groups", "--member", "default/frontend-0"],
    ["show", "groups", "--id", "np_k8s-cluster_default_redis-allow-frontend_target",
     "--members"]], ids=["policies", "member", "members"])
def test_reads_write_nothing(guestbook: Any, tmp_path: Path, argv: list[str]) -> None:
    before = snapshot_files(guestbook.state)
    assert guestbook.sdn(argv[0], "--state", guestbook.state, *argv[1:]).code == 0
    assert snapshot_files(guestbook.state) == before
    missing = tmp_path / "none" / "state.db"
    res = guestbook.sdn(argv[0], "--state", missing, *argv[1:])
    assert res.code == 2 and "STATE_NOT_FOUND" in res.err
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("argv", [
    ["policies", "--pod", "payments/api-0", "-o", "json"],
    ["show", "groups", "--member", "shop/frontend-0", "-o", "json"],
    ["show", "groups", "--id", "np_k8s-cluster_payments_default-deny-ingress_target",
     "--members", "-o", "json"]], ids=["policies", "member", "members"])
def test_the_same_answer_compiled_or_from_the_index(tenants: Any, argv: list[str]) -> None:
    """The first reader of a revision without an index compiles the firewall and answers
    from it; later readers answer from the saved records: the same answer."""
    import shutil

    index = Path(f"{tenants.state}.idx")
    shutil.rmtree(index, ignore_errors=True)
    compiled = tenants.sdn(argv[0], "--state", tenants.state, *argv[1:])
    assert index.exists()
    stored = tenants.sdn(argv[0], "--state", tenants.state, *argv[1:])
    assert compiled.code == stored.code == 0
    assert compiled.out == stored.out


@pytest.mark.parametrize(("filters", "expected"), [
    pytest.param([], 4, id="all"),
    pytest.param(["-n", "shop"], 3, id="namespace"),
    pytest.param(["--tag", "ncp/project=payments"], 1, id="tag"),
])
def test_member_keeps_the_groups_the_filters_name(tenants: Any, filters: list[str],
                                                  expected: int) -> None:
    data = groups_json(tenants, "--member", "shop/frontend-0", *filters)
    assert len(data["groups"]) == expected, data


def test_member_with_an_unknown_namespace_filter_is_refused(tenants: Any) -> None:
    res = tenants.sdn("show", "groups", "--state", tenants.state, "--member",
                      "shop/frontend-0", "-n", "nope")
    assert res.code == 2 and "UNKNOWN_NAMESPACE nope" in res.err
