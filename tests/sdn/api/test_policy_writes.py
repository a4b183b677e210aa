"""Policy API writes through HTTP against ``sdn serve``: a table of write cases (each a
sequence of requests and the answers NSX gives), protection of NCP's objects, and the
audit user refused on every write.

Every case works on objects of its own (ids carry the case's name), so one server
serves the whole table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from sdn.model.dfw import MemberType
from tests.support.served import AUDIT, Served

POLICY = "/policy/api/v1"
DOMAIN = f"{POLICY}/infra/domains/default"
GROUPS = "/infra/domains/default/groups"
NCP_GROUP = "np_k8s-cluster_default_redis-allow-frontend_in0_peer0"
NCP_POLICY = "np_k8s-cluster_default_redis-allow-frontend_allow"
NCP_RULE = "ingress-0"
SYSTEM = {"_create_time": 1, "_create_user": "someone", "_last_modified_time": 2,
          "_last_modified_user": "someone", "_protection": "NOT_PROTECTED",
          "_system_owned": False, "_links": [], "_schema": "/x", "_self": {"href": "/x"},
          "relative_path": "x", "unique_id": "u", "realization_id": "u",
          "marked_for_delete": False, "overridden": False}

Check = Callable[[httpx.Response], None]


@dataclass(frozen=True)
class Step:
    """One request and the answer expected: its status, NSX ``error_code``, and an extra
    check of the response."""

    method: str
    url: str
    body: Any = None
    status: int = 200
    code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    check: Check | None = None
    raw: bytes | None = None


def group(ident: str, **fields: Any) -> dict[str, Any]:
    return {"resource_type": "Group", "display_name": ident,
            "expression": [{"resource_type": "Condition", "member_type": "SegmentPort",
                            "key": "Tag", "operator": "EQUALS", "value": "app|frontend"}],
            **fields}


def policy(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"resource_type": "SecurityPolicy", "category": "Application",
            "rules": list(rules), **fields}


def rule(ident: str, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "action": "ALLOW", **fields}


def g(ident: str) -> str:
    return f"{DOMAIN}/groups/{ident}"


def p(ident: str) -> str:
    return f"{DOMAIN}/security-policies/{ident}"


def has(**expected: Any) -> Check:
    def check(answer: httpx.Response) -> None:
        body = answer.json()
        for key, value in expected.items():
            assert body.get(key) == value, (key, body.get(key))
    return check


def related(*codes: int) -> Check:
    """The 400's ``related_errors`` carry exactly these codes (as a multiset)."""
    def check(answer: httpx.Response) -> None:
        got = sorted(e["error_code"] for e in answer.json()["related_errors"])
        assert got == sorted(codes), answer.json()
    return check


def rules_are(**actions: str) -> Check:
    def check(answer: httpx.Response) -> None:
        got = {r["id"]: r["action"] for r in answer.json()["rules"]}
        assert got == actions
    return check


ALL_MEMBER_TYPES: tuple[str, ...] = MemberType.__args__  # type: ignore[attr-defined]

