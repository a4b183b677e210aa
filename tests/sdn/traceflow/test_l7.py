"""Which pool an L7 virtual server picks (sdn.traceflow.l7): NSX's first-match order over
the virtual server's LB rules, each condition type, and what happens when none matches."""

from __future__ import annotations

import pytest

from sdn.model import Inventory, LBPool, LBVirtualServer
from sdn.model.lb import LBRule, LBRuleAction, LBRuleCondition
from sdn.traceflow.l7 import HttpRequest, choose_pool, is_l7

VIP = "10.40.15.34"


def _pool(name: str) -> LBPool:
    return LBPool(id=name, path=f"/infra/lb-pools/{name}", display_name=name)


def _host(value: str, match: str = "EQUALS") -> LBRuleCondition:
    return LBRuleCondition(type="LBHttpRequestHeaderCondition", header_name="Host",
                           header_value=value, match_type=match)


def _uri(value: str, match: str = "STARTS_WITH") -> LBRuleCondition:
    return LBRuleCondition(type="LBHttpRequestUriCondition", uri=value, match_type=match)


def _rule(pool: str, *conds: LBRuleCondition, strategy: str = "ALL") -> LBRule:
    return LBRule(display_name=pool, match_strategy=strategy, match_conditions=conds,
                  actions=(LBRuleAction(pool_id=f"/infra/lb-pools/{pool}"),))


def _inv(*rules: LBRule, default: str = "") -> tuple[Inventory, LBVirtualServer]:
    vs = LBVirtualServer(id="vs", path="/infra/lb-virtual-servers/vs", ip_address=VIP,
                         ports=("80",), lb_service_path="/infra/lb-services/lb",
                         pool_path=f"/infra/lb-pools/{default}" if default else "",
                         rules=rules)
    return Inventory([vs, *(_pool(n) for n in ("a", "b", "c", "fallback"))]), vs


@pytest.mark.parametrize(("rules", "request_", "expect"), [
    pytest.param([_rule("a", _uri("/")), _rule("b", _uri("/api"))], HttpRequest(None, "/api/x"),
                 (1, "a"), id="first-match-not-longest"),
    pytest.param([_rule("b", _uri("/api")), _rule("a", _uri("/"))], HttpRequest(None, "/api/x"),
                 (1, "b"), id="specific-first"),
    pytest.param([_rule("a", _host("x.example"), _uri("/"))], HttpRequest("X.Example", "/"),
                 (1, "a"), id="host-case-insensitive"),
    pytest.param([_rule("a", _host("x.example"), _uri("/"))], HttpRequest(None, "/"),
                 None, id="no-host-is-the-vip"),
    pytest.param([_rule("a", _host(VIP), _uri("/"))], HttpRequest(None, "/"),
                 (1, "a"), id="vip-as-host"),
    pytest.param([_rule("a", _uri("/API"))], HttpRequest(None, "/api"), None,
                 id="path-case-sensitive"),
    pytest.param([_rule("a", _uri("/exact", "EQUALS"))], HttpRequest(None, "/exact/more"),
                 None, id="equals"),
    pytest.param([_rule("a", _uri(".png", "ENDS_WITH"))], HttpRequest(None, "/i/x.png"),
                 (1, "a"), id="ends-with"),
    pytest.param([_rule("a", _uri("cart", "CONTAINS"))], HttpRequest(None, "/api/cart/1"),
                 (1, "a"), id="contains"),
    pytest.param([_rule("a", _uri(r"^/v[0-9]+/", "REGEX"))], HttpRequest(None, "/v2/users"),
                 (1, "a"), id="regex"),
    pytest.param([_rule("a", _uri("(", "REGEX")), _rule("b")], HttpRequest(None, "/"),
                 (2, "b"), id="bad-regex-never-matches"),
    pytest.param([_rule("a", _host("x.example"), _uri("/nope"), strategy="ANY")],
                 HttpRequest("x.example", "/"), (1, "a"), id="any-strategy"),
    pytest.param([_rule("c")], HttpRequest("whatever", "/z"), (1, "c"),
                 id="no-conditions-always-match"),
])
def test_choose_pool(rules: list[LBRule], request_: HttpRequest,
                     expect: tuple[int, str] | None) -> None:
    inv, vs = _inv(*rules)
    choice = choose_pool(inv, vs, request_)
    if expect is None:
        assert (choice.pool, choice.rule) == (None, None)
        assert "no LB rule matches" in choice.why
    else:
        assert choice.pool is not None
        assert (choice.rule, choice.pool.id) == expect


def test_no_match_goes_to_the_default_pool_when_there_is_one() -> None:
    inv, vs = _inv(_rule("a", _uri("/api")), default="fallback")
    choice = choose_pool(inv, vs, HttpRequest(None, "/"))
    assert choice.pool is not None and choice.pool.id == "fallback" and choice.rule is None
    assert not is_l7(vs.model_copy(update={"rules": ()}))
    assert is_l7(vs)


def test_a_rule_naming_a_missing_pool_serves_nothing() -> None:
    vs = _inv(_rule("gone", _uri("/")))[1]
    choice = choose_pool(Inventory([vs]), vs, HttpRequest(None, "/"))
    assert (choice.pool, choice.rule) == (None, 1)
    assert "names no existing pool" in choice.why
