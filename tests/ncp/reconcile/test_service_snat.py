"""Per-service SNAT (``ncp/snat_pool``): a rule for the service's pods that outranks the
namespace's, traced; and every error code NCP reports for it."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from ncp.reconcile.sync import sync_cluster
from sdn.model import NatRule
from sdn.store import Store
from sdn.traceflow import PacketSpec, TraceContext, trace
from tests.support.clusters import config, manifests, namespace, pod
from tests.support.state_checks import check_invariants

OWNED = {"id": "egress-pool", "cidr": "203.0.113.0/29", "owner": "cluster:k8s-cluster"}
FOREIGN = {"id": "foreign-pool", "cidr": "203.0.113.64/29", "owner": "cluster:other"}
PODS = [namespace("shop"), *(pod("shop", f"api-{i}", {"app": "api"}) for i in range(2)),
        pod("shop", "web-0", {"app": "web"})]


def service(name: str, pool: str, app: str = "api") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "shop",
                         "annotations": {"ncp/snat_pool": pool}},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}}


def run(tmp: Path, *docs: dict[str, Any]) -> tuple[Any, Any]:
    store = Store.open(tmp / "s.db")
    report = sync_cluster(store, manifests=manifests(*PODS, *docs), now=1,
                          config=config(external_ip_pools_lb=[OWNED, FOREIGN]))
    inv = store.inventory()
    store.close()
    return report, inv


def test_service_pods_egress_from_the_service_ip(tmp_path: Path) -> None:
    report, inv = run(tmp_path, service("api", "egress-pool"))
    assert report.problems == []
    check_invariants(inv)
    (rule,) = [r for r in inv.of_type(NatRule) if r.tag("ncp/service") == "api"]
    assert rule.sequence_number == 900 and rule.translated_network == "203.0.113.1"
    assert rule.gateway_path == "/infra/tier-0s/t0-gateway"
    ctx = TraceContext.build(inv)
    for name, expected in (("shop/api-0", "203.0.113.1"), ("shop/web-0", None)):
        port = ctx.port_by_name(name)
        t = trace(ctx, name, PacketSpec(src_ip=port.address_bindings[0].ip_address,
                                        dst_ip=IPv4Address("198.18.5.5"), dst_port=443))
        nat = [o for o in t.observations if o.component_type == "NAT"]
        if expected is None:  # the namespace's own SNAT IP
            assert nat and nat[0].translated_src_ip != "203.0.113.1"
        else:
            assert nat[0].translated_src_ip == expected


@pytest.mark.parametrize(("docs", "code", "where"), [
    pytest.param([service("api", "nope")], "IP_POOL_NOT_FOUND", "api", id="unknown-pool"),
    pytest.param([service("api", "foreign-pool")], "POOL_ACCESS_DENIED", "api",
                 id="pool-of-another-cluster"),
    pytest.param([service("api", "egress-pool"), service("api2", "egress-pool")],
                 "SNAT_RULE_OVERLAPPED", "api2", id="pod-in-two-snat-services"),
])
def test_errors_are_reported_on_the_service(tmp_path: Path, docs: list[dict[str, Any]],
                                            code: str, where: str) -> None:
    report, inv = run(tmp_path, *docs)
    assert [(p.code, p.obj) for p in report.problems] == [(code, f"Service/shop/{where}")]
    assert report.service_annotations[("shop", where)] == {"ncp/error.snat": code}
    check_invariants(inv)


def test_exhausted_pool(tmp_path: Path) -> None:
    tiny = {"id": "egress-pool", "cidr": "203.0.113.0/30", "owner": "cluster:k8s-cluster"}
    store = Store.open(tmp_path / "s.db")
    docs = [*PODS, service("api", "egress-pool"), service("web", "egress-pool", app="web"),
            pod("shop", "db-0", {"app": "db"}), service("db", "egress-pool", app="db")]
    report = sync_cluster(store, manifests=manifests(*docs), now=1,
                          config=config(external_ip_pools_lb=[tiny]))
    assert [(p.code, p.obj) for p in report.problems] == [
        ("IP_POOL_EXHAUSTED", "Service/shop/web")]
    check_invariants(store.inventory())
    store.close()
