"""Rule statistics, as NSX's Policy API answers them:
``/infra/domains/{domain}/security-policies/{id}/statistics`` (every rule of the policy)
and ``.../rules/{id}/statistics`` (one rule), one result per enforcement point.

Where the counts come from (our choice, named): the traceflows this server ran. Each
DFW observation of a walk that names a rule (``acl_rule_path``: the rule that allowed
or dropped the packet, at the source's egress and the destination's ingress) is one hit
and one packet of the request's ``frame_size`` bytes on that rule. ``sdn verify`` runs
and replayed flows happen in other processes and leave nothing in the state, so they are
not counted: counting them would mean a store of their own, which this API does not
have. Traceflow packets never open a connection (NSX marks and consumes them), so the
session counts stay 0; the popularity indexes too. Counts live in the server's memory
with its traceflows (a restart starts again from 0) and are not undone when a traceflow
is deleted, as NSX's counters are not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response

from sdn.api.auth import Reader
from sdn.api.errors import not_found
from sdn.api.policy_reads import json_response, view
from sdn.api.stateview import encode
from sdn.traceflow import Trace

#: The one enforcement point this manager has (NSX's default site's).
ENFORCEMENT_POINT = "/infra/sites/default/enforcement-points/default"
_POLICIES = "/policy/api/v1/infra/domains/{domain}/security-policies/{policy_id}"


@dataclass
class RuleHits:
    """Hits, packets and bytes per rule path."""

    hits: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)

    def count(self, trace: Trace, frame_size: int) -> None:
        """Count every rule that decided a step of ``trace``."""
        for obs in trace.observations:
            if obs.component_type == "DFW" and obs.acl_rule_path:
                self.hits[obs.acl_rule_path] += 1
                self.bytes[obs.acl_rule_path] += frame_size

    def statistics(self, rule: dict[str, Any]) -> dict[str, Any]:
        """NSX's ``RuleStatistics`` of one rule's document."""
        path = str(rule["path"])
        hits = self.hits[path]
        return {"rule": path, "internal_rule_id": str(rule.get("rule_id", "")),
                "hit_count": hits, "packet_count": hits, "byte_count": self.bytes[path],
                "session_count": 0, "total_session_count": 0, "max_session_count": 0,
                "popularity_index": 0, "max_popularity_index": 0}


def _hits(request: Request) -> RuleHits:
    found: RuleHits = request.app.state.traceflows.hits
    return found


def _policy(request: Request, domain: str, policy_id: str) -> tuple[str, list[dict[str, Any]]]:
    path = f"/infra/domains/{domain}/security-policies/{policy_id}"
    snapshot = view(request)
    doc = snapshot.docs.get(path)
    if doc is None or doc.get("resource_type") != "SecurityPolicy":
        raise not_found(path)
    rules = [snapshot.docs[p] for p in snapshot.members.get(path + "/rules", [])]
    return path, rules


async def policy_statistics(request: Request, _user: Reader, domain: str, policy_id: str
                            ) -> Response:
    """Every rule's statistics of one security policy (NSX's
    ``SecurityPolicyStatisticsListResult``)."""
    _, rules = _policy(request, domain, policy_id)
    hits = _hits(request)
    stats = [hits.statistics(r) for r in sorted(rules, key=_order)]
    result = {"enforcement_point": ENFORCEMENT_POINT,
              "statistics": {"results": stats, "result_count": len(stats)}}
    return json_response(encode({"results": [result], "result_count": 1}))


async def rule_statistics(request: Request, _user: Reader, domain: str, policy_id: str,
                          rule_id: str) -> Response:
    """One rule's statistics (NSX's ``RuleStatisticsListResult``)."""
    path, rules = _policy(request, domain, policy_id)
    rule = next((r for r in rules if r.get("id") == rule_id), None)
    if rule is None:
        raise not_found(f"{path}/rules/{rule_id}")
    result = {"enforcement_point": ENFORCEMENT_POINT,
              "statistics": _hits(request).statistics(rule)}
    return json_response(encode({"results": [result], "result_count": 1}))


def _order(rule: dict[str, Any]) -> tuple[int, str]:
    return int(rule.get("sequence_number") or 0), str(rule["path"])


def build_router() -> APIRouter:
    """The two statistics routes."""
    router = APIRouter(tags=["statistics"])
    router.add_api_route(_POLICIES + "/statistics", policy_statistics, methods=["GET"])
    router.add_api_route(_POLICIES + "/rules/{rule_id}/statistics", rule_statistics,
                         methods=["GET"])
    return router


__all__ = ["ENFORCEMENT_POINT", "RuleHits", "build_router"]
