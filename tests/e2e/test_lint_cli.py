"""``sdn lint`` after ``ncp sync`` of small clusters written in ``tmp_path``: a clean policy
set passes; shadowed and duplicate NetworkPolicies, an empty selector, NCP limits and equal
admin-policy priorities fail with their codes; ``--cluster`` and the table output."""

from __future__ import annotations

from typing import Any

import pytest

NP = "networking.k8s.io/v1"
ANP = "policy.networking.k8s.io/v1alpha1"


def netpol(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": NP, "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def anp(name: str, priority: int, action: str, subject: dict[str, Any],
        peer: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": ANP, "kind": "AdminNetworkPolicy", "metadata": {"name": name},
            "spec": {"priority": priority, "subject": subject,
                     "ingress": [{"name": "r", "action": action, "from": [peer]}]}}


WEB_FROM_CLIENT = {"podSelector": {"matchLabels": {"app": "web"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                                "ports": [{"port": 80}]}]}
DEFAULT_DENY: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
ALLOW_ALL: dict[str, Any] = {"podSelector": {}, "ingress": [{}]}
FIVE_LABELS = {"podSelector": {"matchLabels": {"a": "1", "b": "2", "c": "3", "d": "4",
                                               "e": "5"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}


def cluster(cli: Any, name: str, *policies: dict[str, Any]) -> Any:
    """A folder with namespaces shop (team a) and other, pods web and client, ``policies``."""
    ns_shop = {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop",
                                                       "team": "a"}}}
    ns_other = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "other",
                             "labels": {"kubernetes.io/metadata.name": "other"}}}
    pods = [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": pod, "namespace": ns, "labels": labels},
         "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
        for pod, ns, labels in (("web", "shop", {"app": "web"}),
                                ("client", "shop", {"app": "client"}),
                                ("batch", "other", {"app": "batch"}))
    ]
    cli.write_yaml(f"{name}/cluster.yaml", ns_shop, ns_other, *pods, *policies)
    res = cli.sync(cli.tmp / name)
    assert res.code == 0, res.out + res.err
    return res


