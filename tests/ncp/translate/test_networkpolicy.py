"""Tests for NetworkPolicy → NSX DFW translation (ncp.translate.networkpolicy).

The expected values are the NSX JSON the objects print as (``to_api``), because ``sdn``'s
evaluator and users' scripts read exactly that. A last group of tests runs the translation
through ``sdn.policy`` to check that the objects *mean* what the NetworkPolicy says.
"""

from __future__ import annotations

import json
import random
import zlib
from ipaddress import IPv4Address
from typing import Any

import pytest
import yaml

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.networkpolicy import translate_network_policies
from ncp.translate.policyinputs import NamespaceInfo, PodInfo, PolicyTranslation
from sdn.model import (
    AddressBinding,
    Inventory,
    Rule,
    Segment,
    SegmentPort,
    port_path,
    segment_path,
)
from sdn.policy import compile_dfw, evaluate_flow

CLUSTER = "k8s"
DOMAIN = "/infra/domains/default"


# --------------------------------------------------------------------------- helpers


def obj(text: str, source: str = "np.yaml#0") -> K8sObject:
    """A K8sObject from inline YAML, as read_manifests would build it."""
    body = yaml.safe_load(text)
    body.setdefault("apiVersion", "networking.k8s.io/v1")
    body.setdefault("kind", "NetworkPolicy")
    meta = body.setdefault("metadata", {})
    meta.setdefault("namespace", "shop")
    return K8sObject(body["kind"], body["apiVersion"], meta["namespace"], meta["name"], body,
                     source)


def pod(ns: str, name: str, ip: str, labels: dict[str, str],
        *ports: tuple[str, str, int]) -> PodInfo:
    return PodInfo(ns, name, port_path(f"seg_{CLUSTER}_{ns}", name), ip, labels, tuple(ports))


PODS = (
    pod("shop", "web-0", "10.4.0.2", {"app": "web"}, ("http", "TCP", 8080)),
    pod("shop", "web-1", "10.4.0.3", {"app": "web"}, ("http", "TCP", 80)),
    pod("shop", "web-2", "10.4.0.4", {"app": "web"}, ("http", "TCP", 8080), ("", "TCP", 9000)),
    pod("shop", "db-0", "10.4.0.5", {"app": "db"}, ("pg", "TCP", 5432)),
    pod("ops", "mon-0", "10.4.1.2", {"app": "mon"}, ("http", "TCP", 8080),
        ("metrics", "TCP", 9090)),
    pod("kube-system", "dns-0", "10.4.2.2", {"app": "dns"}, ("dns", "UDP", 53)),
    pod("kube-system", "dns-1", "10.4.2.3", {"app": "dns"}, ("dns", "TCP", 53)),
)
NAMESPACES = (
    NamespaceInfo("shop", {"team": "a"}),
    NamespaceInfo("ops", {"team": "ops"}),
    NamespaceInfo("kube-system", {}),
)


def translate(*texts: str, pods: tuple[PodInfo, ...] = PODS) -> PolicyTranslation:
    return translate_network_policies([obj(t) for t in texts], cluster=CLUSTER, pods=pods,
                                      namespaces=NAMESPACES)


def gp(group_id: str) -> str:
    return f"{DOMAIN}/groups/{group_id}"


def cond(value: str, member: str = "SegmentPort", op: str = "EQUALS",
         scope_op: str = "EQUALS") -> dict[str, Any]:
    return {"resource_type": "Condition", "member_type": member, "key": "Tag", "operator": op,
            "scope_operator": scope_op, "value": value}


