"""The hierarchical Policy API through HTTP: a ``PATCH /policy/api/v1/infra`` tree gives
the state ``sdn apply`` / ``sdn delete`` give for the same objects (``sdn show -o json``
compared), it is all or nothing, and ``GET /policy/api/v1/infra`` draws the tree with
NSX's type filter."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sdn.cli.main import main as sdn_main
from tests.support.cli_runs import run_main
from tests.support.served import Served

ROOT = Path(__file__).resolve().parents[3]
GUARDRAILS = ROOT / "topologies" / "admin" / "guardrails.yaml"
INFRA = "/policy/api/v1/infra"
#: Stamps that differ between two writes of the same objects at different times.
TIMES = ("_create_time", "_last_modified_time")


def documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(GUARDRAILS.read_text()) if d]


def tree(*domain_children: dict[str, Any], infra: tuple[dict[str, Any], ...] = (),
         ) -> dict[str, Any]:
    return {"resource_type": "Infra", "children": [
        *infra,
        {"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain",
         "children": list(domain_children)}]}


def wrapped(doc: dict[str, Any], *, delete: bool = False) -> dict[str, Any]:
    """An admin document as its hierarchical wrapper (a policy's rules as ChildRule)."""
    kind = doc["resource_type"]
    obj = {k: v for k, v in doc.items() if k != "rules"}
    if doc.get("rules"):
        obj["children"] = [{"resource_type": "ChildRule", "Rule": r} for r in doc["rules"]]
    return {"resource_type": f"Child{kind}", kind: obj, "marked_for_delete": delete}


def shown(state: Path, kind: str) -> list[dict[str, Any]]:
    code, out, err = run_main(sdn_main, "show", kind, "-o", "json", "--state", state)
    assert code == 0, err
    docs: list[dict[str, Any]] = json.loads(out)
    for d in docs:
        for stamped in (d, *d.get("rules", ())):
            for key in TIMES:
                stamped.pop(key, None)
    return docs


def admin_state(state: Path) -> tuple[list[dict[str, Any]], ...]:
    return tuple(shown(state, kind) for kind in ("groups", "security-policies", "services"))


def apply(state: Path, verb: str, docs: list[dict[str, Any]], folder: Path) -> None:
    file = folder / f"{verb}.yaml"
    file.write_text(yaml.safe_dump_all(docs))
    code, _out, err = run_main(sdn_main, verb, "-f", file, "--state", state)
    assert code == 0, err


def test_hierarchical_patch_equals_sdn_apply(serve: Callable[..., Served],
                                             tmp_path: Path) -> None:
    served = serve("guestbook", "--rate-limit", "0")
    oracle = tmp_path / "oracle.db"
    shutil.copyfile(served.state, oracle)
    docs = documents()
    service = {"resource_type": "Service", "id": "redis", "service_entries": [
        {"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP",
         "destination_ports": ["6379"]}]}
    added = {"id": "added-later", "action": "DROP", "services": ["/infra/services/redis"],
             "source_groups": ["/infra/domains/default/groups/quarantined-pods"]}
    top = next(d for d in docs if d["id"] == "admin-top")
    with served.client() as http:
        answer = http.patch(INFRA, json=tree(*map(wrapped, docs), infra=(wrapped(service),)),
                            headers={"nsx-enable-partial-patch": "true"})
        assert answer.status_code == 200, answer.text
        apply(oracle, "apply", [service, *docs], tmp_path)
        assert admin_state(served.state) == admin_state(oracle)

        reference = {"resource_type": "ChildResourceReference", "id": "admin-top",
                     "target_type": "SecurityPolicy",
                     "children": [{"resource_type": "ChildRule", "Rule": added}]}
        assert http.patch(INFRA, json=tree(reference)).status_code == 200
        apply(oracle, "apply", [{**top, "rules": [*top["rules"], added]}], tmp_path)
        assert admin_state(served.state) == admin_state(oracle)

        gone = [d for d in docs if d["id"] in ("emergency-quarantine", "quarantined-pods")]
        answer = http.patch(INFRA, json=tree(*(wrapped(d, delete=True) for d in gone)))
        assert answer.status_code == 400  # the rule added later still names the group
        assert "GROUP_IN_USE" in answer.text
        answer = http.patch(INFRA, json=tree(
            wrapped({**top, "rules": [*top["rules"], added]}, delete=True),
            *(wrapped(d, delete=True) for d in gone)))
        assert answer.status_code == 200, answer.text
        apply(oracle, "delete", [top, *gone], tmp_path)
        assert admin_state(served.state) == admin_state(oracle)


def test_a_bad_child_refuses_the_whole_tree(guestbook_api: Served) -> None:
    good = {"resource_type": "ChildGroup", "Group": {"id": "h-good", "expression": []}}
    bad_rule = {"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {
        "id": "h-bad", "children": [{"resource_type": "ChildRule",
                                     "Rule": {"id": "r", "action": "PERMIT"}}]}}
    tier1 = {"resource_type": "ChildTier1", "Tier1": {"id": "t1"}}
    with guestbook_api.client() as http:
        before = http.get(INFRA).content
        answer = http.patch(INFRA, json=tree(good, bad_rule, infra=(tier1,)))
        assert answer.status_code == 400
        assert answer.json()["error_code"] == 255
        messages = [e["error_message"] for e in answer.json()["related_errors"]]
        assert any("ChildTier1" in m for m in messages), messages
        answer = http.patch(INFRA, json=tree(good, bad_rule))
        assert answer.status_code == 400
        assert any("rules[0].action" in e["error_message"]
                   for e in answer.json()["related_errors"])
        assert http.get(INFRA).content == before
        assert http.get(f"{INFRA}/domains/default/groups/h-good").status_code == 404


def test_infra_tree_and_its_type_filter(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        full = http.get(INFRA).json()
        only_groups = http.get(INFRA, params={"filter": "Type-Domain|Group"}).json()
        dfw = http.get(INFRA, params={"filter": "Type-Domain|SecurityPolicy|Rule"}).json()
        domain = http.get(INFRA, params={"base_path": "/infra/domains/default"}).json()
        missing = http.get(INFRA, params={"base_path": "/infra/tier-1s/none"})
        groups = http.get(f"{INFRA}/domains/default/groups").json()

    def kinds(node: dict[str, Any]) -> set[str]:
        out = {node["resource_type"]}
        for child in node.get("children", ()):
            out |= kinds(child[child["resource_type"][len("Child"):]])
        return out

    assert full["resource_type"] == "Infra"
    assert {"Segment", "SegmentPort", "Domain", "Group", "SecurityPolicy", "Rule",
            "Tier1"} <= kinds(full)
    assert kinds(only_groups) == {"Infra", "Domain", "Group"}
    [wrapper] = only_groups["children"]
    assert wrapper["resource_type"] == "ChildDomain" and wrapper["marked_for_delete"] is False
    listed = [c["Group"] for c in wrapper["Domain"]["children"]]
    assert listed == sorted(groups["results"], key=lambda g: g["path"])
    assert kinds(dfw) == {"Infra", "Domain", "SecurityPolicy", "Rule"}
    policies = [c["SecurityPolicy"] for c in dfw["children"][0]["Domain"]["children"]]
    assert all("rules" not in p and p["children"][0]["resource_type"] == "ChildRule"
               for p in policies)
    assert domain["resource_type"] == "Domain" and domain["path"] == "/infra/domains/default"
    assert missing.status_code == 404
