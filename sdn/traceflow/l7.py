"""Which pool an L7 (Ingress) virtual server picks for one HTTP request.

NSX evaluates a virtual server's LB rules of the ``HTTP_FORWARDING`` phase in the order
the virtual server lists them; the first rule whose conditions match (all of them, or any
with ``match_strategy: ANY``) selects its pool and ends the evaluation. A request no rule
matches goes to the virtual server's own pool (``pool_path``); an Ingress virtual server
has none, so the load balancer answers it itself (HTTP 503) and no backend sees it: the
trace drops with reason ``LB``.

NCP lists the rules in Ingress creation order, and within an Ingress in the order of its
``rules`` and ``paths`` (``ncp/translate/ingress.py``), so an earlier ``/`` prefix rule
takes ``/api/cart`` before a later ``/api/cart`` rule does: NSX's order, not Kubernetes'
longest-match (the same pitfall as NCP's documented creation-order precedence).

Conditions: the ``Host`` header matches case-insensitively (host names are); the URI
matches case-sensitively on the path (``EQUALS``, ``STARTS_WITH``, ``CONTAINS``,
``ENDS_WITH``, and ``REGEX`` searched anywhere in the path, as NSX's PCRE conditions are
unanchored). A request without ``--http-host`` carries the VIP itself as its Host (what
``curl http://VIP/`` sends), so only rules without a host condition can match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sdn.model import Inventory, LBPool, LBVirtualServer
from sdn.model.lb import LBRule, LBRuleCondition


@dataclass(frozen=True)
class HttpRequest:
    """The L7 part of a traced request: the Host header (None: the VIP) and the path."""

    host: str | None = None
    path: str = "/"


@dataclass(frozen=True)
class PoolChoice:
    """The pool a virtual server sends one request to, and why.

    ``rule`` is the 1-based position of the matching LB rule (None: no rule decided);
    ``pool`` is None when nothing serves the request (``why`` says so).
    """

    pool: LBPool | None
    rule: int | None = None
    rule_name: str = ""
    why: str = ""


def is_l7(vs: LBVirtualServer) -> bool:
    """Whether the virtual server routes by LB rules (an Ingress virtual server)."""
    return bool(vs.rules) or not vs.pool_path


def _condition(c: LBRuleCondition, host: str, path: str) -> bool:
    if c.type == "LBHttpRequestHeaderCondition":
        if (c.header_name or "").lower() != "host":
            return False  # other headers are not part of a traced request
        subject, wanted = host.lower(), (c.header_value or "").lower()
    else:
        subject, wanted = path, c.uri or ""
    if c.match_type == "EQUALS":
        return subject == wanted
    if c.match_type == "STARTS_WITH":
        return subject.startswith(wanted)
    if c.match_type == "ENDS_WITH":
        return subject.endswith(wanted)
    if c.match_type == "CONTAINS":
        return wanted in subject
    try:
        return re.search(wanted, subject) is not None
    except re.error:
        return False  # NSX refuses such a rule; here it simply never matches


def _matches(rule: LBRule, host: str, path: str) -> bool:
    if not rule.match_conditions:
        return True
    hits = (_condition(c, host, path) for c in rule.match_conditions)
    return any(hits) if rule.match_strategy == "ANY" else all(hits)


def choose_pool(inv: Inventory, vs: LBVirtualServer, request: HttpRequest) -> PoolChoice:
    """The pool ``vs`` selects for ``request`` (module docstring)."""
    host = request.host if request.host is not None else str(vs.ip_address)
    for number, rule in enumerate(vs.rules, start=1):
        if rule.phase != "HTTP_FORWARDING" or not _matches(rule, host, request.path):
            continue
        for action in rule.actions:
            found = inv.get(action.pool_id)
            if isinstance(found, LBPool):
                return PoolChoice(found, number, rule.display_name)
        return PoolChoice(None, number, rule.display_name,
                          f"LB rule {number} ({rule.display_name}) names no existing pool")
    default = inv.get(vs.pool_path) if vs.pool_path else None
    if isinstance(default, LBPool):
        return PoolChoice(default, None, "", "no LB rule matched: the default pool")
    shown = request.host if request.host is not None else "(the VIP)"
    return PoolChoice(None, None, "", f"no LB rule matches host {shown} path "
                                      f"{request.path} and the virtual server has no "
                                      "default pool (the LB answers 503)")
