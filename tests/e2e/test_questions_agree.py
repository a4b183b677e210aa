"""``explain``, ``traceflow`` and ``reach`` give one answer to one question.

Each case is one flow on one sample state (guestbook, multi-tenant, lb-heavy, the admin's
guardrails around multi-tenant, and two clusters synced from the same sample), asked
three ways through the CLI:

* ``sdn traceflow --all-backends -o json``: per branch, the backend the load balancer
  picked, whether the DFW let the packet through, and the rule of the last DFW
  observation;
* ``sdn explain -o json``: per backend, ``allowed`` and the deciding rule;
* ``sdn reach --src S --dst D -o json``: the same, for the one source.

The three must list the same backends with the same verdict and the same deciding rule,
and the verdict must be the one the case expects (so agreement on a wrong answer fails
too). Destinations name services symbolically (``@clusterip:NS/NAME``,
``@lb:NS/NAME``, ``@ingress``) and are looked up in the state, so the table survives
address changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import sdn.cli
from tests.support.cli_runs import T0, TOPOLOGIES, run_main, sync_sample

GUARDRAILS = TOPOLOGIES / "admin" / "guardrails.yaml"
GUARDRAILS_PROFILE = TOPOLOGIES / "profiles" / "guardrails.json"
SHARED_T1 = TOPOLOGIES / "profiles" / "shared-t1.json"
CLIENT = "203.0.113.7"
DEFAULT_RULE = ("/infra/domains/default/security-policies/default-layer3-section/rules/"
                "default-layer3-rule")


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One state per sample (built once; the tests only read them)."""
    out: dict[str, Path] = {}
    for name in ("guestbook", "multi-tenant", "lb-heavy"):
        out[name] = tmp_path_factory.mktemp(name) / "state.db"
        sync_sample(out[name], name)
    admin = out["admin"] = tmp_path_factory.mktemp("admin") / "state.db"
    code, _, err = run_main(sdn.cli.main, "apply", "-f", GUARDRAILS, "--state", admin)
    assert code == 0, err
    sync_sample(admin, "multi-tenant", "--profile", GUARDRAILS_PROFILE)
    two = out["two-clusters"] = tmp_path_factory.mktemp("two") / "state.db"
    sync_sample(two, "multi-tenant", "--cluster-name", "prod")
    sync_sample(two, "multi-tenant", "--cluster-name", "stage", "--profile", SHARED_T1, now=T0 + 1)
    return out


@dataclass(frozen=True)
class Flow:
    id: str
    state: str
    src: str
    dst: str
    port: int | None = None
    protocol: str = "TCP"
    cluster: str | None = None
    http_host: str | None = None
    http_path: str | None = None
    expect: str = "ALLOWED"  # ALLOWED, DROPPED or MIXED over the backends


