"""The web page's JSON endpoints (``/ui/api/...``) and its files, through a real HTTP
client against ``sdn serve``: each answer checked against an independent source (the
Policy API's own lists, the CLI's ``-o json`` on the same state, the sample's manifests).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import sdn.cli
from tests.support.cli_runs import run_main
from tests.support.served import ADMIN, AUDIT, Served

DEFAULT_T1 = "/infra/tier-1s/t1_k8s-cluster_default"
ISOLATION_RULE = ("/infra/domains/default/security-policies/"
                  "np_k8s-cluster_default_redis-allow-frontend_isolation/rules/ingress-isolation")
GUESTBOOK_PODS = ["default/frontend-0", "default/frontend-1", "default/frontend-2",
                  "default/redis-master-0", "default/redis-slave-0", "default/redis-slave-1"]
ENDPOINTS = ["/ui/api/session", "/ui/api/topology", "/ui/api/ipam", "/ui/api/dfw",
             "/ui/api/pods",
             "/ui/api/traceflow?src=default/frontend-0&dst=default/redis-master-0"]


def _all(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    """Every member of a Policy API list, cursor after cursor."""
    out: list[dict[str, Any]] = []
    params: dict[str, str] = {}
    while True:
        page = client.get(url, params=params).json()
        out += page["results"]
        if "cursor" not in page:
            return out
        params = {"cursor": page["cursor"]}


def _cli_json(served: Served, *argv: str) -> Any:
    code, out, err = run_main(sdn.cli.main, *argv, "--state", served.state, "-o", "json")
    assert code == 0, err
    return json.loads(out)


def _expected_tree(client: httpx.Client) -> dict[str, dict[str, list[str]]]:
    """gateway path -> segment path -> its port paths, from the Policy API's lists."""
    tree: dict[str, dict[str, list[str]]] = {}
    for seg in _all(client, "/policy/api/v1/infra/segments"):
        if seg.get("connectivity_path"):
            ports = _all(client, f"/policy/api/v1{seg['path']}/ports")
            tree.setdefault(seg["connectivity_path"], {})[seg["path"]] = sorted(
                p["path"] for p in ports)
    return tree


def _gateways(topology: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for t0 in topology["tier0s"] for g in (t0, *t0["tier1s"])]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_ui_endpoint_needs_a_user(guestbook_api: Served, endpoint: str) -> None:
    with guestbook_api.client(None) as client:
        answer = client.get(endpoint)
    assert answer.status_code == 403
    assert answer.json()["error_code"] == 403


@pytest.mark.parametrize(("user", "writer"), [(ADMIN, True), (AUDIT, False)],
                         ids=["admin", "audit"])
def test_session_says_who_and_whether_they_write(guestbook_api: Served, user: tuple[str, str],
                                                 writer: bool) -> None:
    with guestbook_api.client(user) as client:
        assert client.get("/ui/api/session").json() == {"user": user[0], "writer": writer}


def test_a_session_cookie_reads_the_ui_endpoints(guestbook_api: Served) -> None:
    with guestbook_api.client(None) as client:
        login = client.post("/api/session/create",
                            data={"j_username": AUDIT[0], "j_password": AUDIT[1]})
        assert login.status_code == 200
        assert client.get("/ui/api/session").json() == {"user": "audit", "writer": False}
        client.post("/api/session/destroy")
        assert client.get("/ui/api/session").status_code == 403


@pytest.mark.parametrize(("path", "media"), [
    ("/", "text/html"), ("/ui/static/app.js", "text/javascript"),
    ("/ui/static/topology.js", "text/javascript"), ("/ui/static/style.css", "text/css")],
    ids=["page", "app", "topology", "style"])
def test_the_page_and_its_assets_are_served_without_sign_in(guestbook_api: Served, path: str,
                                                           media: str) -> None:
    with guestbook_api.client(None) as client:
        answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media)
    assert answer.content


def test_the_page_loads_nothing_from_the_internet(guestbook_api: Served) -> None:
    with guestbook_api.client(None) as client:
        page = client.get("/").text
        scripts = [client.get(f"/ui/static/{name}").text for name in ("app.js", "api.js")]
    for text in (page, *scripts):
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text