AND = {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"}
CLUSTER_COND = cond(f"ncp/cluster|{CLUSTER}")


def and_(*criteria: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, c in enumerate(criteria):
        out += [AND, c] if n else [c]
    return out


def in_ns(ns: str, *criteria: dict[str, Any]) -> list[dict[str, Any]]:
    """Pods of namespace ``ns`` matching ``criteria``."""
    return and_(CLUSTER_COND, cond(f"ncp/project|{ns}"), *criteria)


def ips(*cidrs: str) -> list[dict[str, Any]]:
    return [{"resource_type": "IPAddressExpression", "ip_addresses": list(cidrs)}]


def paths(*pods: str) -> list[dict[str, Any]]:
    return [{"resource_type": "PathExpression",
             "paths": [port_path(f"seg_{CLUSTER}_{p.split('/')[0]}", p.split("/")[1])
                       for p in pods]}]


def expressions(t: PolicyTranslation) -> dict[str, Any]:
    return {g.id: g.to_api()["expression"] for g in t.groups}


def rule_view(rule: Rule) -> tuple[Any, ...]:
    """The parts of a rule that carry meaning, compactly."""
    api = rule.to_api()
    entries = [(e["l4_protocol"], *e["destination_ports"]) for e in api["service_entries"]]
    return (api["id"], api["sequence_number"], api["direction"], api["action"],
            api["source_groups"], api["destination_groups"], api["services"], entries)


def rules(t: PolicyTranslation, suffix: str) -> list[tuple[Any, ...]]:
    (policy,) = [p for p in t.policies if p.id.endswith(suffix)]
    return [rule_view(r) for r in policy.rules]


ANY = ["ANY"]


# --------------------------------------------------------------------------- exact JSON


def test_deny_all_ingress_exact_json() -> None:
    t = translate("""
metadata: {name: deny-all}
spec: {podSelector: {}}
""")
    assert t.problems == ()
    tags = [{"scope": "ncp/version", "tag": naming.NCP_VERSION},
            {"scope": "ncp/cluster", "tag": CLUSTER},
            {"scope": "ncp/project", "tag": "shop"},
            {"scope": "ncp/network_policy", "tag": "deny-all"}]
    target = "np_k8s_shop_deny-all_target"
    assert [g.to_api() for g in t.groups] == [{
        "resource_type": "Group", "id": target, "display_name": target, "description": "",
        "path": gp(target), "parent_path": DOMAIN, "tags": tags,
        "expression": in_ns("shop"),
    }]
    allow, isolation = (p.to_api() for p in t.policies)
    assert allow == {
        "resource_type": "SecurityPolicy", "id": "np_k8s_shop_deny-all_allow",
        "display_name": "np_k8s_shop_deny-all_allow", "description": "",
        "path": f"{DOMAIN}/security-policies/np_k8s_shop_deny-all_allow",
        "parent_path": DOMAIN, "tags": tags, "category": "Application",
        "sequence_number": 2010, "scope": [gp(target)], "stateful": True, "tcp_strict": False,
        "rules": [],
    }
    policy_path = f"{DOMAIN}/security-policies/np_k8s_shop_deny-all_isolation"
    rule_path = f"{policy_path}/rules/ingress-isolation"
    assert isolation == {
        "resource_type": "SecurityPolicy", "id": "np_k8s_shop_deny-all_isolation",
        "display_name": "np_k8s_shop_deny-all_isolation", "description": "",
        "path": policy_path, "parent_path": DOMAIN, "tags": tags, "category": "Application",
        "sequence_number": 2090, "scope": [gp(target)], "stateful": True, "tcp_strict": False,
        "rules": [{
            "resource_type": "Rule", "id": "ingress-isolation",
            "display_name": "ingress-isolation", "description": "", "path": rule_path,
            "parent_path": policy_path, "tags": tags, "sequence_number": 10,
            "rule_id": zlib.crc32(rule_path.encode()) & 0x7FFFFFFF,
            "source_groups": ANY, "destination_groups": ANY, "sources_excluded": False,
            "destinations_excluded": False, "services": ANY, "service_entries": [],
            "scope": [gp(target)], "action": "DROP", "direction": "IN",
            "ip_protocol": "IPV4_IPV6", "disabled": False, "logged": False,
        }],
    }


def test_rule_with_ports_exact_json() -> None:
    t = translate("""
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8000, endPort: 8080}]
""")
    (rule,) = t.policies[0].rules
    api = rule.to_api()
    assert (api["services"], api["service_entries"], api["scope"]) == (
        [],
        [{"resource_type": "L4PortSetServiceEntry", "id": "", "l4_protocol": "TCP",
          "destination_ports": ["8000-8080"], "source_ports": []}],
        [gp("np_k8s_shop_web_target")],
    )


# --------------------------------------------------------------------------- shapes

P = "np_k8s_shop_p"
TARGET_WEB = in_ns("shop", cond("app|web"))


@pytest.mark.parametrize(
    ("text", "groups", "allow"),
    [
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]
""",
            {f"{P}_target": TARGET_WEB,
             f"{P}_in0_peer0": and_(CLUSTER_COND, cond("team|ops", "Segment"))},
            [("ingress-0", 10, "IN", "ALLOW", [gp(f"{P}_in0_peer0")], ANY, ANY, [])],
            id="allow-from-namespace"),
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {}}]
""",
            {f"{P}_target": TARGET_WEB, f"{P}_in0_peer0": [CLUSTER_COND]},
            [("ingress-0", 10, "IN", "ALLOW", [gp(f"{P}_in0_peer0")], ANY, ANY, [])],
            id="allow-from-every-namespace"),
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
      podSelector: {matchLabels: {app: mon}}
""",
            {f"{P}_target": TARGET_WEB,
             f"{P}_in0_peer0": and_(CLUSTER_COND, cond("team|ops", "Segment"),
                                    cond("app|mon"))},
            [("ingress-0", 10, "IN", "ALLOW", [gp(f"{P}_in0_peer0")], ANY, ANY, [])],
            id="namespace-and-pod-in-one-peer"),
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
    - podSelector: {matchLabels: {app: mon}}
""",
            {f"{P}_target": TARGET_WEB,
             f"{P}_in0_peer0": and_(CLUSTER_COND, cond("team|ops", "Segment")),
             f"{P}_in0_peer1": in_ns("shop", cond("app|mon"))},
            [("ingress-0", 10, "IN", "ALLOW", [gp(f"{P}_in0_peer0"), gp(f"{P}_in0_peer1")],
              ANY, ANY, [])],
            id="namespace-or-pod-two-peers"),
        pytest.param(
            """
spec:
  podSelector:
    matchLabels: {tier: fe, app: web}
    matchExpressions:
    - {key: env, operator: In, values: [prod, stage]}
    - {key: track, operator: NotIn, values: [canary]}
    - {key: owner, operator: Exists}
    - {key: legacy, operator: DoesNotExist}
""",
            {f"{P}_target": in_ns("shop", cond("app|web"), cond("tier|fe"),
                                  cond("env|prod,stage", op="IN"),
                                  cond("track|canary", op="NOTIN"), cond("owner|"),
                                  cond("legacy|", scope_op="NOTEQUALS"))},
            [],
            id="every-selector-operator"),
        pytest.param(
            """
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24, 10.0.128.0/17]}}]
""",
            {f"{P}_target": in_ns("shop"),
             f"{P}_in0_peer0": ips("10.0.0.0/24", "10.0.2.0/23", "10.0.4.0/22", "10.0.8.0/21",
                                   "10.0.16.0/20", "10.0.32.0/19", "10.0.64.0/18")},
            [("ingress-0", 10, "IN", "ALLOW", [gp(f"{P}_in0_peer0")], ANY, ANY, [])],
            id="ipblock-with-except-decomposed"),
        pytest.param(
            """
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
  - to: [{ipBlock: {cidr: 192.168.7.9/24}}]
""",
            {f"{P}_target": in_ns("shop"),
             f"{P}_eg0_peer0": ips("0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6",
                                   "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2", "128.0.0.0/1"),
             f"{P}_eg1_peer0": ips("192.168.7.0/24")},
            [("egress-0", 10, "OUT", "ALLOW", ANY, [gp(f"{P}_eg0_peer0")], ANY, []),
             ("egress-1", 20, "OUT", "ALLOW", ANY, [gp(f"{P}_eg1_peer0")], ANY, [])],
            id="egress-ipblock-outside-cluster"),
        pytest.param(
            """
spec:
  podSelector: {}
  ingress:
  - ports:
    - {port: 8000, endPort: 8080}
    - {protocol: UDP, port: 53}
    - {protocol: SCTP}
    - {port: 443, endPort: 443}
    - {port: 8000, endPort: 8080}
""",
            {f"{P}_target": in_ns("shop")},
            [("ingress-0", 10, "IN", "ALLOW", ANY, ANY, [],
              [("TCP", "8000-8080"), ("UDP", "53"), ("SCTP",), ("TCP", "443")])],
            id="ports-endport-protocols-deduplicated"),
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: mon}}}]
    ports: [{port: http}]