CASES: dict[str, list[Step]] = {
    "put-creates": [
        Step("PUT", g("c1"), group("c1"), check=has(id="c1", path=f"{GROUPS}/c1")),
        Step("GET", g("c1"), check=has(display_name="c1", resource_type="Group"))],
    "patch-creates": [
        Step("PATCH", g("c2"), group("c2")),
        Step("GET", g("c2"), check=has(id="c2"))],
    "put-replaces-with-current-revision": [
        Step("PUT", g("c3"), group("c3", description="old")),
        Step("PUT", g("c3"), {**group("c3"), "_revision": 0},
             check=has(description="", _revision=1)),
        Step("PUT", g("c3"), {**group("c3", description="again"), "_revision": 1},
             check=has(description="again", _revision=2))],
    "put-stale-revision-is-412-and-changes-nothing": [
        Step("PUT", g("c4"), group("c4", description="kept")),
        Step("PUT", g("c4"), {**group("c4", description="lost"), "_revision": 7},
             status=412, code=500087),
        Step("GET", g("c4"), check=has(description="kept", _revision=0))],
    "put-without-revision-over-existing-is-412": [
        Step("PUT", g("c5"), group("c5")),
        Step("PUT", g("c5"), group("c5", description="x"), status=412, code=500087)],
    "patch-stale-revision-is-412": [
        Step("PATCH", g("c6"), group("c6")),
        Step("PATCH", g("c6"), {"description": "x", "_revision": 3}, status=412,
             code=500087)],
    "patch-merges-given-fields": [
        Step("PATCH", g("c7"), group("c7", description="kept")),
        Step("PATCH", g("c7"), {"display_name": "renamed"}),
        Step("GET", g("c7"), check=has(display_name="renamed", description="kept",
                                       _revision=1))],
    "patch-merges-rules-by-id": [
        Step("PUT", g("c8"), group("c8")),
        Step("PUT", p("c8"), policy(rule("r1"), rule("r2"))),
        Step("PATCH", p("c8"), {"rules": [rule("r2", action="DROP"), rule("r3")]}),
        Step("GET", p("c8"), check=rules_are(r1="ALLOW", r2="DROP", r3="ALLOW"))],
    "delete-removes-and-repeats": [
        Step("PUT", g("c9"), group("c9")),
        Step("DELETE", g("c9")),
        Step("GET", g("c9"), status=404),
        Step("DELETE", g("c9"))],
    "delete-of-a-group-in-use-is-refused": [
        Step("PUT", g("c10"), group("c10")),
        Step("PUT", p("c10"), policy(rule("r", source_groups=[f"{GROUPS}/c10"]))),
        Step("DELETE", g("c10"), status=400, code=255, check=related(500030)),
        Step("GET", g("c10"))],
    "rule-at-its-own-path": [
        Step("PUT", p("c11"), policy(rule("r1"))),
        Step("PUT", f"{p('c11')}/rules/r2", {"action": "DROP"},
             check=has(id="r2", action="DROP", direction="IN_OUT",
                       parent_path="/infra/domains/default/security-policies/c11")),
        Step("PATCH", f"{p('c11')}/rules/r1", {"action": "REJECT"}),
        Step("GET", p("c11"), check=rules_are(r1="REJECT", r2="DROP")),
        Step("DELETE", f"{p('c11')}/rules/r1"),
        Step("GET", f"{p('c11')}/rules/r1", status=404),
        Step("GET", p("c11"), check=rules_are(r2="DROP"))],
    "rule-of-a-missing-policy-is-404": [
        Step("PUT", f"{p('c12-none')}/rules/r", {"action": "DROP"}, status=404, code=600)],
    "services-named-by-rules": [
        Step("PUT", f"{POLICY}/infra/services/c13", {"service_entries": [
            {"resource_type": "L4PortSetServiceEntry", "id": "tcp-8080",
             "l4_protocol": "TCP", "destination_ports": ["8080"]}]},
            check=has(path="/infra/services/c13", resource_type="Service")),
        Step("PUT", p("c13"), policy(rule("r", services=["/infra/services/c13"]))),
        Step("DELETE", f"{POLICY}/infra/services/c13", status=400, check=related(500030)),
        Step("PUT", f"{POLICY}/infra/services/c13-empty", {"service_entries": []},
             status=400)],
    "read-back-bodies-with-system-fields-and-nulls": [
        Step("PUT", g("c14"), {**group("c14", description=None, path=f"{GROUPS}/c14",
                                       parent_path="/infra/domains/default"), **SYSTEM}),
        Step("PUT", p("c14"), {**policy({**rule("r", tag=None, notes="n", profiles=["ANY"],
                                                  **SYSTEM), "description": None},
                                        locked=False, comments=None), **SYSTEM}),
        Step("GET", p("c14"), check=rules_are(r="ALLOW"))],
    "missing-resource-type-is-the-url-kind": [
        Step("PUT", g("c15"), {"expression": []}, check=has(resource_type="Group"))],
    "rules-as-clients-send-them": [
        Step("PUT", p("c16"), policy(rule("r", scope=["ANY"], services=["ANY"],
                                          source_groups=["ANY"]))),
        Step("GET", f"{p('c16')}/rules/r",
             check=has(direction="IN_OUT", scope=["ANY"], services=["ANY"]))],
    "wrong-resource-type-and-id": [
        Step("PUT", g("c17"), {"resource_type": "SecurityPolicy", "id": "other"},
             status=400, code=255, check=related(255, 255)),
        Step("GET", g("c17"), status=404)],
    "garbage-fields-every-problem-listed": [
        Step("PUT", p("c18"), policy(rule("r", action="PERMIT", colour="red"),
                                     category="Nowhere", size=3),
             status=400, code=255, check=related(255, 255, 287, 287)),
        Step("GET", p("c18"), status=404)],
    "missing-fields": [
        Step("PUT", g("c19"), {"expression": [{"resource_type": "Condition",
                                               "member_type": "SegmentPort"}]},
             status=400, check=related(255))],
    "not-json-and-not-an-object": [
        Step("PUT", g("c20"), raw=b"{not json", status=400, code=255),
        Step("PUT", g("c20"), [1, 2], status=400, code=255),
        Step("GET", g("c20"), status=404)],
    "dangling-reference": [
        Step("PUT", p("c21"), policy(rule("r", destination_groups=[f"{GROUPS}/none"])),
             status=400, check=related(255))],
    "every-expression-kind": [
        Step("PUT", g("c22-target"), group("c22-target")),
        Step("PUT", g("c22"), {"expression": [
            {"resource_type": "Condition", "member_type": "Segment", "key": "Tag",
             "operator": "EQUALS", "value": "ncp/project|default"},
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
            {"resource_type": "NestedExpression", "expressions": [
                {"resource_type": "IPAddressExpression",
                 "ip_addresses": ["172.16.0.0/24", "10.0.0.1-10.0.0.9"]},
                {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
                {"resource_type": "PathExpression",
                 "paths": [f"{GROUPS}/c22-target"]}]},
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
            {"resource_type": "Condition", "member_type": "VirtualMachine",
             "key": "Name", "operator": "CONTAINS", "value": "web"}]})],
    "a-condition-on-every-member-type": [
        Step("PUT", g("c23"), {"expression": [
            item for n, kind in enumerate(ALL_MEMBER_TYPES) for item in (
                *([{"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}]
                  if n else []),
                {"resource_type": "Condition", "member_type": kind, "key": "Tag",
                 "operator": "EQUALS", "value": "app|web"})]},
            check=lambda a: _count_conditions(a, len(ALL_MEMBER_TYPES)))],
}


def _count_conditions(answer: httpx.Response, n: int) -> None:
    assert sum(e["resource_type"] == "Condition" for e in answer.json()["expression"]) == n


def run(http: httpx.Client, step: Step) -> httpx.Response:
    if step.raw is not None:
        return http.request(step.method, step.url, content=step.raw, headers=step.headers)
    if step.body is None and step.method in ("GET", "DELETE"):
        return http.request(step.method, step.url, headers=step.headers)
    return http.request(step.method, step.url, json=step.body, headers=step.headers)


def expect(answer: httpx.Response, step: Step) -> None:
    assert answer.status_code == step.status, (step.method, step.url, answer.text)
    assert answer.headers["content-type"] == "application/json"
    if step.code is not None:
        assert answer.json()["error_code"] == step.code, answer.text
    if step.status >= 400:
        assert set(answer.json()) >= {"httpStatus", "error_code", "error_message",
                                      "module_name"}
    if step.check is not None:
        step.check(answer)


@pytest.mark.parametrize("steps", list(CASES.values()), ids=list(CASES))
def test_write_case(guestbook_api: Served, steps: list[Step]) -> None:
    with guestbook_api.client() as http:
        for step in steps:
            expect(run(http, step), step)


PROTECTED = {
    "ncp-group": g(NCP_GROUP),
    "ncp-policy": p(NCP_POLICY),
    "ncp-rule": f"{p(NCP_POLICY)}/rules/{NCP_RULE}",
}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("url", list(PROTECTED.values()), ids=list(PROTECTED))
def test_ncp_objects_need_the_override_header(serve: Callable[..., Served], url: str,
                                              method: str) -> None:
    served = serve("guestbook", "--rate-limit", "0")
    with served.client() as http:
        before = http.get(url).json()
        assert before["_protection"] == "REQUIRE_OVERRIDE"
        body = {**before, "description": "changed by the admin"}
        state_before = http.get(f"{POLICY}/infra?filter=Type-Domain|Group|SecurityPolicy|Rule")
        refused = http.request(method, url, **({} if method == "DELETE" else {"json": body}))
        assert refused.status_code == 403
        assert refused.json()["error_code"] not in (403, 98)
        assert http.get(f"{POLICY}/infra?filter=Type-Domain|Group|SecurityPolicy|Rule"
                        ).content == state_before.content
        allowed = http.request(method, url, headers={"X-Allow-Overwrite": "true"},
                               **({} if method == "DELETE" else {"json": body}))
        if url == PROTECTED["ncp-group"] and method == "DELETE":
            # allowed past the protection, then refused as sdn delete refuses it
            assert allowed.status_code == 400 and "GROUP_IN_USE" in allowed.text
            return
        assert allowed.status_code == 200, allowed.text
        after = http.get(url)
        if method == "DELETE":
            assert after.status_code == 404
        else:
            assert after.json()["description"] == "changed by the admin"


WRITES = [(m, url) for url in (g("audit"), p("audit"), f"{p(NCP_POLICY)}/rules/audit",
                                f"{POLICY}/infra/services/audit", f"{POLICY}/infra")
          for m in ("PUT", "PATCH", "DELETE")
          if not (url.endswith("/infra") and m != "PATCH")]


@pytest.mark.parametrize(("method", "url"), WRITES,
                         ids=[f"{m}-{u.rsplit('/', 2)[-2]}" for m, u in WRITES])
def test_audit_user_is_refused_every_write(guestbook_api: Served, method: str,
                                           url: str) -> None:
    body = {"resource_type": "Infra", "children": []} if url.endswith("/infra") else \
        {"service_entries": [{"resource_type": "ICMPTypeServiceEntry"}]}
    with guestbook_api.client(AUDIT) as audit, guestbook_api.client() as admin:
        before = admin.get(f"{POLICY}/infra").content
        answer = audit.request(method, url, **({} if method == "DELETE" else {"json": body}))
        assert answer.status_code == 403
        assert answer.json()["error_code"] not in (403, 98)
        assert admin.get(f"{POLICY}/infra").content == before


def test_a_method_not_allowed_names_every_method_of_the_uri(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        group = http.post(g("any"), json={})
        segment = http.put(f"{POLICY}/infra/segments/any", json={})
        infra = http.delete(f"{POLICY}/infra")
    assert group.status_code == 405 and group.headers["allow"] == "GET, PUT, PATCH, DELETE"
    assert segment.status_code == 405 and segment.headers["allow"] == "GET"
    assert infra.status_code == 405 and infra.headers["allow"] == "GET, PATCH"


def test_a_put_answers_what_a_later_get_returns(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        http.put(p("answer"), json=policy(rule("r1")))
        for url, body in ((g("answer"), group("answer")),
                          (p("answer"), {**http.get(p("answer")).json(), "description": "d"}),
                          (f"{p('answer')}/rules/r2", rule("r2"))):
            put = http.put(url, json=body)
            assert put.status_code == 200, put.text
            assert put.json() == http.get(url).json()


def test_the_history_names_each_write_request(guestbook_api: Served) -> None:
    from sdn.store import Store, history

    with guestbook_api.client() as http:
        assert http.put(g("hist"), json=group("hist")).status_code == 200
        assert http.patch(f"{POLICY}/infra", json={"resource_type": "Infra", "children": [
            {"resource_type": "ChildDomain", "Domain": {
                "resource_type": "Domain", "id": "default", "children": [
                    {"resource_type": "ChildGroup", "Group": {
                        "id": "hist2", **group("hist2")}}]}}]}).status_code == 200
    with Store.open_readonly(guestbook_api.state) as store:
        commands = [r.command for r in history.revisions(store.history())][-2:]
    assert commands == [f"PUT {g('hist')}", f"PATCH {POLICY}/infra"]
