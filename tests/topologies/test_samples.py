"""The bundled sample clusters: they parse, hang together, and say what their READMEs say.

These files are inputs to every later stage (sync, traceflow, explain), so a typo in a
selector or a namespace would surface far away; the checks here catch it at the source.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml

from topologies import UnknownSampleError, list_samples, sample_path

SAMPLES = list_samples()
CONTROLLERS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")


def load(name: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(sample_path(name).rglob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            docs.extend(d for d in yaml.safe_load_all(fh) if d is not None)
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_count(docs: list[dict[str, Any]]) -> Counter[str]:
    """Pods per namespace, expanded the way the controllers would."""
    nodes = len(of_kind(docs, "Node"))
    pods: Counter[str] = Counter()
    for d in docs:
        ns = d["metadata"].get("namespace", "default")
        if d["kind"] in ("Deployment", "StatefulSet", "ReplicaSet"):
            pods[ns] += d["spec"].get("replicas", 1)
        elif d["kind"] == "Job":
            pods[ns] += d["spec"].get("parallelism", 1)
        elif d["kind"] == "DaemonSet":
            pods[ns] += nodes
    return pods


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_bundled_samples_are_listed() -> None:
    assert {"guestbook", "multi-tenant"} <= set(SAMPLES)
    assert all(sample_path(name).is_dir() for name in SAMPLES)


def test_unknown_sample_is_a_lookup_error_with_a_code() -> None:
    with pytest.raises(UnknownSampleError, match="UNKNOWN_SAMPLE 'nope'") as info:
        sample_path("nope")
    assert isinstance(info.value, LookupError)
    assert info.value.code == "UNKNOWN_SAMPLE"


@pytest.mark.parametrize("name", SAMPLES)
def test_every_document_is_a_named_kubernetes_object(name: str) -> None:
    paths = sorted(sample_path(name).rglob("*.yaml"))
    assert paths, f"{name} has no manifests"
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            docs = list(yaml.safe_load_all(fh))
        assert docs, path
        for doc in docs:
            where = f"{Path(path).name}: {doc!r:.80}"
            assert isinstance(doc, dict), where
            assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], where
            assert isinstance(doc.get("kind"), str) and doc["kind"], where
            assert isinstance(doc.get("metadata", {}).get("name"), str), where


@pytest.mark.parametrize("name", SAMPLES)
def test_names_are_unique_and_namespaces_are_declared(name: str) -> None:
    docs = load(name)
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys))
    declared = {d["metadata"]["name"] for d in of_kind(docs, "Namespace")}
    used = {d["metadata"]["namespace"] for d in docs if "namespace" in d["metadata"]}
    assert used <= declared


@pytest.mark.parametrize("name", SAMPLES)
def test_selectors_find_their_pods(name: str) -> None:
    docs = load(name)
    templates: dict[str, list[dict[str, str]]] = {}
    for d in docs:
        if d["kind"] in CONTROLLERS:
            labels = d["spec"]["template"]["metadata"]["labels"]
            selector = d["spec"].get("selector", {}).get("matchLabels", {})
            assert matches(selector, labels), d["metadata"]["name"]
            templates.setdefault(d["metadata"]["namespace"], []).append(labels)
    for svc in of_kind(docs, "Service"):
        pods = templates.get(svc["metadata"]["namespace"], [])
        assert any(matches(svc["spec"]["selector"], p) for p in pods), svc["metadata"]["name"]
    for pol in of_kind(docs, "NetworkPolicy"):
        selector = pol["spec"]["podSelector"].get("matchLabels", {})
        pods = templates.get(pol["metadata"]["namespace"], [])
        assert any(matches(selector, p) for p in pods), pol["metadata"]["name"]


def test_guestbook_shape() -> None:
    docs = load("guestbook")
    lbs = [s for s in of_kind(docs, "Service") if s["spec"].get("type") == "LoadBalancer"]
    assert [s["metadata"]["name"] for s in lbs] == ["frontend"]
    assert lbs[0]["spec"]["ports"][0]["port"] == 80
    assert [n["metadata"]["name"] for n in of_kind(docs, "Node")] == [
        "worker-0", "worker-1", "worker-2"
    ]
    replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in of_kind(docs, "Deployment")}
    assert replicas == {"redis-master": 1, "redis-slave": 2, "frontend": 3}
    assert pod_count(docs) == {"default": 6}


def test_guestbook_policy_admits_only_the_frontend_to_redis() -> None:
    (policy,) = of_kind(load("guestbook"), "NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == {"app": "redis"}
    (rule,) = spec["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app": "guestbook",
                                                            "tier": "frontend"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]


def test_multi_tenant_shape() -> None:
    docs = load("multi-tenant")
    namespaces = {d["metadata"]["name"]: d["metadata"] for d in of_kind(docs, "Namespace")}
    assert set(namespaces) == {"shop", "payments", "analytics", "monitoring", "default",
                               "kube-system"}
    assert all({"team", "env"} <= set(m["labels"]) for m in namespaces.values())
    assert namespaces["analytics"]["annotations"] == {"ncp/no_snat": "true"}
    assert [n["metadata"]["name"] for n in of_kind(docs, "Node")] == [
        "node-a", "node-b", "node-c", "node-d"
    ]
    assert pod_count(docs) == {"shop": 6, "payments": 3, "analytics": 5, "monitoring": 5,
                               "kube-system": 2}
    lbs = [s for s in of_kind(docs, "Service") if s["spec"].get("type") == "LoadBalancer"]
    assert [(s["metadata"]["namespace"], s["metadata"]["name"]) for s in lbs] == [
        ("shop", "frontend")
    ]


def test_static_snat_ip_lies_in_the_external_pool() -> None:
    (payments,) = [d for d in of_kind(load("multi-tenant"), "Namespace")
                   if d["metadata"]["name"] == "payments"]
    ip = ip_address(payments["metadata"]["annotations"]["ncp/static_snat_ip"])
    assert ip in ip_network("10.40.14.0/24")  # the pool ip-pool-snat


def test_multi_tenant_has_the_documented_policies() -> None:
    policies = {(p["metadata"]["namespace"], p["metadata"]["name"]): p["spec"]
                for p in of_kind(load("multi-tenant"), "NetworkPolicy")}
    deny = policies[("payments", "default-deny-ingress")]
    assert deny["podSelector"] == {} and "ingress" not in deny
    cross = policies[("payments", "allow-shop-frontend-to-api")]["ingress"][0]
    assert cross["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert cross["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "shop"
    }
    same = policies[("shop", "allow-same-namespace")]
    assert same["ingress"] == [{"from": [{"podSelector": {}}]}]
    egress = policies[("analytics", "worker-egress")]
    assert egress["policyTypes"] == ["Egress"]
    assert egress["egress"][0]["to"][0]["ipBlock"] == {"cidr": "10.50.0.0/16",
                                                      "except": ["10.50.99.0/24"]}