""",
            {f"{P}_target": TARGET_WEB, f"{P}_in0_peer0": in_ns("shop", cond("app|mon")),
             f"{P}_in0_port80": paths("shop/web-1"),
             f"{P}_in0_port8080": paths("shop/web-0", "shop/web-2")},
            [("ingress-0-80", 10, "IN", "ALLOW", [gp(f"{P}_in0_peer0")],
              [gp(f"{P}_in0_port80")], [], [("TCP", "80")]),
             ("ingress-0-8080", 20, "IN", "ALLOW", [gp(f"{P}_in0_peer0")],
              [gp(f"{P}_in0_port8080")], [], [("TCP", "8080")])],
            id="named-port-two-numbers-narrowed-destinations"),
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: http}, {port: 443}, {port: nope}]
""",
            {f"{P}_target": TARGET_WEB, f"{P}_in0_port80": paths("shop/web-1"),
             f"{P}_in0_port8080": paths("shop/web-0", "shop/web-2")},
            [("ingress-0", 10, "IN", "ALLOW", ANY, ANY, [], [("TCP", "443")]),
             ("ingress-0-80", 20, "IN", "ALLOW", ANY, [gp(f"{P}_in0_port80")], [],
              [("TCP", "80")]),
             ("ingress-0-8080", 30, "IN", "ALLOW", ANY, [gp(f"{P}_in0_port8080")], [],
              [("TCP", "8080")])],
            id="named-and-numbered-ports-unresolved-name-dropped"),
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - ports: [{port: http}]
  - from: [{podSelector: {}}]