FLOWS = [
    # guestbook: pods, the redis ClusterIPs, the frontend's LoadBalancer VIP
    Flow("gb-pod-allowed", "guestbook", "default/frontend-0", "default/redis-master-0", 6379),
    Flow("gb-pod-dropped", "guestbook", "default/redis-slave-0", "default/redis-master-0",
         80, expect="DROPPED"),
    Flow("gb-clusterip", "guestbook", "default/frontend-1", "@clusterip:default/redis-slave",
         6379),
    Flow("gb-svc", "guestbook", "default/frontend-2", "svc:default/redis-master"),
    Flow("gb-svc-dropped", "guestbook", "default/redis-slave-1", "svc:default/redis-master",
         expect="DROPPED"),
    Flow("gb-lb-vip-outside", "guestbook", CLIENT, "@lb:default/frontend", 80),
    Flow("gb-lb-svc-outside", "guestbook", CLIENT, "svc:default/frontend"),
    Flow("gb-lb-vip-from-pod", "guestbook", "default/redis-slave-0", "@lb:default/frontend",
         80),
    Flow("gb-outside-to-pod", "guestbook", CLIENT, "default/redis-master-0", 6379,
         expect="DROPPED"),
    Flow("gb-to-outside", "guestbook", "default/frontend-0", "198.51.100.20", 443),
    # multi-tenant: namespaces, ipBlock egress, DNS over UDP
    Flow("mt-pod-allowed", "multi-tenant", "shop/frontend-0", "payments/api-0", 8443),
    Flow("mt-pod-dropped", "multi-tenant", "shop/frontend-0", "payments/db-0", 5432,
         expect="DROPPED"),
    Flow("mt-clusterip", "multi-tenant", "shop/frontend-0", "@clusterip:payments/api", 8443),
    Flow("mt-clusterip-dropped", "multi-tenant", "analytics/worker-0",
         "@clusterip:payments/api", 8443, expect="DROPPED"),
    Flow("mt-svc", "multi-tenant", "shop/frontend-1", "svc:shop/catalog"),
    Flow("mt-svc-udp-dns", "multi-tenant", "analytics/worker-0", "svc:kube-system/kube-dns",
         53, protocol="UDP"),
    Flow("mt-lb-vip-outside", "multi-tenant", CLIENT, "@lb:shop/frontend", 80),
    Flow("mt-outside-allowed", "multi-tenant", "analytics/worker-0", "10.50.3.4", 443),
    Flow("mt-outside-dropped", "multi-tenant", "analytics/worker-0", "10.50.99.4", 443,
         expect="DROPPED"),
    # lb-heavy: L4 VIPs on two LB services, the Ingress VIP by host and path
    Flow("lb-public-vip", "lb-heavy", CLIENT, "@lb:apps/public-23", 80),
    Flow("lb-clusterip", "lb-heavy", "apps/web-0", "@clusterip:apps/api", 80),
    Flow("lb-ingress-root", "lb-heavy", CLIENT, "@ingress", 80,
         http_host="shop.example.com", http_path="/"),
    Flow("lb-ingress-api", "lb-heavy", CLIENT, "@ingress", 80,
         http_host="shop.example.com", http_path="/api/orders"),
    Flow("lb-ingress-no-host", "lb-heavy", CLIENT, "@ingress", 80, expect="DROPPED"),
    Flow("lb-ingress-tls", "lb-heavy", CLIENT, "@ingress", 443, http_host="pay.example.com"),
    # the admin's guardrails: Environment and Emergency rules decide
    Flow("admin-scrape", "admin", "monitoring/prometheus-0", "payments/db-0", 9100),
    Flow("admin-db", "admin", "monitoring/prometheus-0", "payments/db-0", 5432,
         expect="DROPPED"),
    Flow("admin-clusterip", "admin", "shop/frontend-0", "@clusterip:payments/api", 8443),
    Flow("admin-lb-vip", "admin", CLIENT, "@lb:shop/frontend", 80),
    # two clusters from one sample: --cluster picks the pods, services and nodes
    Flow("two-prod-pod", "two-clusters", "shop/frontend-0", "payments/db-0", 5432,
         cluster="prod", expect="DROPPED"),
    Flow("two-stage-pod", "two-clusters", "shop/frontend-0", "payments/api-0", 8443,
         cluster="stage"),
    Flow("two-prod-svc", "two-clusters", "shop/frontend-0", "svc:payments/api",
         cluster="prod"),
    Flow("two-stage-clusterip", "two-clusters", "analytics/worker-0",
         "@clusterip:payments/api", 8443, cluster="stage", expect="DROPPED"),
    Flow("two-cross-cluster", "two-clusters", "prod/shop/frontend-0", "stage/payments/db-0",
         5432, expect="DROPPED"),
    Flow("two-lb-vip-stage", "two-clusters", CLIENT, "@lb:shop/frontend", 80,
         cluster="stage"),
]


def _virtual_servers(state: Path) -> list[dict[str, Any]]:
    code, out, err = run_main(sdn.cli.main, "show", "lb-virtual-servers", "-o", "json", "--state",
                          state)
    assert code == 0, err
    data: list[dict[str, Any]] = json.loads(out)
    return data


def _destination(state: Path, flow: Flow) -> str:
    """``@clusterip:NS/NAME``, ``@lb:NS/NAME`` and ``@ingress`` as addresses."""
    if not flow.dst.startswith("@"):
        return flow.dst
    kind, _, name = flow.dst[1:].partition(":")
    ns, _, svc = name.partition("/")
    prefix = {"clusterip": "vs_", "lb": "l4vs_", "ingress": "l7vs_"}[kind]
    found = set()
    for vs in _virtual_servers(state):
        tags = {t["scope"]: t["tag"] for t in vs["tags"]}
        if not vs["id"].startswith(prefix):
            continue
        if flow.cluster is not None and tags["ncp/cluster"] != flow.cluster:
            continue
        if kind != "ingress" and (tags.get("ncp/project"), tags.get("ncp/service")) != (ns, svc):
            continue
        found.add(vs["ip_address"])
    (ip,) = found
    return str(ip)


