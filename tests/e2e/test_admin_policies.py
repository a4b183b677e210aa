"""A network admin's own DFW objects around developer policy, through the CLI:
``sdn apply`` / ``sdn delete``, firewall section markers, and explain naming admin rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GUARDRAILS = ROOT / "topologies" / "admin" / "guardrails.yaml"
PROFILE = ROOT / "topologies" / "profiles" / "guardrails.json"


def _explain(cli: Any, src: str, dst: str, port: int) -> dict[str, Any]:
    res = cli.sdn("explain", "--src", src, "--dst", dst, "--dport", port, "-o", "json",
                  "--state", cli.state)
    assert res.code == 0, res.err
    data: dict[str, Any] = res.json()
    return data


def test_markers_place_ncp_sections_between_admin_policies(cli: Any) -> None:
    assert cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state).code == 0
    res = cli.sync(cli.MULTI_TENANT, extra=["--profile", PROFILE])
    assert res.code == 0, res.out + res.err
    seqs = {p["id"]: (p["category"], p["sequence_number"])
            for p in cli.show("security-policies")}
    ncp = {k: v for k, v in seqs.items() if k.startswith("np_")}
    assert ncp and all(cat == "Application" and 1000 < seq < 8000 for cat, seq in ncp.values())
    assert {seq for k, (_, seq) in ncp.items() if k.endswith("_allow")} == {1001}
    assert {seq for k, (_, seq) in ncp.items() if k.endswith("_isolation")} == {1002}


def test_admin_rule_above_developer_policy_decides(cli: Any) -> None:
    """payments denies all ingress by NetworkPolicy; the admin's top-marker rule lets the
    monitoring pods scrape 9100 anyway, and explain names that admin rule."""
    cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state)
    cli.sync(cli.MULTI_TENANT, extra=["--profile", PROFILE])
    scrape = _explain(cli, "monitoring/prometheus-0", "payments/db-0", 9100)
    assert scrape["allowed"]
    assert scrape["ingress"]["rule"]["path"].endswith("admin-top/rules/allow-monitoring-scrapes")
    other = _explain(cli, "monitoring/prometheus-0", "payments/db-0", 5432)
    assert not other["allowed"]
    assert other["ingress"]["rule"]["path"].endswith("_isolation/rules/ingress-isolation")


def test_emergency_quarantine_beats_every_allow(cli: Any) -> None:
    folder = cli.copy_sample(cli.MULTI_TENANT)
    cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state)
    assert cli.sync(folder).code == 0
    before = _explain(cli, "shop/frontend-0", "shop/catalog-0", 8080)
    assert before["allowed"]
    shop = folder / "shop.yaml"
    docs = list(yaml.safe_load_all(shop.read_text()))
    for d in docs:
        if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "catalog":
            d["spec"]["template"]["metadata"]["labels"]["quarantine"] = "true"
    cli.write_yaml(shop, *[d for d in docs if d])
    assert cli.sync(folder, now=cli.T0 + 1).code == 0
    after = _explain(cli, "shop/frontend-0", "shop/catalog-0", 8080)
    assert not after["allowed"]
    assert after["egress"]["rule"]["category"] == "Emergency"


def test_apply_is_all_or_nothing_and_names_the_field(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all([
        {"resource_type": "Group", "id": "ok-group", "expression": []},
        {"resource_type": "SecurityPolicy", "id": "p", "category": "Nowhere",
         "rules": [{"id": "r", "action": "MAYBE"}]},
        {"resource_type": "SecurityPolicy", "id": "q",
         "rules": [{"id": "r", "source_groups": ["/infra/domains/default/groups/none"]}]},
    ]))
    res = cli.sdn("apply", "-f", bad, "--state", cli.state)
    assert res.code == 2
    assert "category" in res.err and "rules[0].action" in res.err
    assert not cli.state.exists() or cli.show("groups") == []
    only_dangling = tmp_path / "dangling.yaml"
    only_dangling.write_text(yaml.safe_dump(
        {"resource_type": "SecurityPolicy", "id": "q",
         "rules": [{"id": "r", "source_groups": ["/infra/domains/default/groups/none"]}]}))
    res = cli.sdn("apply", "-f", only_dangling, "--state", cli.state)
    assert res.code == 2 and "DANGLING_REFERENCE" in res.err
    assert cli.show("security-policies") == []


def test_ncp_objects_are_protected_and_groups_in_use_kept(cli: Any, tmp_path: Path) -> None:
    cli.sync(cli.GUESTBOOK)
    (ncp_policy,) = [p for p in cli.show("security-policies") if p["id"].endswith("_allow")]
    steal = tmp_path / "steal.yaml"
    steal.write_text(yaml.safe_dump({"resource_type": "SecurityPolicy", "id": ncp_policy["id"]}))
    res = cli.sdn("apply", "-f", steal, "--state", cli.state)
    assert res.code == 2 and "OWNED_BY_NCP" in res.err
    cli.sdn("apply", "-f", GUARDRAILS, "--state", cli.state)
    group_only = tmp_path / "group.yaml"
    group_only.write_text(yaml.safe_dump({"resource_type": "Group", "id": "quarantined-pods"}))
    res = cli.sdn("delete", "-f", group_only, "--state", cli.state)
    assert res.code == 2 and "GROUP_IN_USE" in res.err
    assert cli.sdn("delete", "-f", GUARDRAILS, "--state", cli.state).code == 0
    assert not [p for p in cli.show("security-policies") if not p["id"].startswith("np_")]