""",
            {f"{P}_target": in_ns("shop", cond("app|db")),
             f"{P}_in1_peer0": in_ns("shop")},
            [("ingress-1", 10, "IN", "ALLOW", [gp(f"{P}_in1_peer0")], ANY, ANY, [])],
            id="named-port-resolving-to-nothing-no-rule"),
        pytest.param(
            """
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: ops}}}]
    ports: [{port: http}]
  - ports: [{port: dns, protocol: UDP}, {port: dns, protocol: TCP}]
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
""",
            {f"{P}_target": TARGET_WEB,
             f"{P}_eg0_peer0": and_(CLUSTER_COND, cond("team|ops", "Segment")),
             f"{P}_eg0_port8080": paths("ops/mon-0"),
             f"{P}_eg1_port53-tcp": paths("kube-system/dns-1"),
             f"{P}_eg1_port53-udp": paths("kube-system/dns-0"),
             f"{P}_eg2_peer0": in_ns("shop", cond("app|db"))},
            [("egress-0-8080", 10, "OUT", "ALLOW", ANY, [gp(f"{P}_eg0_port8080")], [],
              [("TCP", "8080")]),
             ("egress-1-53-tcp", 20, "OUT", "ALLOW", ANY, [gp(f"{P}_eg1_port53-tcp")], [],
              [("TCP", "53")]),
             ("egress-1-53-udp", 30, "OUT", "ALLOW", ANY, [gp(f"{P}_eg1_port53-udp")], [],
              [("UDP", "53")]),
             ("egress-2", 40, "OUT", "ALLOW", ANY, [gp(f"{P}_eg2_peer0")], [],
              [("TCP", "5432")])],
            id="egress-named-ports-peers-and-all-pods"),
    ],
)
def test_translation_shape(text: str, groups: dict[str, Any],
                           allow: list[tuple[Any, ...]]) -> None:
    t = translate("metadata: {name: p}\n" + text)
    assert t.problems == ()
    assert expressions(t) == groups
    assert rules(t, "_allow") == allow
    assert [p.id for p in t.policies] == [f"{P}_allow", f"{P}_isolation"]
    for policy in t.policies:
        assert {r.scope for r in policy.rules} <= {(gp(f"{P}_target"),)}
        assert policy.scope == (gp(f"{P}_target"),)


# --------------------------------------------------------------------------- policyTypes


@pytest.mark.parametrize(
    ("spec", "isolation", "allow_ids"),
    [
        pytest.param("{podSelector: {}}", ["ingress-isolation"], [], id="none-ingress"),
        pytest.param("{podSelector: {}, ingress: [{}]}", ["ingress-isolation"], ["ingress-0"],
                     id="ingress-rules-ingress"),
        pytest.param("{podSelector: {}, egress: [{}]}",
                     ["ingress-isolation", "egress-isolation"], ["egress-0"],
                     id="egress-rules-add-egress"),
        pytest.param("{podSelector: {}, egress: []}", ["ingress-isolation"], [],
                     id="empty-egress-ingress-only"),
        pytest.param("{podSelector: {}, policyTypes: [], egress: [{}]}",
                     ["ingress-isolation", "egress-isolation"], ["egress-0"],
                     id="empty-types-default"),
        pytest.param("{podSelector: {}, policyTypes: [Egress], ingress: [{}]}",
                     ["egress-isolation"], [], id="egress-only-ignores-ingress-rules"),
        pytest.param("{podSelector: {}, policyTypes: [Egress, Ingress]}",
                     ["ingress-isolation", "egress-isolation"], [], id="both-deny-all"),
    ],
)
def test_policy_types(spec: str, isolation: list[str], allow_ids: list[str]) -> None:
    t = translate(f"metadata: {{name: p}}\nspec: {spec}\n")
    assert t.problems == ()
    allow, iso = t.policies
    assert [r.id for r in allow.rules] == allow_ids
    assert [(r.id, r.action, r.direction, r.source_groups, r.destination_groups)
            for r in iso.rules] == [
        (i, "DROP", "IN" if i.startswith("ingress") else "OUT", ("ANY",), ("ANY",))
        for i in isolation]
    assert [r.sequence_number for r in iso.rules] == [10 * (n + 1) for n in range(len(isolation))]


def test_custom_sequence_numbers() -> None:
    t = translate_network_policies([obj("metadata: {name: p}\nspec: {podSelector: {}}")],
                                   cluster=CLUSTER, pods=(), namespaces=(),
                                   allow_sequence=100, isolation_sequence=900)
    assert [p.sequence_number for p in t.policies] == [100, 900]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        pytest.param("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}", "INVALID_CIDR",
                     id="cidr-prefix"),
        pytest.param("{ingress: [{from: [{ipBlock: {cidr: banana}}]}]}", "INVALID_CIDR",
                     id="cidr-text"),
        pytest.param("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [x/1]}}]}]}",
                     "INVALID_CIDR", id="except-text"),
        pytest.param("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, "
                     "except: [10.1.0.0/24]}}]}]}", "EXCEPT_OUTSIDE_CIDR", id="except-outside"),
        pytest.param("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, "
                     "except: [10.0.0.0/16]}}]}]}", "EXCEPT_OUTSIDE_CIDR", id="except-equal"),
        pytest.param("{ingress: [{ports: [{port: 0}]}]}", "INVALID_PORT", id="port-zero"),
        pytest.param("{ingress: [{ports: [{port: 70000}]}]}", "INVALID_PORT", id="port-high"),
        pytest.param("{ingress: [{ports: [{port: 80, endPort: 70000}]}]}", "INVALID_PORT",
                     id="endport-high"),
        pytest.param("{ingress: [{ports: [{port: '8080'}]}]}", "INVALID_PORT",
                     id="port-digits-as-name"),
        pytest.param("{ingress: [{ports: [{port: true}]}]}", "INVALID_PORT", id="port-bool"),
        pytest.param("{ingress: [{ports: [{port: 90, endPort: 80}]}]}", "INVALID_PORT_RANGE",
                     id="endport-below-port"),
        pytest.param("{ingress: [{ports: [{port: http, endPort: 90}]}]}",
                     "INVALID_PORT_RANGE", id="endport-with-named-port"),
        pytest.param("{ingress: [{ports: [{endPort: 90}]}]}", "INVALID_PORT_RANGE",
                     id="endport-without-port"),
        pytest.param("{ingress: [{ports: [{protocol: ICMP}]}]}", "UNKNOWN_PROTOCOL",
                     id="protocol-icmp"),
        pytest.param("{egress: [{ports: [{protocol: tcp, port: 80}]}]}", "UNKNOWN_PROTOCOL",
                     id="protocol-lowercase"),
        pytest.param("{podSelector: {matchExpressions: [{key: a, operator: Equals, "
                     "values: [b]}]}}", "INVALID_SELECTOR", id="unknown-operator"),
        pytest.param("{podSelector: {matchExpressions: [{key: a, operator: In}]}}",
                     "INVALID_SELECTOR", id="in-without-values"),
        pytest.param("{podSelector: {matchExpressions: [{key: a, operator: NotIn, "
                     "values: []}]}}", "INVALID_SELECTOR", id="notin-empty-values"),
        pytest.param("{podSelector: {matchExpressions: [{key: a, operator: Exists, "
                     "values: [b]}]}}", "INVALID_SELECTOR", id="exists-with-values"),
        pytest.param("{ingress: [{from: [{namespaceSelector: {matchLabels: [a]}}]}]}",
                     "INVALID_SELECTOR", id="matchlabels-not-mapping"),
        pytest.param("{podSelector: {matchLabels: {'a|b': c}}}", "INVALID_SELECTOR",
                     id="bad-label-key"),
        pytest.param("{podSelector: {matchLabels: {a: 'b,c'}}}", "INVALID_SELECTOR",
                     id="bad-label-value"),
        pytest.param("{podSelector: {matchLabels: {a: ''}}}", "UNSUPPORTED_SELECTOR",
                     id="empty-label-value"),
        pytest.param("{ingress: [{from: [{}]}]}", "INVALID_PEER", id="empty-peer"),
        pytest.param("{ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}",
                     "INVALID_PEER", id="ipblock-with-selector"),
        pytest.param("{policyTypes: [Both]}", "INVALID_POLICY_TYPE", id="policy-type"),
        pytest.param("{ingress: {from: []}}", "INVALID_POLICY", id="ingress-not-list"),
        pytest.param("[]", "INVALID_POLICY", id="spec-not-mapping"),
    ],
)
def test_bad_input(spec: str, code: str) -> None:
    good = obj("metadata: {name: good}\nspec: {podSelector: {}, ingress: [{}]}")
    bad = obj(f"metadata: {{name: bad}}\nspec: {spec}\n")
    t = translate_network_policies([bad, good], cluster=CLUSTER, pods=PODS,
                                   namespaces=NAMESPACES)
    assert [(p.code, p.obj) for p in t.problems] == [(code, "NetworkPolicy/shop/bad")]
    # Nothing of the bad policy; the good one is whole.
    assert {g.id for g in t.groups} == {"np_k8s_shop_good_target"}
    assert [p.id for p in t.policies] == ["np_k8s_shop_good_allow", "np_k8s_shop_good_isolation"]
    assert [r.id for r in t.policies[0].rules] == ["ingress-0"]


def test_problem_message_names_the_field() -> None:
    t = translate("metadata: {name: p}\nspec: {ingress: [{}, {ports: [{port: 70000}]}]}")
    (problem,) = t.problems
    assert "spec.ingress[1].ports[0]" in problem.message
    assert str(problem).startswith("INVALID_PORT NetworkPolicy/shop/p: ")


def test_name_too_long() -> None:
    t = translate(f"metadata: {{name: {'x' * 240}}}\nspec: {{podSelector: {{}}}}")
    assert [p.code for p in t.problems] == ["NAME_TOO_LONG"]
    assert (t.groups, t.policies) == ((), ())


def test_duplicate_policy_keeps_first_by_source() -> None:
    first = obj("metadata: {name: p}\nspec: {podSelector: {}}", source="a.yaml#0")
    second = obj("metadata: {name: p}\nspec: {podSelector: {}, egress: [{}]}",
                 source="b.yaml#0")
    t = translate_network_policies([second, first], cluster=CLUSTER, pods=(), namespaces=())
    assert [(p.code, p.obj) for p in t.problems] == [("DUPLICATE_OBJECT", "NetworkPolicy/shop/p")]
    assert [r.id for r in t.policies[1].rules] == ["ingress-isolation"]


def test_other_kinds_ignored() -> None:
    other = obj("kind: Service\nmetadata: {name: p}\nspec: {}")
    t = translate_network_policies([other], cluster=CLUSTER, pods=(), namespaces=())
    assert t == PolicyTranslation()


# --------------------------------------------------------------------------- ids, determinism


def test_rule_ids_are_content_derived_and_stable() -> None:
    t = translate("metadata: {name: p}\nspec: {podSelector: {}, ingress: [{}], egress: [{}]}")
    for policy in t.policies:
        for rule in policy.rules:
            assert rule.rule_id == zlib.crc32(rule.path.encode()) & 0x7FFFFFFF
            assert rule.rule_id > 0
            assert rule.path == f"{policy.path}/rules/{rule.id}"
            assert rule.parent_path == policy.path
    assert len({r.rule_id for p in t.policies for r in p.rules}) == 4


MANY = [
    "metadata: {name: a}\nspec: {podSelector: {matchLabels: {app: web}}, ingress: "
    "[{from: [{podSelector: {}}], ports: [{port: http}]}]}",
    "metadata: {name: b, namespace: ops}\nspec: {podSelector: {}, egress: "
    "[{to: [{namespaceSelector: {}}], ports: [{port: http}, {port: 53, protocol: UDP}]}]}",
    "metadata: {name: c}\nspec: {podSelector: {}, ingress: [{from: "
    "[{ipBlock: {cidr: 10.0.0.0/8, except: [10.4.0.0/16]}}]}]}",
    "metadata: {name: bad}\nspec: {podSelector: {}, ingress: [{ports: [{port: 0}]}]}",
    "metadata: {name: bad2}\nspec: {policyTypes: [x]}",
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_output_for_shuffled_input(seed: int) -> None:
    def dump(t: PolicyTranslation) -> str:
        return json.dumps([[o.to_api() for o in t.groups], [o.to_api() for o in t.policies],
                           [str(p) for p in t.problems]])

    expected = dump(translate(*MANY))
    rng = random.Random(seed)
    texts, pods, spaces = list(MANY), list(PODS), list(NAMESPACES)
    rng.shuffle(texts)
    rng.shuffle(pods)
    rng.shuffle(spaces)
    t = translate_network_policies([obj(x) for x in texts], cluster=CLUSTER, pods=pods,
                                   namespaces=spaces)
    assert dump(t) == expected
    assert [p.id for p in t.policies][:2] == ["np_k8s_ops_b_allow", "np_k8s_ops_b_isolation"]


# --------------------------------------------------------------------------- semantics


def inventory(t: PolicyTranslation, pods: tuple[PodInfo, ...]) -> Inventory:
    """Segments and ports tagged as ncp tags them, plus the translation."""
    objects: list[Any] = []
    for ns in NAMESPACES:
        seg = f"seg_{CLUSTER}_{ns.name}"
        tags = [*naming.base_tags(CLUSTER, ns.name), *(naming.tag(k, v)
                                                      for k, v in ns.labels.items())]
        objects.append(Segment(id=seg, path=segment_path(seg), tags=tuple(tags)))
    for p in pods:
        tags = [*naming.base_tags(CLUSTER, p.namespace), naming.tag(naming.SCOPE_POD, p.name),
                *(naming.tag(k, v) for k, v in p.labels.items())]
        seg = f"seg_{CLUSTER}_{p.namespace}"
        objects.append(SegmentPort(
            id=p.name, display_name=f"{p.namespace}/{p.name}", path=p.port_path,
            parent_path=segment_path(seg), tags=tuple(tags),
            address_bindings=(AddressBinding(ip_address=p.ip, mac_address="02:00:00:00:00:01"),)))
    return Inventory([*objects, *t.groups, *t.policies])


def allowed(inv: Inventory, src: str, dst: str, port: int, protocol: str = "TCP") -> bool:
    dfw = compile_dfw(inv)
    a = dfw.endpoints[dfw.by_name[src]] if "/" in src else dfw.endpoint_for_ip(IPv4Address(src))
    b = dfw.endpoints[dfw.by_name[dst]] if "/" in dst else dfw.endpoint_for_ip(IPv4Address(dst))
    return evaluate_flow(dfw, a, b, protocol=protocol, port=port).allowed


def test_semantics_named_ports_and_isolation() -> None:
    t = translate(
        """
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]
    ports: [{port: http}]
""",
        """
metadata: {name: mon, namespace: ops}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: web}}, namespaceSelector: {}}]
    ports: [{port: http}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
""")
    assert t.problems == ()
    inv = inventory(t, PODS)
    # web-1's "http" is 80, web-0's is 8080: each only on its own number.
    assert allowed(inv, "ops/mon-0", "shop/web-1", 80)
    assert not allowed(inv, "ops/mon-0", "shop/web-1", 8080)
    assert allowed(inv, "ops/mon-0", "shop/web-0", 8080)
    assert not allowed(inv, "ops/mon-0", "shop/web-0", 80)
    # Sources outside namespace ops are isolated away from web pods; db is not selected.
    assert not allowed(inv, "shop/db-0", "shop/web-0", 8080)
    assert allowed(inv, "shop/web-0", "shop/db-0", 5432)
    # mon's egress: web pods' http only, and outside 10/8.
    assert not allowed(inv, "ops/mon-0", "shop/db-0", 5432)
    assert allowed(inv, "ops/mon-0", "192.0.2.1", 443)
    assert not allowed(inv, "ops/mon-0", "10.99.0.1", 443)
