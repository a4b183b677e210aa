"""A NetworkPolicy in a namespace that does not exist (issue 10, defect 8): through
``ncp sync`` it is ``NAMESPACE_NOT_FOUND``, as a pod there is, and nothing of it is
realized until the namespace arrives. Before the fix it was realized silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def np(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"podSelector": {}}}


def _write(folder: Path, *docs: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "all.yaml").write_text(yaml.safe_dump_all(docs))
    return folder


def test_policy_in_a_missing_namespace_is_not_realized(cli: Any, tmp_path: Path,
                                                        k8s: Any) -> None:
    folder = _write(
        tmp_path / "c", k8s.namespace("shop"), k8s.pod("web-0", "shop", {"app": "web"}),
        k8s.pod("ghost-0", "nowhere"),
        np("deny-all", "nowhere"),
        np("deny-all", "shop"))
    res = cli.sync(folder)
    assert res.code == 1
    problems = {(p["code"], p["object"]) for p in res.json()["problems"]}
    assert problems == {("NAMESPACE_NOT_FOUND", "Pod/nowhere/ghost-0"),
                        ("NAMESPACE_NOT_FOUND", "NetworkPolicy/nowhere/deny-all")}
    policies = {p["id"] for p in cli.show("security-policies")}
    assert not any("nowhere" in p for p in policies)
    assert any("_shop_deny-all" in p for p in policies)
    assert not any("nowhere" in g["id"] for g in cli.show("groups"))
    # The namespace arrives: the waiting policy is realized.
    _write(tmp_path / "c", k8s.namespace("shop"), k8s.namespace("nowhere"),
           k8s.pod("web-0", "shop", {"app": "web"}), k8s.pod("ghost-0", "nowhere"),
           np("deny-all", "nowhere"),
           np("deny-all", "shop"))
    res = cli.sync(folder, now=cli.T0 + 1)
    assert res.code == 0, res.json()["problems"]
    assert any("_nowhere_deny-all" in p["id"] for p in cli.show("security-policies"))
