"""Tests for admin policy translation (ncp.translate.adminpolicy).

AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy
(v1alpha2) in both tiers: the NSX JSON they become, their bad-input codes, and, through
``sdn.policy``, that the tiers order as the API says around NetworkPolicy.
"""

from __future__ import annotations

import json
import random
from ipaddress import IPv4Address
from typing import Any

import pytest
import yaml

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.adminpolicy import translate_admin_policies
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
V1 = "policy.networking.k8s.io/v1alpha1"
V2 = "policy.networking.k8s.io/v1alpha2"
API = {"AdminNetworkPolicy": V1, "BaselineAdminNetworkPolicy": V1, "ClusterNetworkPolicy": V2,
       "NetworkPolicy": "networking.k8s.io/v1"}


# --------------------------------------------------------------------------- helpers


def obj(text: str, source: str = "admin.yaml#0") -> K8sObject:
    """A K8sObject from inline YAML, as read_manifests would build it."""
    body = yaml.safe_load(text)
    body.setdefault("apiVersion", API[body["kind"]])
    meta = body["metadata"]
    namespace = meta.get("namespace", "shop") if body["kind"] == "NetworkPolicy" else ""
    return K8sObject(body["kind"], body["apiVersion"], namespace, meta["name"], body, source)


def pod(ns: str, name: str, ip: str, labels: dict[str, str],
        *ports: tuple[str, str, int]) -> PodInfo:
    return PodInfo(ns, name, port_path(f"seg_{CLUSTER}_{ns}", name), ip, labels, tuple(ports))


PODS = (
    pod("shop", "web-0", "10.4.0.2", {"app": "web"}, ("http", "TCP", 8080)),
    pod("shop", "web-1", "10.4.0.3", {"app": "web"}, ("http", "TCP", 80)),
    pod("shop", "db-0", "10.4.0.5", {"app": "db"}, ("pg", "TCP", 5432)),
    pod("ops", "mon-0", "10.4.1.2", {"app": "mon"}, ("http", "TCP", 8080)),
    pod("kube-system", "dns-0", "10.4.2.2", {"app": "dns"}, ("dns", "UDP", 53)),
    pod("kube-system", "dns-1", "10.4.2.3", {"app": "dns"}, ("dns", "TCP", 53)),
)
NAMESPACES = (
    NamespaceInfo("shop", {"team": "a"}),
    NamespaceInfo("ops", {"team": "ops"}),
    NamespaceInfo("kube-system", {"kubernetes.io/metadata.name": "kube-system"}),
)


def translate(*texts: str, **kwargs: Any) -> PolicyTranslation:
    return translate_admin_policies([obj(t) for t in texts], cluster=CLUSTER, pods=PODS,
                                    namespaces=NAMESPACES, **kwargs)


def gp(group_id: str) -> str:
    return f"{DOMAIN}/groups/{group_id}"


def cond(value: str, member: str = "SegmentPort", op: str = "EQUALS",
         scope_op: str = "EQUALS") -> dict[str, Any]:
    return {"resource_type": "Condition", "member_type": member, "key": "Tag", "operator": op,
            "scope_operator": scope_op, "value": value}


