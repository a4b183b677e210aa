"""Two clusters in one state: guestbook as ``alpha``, multi-tenant as ``beta``.

They share the admin's objects (Tier-0, IP blocks, ``ip-pool-snat``) and must not share
addresses; a sync of one never touches the other's objects.
"""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_network
from typing import Any

import pytest


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
    (pool,) = [p for p in cli.show("ip-pools") if p["id"] == "ip-pool-snat"]
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
    pools = cli.show("ip-pools")
    alloc_ips = [a["allocation_ip"] for p in pools for a in p["allocations"]]
    assert _dupes(alloc_ips) == []
    subnets = [ip_network(s["cidr"]) for p in pools for s in p["subnets"]]
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
    snat_before = [a for p in cli.show("ip-pools") if p["id"] == "ip-pool-snat"
                   for a in p["allocations"] if tags(a)["ncp/cluster"] == "beta"]
    alpha_before = {p["id"] for p in cli.show("segment-ports", "--cluster", "alpha")}

    (two_clusters / "frontend.yaml").unlink()
    res = cli.sync(two_clusters, now=cli.T0 + 10, extra=("--cluster-name", "alpha"))
    assert res.code == 0, res.out
    assert res.json()["deleted"] == {"LBPool": 2, "LBService": 1, "LBVirtualServer": 2,
                                     "SegmentPort": 3, "Tier1": 1}

    for kind in kinds:
        assert cli.show_text(kind, "--cluster", "beta") == before[kind], kind
    snat_after = [a for p in cli.show("ip-pools") if p["id"] == "ip-pool-snat"
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