def _options(flow: Flow) -> list[str]:
    opts = ["--protocol", flow.protocol]
    if flow.cluster:
        opts += ["--cluster", flow.cluster]
    if flow.http_host:
        opts += ["--http-host", flow.http_host]
    if flow.http_path:
        opts += ["--http-path", flow.http_path]
    return opts


Answer = list[tuple[str, bool, str | None]]


def _by_traceflow(state: Path, flow: Flow, dst: str) -> tuple[Answer, dict[str, Any]]:
    port = ["--dport", str(flow.port)] if flow.port is not None else []
    code, out, err = run_main(sdn.cli.main, "traceflow", "--state", state, "--src", flow.src,
                          "--dst", dst, *port, *_options(flow), "--all-backends", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    answer = []
    for branch in data["branches"]:
        obs = branch["observations"]
        assert branch["disposition"] != "NO_ROUTE", branch["summary"]
        lb = [o for o in obs if o.get("component_type") == "LOAD_BALANCER"]
        if lb and "translated_dst_ip" not in lb[0]:
            answer.append(("LB", False, None))  # the load balancer had no backend
            continue
        ip = lb[0]["translated_dst_ip"] if lb else branch["packet"]["ip_header"]["dst_ip"]
        dfw = [o for o in obs if o.get("component_type") == "DFW"]
        dropped = obs[-1].get("reason") == "FW_RULE"
        answer.append((ip, not dropped, dfw[-1]["acl_rule_path"] if dfw else None))
    return sorted(answer), data


def _legs(backends: list[dict[str, Any]], service: dict[str, Any] | None) -> Answer:
    if not backends and service is not None:
        return [("LB", False, None)]
    return sorted((b["ip"], b["allowed"], b["deciding"]["path"] if b["deciding"] else None)
                  for b in backends)


def _by_explain(state: Path, flow: Flow, dst: str) -> tuple[Answer, dict[str, Any]]:
    port = ["--dport", str(flow.port)] if flow.port is not None else []
    code, out, err = run_main(sdn.cli.main, "explain", "--state", state, "--src", flow.src,
                          "--dst", dst, *port, *_options(flow), "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    return _legs(data["backends"], data["service"]), data


def _by_reach(state: Path, flow: Flow, dst: str) -> Answer:
    port = ["--port", str(flow.port)] if flow.port is not None else []
    code, out, err = run_main(sdn.cli.main, "reach", "--state", state, "--src", flow.src,
                          "--dst", dst, *port, *_options(flow), "-o", "json")
    assert code == 0, err
    (result,) = json.loads(out)["results"]
    (row,) = result["sources"]
    return _legs(row["backends"], row["service"])


@pytest.mark.parametrize("flow", [pytest.param(f, id=f.id) for f in FLOWS])
def test_three_commands_one_answer(states: dict[str, Path], flow: Flow) -> None:
    state = states[flow.state]
    dst = _destination(state, flow)
    traced, tf = _by_traceflow(state, flow, dst)
    explained, ex = _by_explain(state, flow, dst)
    reached = _by_reach(state, flow, dst)
    assert traced == explained == reached
    assert ex["disposition"] == flow.expect, ex
    verdicts = {allowed for _, allowed, _ in traced}
    assert verdicts == ({True} if flow.expect == "ALLOWED" else
                        {False} if flow.expect == "DROPPED" else {True, False})
    if flow.dst.startswith(("svc:", "@")) and flow.expect != "DROPPED":
        assert len(tf["branches"]) >= 1 and ex["service"] is not None
    assert all(rule is None or rule.startswith("/infra/") for _, _, rule in traced)


def test_default_rule_is_named_alike(states: dict[str, Path]) -> None:
    """With no rule applying anywhere, traceflow reports NSX's default rule; explain and
    reach name the same path."""
    flow = Flow("x", "guestbook", "default/frontend-0", "default/frontend-1", 8080)
    traced, _ = _by_traceflow(states["guestbook"], flow, flow.dst)
    explained, _ = _by_explain(states["guestbook"], flow, flow.dst)
    assert traced == explained == [(traced[0][0], True, DEFAULT_RULE)]