AND = {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"}
CLUSTER_COND = cond(f"ncp/cluster|{CLUSTER}")
IN_A_NAMESPACE = cond("ncp/project|")


def and_(*criteria: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, c in enumerate(criteria):
        out += [AND, c] if n else [c]
    return out


def pods_where(*criteria: dict[str, Any]) -> list[dict[str, Any]]:
    """Pods (not nodes) of the cluster matching ``criteria``."""
    return and_(CLUSTER_COND, IN_A_NAMESPACE, *criteria)


def paths(*pods: str) -> list[dict[str, Any]]:
    return [{"resource_type": "PathExpression",
             "paths": [port_path(f"seg_{CLUSTER}_{p.split('/')[0]}", p.split("/")[1])
                       for p in pods]}]


def rule_view(rule: Rule) -> tuple[Any, ...]:
    api = rule.to_api()
    entries = [(e["l4_protocol"], *e["destination_ports"]) for e in api["service_entries"]]
    return (api["id"], api["display_name"], api["sequence_number"], api["direction"],
            api["action"], api["source_groups"], api["destination_groups"], entries)


ANY = ["ANY"]


# --------------------------------------------------------------------------- kinds and tiers


@pytest.mark.parametrize(
    ("text", "policy", "groups", "rules"),
    [
        pytest.param(
            """
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
  - name: allow-monitoring
    action: Allow
    from: [{namespaces: {matchLabels: {team: ops}}}]
  - name: pass-web
    action: Pass
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
    ports:
    - portNumber: {protocol: TCP, port: 80}
    - portRange: {start: 8000, end: 9000}
    - portRange: {protocol: UDP, start: 1, end: 1024}
  - action: Deny
    from: [{namespaces: {}}]
  egress:
  - action: Deny
    to:
    - networks: [10.0.0.0/8, 192.168.1.7/24]
    - nodes: {matchExpressions: [{key: node-role.kubernetes.io/control-plane,
                                  operator: Exists}]}
""",
            ("anp_k8s_guard", "Environment", 10),
            {"anp_k8s_guard_subject": pods_where(cond("team|a", "Segment")),
             "anp_k8s_guard_in0_peer0": pods_where(cond("team|ops", "Segment")),
             "anp_k8s_guard_in1_peer0": pods_where(cond("app|web")),
             "anp_k8s_guard_in2_peer0": pods_where(),
             "anp_k8s_guard_eg0_peer0": [{"resource_type": "IPAddressExpression",
                                          "ip_addresses": ["10.0.0.0/8", "192.168.1.0/24"]}],
             "anp_k8s_guard_eg0_peer1": and_(
                 CLUSTER_COND, cond("ncp/node_name|"),
                 cond("ncp/project|", scope_op="NOTEQUALS"),
                 cond("node-role.kubernetes.io/control-plane|"))},
            [("ingress-0", "allow-monitoring", 10, "IN", "ALLOW",
              [gp("anp_k8s_guard_in0_peer0")], ANY, []),
             ("ingress-1", "pass-web", 20, "IN", "JUMP_TO_APPLICATION",
              [gp("anp_k8s_guard_in1_peer0")], ANY,
              [("TCP", "80"), ("TCP", "8000-9000"), ("UDP", "1-1024")]),
             ("ingress-2", "ingress-2", 30, "IN", "DROP", [gp("anp_k8s_guard_in2_peer0")],
              ANY, []),
             ("egress-0", "egress-0", 40, "OUT", "DROP", ANY,
              [gp("anp_k8s_guard_eg0_peer0"), gp("anp_k8s_guard_eg0_peer1")], [])],
            id="anp-allow-pass-deny"),
        pytest.param(
            """
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject:
    pods:
      namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchLabels: {app: db}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
  egress:
  - action: Allow
    to:
    - pods:
        namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
        podSelector: {}
    ports: [{portNumber: {protocol: UDP, port: 53}}]
""",
            ("banp_k8s_default", "Application", 5000),
            {"banp_k8s_default_subject": pods_where(cond("team|a", "Segment"), cond("app|db")),
             "banp_k8s_default_in0_peer0": pods_where(),
             "banp_k8s_default_eg0_peer0": pods_where(
                 cond("kubernetes.io/metadata.name|kube-system", "Segment"))},
            [("ingress-0", "ingress-0", 10, "IN", "DROP",
              [gp("banp_k8s_default_in0_peer0")], ANY, []),
             ("egress-0", "egress-0", 20, "OUT", "ALLOW", ANY,
              [gp("banp_k8s_default_eg0_peer0")], [("UDP", "53")])],
            id="banp-deny-allow"),
        pytest.param(
            """
kind: ClusterNetworkPolicy
metadata: {name: ops}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - action: Accept
    from: [{namespaces: {matchLabels: {team: ops}}}]
    protocols:
    - tcp: {destinationPort: {number: 9090}}
    - udp: {destinationPort: {range: {start: 1000, end: 2000}}}
    - sctp: {}
  - action: Pass
    from: [{namespaces: {}}]
  - action: Deny
    from: [{pods: {podSelector: {matchLabels: {app: dns}}}}]
""",
            ("cnp_k8s_ops", "Environment", 5),
            {"cnp_k8s_ops_subject": pods_where(),
             "cnp_k8s_ops_in0_peer0": pods_where(cond("team|ops", "Segment")),
             "cnp_k8s_ops_in1_peer0": pods_where(),
             "cnp_k8s_ops_in2_peer0": pods_where(cond("app|dns"))},
            [("ingress-0", "ingress-0", 10, "IN", "ALLOW", [gp("cnp_k8s_ops_in0_peer0")], ANY,
              [("TCP", "9090"), ("UDP", "1000-2000"), ("SCTP",)]),
             ("ingress-1", "ingress-1", 20, "IN", "JUMP_TO_APPLICATION",
              [gp("cnp_k8s_ops_in1_peer0")], ANY, []),
             ("ingress-2", "ingress-2", 30, "IN", "DROP", [gp("cnp_k8s_ops_in2_peer0")], ANY,
              [])],
            id="cnp-admin-accept-pass-deny"),
        pytest.param(
            """
kind: ClusterNetworkPolicy
metadata: {name: floor}
spec:
  tier: Baseline
  priority: 20
  subject: {namespaces: {}}
  ingress:
  - action: Pass
    from: [{namespaces: {matchLabels: {team: ops}}}]
  - action: Deny
    from: [{namespaces: {}}]
  egress:
  - action: Accept
    to: [{networks: [192.0.2.0/24]}]
    ports: [{portNumber: {protocol: TCP, port: 443}}]
""",
            ("cnp_k8s_floor", "Application", 5020),
            {"cnp_k8s_floor_subject": pods_where(),
             "cnp_k8s_floor_in0_peer0": pods_where(cond("team|ops", "Segment")),
             "cnp_k8s_floor_in1_peer0": pods_where(),
             "cnp_k8s_floor_eg0_peer0": [{"resource_type": "IPAddressExpression",
                                          "ip_addresses": ["192.0.2.0/24"]}]},
            [("ingress-0", "ingress-0", 10, "IN", "ALLOW", [gp("cnp_k8s_floor_in0_peer0")],
              ANY, []),
             ("ingress-1", "ingress-1", 20, "IN", "DROP", [gp("cnp_k8s_floor_in1_peer0")],
              ANY, []),
             ("egress-0", "egress-0", 30, "OUT", "ALLOW", ANY, [gp("cnp_k8s_floor_eg0_peer0")],
              [("TCP", "443")])],
            id="cnp-baseline-pass-is-allow"),
        pytest.param(
            """
kind: AdminNetworkPolicy
metadata: {name: named}
spec:
  priority: 0
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
  - action: Allow
    from: [{namespaces: {}}]
    ports: [{namedPort: http}]
  egress:
  - action: Allow
    to: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
    ports: [{namedPort: dns}, {portNumber: {protocol: TCP, port: 5353}}]
""",
            ("anp_k8s_named", "Environment", 0),
            {"anp_k8s_named_subject": pods_where(cond("team|a", "Segment")),
             "anp_k8s_named_in0_peer0": pods_where(),
             "anp_k8s_named_in0_port80": paths("shop/web-1"),
             "anp_k8s_named_in0_port8080": paths("shop/web-0"),
             "anp_k8s_named_eg0_peer0": pods_where(
                 cond("kubernetes.io/metadata.name|kube-system", "Segment")),
             "anp_k8s_named_eg0_port53-tcp": paths("kube-system/dns-1"),
             "anp_k8s_named_eg0_port53-udp": paths("kube-system/dns-0")},
            [("ingress-0-80", "ingress-0-80", 10, "IN", "ALLOW",
              [gp("anp_k8s_named_in0_peer0")], [gp("anp_k8s_named_in0_port80")],
              [("TCP", "80")]),
             ("ingress-0-8080", "ingress-0-8080", 20, "IN", "ALLOW",
              [gp("anp_k8s_named_in0_peer0")], [gp("anp_k8s_named_in0_port8080")],
              [("TCP", "8080")]),
             ("egress-0", "egress-0", 30, "OUT", "ALLOW", ANY,
              [gp("anp_k8s_named_eg0_peer0")], [("TCP", "5353")]),
             ("egress-0-53-tcp", "egress-0-53-tcp", 40, "OUT", "ALLOW", ANY,
              [gp("anp_k8s_named_eg0_port53-tcp")], [("TCP", "53")]),
             ("egress-0-53-udp", "egress-0-53-udp", 50, "OUT", "ALLOW", ANY,
              [gp("anp_k8s_named_eg0_port53-udp")], [("UDP", "53")])],
            id="anp-named-ports-any-protocol"),
        pytest.param(
            """
kind: ClusterNetworkPolicy
metadata: {name: named}
spec:
  tier: Admin
  priority: 3
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: mon}}}}
  egress:
  - action: Accept
    to: [{pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {}}}]
    protocols: [{destinationNamedPort: http}]
""",
            ("cnp_k8s_named", "Environment", 3),
            {"cnp_k8s_named_subject": pods_where(cond("app|mon")),
             "cnp_k8s_named_eg0_peer0": pods_where(cond("team|a", "Segment")),
             "cnp_k8s_named_eg0_port80": paths("shop/web-1"),
             "cnp_k8s_named_eg0_port8080": paths("shop/web-0")},
            [("egress-0-80", "egress-0-80", 10, "OUT", "ALLOW", ANY,
              [gp("cnp_k8s_named_eg0_port80")], [("TCP", "80")]),
             ("egress-0-8080", "egress-0-8080", 20, "OUT", "ALLOW", ANY,
              [gp("cnp_k8s_named_eg0_port8080")], [("TCP", "8080")])],
            id="cnp-destination-named-port"),
    ],
)
def test_translation_shape(text: str, policy: tuple[str, str, int], groups: dict[str, Any],
                           rules: list[tuple[Any, ...]]) -> None:
    t = translate(text)
    assert t.problems == ()
    (sp,) = t.policies
    assert (sp.id, sp.category, sp.sequence_number) == policy
    assert sp.scope == (gp(f"{policy[0]}_subject"),)
    assert {g.id: g.to_api()["expression"] for g in t.groups} == groups
    assert [rule_view(r) for r in sp.rules] == rules
    assert all(r.scope == sp.scope for r in sp.rules)


def test_tags_are_cluster_scoped() -> None:
    t = translate("""
kind: AdminNetworkPolicy
metadata: {name: guard}
spec: {priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}
""")
    expected = [{"scope": "ncp/version", "tag": naming.NCP_VERSION},
                {"scope": "ncp/cluster", "tag": CLUSTER},
                {"scope": "ncp/admin_policy", "tag": "AdminNetworkPolicy/guard"}]
    objects = [*t.groups, *t.policies, *t.policies[0].rules]
    assert all(o.to_api()["tags"] == expected for o in objects)
    assert t.policies[0].to_api()["path"] == f"{DOMAIN}/security-policies/anp_k8s_guard"


def test_admin_category_parameter() -> None:
    text = "kind: AdminNetworkPolicy\nmetadata: {name: a}\nspec: {priority: 7, subject: " \
           "{namespaces: {}}}"
    t = translate(text, admin_category="Emergency", baseline_sequence_base=7000)
    assert (t.policies[0].category, t.policies[0].sequence_number) == ("Emergency", 7)
    banp = "kind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {subject: " \
           "{namespaces: {}}}"
    assert translate(banp, baseline_sequence_base=7000).policies[0].sequence_number == 7000
    with pytest.raises(ValueError, match="admin_category"):
        translate(text, admin_category="Ethernet")


def test_equal_priorities_order_by_path() -> None:
    rule = ", ingress: [{action: Deny, from: [{namespaces: {}}]}]}"
    anp = "kind: AdminNetworkPolicy\nmetadata: {name: z}\nspec: {priority: 10, " + SUBJ + rule
    cnp = "kind: ClusterNetworkPolicy\nmetadata: {name: a}\nspec: {tier: Admin, priority: 10, " \
          + SUBJ + rule
    t = translate(cnp, anp)
    assert [(p.id, p.sequence_number) for p in t.policies] == [("anp_k8s_z", 10),
                                                                ("cnp_k8s_a", 10)]
    dfw = compile_dfw(Inventory([*t.groups, *t.policies]))
    assert [r.policy_path.rsplit("/", 1)[1] for r in dfw.rules] == ["anp_k8s_z", "cnp_k8s_a"]


# --------------------------------------------------------------------------- bad input

ANP = "kind: AdminNetworkPolicy\nmetadata: {name: bad}\nspec: "
BANP = "kind: BaselineAdminNetworkPolicy\nmetadata: {name: bad}\nspec: "
CNP = "kind: ClusterNetworkPolicy\nmetadata: {name: bad}\nspec: "
SUBJ = "subject: {namespaces: {}}"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Accept, "
                     "from: [{namespaces: {}}]}]}", "UNKNOWN_ACTION", id="anp-accept"),
        pytest.param(BANP + f"{{{SUBJ}, ingress: [{{action: Pass, "
                     "from: [{namespaces: {}}]}]}", "UNKNOWN_ACTION", id="banp-pass"),
        pytest.param(CNP + f"{{tier: Admin, priority: 1, {SUBJ}, egress: [{{action: Allow, "
                     "to: [{namespaces: {}}]}]}", "UNKNOWN_ACTION", id="cnp-allow"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, egress: [{{to: [{{namespaces: {{}}}}]}}]}}",
                     "UNKNOWN_ACTION", id="missing-action"),
        pytest.param(CNP + f"{{priority: 1, {SUBJ}}}", "UNKNOWN_TIER", id="cnp-no-tier"),
        pytest.param(CNP + f"{{tier: Developer, priority: 1, {SUBJ}}}", "UNKNOWN_TIER",
                     id="cnp-bad-tier"),
        pytest.param(ANP + f"{{priority: 1001, {SUBJ}}}", "INVALID_PRIORITY", id="anp-1001"),
        pytest.param(ANP + f"{{priority: -1, {SUBJ}}}", "INVALID_PRIORITY", id="anp-negative"),
        pytest.param(ANP + f"{{{SUBJ}}}", "INVALID_PRIORITY", id="anp-missing"),
        pytest.param(ANP + f"{{priority: '5', {SUBJ}}}", "INVALID_PRIORITY", id="anp-string"),
        pytest.param(CNP + f"{{tier: Baseline, priority: 2000, {SUBJ}}}", "INVALID_PRIORITY",
                     id="cnp-2000"),
        pytest.param(ANP + "{priority: 1}", "INVALID_SUBJECT", id="no-subject"),
        pytest.param(ANP + "{priority: 1, subject: {namespaces: {}, pods: {podSelector: {}}}}",
                     "INVALID_SUBJECT", id="two-subjects"),
        pytest.param(ANP + "{priority: 1, subject: {pods: {namespaceSelector: {}}}}",
                     "INVALID_SUBJECT", id="subject-pods-without-pod-selector"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: []}}]}}",
                     "INVALID_PEER", id="no-peers"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
                     "[{namespaces: {}, pods: {podSelector: {}}}]}]}", "INVALID_PEER",
                     id="two-fields-in-peer"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
                     "[{networks: [10.0.0.0/8]}]}]}", "INVALID_PEER", id="networks-ingress"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, egress: [{{action: Deny, to: "
                     "[{namespacedPods: {}}]}]}", "INVALID_PEER", id="old-peer-field"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, egress: [{{action: Allow, to: "
                     "[{domainNames: [example.com]}]}]}", "UNSUPPORTED_PEER", id="domain-names"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, egress: [{{action: Deny, to: "
                     "[{networks: [300.0.0.0/8]}]}]}", "INVALID_CIDR", id="bad-network"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, egress: [{{action: Deny, to: "
                     "[{networks: [10.0.0.0]}]}]}", "INVALID_CIDR", id="network-no-prefix"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
                     "[{namespaces: {}}], ports: [{portNumber: {port: 0}}]}]}", "INVALID_PORT",
                     id="port-zero"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
                     "[{namespaces: {}}], ports: [{portNumber: {port: 80}, namedPort: x}]}]}",
                     "INVALID_PORT", id="port-two-fields"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
                     "[{namespaces: {}}], ports: [{namedPort: 'Bad_Name'}]}]}", "INVALID_PORT",
                     id="bad-port-name"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
                     "[{namespaces: {}}], ports: [{portRange: {start: 10, end: 10}}]}]}",
                     "INVALID_PORT_RANGE", id="range-empty"),
        pytest.param(CNP + f"{{tier: Admin, priority: 1, {SUBJ}, ingress: [{{action: Deny, "
                     "from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: "
                     "{range: {start: 9, end: 2}}}}]}]}", "INVALID_PORT_RANGE",
                     id="cnp-range-reversed"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
                     "[{namespaces: {}}], ports: [{portNumber: {protocol: ICMP, port: 1}}]}]}",
                     "UNKNOWN_PROTOCOL", id="icmp"),
        pytest.param(CNP + f"{{tier: Admin, priority: 1, {SUBJ}, ingress: [{{action: Deny, "
                     "from: [{namespaces: {}}], protocols: [{icmp: {}}]}]}", "UNKNOWN_PROTOCOL",
                     id="cnp-icmp"),
        pytest.param(ANP + "{priority: 1, subject: {namespaces: {matchExpressions: "
                     "[{key: a, operator: Is, values: [b]}]}}}", "INVALID_SELECTOR",
                     id="bad-operator"),
        pytest.param(ANP + "{priority: 1, subject: {namespaces: {matchExpressions: "
                     "[{key: a, operator: In}]}}}", "INVALID_SELECTOR", id="in-no-values"),
        pytest.param("kind: AdminNetworkPolicy\nmetadata: {name: bad}", "INVALID_POLICY",
                     id="no-spec"),
        pytest.param(ANP + f"{{priority: 1, {SUBJ}, ingress: {{action: Deny}}}}",
                     "INVALID_POLICY", id="ingress-not-list"),
    ],
)
def test_bad_input(text: str, code: str) -> None:
    good = obj("kind: AdminNetworkPolicy\nmetadata: {name: good}\n"
               f"spec: {{priority: 1, {SUBJ}, ingress: [{{action: Deny, from: "
               "[{namespaces: {}}]}]}")
    bad = obj(text)
    t = translate_admin_policies([bad, good], cluster=CLUSTER, pods=PODS,
                                 namespaces=NAMESPACES)
    assert [(p.code, p.obj) for p in t.problems] == [(code, f"{bad.kind}/bad")]
    assert {g.id for g in t.groups} == {"anp_k8s_good_subject", "anp_k8s_good_in0_peer0"}
    assert [p.id for p in t.policies] == ["anp_k8s_good"]


def test_duplicate_and_other_kinds() -> None:
    text = "kind: AdminNetworkPolicy\nmetadata: {name: a}\nspec: {priority: 1, " + SUBJ + "}"
    objects = [obj(text, "b.yaml#0"), obj(text, "a.yaml#0"),
               obj("kind: NetworkPolicy\nmetadata: {name: a}\nspec: {}")]
    t = translate_admin_policies(objects, cluster=CLUSTER, pods=(), namespaces=())
    assert [(p.code, p.obj) for p in t.problems] == [("DUPLICATE_OBJECT",
                                                      "AdminNetworkPolicy/a")]
    assert [p.id for p in t.policies] == ["anp_k8s_a"]


def test_same_output_for_shuffled_input() -> None:
    texts = [
        "kind: AdminNetworkPolicy\nmetadata: {name: b}\nspec: {priority: 3, " + SUBJ +
        ", ingress: [{action: Allow, from: [{namespaces: {}}], ports: [{namedPort: http}]}]}",
        "kind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {" + SUBJ +
        ", egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]}",
        "kind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {tier: Baseline, priority: 9, "
        + SUBJ + "}",
        "kind: ClusterNetworkPolicy\nmetadata: {name: x}\nspec: {tier: Nope}",
    ]

    def dump(t: PolicyTranslation) -> str:
        return json.dumps([[o.to_api() for o in t.groups], [o.to_api() for o in t.policies],
                           [str(p) for p in t.problems]])

    expected = dump(translate(*texts))
    for seed in range(3):
        rng = random.Random(seed)
        shuffled, pods = list(texts), list(PODS)
        rng.shuffle(shuffled)
        rng.shuffle(pods)
        got = translate_admin_policies([obj(x) for x in shuffled], cluster=CLUSTER, pods=pods,
                                       namespaces=NAMESPACES)
        assert dump(got) == expected


# --------------------------------------------------------------------------- semantics


NODE_SEG = f"seg_{CLUSTER}-nodes"


def inventory(*translations: PolicyTranslation) -> Inventory:
    """Segments and ports tagged as ncp tags them (and one node), plus the translations."""
    objects: list[Any] = []
    for ns in NAMESPACES:
        seg = f"seg_{CLUSTER}_{ns.name}"
        tags = [*naming.base_tags(CLUSTER, ns.name),
                *(naming.tag(k, v) for k, v in ns.labels.items())]
        objects.append(Segment(id=seg, path=segment_path(seg), tags=tuple(tags)))
    for p in PODS:
        tags = [*naming.base_tags(CLUSTER, p.namespace), naming.tag(naming.SCOPE_POD, p.name),
                naming.tag(naming.SCOPE_NODE, "node-1"),
                *(naming.tag(k, v) for k, v in p.labels.items())]
        objects.append(SegmentPort(
            id=p.name, display_name=f"{p.namespace}/{p.name}", path=p.port_path,
            parent_path=segment_path(f"seg_{CLUSTER}_{p.namespace}"), tags=tuple(tags),
            address_bindings=(AddressBinding(ip_address=p.ip, mac_address="02:00:00:00:00:01"),)))
    objects.append(Segment(id=NODE_SEG, path=segment_path(NODE_SEG),
                           tags=tuple(naming.base_tags(CLUSTER))))
    objects.append(SegmentPort(
        id="node-1", display_name="node-1", path=port_path(NODE_SEG, "node-1"),
        parent_path=segment_path(NODE_SEG),
        tags=(*naming.base_tags(CLUSTER), naming.tag(naming.SCOPE_NODE, "node-1")),
        address_bindings=(AddressBinding(ip_address="10.3.0.2", mac_address="02:00:00:00:00:02"),)))
    return Inventory([o for t in translations for o in (*t.groups, *t.policies)] + objects)


def flows(inv: Inventory, *pairs: tuple[str, str, int]) -> list[bool]:
    dfw = compile_dfw(inv)

    def endpoint(name: str) -> Any:
        if name in dfw.by_name:
            return dfw.endpoints[dfw.by_name[name]]
        return dfw.endpoint_for_ip(IPv4Address(name))

    return [evaluate_flow(dfw, endpoint(a), endpoint(b), port=port).allowed
            for a, b, port in pairs]


def test_semantics_tiers_around_network_policy() -> None:
    anp = translate(
        """
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - action: Deny
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
  - action: Pass
    from: [{namespaces: {matchLabels: {team: ops}}}]
  egress:
  - action: Deny
    to: [{nodes: {}}]
  - action: Deny
    to: [{networks: [192.0.2.0/24]}]
""")
    banp = translate("""
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
""")
    network = translate_network_policies([obj("""
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]
""")], cluster=CLUSTER, pods=PODS, namespaces=NAMESPACES)
    assert anp.problems == banp.problems == network.problems == ()
    inv = inventory(anp, banp, network)
    assert flows(
        inv,
        ("kube-system/dns-0", "shop/web-0", 8080),  # admin Deny wins over the NetworkPolicy
        ("ops/mon-0", "shop/web-0", 8080),          # Pass → NetworkPolicy allows
        ("ops/mon-0", "shop/db-0", 5432),           # Pass → no NetworkPolicy → baseline Deny
        ("shop/web-0", "shop/db-0", 5432),          # no admin rule → baseline Deny
        ("shop/web-0", "node-1", 10250),            # egress to nodes denied
        ("node-1", "shop/web-0", 8080),             # a node is no subject: NetworkPolicy
        ("shop/web-0", "192.0.2.9", 443),           # networks peer
        ("shop/web-0", "198.51.100.1", 443),
    ) == [False, True, False, False, False, False, False, True]
    # Without the baseline, unselected pods fall to the default (allow); a Baseline-tier
    # ClusterNetworkPolicy works like the BaselineAdminNetworkPolicy, Pass meaning allow.
    assert flows(inventory(anp, network), ("ops/mon-0", "shop/db-0", 5432),
                 ("shop/web-0", "shop/db-0", 5432)) == [True, True]
    floor = translate("""
kind: ClusterNetworkPolicy
metadata: {name: floor}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  ingress:
  - action: Pass
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
  - action: Deny
    from: [{namespaces: {}}]
""")
    assert flows(inventory(anp, network, floor), ("ops/mon-0", "shop/db-0", 5432),
                 ("shop/web-0", "shop/db-0", 5432)) == [False, True]
