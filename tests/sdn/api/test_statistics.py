"""Rule statistics through HTTP against ``sdn serve``: zero before any traceflow; after
traceflows, each rule that decided a step counts one hit and one packet of the request's
frame size per step, in NSX's shape."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.served import Served
from tests.support.traceflow_api import address, lport, tcp_packet

POLICIES = "/policy/api/v1/infra/domains/default/security-policies"
ALLOW = f"{POLICIES}/np_k8s-cluster_default_redis-allow-frontend_allow"
ISOLATION = f"{POLICIES}/np_k8s-cluster_default_redis-allow-frontend_isolation"
EP = "/infra/sites/default/enforcement-points/default"


def rule_stats(http: httpx.Client, policy: str, rule: str) -> dict[str, Any]:
    body = http.get(f"{policy}/rules/{rule}/statistics").json()
    assert body["result_count"] == 1
    (point,) = body["results"]
    assert point["enforcement_point"] == EP
    stats: dict[str, Any] = point["statistics"]
    return stats


def trace(http: httpx.Client, src: str, dst: str, frame_size: int) -> None:
    packet = {**tcp_packet(address(http, dst), 6379), "frame_size": frame_size}
    answer = http.post("/api/v1/traceflows", json={"lport_id": lport(http, src),
                                                   "packet": packet})
    assert answer.status_code == 201, answer.text


def test_hits_count_the_traceflows_each_rule_decided(serve: Any) -> None:
    served: Served = serve("guestbook", "--rate-limit", "0")
    with served.client() as http:
        before = rule_stats(http, ISOLATION, "ingress-isolation")
        for _ in range(3):
            trace(http, "redis-slave-0", "redis-master-0", 200)  # dropped by isolation
        trace(http, "frontend-0", "redis-master-0", 100)  # allowed by ingress-0
        isolation = rule_stats(http, ISOLATION, "ingress-isolation")
        allow = rule_stats(http, ALLOW, "ingress-0")
        rule = http.get(f"{ISOLATION}/rules/ingress-isolation").json()
        policy = http.get(f"{ISOLATION}/statistics").json()
    assert (before["hit_count"], before["packet_count"], before["byte_count"]) == (0, 0, 0)
    assert (isolation["hit_count"], isolation["packet_count"], isolation["byte_count"]) == \
        (3, 3, 600)
    assert (allow["hit_count"], allow["byte_count"]) == (1, 100)
    assert isolation["rule"] == rule["path"]
    assert isolation["internal_rule_id"] == str(rule["rule_id"])
    assert isolation["session_count"] == 0
    (point,) = policy["results"]
    assert point["enforcement_point"] == EP
    assert point["statistics"]["results"] == [isolation]
    assert point["statistics"]["result_count"] == 1


def test_statistics_of_unknown_policies_and_rules_are_404(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        for url in (f"{POLICIES}/no-such-policy/statistics",
                    f"{ALLOW}/rules/no-such-rule/statistics",
                    "/policy/api/v1/infra/domains/other/security-policies/x/statistics"):
            answer = http.get(url)
            assert answer.status_code == 404, url
            assert set(answer.json()) == {"httpStatus", "error_code", "error_message",
                                          "module_name"}