def test_an_unknown_asset_is_nsx_404(guestbook_api: Served) -> None:
    with guestbook_api.client(None) as client:
        answer = client.get("/ui/static/secrets.txt")
    assert answer.status_code == 404
    assert answer.json()["error_code"] == 600


def test_small_topology_is_drawn_whole(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        tree = client.get("/ui/api/topology").json()
        expected = _expected_tree(client)
    assert tree["collapsed"] is False
    drawn = {g["path"]: {s["path"]: sorted(p["path"] for p in s["ports"]) for s in g["segments"]}
             for g in _gateways(tree) if g["segments"]}
    assert drawn == expected
    assert tree["segment_count"] == sum(len(s) for s in expected.values())
    assert all(g["expanded"] for g in _gateways(tree))


def test_collapsed_topology_counts_and_expands_one_tier1(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        collapsed = client.get("/ui/api/topology", params={"collapse": "all"}).json()
        opened = client.get("/ui/api/topology",
                            params={"collapse": "all", "expand": DEFAULT_T1}).json()
        expected = _expected_tree(client)
    assert collapsed["collapsed"] is True
    for g in _gateways(collapsed):
        segments = expected.get(g["path"], {})
        assert g["segments"] == [] and g["expanded"] is False
        assert g["counts"]["segments"] == len(segments)
        assert g["counts"]["ports"] == sum(len(p) for p in segments.values())
    shown = {g["path"]: g for g in _gateways(opened) if g["expanded"]}
    assert list(shown) == [DEFAULT_T1]
    assert {s["path"]: sorted(p["path"] for p in s["ports"])
            for s in shown[DEFAULT_T1]["segments"]} == expected[DEFAULT_T1]


def test_a_bad_collapse_value_is_nsx_400(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        answer = client.get("/ui/api/topology", params={"collapse": "sideways"})
    assert answer.status_code == 400
    assert set(answer.json()) == {"httpStatus", "error_code", "error_message", "module_name"}


def test_ipam_is_sdn_ipam_json(multi_api: Served) -> None:
    with multi_api.client(AUDIT) as client:
        shown = client.get("/ui/api/ipam").json()
    assert shown == _cli_json(multi_api, "ipam", "--show-blocks")


@pytest.mark.parametrize(("src", "dst", "port", "disposition"), [
    ("default/redis-slave-0", "default/redis-master-0", "6379", "DROPPED"),
    ("default/frontend-0", "default/redis-master-0", "6379", "DELIVERED"),
    ("default/frontend-0", "svc:default/redis-master", None, "DELIVERED"),
    ("default/frontend-0", "8.8.8.8", "443", "EXITS_NETWORK"),
], ids=["dropped", "delivered", "service", "outside"])
def test_traceflow_is_sdn_traceflow_json(guestbook_api: Served, src: str, dst: str,
                                         port: str | None, disposition: str) -> None:
    params = {"src": src, "dst": dst, "protocol": "TCP", **({"port": port} if port else {})}
    with guestbook_api.client(AUDIT) as client:
        answer = client.get("/ui/api/traceflow", params=params).json()
    argv = ["traceflow", "--src", src, "--dst", dst, "--protocol", "TCP"]
    assert answer["trace"] == _cli_json(guestbook_api, *argv, *(["--dport", port] if port else []))
    trace = answer["trace"]
    assert trace["disposition"] == disposition
    assert len(answer["nodes"]) == len(trace["observations"])
    # every node named is on the path, the path starts at the source's port
    assert answer["path"][0] == trace["source_id"]
    assert {n for n in answer["nodes"] if n} <= set(answer["path"]) | {
        o.get("component_path") for o in trace["observations"]}


def test_dropped_traceflow_names_the_isolation_rule_and_its_gateway(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        answer = client.get("/ui/api/traceflow", params={
            "src": "default/redis-slave-0", "dst": "default/redis-master-0",
            "port": "6379"}).json()
        rule = client.get(f"/policy/api/v1{ISOLATION_RULE}").json()
    last = answer["trace"]["observations"][-1]
    assert last["resource_type"] == "TraceflowObservationDroppedLogical"
    assert (last["acl_rule_id"], last["acl_rule_path"]) == (rule["rule_id"], ISOLATION_RULE)
    assert answer["nodes"][-1] == last["segment_port_path"]
    assert answer["gateways"] == [DEFAULT_T1]


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"src": "default/nope", "dst": "default/redis-master-0"}, 404, "UNKNOWN_POD"),
    ({"src": "default/frontend-0", "dst": "svc:default/nope"}, 404, "UNKNOWN_SERVICE"),
    ({"src": "default/frontend-0", "dst": "default/redis-master-0", "port": "70000"}, 400,
     "INVALID_PACKET"),
], ids=["unknown-pod", "unknown-service", "port-out-of-range"])
def test_a_refused_traceflow_is_an_nsx_error_naming_the_code(
        guestbook_api: Served, params: dict[str, str], status: int, code: str) -> None:
    with guestbook_api.client(AUDIT) as client:
        answer = client.get("/ui/api/traceflow", params=params)
    assert answer.status_code == status
    assert answer.json()["error_message"].startswith(code)


