"""Properties of ``sync_cluster`` against independent oracles.

* No address is ever allocated twice; every pod IP lies in a subnet of its own
  namespace's segment; every subnet lies in a block (checked directly and by the
  cross-object checks).
* Released addresses come back only after ``ip_reallocation_time``.
* Any sequence of manifest changes ends in the same topology as one fresh sync of the
  final manifests. "Same" is compared on a projection without addresses: which
  addresses a pod holds depends on history by design (survivors keep theirs), so the
  projection keeps every object's identity, kind, ownership tags, attachment and
  gateway, and which namespaces have SNAT on which gateway.
* A second identical sync (in full, bypassing the fingerprint) changes nothing.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncp.reconcile.sync import sync_cluster
from sdn.model import (
    IpPool,
    Segment,
    SegmentPort,
)
from sdn.store import Store
from tests.support.clusters import config, deployment, manifests, namespace
from tests.support.state_checks import check_invariants, projection

NAMES = ["alpha", "beta", "gamma", "delta"]

cluster_docs = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.booleans(),  # no_snat
        st.lists(st.integers(min_value=0, max_value=40), max_size=3),  # replicas per app
    ),
    max_size=4,
    unique_by=lambda t: t[0],
)


def build(docs: list[tuple[str, bool, list[int]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, no_snat, replicas in docs:
        ann = {"ncp/no_snat": "true"} if no_snat else {}
        out.append(namespace(name, labels={"team": name}, annotations=ann))
        out += [deployment(name, f"app{i}", r) for i, r in enumerate(replicas)]
    return out


def fresh_store(tmp: Path, tag: str) -> Store:
    return Store.open(tmp / f"{tag}.db")


SLOW = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@SLOW
@given(steps=st.lists(cluster_docs, min_size=1, max_size=4), single_tier=st.booleans())
def test_any_sequence_ends_like_a_fresh_sync(tmp_path_factory: Any, steps: list[Any],
                                             single_tier: bool) -> None:
    tmp = tmp_path_factory.mktemp("seq")
    cfg = config(subnet_prefix=28, single_tier_topology=single_tier)
    store = fresh_store(tmp, "seq")
    now = 1000.0
    for docs in steps:
        # allow_empty: a step may empty the cluster on purpose.
        report = sync_cluster(store, manifests=manifests(*build(docs)), config=cfg, now=now,
                              allow_empty=True)
        assert report.problems == []
        check_invariants(store.inventory())
        now += 7.0  # less than the reuse delay: held addresses must be respected
    fresh = fresh_store(tmp, "fresh")
    sync_cluster(fresh, manifests=manifests(*build(steps[-1])), config=cfg, now=now)
    assert projection(store.inventory()) == projection(fresh.inventory())
    again = sync_cluster(store, manifests=manifests(*build(steps[-1])), config=cfg,
                         now=now + 1, full=True, allow_empty=True)
    assert not again.changed and not again.written


@SLOW
@given(size=st.integers(min_value=1, max_value=13), removed=st.integers(min_value=1, max_value=13),
       wait=st.sampled_from([0.0, 30.0, 59.0, 60.0, 61.0, 600.0]))
def test_released_addresses_return_only_after_the_delay(tmp_path_factory: Any, size: int,
                                                         removed: int, wait: float) -> None:
    removed = min(removed, size)
    tmp = tmp_path_factory.mktemp("hold")
    cfg = config(subnet_prefix=28, ip_reallocation_time=60)  # /28: 13 pod addresses
    store = fresh_store(tmp, "hold")
    pods = [deployment("ns", f"p{i}", 1) for i in range(size)]
    sync_cluster(store, manifests=manifests(namespace("ns"), *pods), config=cfg, now=1000)
    before = {p.id: p.address_bindings[0].ip_address for p in store.inventory().of_type(SegmentPort)
              if p.tag("ncp/project") == "ns"}
    kept = pods[removed:]
    newcomers = [deployment("ns", f"n{i}", 1) for i in range(removed)]
    sync_cluster(store, manifests=manifests(namespace("ns"), *kept), config=cfg, now=1000)
    sync_cluster(store, manifests=manifests(namespace("ns"), *kept, *newcomers), config=cfg,
                 now=1000 + wait)
    inv = store.inventory()
    check_invariants(inv)
    after = {p.id: p.address_bindings[0].ip_address for p in inv.of_type(SegmentPort)
             if p.tag("ncp/project") == "ns"}
    released = {before[f"p{i}-0"] for i in range(removed)}
    new_ips = {after[f"n{i}-0"] for i in range(removed)}
    for name, ip in after.items():
        if name in before:
            assert ip == before[name], "a surviving pod moved"
    if wait < 60:
        assert not (new_ips & released), "a held address was reused before the delay"
    else:
        seg = next(s for s in inv.of_type(Segment) if s.tag("ncp/project") == "ns")
        assert len(seg.subnets) == 1, "capacity did not come back after the delay"


def test_sync_twice_changes_nothing_on_the_full_path(tmp_path: Path) -> None:
    docs = build([("alpha", False, [3, 20]), ("beta", True, [5])])
    store = fresh_store(tmp_path, "twice")
    first = sync_cluster(store, manifests=manifests(*docs), config=config(), now=1)
    assert first.written and first.changed
    rev = store.revision
    for full in (False, True):
        again = sync_cluster(store, manifests=manifests(*docs), config=config(), now=2,
                             full=full)
        assert not again.changed and not again.written
        assert store.revision == rev


def test_subnet_growth_and_annotations(tmp_path: Path) -> None:
    store = fresh_store(tmp_path, "grow")
    docs = [namespace("big"), deployment("big", "web", 30)]
    report = sync_cluster(store, manifests=manifests(*docs), config=config(subnet_prefix=28),
                          now=1)
    ann = report.annotations["big"]
    subnets = [IPv4Network(ann[f"ncp/subnet-{i}"]) for i in range(3)]
    assert all(s.prefixlen == 28 for s in subnets)
    assert "ncp/subnet-3" not in ann  # 30 pods need 3 subnets of 13 addresses
    assert ann["ncp/snat_ip"].startswith("192.0.2.")
    check_invariants(store.inventory())


@SLOW
@given(first=cluster_docs, second=cluster_docs, change=cluster_docs,
       shared_second=st.booleans())
def test_clusters_share_blocks_and_pools_without_collisions(
        tmp_path_factory: Any, first: list[Any], second: list[Any], change: list[Any],
        shared_second: bool) -> None:
    """Two clusters in one manager: no address or subnet twice, and syncing one never
    changes a byte of the other's objects."""
    tmp = tmp_path_factory.mktemp("multi")
    store = fresh_store(tmp, "multi")
    cfg_a = config(cluster="alpha", subnet_prefix=28)
    cfg_b = config(cluster="beta", subnet_prefix=28, single_tier_topology=shared_second)
    sync_cluster(store, manifests=manifests(*build(first)), config=cfg_a, now=10)
    sync_cluster(store, manifests=manifests(*build(second)), config=cfg_b, now=20)
    check_invariants(store.inventory())
    beta_before = {r.path: r.body for r in store.rows() if r.cluster == "beta"}
    report = sync_cluster(store, manifests=manifests(*build(change)), config=cfg_a, now=30,
                          allow_empty=True)  # ``change`` may empty alpha on purpose
    assert report.problems == []
    check_invariants(store.inventory())
    beta_after = {r.path: r.body for r in store.rows() if r.cluster == "beta"}
    assert beta_after == beta_before
    snat = next(p for p in store.inventory().of_type(IpPool) if p.id == "ip-pool-snat")
    beta_allocs = {a.id for a in snat.allocations if a.tag("ncp/cluster") == "beta"}
    assert len(beta_allocs) == 1 + sum(1 for _n, no_snat, _r in second if not no_snat) + 3 - 0