def lint(cli: Any, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    res = cli.sdn("lint", "--state", cli.state, "-o", "json", *extra)
    data: list[dict[str, Any]] = res.json()
    return res.code, data


def codes(findings: list[dict[str, Any]], severity: str | None = None) -> set[str]:
    return {f["code"] for f in findings if severity is None or f["severity"] == severity}


def test_clean_policy_set_passes(cli: Any) -> None:
    cluster(cli, "clean", netpol("allow-web", "shop", WEB_FROM_CLIENT),
            netpol("default-deny", "shop", DEFAULT_DENY))
    code, findings = lint(cli)
    assert code == 0
    assert codes(findings, "warning") == set()
    table = cli.sdn("lint", "--state", cli.state)
    assert table.code == 0
    assert "warning" not in table.out


def test_shadowed_duplicate_and_limits_are_warnings(cli: Any) -> None:
    cluster(cli, "messy", netpol("allow-all", "shop", ALLOW_ALL),
            netpol("web-only", "shop", WEB_FROM_CLIENT),
            netpol("web-only-copy", "shop", WEB_FROM_CLIENT),
            netpol("many-labels", "shop", FIVE_LABELS))
    code, findings = lint(cli)
    assert code == 0  # warnings alone do not fail by default (--fail-on error)
    assert lint(cli, "--fail-on", "warning")[0] == 1
    by = {(f["code"], f["object"].rsplit("/", 3)[-3]): f for f in findings
          if f["object"].startswith("/infra/")}
    # allow-all's ALLOW (2010) takes all ingress of shop: every isolation DROP (2090) is dead
    dead = by[("SHADOWED_RULE", "np_k8s-cluster_shop_web-only_isolation")]
    assert dead["severity"] == "warning"
    assert [r.rsplit("/", 3)[-3:] for r in dead["related"]] == [
        ["np_k8s-cluster_shop_allow-all_allow", "rules", "ingress-0"]]
    # the copy's ALLOW repeats an earlier ALLOW: redundant, an info
    assert by[("SHADOWED_RULE", "np_k8s-cluster_shop_web-only-copy_allow")]["severity"] == "info"
    # five matchLabels: NCP's limit, from the sync's findings; and the selector matches no pod
    limits = [f for f in findings if f["code"] == "TOO_MANY_MATCH_LABELS"]
    assert [f["object"] for f in limits] == ["NetworkPolicy/shop/many-labels"]
    assert limits[0]["severity"] == "warning"
    assert limits[0]["related"] == []
    base = ("code", "severity", "object", "message", "related")
    assert {tuple(f) for f in findings if f["code"] != "SHADOWED_RULE"} == {base}
    assert {tuple(f) for f in findings if f["code"] == "SHADOWED_RULE"} == {(*base, "witness")}
    replay_witnesses(cli, findings)
    assert {"EMPTY_GROUP", "RULE_MATCHES_NOTHING"} <= codes(findings, "warning")
    severities = [f["severity"] for f in findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)


def test_identical_network_policies_are_info_only(cli: Any) -> None:
    # NCP puts every allow policy at 2010 (ALLOW) and every isolation at 2090 (DROP): equal
    # priorities, but one action each, so no conflict; the copy is redundant (info)
    cluster(cli, "twins", netpol("web-a", "shop", WEB_FROM_CLIENT),
            netpol("web-b", "shop", WEB_FROM_CLIENT))
    code, findings = lint(cli)
    assert code == 0
    assert codes(findings) == {"SHADOWED_RULE"}
    assert {f["object"].rsplit("/", 3)[-3] for f in findings} == {
        "np_k8s-cluster_shop_web-b_allow", "np_k8s-cluster_shop_web-b_isolation"}
    assert {f["severity"] for f in findings} == {"info"}


def test_equal_admin_priorities_with_different_actions_conflict(cli: Any) -> None:
    team_a = {"namespaces": {"matchLabels": {"team": "a"}}}
    cluster(cli, "admin", anp("allow-team", 10, "Allow", team_a, team_a),
            anp("deny-all", 10, "Deny", {"namespaces": {}}, {"namespaces": {}}))
    code, findings = lint(cli)
    assert code == 1  # an error: NSX leaves the winner undefined
    conflicts = [f for f in findings if f["code"] == "CONFLICTING_SAME_PRIORITY"]
    assert len(conflicts) == 1
    assert conflicts[0]["severity"] == "error"
    assert lint(cli, "--fail-on", "never")[0] == 0
    assert "anp_k8s-cluster_allow-team/rules" in conflicts[0]["object"]
    assert [r.rsplit("/", 3)[-3] for r in conflicts[0]["related"]] == ["anp_k8s-cluster_deny-all"]
    assert replay_witnesses(cli, conflicts) == 1


def replay_witnesses(cli: Any, findings: list[dict[str, Any]]) -> int:
    """Replay every finding's witness through ``sdn explain``: at the witness's point the
    flow is decided by the rule the witness names, which is the finding's earlier rule
    (the shadowing one, or the conflicting pair's first); returns how many were replayed."""
    replayed = 0
    for f in findings:
        w = f.get("witness")
        if w is None:
            continue
        port = [] if w["dst_port"] is None else ["--dport", str(w["dst_port"])]
        res = cli.sdn("explain", "--state", cli.state, "--src", w["src"], "--dst", w["dst"],
                      "--protocol", w["protocol"], *port, "-o", "json")
        assert res.code == 0, res.err
        decision = res.json()[w["point"]]
        assert decision["rule"]["path"] == w["decided_by"], (f, decision)
        earlier = f["related"][0] if f["code"] == "SHADOWED_RULE" else f["object"]
        assert w["decided_by"] == earlier, f
        replayed += 1
    return replayed


def test_cluster_filter(cli: Any) -> None:
    cluster(cli, "messy", netpol("many-labels", "shop", FIVE_LABELS))
    code, findings = lint(cli, "--cluster", "k8s-cluster", "--fail-on", "warning")
    assert code == 1
    assert "TOO_MANY_MATCH_LABELS" in codes(findings)
    res = cli.sdn("lint", "--state", cli.state, "--cluster", "nope")
    assert res.code == 2
    assert "UNKNOWN_CLUSTER" in res.err


@pytest.mark.parametrize("output", ["table", "json"])
def test_missing_state(cli: Any, output: str) -> None:
    res = cli.sdn("lint", "--state", cli.tmp / "none.db", "-o", output)
    assert res.code == 2
    assert "STATE_NOT_FOUND" in res.err


@pytest.mark.parametrize(("fail_on", "expected"), [
    pytest.param("error", 0, id="error"), pytest.param("warning", 0, id="warning"),
    pytest.param("info", 1, id="info"), pytest.param("never", 0, id="never")])
def test_fail_on_threshold_with_infos_only(cli: Any, fail_on: str, expected: int) -> None:
    cluster(cli, "twins", netpol("web-a", "shop", WEB_FROM_CLIENT),
            netpol("web-b", "shop", WEB_FROM_CLIENT))
    code, findings = lint(cli, "--fail-on", fail_on)
    assert {f["severity"] for f in findings} == {"info"}
    assert code == expected
    table = cli.sdn("lint", "--state", cli.state, "--fail-on", fail_on)
    assert table.code == expected
    assert "2 info" in table.out
