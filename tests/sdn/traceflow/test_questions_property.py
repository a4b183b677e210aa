"""Property: through a Service, ``explain``/``reach --dst`` (sdn.traceflow.verdicts.judge)
and ``traceflow --all-backends`` (the walk) reach the same backends with the same verdict
and name the same deciding rule.

The walk is the oracle here: it translates the packet at the load balancer and then runs
the DFW at both ports as NSX does, hop by hop; ``judge`` takes the shortcut (resolve the
backends, evaluate each flow). Random clusters and policies come from the x/y/z fixture,
plus a Service in front of a random selection of the pods of its namespace, whose
service port (8080) differs from the target port, so a judge that forgot the port
mapping would disagree.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncp.reconcile.sync import sync_cluster
from sdn.model import LBVirtualServer
from sdn.store import Store
from sdn.traceflow import Disposition, PacketSpec, TraceContext
from sdn.traceflow.targets import resolve_source, resolve_target
from sdn.traceflow.verdicts import judge
from sdn.traceflow.walk import trace_all_backends
from tests.support.clusters import manifests
from tests.support.dfw_harness import CONFIG
from tests.support.policy_strategies import NS, PORTS, pod_labels_st, policy_st

PODS = [f"{ns}/{p}" for ns in NS for p in "abc"]


def _cluster(labels: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Namespaces x, y, z with pods a, b, c each (the labels drawn), every pod listening
    on the fixture's ports."""
    ports = [{"name": p.name, "protocol": p.protocol, "containerPort": p.port} for p in PORTS]
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": ns, "labels": {"ns": ns}}} for ns in NS]
    docs += [{"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": p, "namespace": ns, "labels": labels[f"{ns}/{p}"]},
              "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]}}
             for ns in NS for p in "abc"]
    return docs


def _service(ns: str, selector: dict[str, str], protocol: str, target: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": ns},
            "spec": {"selector": selector, "ports": [
                {"name": "p", "protocol": protocol, "port": 8080, "targetPort": target}]}}


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(labels=pod_labels_st, nps=st.lists(policy_st, max_size=3),
       svc_ns=st.sampled_from(NS),
       backends=st.sets(st.sampled_from("abc"), min_size=1),
       probe=st.sampled_from([("TCP", 80), ("TCP", 81), ("UDP", 80)]),
       src=st.sampled_from(PODS))
def test_judge_per_backend_equals_the_walk(tmp_path_factory: Any, labels: dict[str, Any],
                                           nps: list[dict[str, Any]], svc_ns: str,
                                           backends: set[str], probe: tuple[str, int],
                                           src: str) -> None:
    for i, p in enumerate(nps):
        p["metadata"]["name"] = f"np{i}"
    protocol, target_port = probe
    for pod in backends:  # the Service selects these pods of its namespace
        labels[f"{svc_ns}/{pod}"] = {**labels[f"{svc_ns}/{pod}"], "svc": "yes"}
    docs = [*_cluster(labels), *nps, _service(svc_ns, {"svc": "yes"}, protocol, target_port)]
    with Store.open(tmp_path_factory.mktemp("q") / "state.db") as store:
        sync_cluster(store, manifests=manifests(*docs), config=CONFIG, now=1)
        inv = store.inventory()
    ctx = TraceContext.build(inv)
    vips = [vs for vs in inv.of_type(LBVirtualServer) if vs.tag("ncp/service") == "svc"]
    if not vips:
        return  # a Service whose selector picks no pod may still get a VIP; none: nothing
    source = resolve_source(ctx, src, None)
    target = resolve_target(ctx, "svc:" + svc_ns + "/svc", source=source, cluster=None,
                            protocol=protocol, dport=None)
    answer = judge(ctx, source, target, protocol)
    pkt = PacketSpec(src_ip=source.ip, dst_ip=target.ip, protocol=protocol,
                     dst_port=target.port)
    branches = trace_all_backends(ctx, source.port.path if source.port else src, pkt)
    walked = []
    for t in branches:
        lb = [o for o in t.observations if o.component_type == "LOAD_BALANCER"]
        assert lb, t.summary
        if lb[0].translated_dst_ip is None:
            walked.append(("LB", False, None))
            continue
        dfw = [o for o in t.observations if o.component_type == "DFW"]
        assert t.disposition in (Disposition.DELIVERED, Disposition.DROPPED), t.summary
        walked.append((lb[0].translated_dst_ip, t.disposition is Disposition.DELIVERED,
                       dfw[-1].acl_rule_path if dfw else None))
    judged = []
    for lv in answer.legs:
        d = lv.verdict.deciding
        path = None if d is None else (d.rule.path if d.rule else
                                       "/infra/domains/default/security-policies/"
                                       "default-layer3-section/rules/default-layer3-rule")
        assert lv.leg.port == target_port
        judged.append((str(lv.leg.ip), lv.verdict.allowed, path))
    if not answer.legs:
        judged.append(("LB", False, None))
    # The source may be one of the backends (hairpin): both then judge egress and
    # ingress at that one port.
    assert sorted(walked) == sorted(judged)