def test_pods_are_the_samples_pods(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        assert client.get("/ui/api/pods").json() == GUESTBOOK_PODS


def _rule_paths(dfw: dict[str, Any]) -> list[str]:
    return [r["path"] for c in dfw["categories"] for p in c["policies"] for r in p["rules"]]


def test_dfw_is_in_nsx_order(multi_api: Served) -> None:
    with multi_api.client(AUDIT) as client:
        dfw = client.get("/ui/api/dfw").json()
        policies = _all(client, "/policy/api/v1/infra/domains/default/security-policies")
    order = ["Ethernet", "Emergency", "Infrastructure", "Environment", "Application"]
    assert [c["category"] for c in dfw["categories"]] == order
    expected = sorted(policies, key=lambda p: (order.index(p["category"]),
                                               p["sequence_number"], p["path"]))
    assert [p["path"] for c in dfw["categories"] for p in c["policies"]] \
        == [p["path"] for p in expected]
    for c in dfw["categories"]:
        for p in c["policies"]:
            seqs = [(r["sequence_number"], r["path"]) for r in p["rules"]]
            assert seqs == sorted(seqs)
    assert dfw["rule_count"] == len(_rule_paths(dfw))
    assert dfw["default_rule"]["rule_id"] == 2


def test_dfw_pod_search_lists_the_rules_enforced_at_the_pod(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        master = client.get("/ui/api/dfw", params={"pod": "default/redis-master-0"}).json()
        frontend = client.get("/ui/api/dfw", params={"pod": "default/frontend-0"}).json()
    assert ISOLATION_RULE in _rule_paths(master)
    assert ISOLATION_RULE not in _rule_paths(frontend)  # frontends are not isolated
    marks = {r["path"]: r["matches"] for c in master["categories"] for p in c["policies"]
             for r in p["rules"]}
    assert all(m[0] == "applied" for m in marks.values())


def test_dfw_group_search_finds_the_rules_naming_the_group(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        everything = client.get("/ui/api/dfw").json()
        found = client.get("/ui/api/dfw", params={"group": "REDIS-allow-frontend_in0"}).json()
        none = client.get("/ui/api/dfw", params={"group": "no-such-group"}).json()
    expected = [r["path"] for c in everything["categories"] for p in c["policies"]
                for r in p["rules"]
                if any("redis-allow-frontend_in0" in g for g in r["source_groups"])]
    assert expected and _rule_paths(found) == expected
    assert all("source" in r["matches"] for c in found["categories"] for p in c["policies"]
               for r in p["rules"])
    assert _rule_paths(none) == [] and none["rule_count"] == 0


def test_dfw_search_for_an_unknown_pod_is_404(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as client:
        answer = client.get("/ui/api/dfw", params={"pod": "default/nope"})
    assert answer.status_code == 404
    assert answer.json()["error_message"].startswith("UNKNOWN_POD")
