"""Two clusters in one state: guestbook as ``alpha``, multi-tenant as ``beta``.

They share the admin's objects (Tier-0, IP blocks, ``ip-pool-snat``) and must not share
addresses; a sync of one never touches the other's objects.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_network
from typing import Any

import pytest

from sdn.traceflow.teps import TepPlan
from sdn.traceflow.walk import EDGE_NODE


@pytest.fixture(params=[pytest.param("alpha-first", id="alpha-first"),
                        pytest.param("beta-first", id="beta-first")])
def two_clusters(cli: Any, request: pytest.FixtureRequest) -> Any:
    """The guestbook synced as ``alpha`` and multi-tenant as ``beta``, in either order;
    returns alpha's private manifest folder."""
    alpha = cli.copy_sample(cli.GUESTBOOK, "alpha")
    runs = [(alpha, "alpha"), (cli.MULTI_TENANT, "beta")]
    if request.param == "beta-first":
        runs.reverse()
    for i, (folder, name) in enumerate(runs):
        res = cli.sync(folder, now=cli.T0 + i, extra=("--cluster-name", name))
        assert res.code == 0, res.out + res.err
    return alpha


def _dupes(values: list[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def test_both_clusters_present(cli: Any, two_clusters: Any, tags: Any) -> None:
    ports = cli.show("segment-ports")
    owners = Counter(tags(p)["ncp/cluster"] for p in ports)
    assert owners == {"alpha": 6 + 3, "beta": 21 + 4}
    assert len(cli.show("tier-0s")) == 1
    assert {t["tier0_path"] for t in cli.show("tier-1s")} == {"/infra/tier-0s/t0-gateway"}


def test_snat_allocations_of_both_clusters_in_one_pool(cli: Any, two_clusters: Any,
                                                       tags: Any) -> None:
    (pool,) = [p for p in cli.pools() if p["id"] == "ip-pool-snat"]
    by_cluster = Counter(tags(a)["ncp/cluster"] for a in pool["allocations"])
    # alpha: 3 namespaces + nodes; beta: 6 NAT namespaces + nodes.
    assert by_cluster == {"alpha": 4, "beta": 7}
    ips = [a["allocation_ip"] for a in pool["allocations"]]
    assert _dupes(ips) == []
    rules = cli.show("nat-rules")
    assert _dupes([r["translated_network"] for r in rules]) == []


def test_no_address_is_used_twice_across_clusters(cli: Any, two_clusters: Any) -> None:
    ports = cli.show("segment-ports")
    port_ips = [b["ip_address"] for p in ports for b in p["address_bindings"]]
    assert _dupes(port_ips) == []
    pools = cli.pools()
    alloc_ips = [a["allocation_ip"] for p in pools for a in p["allocations"]]
    assert _dupes(alloc_ips) == []
    # A block subnet's CIDR is realized state in NSX (not in the subnet's JSON): it is
    # its segment's network.
    subnets = [*(ip_network(s["cidr"]) for p in pools for s in p["subnets"] if "cidr" in s),
               *(ip_network(n["network"]) for seg in cli.show("segments")
                 for n in seg["subnets"])]
    overlapping = [(str(a), str(b)) for i, a in enumerate(subnets) for b in subnets[i + 1:]
                   if a.overlaps(b)]
    assert overlapping == []


def test_two_clusters_validate_clean(cli: Any, two_clusters: Any) -> None:
    res = cli.sdn("validate", "--state", cli.state)
    assert res.code == 0, res.out


def test_resyncing_one_cluster_leaves_the_other_byte_identical(
        cli: Any, two_clusters: Any, tags: Any) -> None:
    kinds = ("segment-ports", "nat-rules", "segments", "tier-1s", "ip-pools")
    before = {k: cli.show_text(k, "--cluster", "beta") for k in kinds}
    snat_before = [a for p in cli.pools() if p["id"] == "ip-pool-snat"
                   for a in p["allocations"] if tags(a)["ncp/cluster"] == "beta"]
    alpha_before = {p["id"] for p in cli.show("segment-ports", "--cluster", "alpha")}

    (two_clusters / "frontend.yaml").unlink()
    res = cli.sync(two_clusters, now=cli.T0 + 10, extra=("--cluster-name", "alpha"))
    assert res.code == 0, res.out
    assert res.json()["deleted"] == {"LBPool": 2, "LBService": 1, "LBVirtualServer": 2,
                                     "SegmentPort": 3, "Tier1": 1}

    for kind in kinds:
        assert cli.show_text(kind, "--cluster", "beta") == before[kind], kind
    snat_after = [a for p in cli.pools() if p["id"] == "ip-pool-snat"
                  for a in p["allocations"] if tags(a)["ncp/cluster"] == "beta"]
    assert snat_after == snat_before
    alpha_after = {p["id"] for p in cli.show("segment-ports", "--cluster", "alpha")}
    assert alpha_before - alpha_after == {"frontend-0", "frontend-1", "frontend-2"}

    # beta's own re-run changes no object after alpha wrote the state.
    res = cli.sync(cli.MULTI_TENANT, now=cli.T0 + 20, extra=("--cluster-name", "beta"))
    assert res.code == 0
    report = res.json()
    assert (report["created"], report["updated"], report["deleted"]) == ({}, {}, {})
    for kind in kinds:
        assert cli.show_text(kind, "--cluster", "beta") == before[kind], kind


def test_identical_resync_after_another_cluster_wrote_is_a_no_op(cli: Any) -> None:
    assert cli.sync(cli.GUESTBOOK, extra=("--cluster-name", "alpha")).code == 0
    assert cli.sync(cli.MULTI_TENANT, now=cli.T0 + 1,
                    extra=("--cluster-name", "beta")).code == 0
    rev, before = cli.revision(), cli.dump()
    res = cli.sync(cli.GUESTBOOK, now=cli.T0 + 2, output="table",
                   extra=("--cluster-name", "alpha"))
    assert res.code == 0
    assert "already in sync" in res.out
    assert cli.revision() == rev
    assert cli.dump() == before


# --- the question commands with two clusters of the same sample (issue 10, defect 4) ---

QUESTIONS = {
    "traceflow": ["traceflow", "--dst", "payments/api-0", "--dport", "8443"],
    "explain": ["explain", "--dst", "payments/api-0", "--dport", "8443"],
    "reach": ["reach", "--dst", "payments/api-0", "--port", "8443"],
}


@pytest.fixture
def twins(cli: Any) -> Any:
    """multi-tenant synced twice: ``prod`` (two-tier) and ``stage`` (shared Tier-1), so
    names repeat and addresses differ (cluster IPs repeat too: they come from each
    cluster's own service CIDR)."""
    assert cli.sync(cli.MULTI_TENANT, extra=("--cluster-name", "prod")).code == 0
    res = cli.sync(cli.MULTI_TENANT, now=cli.T0 + 1, extra=(
        "--cluster-name", "stage", "--profile", cli.PROFILES / "shared-t1.json"))
    assert res.code in (0, 1), res.err
    return cli


def _port(cli: Any, tags: Any, cluster: str, name: str) -> dict[str, Any]:
    (port,) = [p for p in cli.show("segment-ports", "--cluster", cluster)
               if p["display_name"] == name]
    return dict(port)


@pytest.mark.parametrize("command", list(QUESTIONS))
def test_a_pod_name_two_clusters_share_needs_cluster(twins: Any, command: str) -> None:
    argv = [*QUESTIONS[command], "--src", "shop/frontend-0", "--state", twins.state]
    res = twins.sdn(*argv)
    assert res.code == 2
    assert "AMBIGUOUS_POD" in res.err and "prod, stage" in res.err
    assert len(res.err.strip().splitlines()) == 1
    for cluster in ("prod", "stage"):
        ok = twins.sdn(*argv, "--cluster", cluster)
        assert ok.code == 0, ok.err


@pytest.mark.parametrize("command", list(QUESTIONS))
def test_an_unknown_cluster_is_refused_with_the_synced_ones(twins: Any, command: str) -> None:
    res = twins.sdn(*QUESTIONS[command], "--src", "shop/frontend-0", "--cluster", "prd",
                    "--state", twins.state)
    assert res.code == 2
    assert "UNKNOWN_CLUSTER" in res.err and "prd" in res.err and "prod, stage" in res.err


@pytest.mark.parametrize("cluster", ["prod", "stage"])
def test_traceflow_cluster_picks_that_clusters_pods(twins: Any, tags: Any,
                                                    cluster: str) -> None:
    src = _port(twins, tags, cluster, "shop/frontend-0")
    dst = _port(twins, tags, cluster, "payments/api-0")
    data = twins.sdn("traceflow", "--state", twins.state, "--cluster", cluster, "--src",
                     "shop/frontend-0", "--dst", "payments/api-0", "--dport", "8443",
                     "-o", "json").json()
    assert data["source_id"] == src["path"]
    assert data["packet"]["ip_header"]["dst_ip"] == dst["address_bindings"][0]["ip_address"]
    assert data["observations"][-1]["segment_port_path"] == dst["path"]


@pytest.mark.parametrize("cluster", ["prod", "stage"])
def test_a_tunnel_names_the_node_addresses_of_its_own_cluster(twins: Any, tags: Any,
                                                              cluster: str) -> None:
    """shop/frontend-0 runs on node-d and payments/api-0 on node-a in both clusters; the
    tunnel's ends are the TEPs of that cluster's nodes (sdn.traceflow.teps: every node of
    the state, each cluster's its own, and the edge), whichever way the source is given."""
    src = _port(twins, tags, cluster, "shop/frontend-0")
    dst = _port(twins, tags, cluster, "payments/api-0")
    nodes = [(tags(p)["ncp/cluster"], tags(p)["ncp/node_name"])
             for p in twins.show("segment-ports")
             if p["attachment"]["type"] == "PARENT"]
    plan = TepPlan([*nodes, (None, EDGE_NODE)])
    data = twins.sdn("traceflow", "--state", twins.state, "--src", src["path"], "--dst",
                     dst["address_bindings"][0]["ip_address"], "--dport", "8443",
                     "-o", "json").json()
    hops = [(o["local_ip_address"], o["remote_ip_address"]) for o in data["observations"]
            if o["resource_type"] == "TraceflowObservationForwarded"]
    assert hops == [(plan.address((cluster, tags(src)["ncp/node_name"])),
                     plan.address((cluster, tags(dst)["ncp/node_name"])))]
    other = "stage" if cluster == "prod" else "prod"
    assert plan.address((cluster, "node-d")) != plan.address((other, "node-d"))


@pytest.mark.parametrize("cluster", ["prod", "stage"])
def test_a_cluster_ip_both_clusters_use_goes_to_the_sources_cluster(twins: Any, tags: Any,
                                                                    cluster: str) -> None:
    vips = {vs["ip_address"] for vs in twins.show("lb-virtual-servers")
            if vs["id"].startswith("vs_") and
            {"scope": "ncp/service", "tag": "api"} in vs["tags"]}
    assert len(vips) == 1  # the same cluster IP in both clusters
    data = twins.sdn("traceflow", "--state", twins.state, "--cluster", cluster, "--src",
                     "shop/frontend-0", "--dst", vips.pop(), "--dport", "8443",
                     "--all-backends", "-o", "json").json()
    ends = {b["observations"][-1]["segment_port_path"] for b in data["branches"]}
    mine = {p["path"] for p in twins.show("segment-ports", "--cluster", cluster)
            if p["display_name"].startswith("payments/api-")}
    assert ends == mine and data["disposition"] == "DELIVERED"


def test_reach_with_cluster_lists_only_that_clusters_pods(twins: Any) -> None:
    data = twins.sdn("reach", "--state", twins.state, "--cluster", "stage", "-n", "payments",
                     "--port", "8443", "-o", "json").json()
    assert data["results"][0]["pods"] == ["payments/api-0", "payments/api-1", "payments/db-0"]


def test_a_pod_reaches_the_other_clusters_loadbalancer_vip(twins: Any) -> None:
    """A LoadBalancer VIP is advertised to the shared Tier-0, so a prod pod reaches
    stage's VIP and lands on stage's backends (it used to leave through the uplink)."""
    (vip,) = {vs["ip_address"] for vs in twins.show("lb-virtual-servers", "--cluster", "stage")
              if vs["id"].startswith("l4vs_")}
    data = twins.sdn("traceflow", "--state", twins.state, "--cluster", "prod", "--src",
                     "shop/cart-0", "--dst", vip, "--dport", "80", "--all-backends",
                     "-o", "json").json()
    ends = {b["observations"][-1]["segment_port_path"] for b in data["branches"]}
    stage = {p["path"] for p in twins.show("segment-ports", "--cluster", "stage")
             if p["display_name"].startswith("shop/frontend-")}
    assert data["disposition"] == "DELIVERED" and ends == stage


def test_reach_matrix_with_an_unknown_cluster(twins: Any) -> None:
    res = twins.sdn("reach", "--state", twins.state, "--cluster", "prd")
    assert res.code == 2 and "UNKNOWN_CLUSTER" in res.err
