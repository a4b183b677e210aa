"""Idempotence and stability through the CLI: re-runs change nothing, removed workloads
release exactly their addresses, staying pods keep theirs, and released addresses come
back only after ``ip_reallocation_time`` (60 s by default)."""

from __future__ import annotations

import shutil
import types
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

REALLOCATION = 60.0

SAMPLES = [
    pytest.param("guestbook", (), id="guestbook"),
    pytest.param("guestbook", ("--profile", "shared-t1"), id="guestbook-shared-t1"),
    pytest.param("multi-tenant", (), id="multi-tenant"),
]


def _extra(cli: Any, extra: tuple[str, ...]) -> tuple[object, ...]:
    if extra and extra[0] == "--profile":
        return ("--profile", cli.PROFILES / f"{extra[1]}.json")
    return extra


def _sample(cli: Any, name: str) -> Any:
    return {"guestbook": cli.GUESTBOOK, "multi-tenant": cli.MULTI_TENANT}[name]


def _freeze_ipam_clock(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    """``sdn ipam`` reads the wall clock (it has no ``--now``); pin it for holds."""
    import sdn.cli.ipam_cmd as ipam_cmd

    monkeypatch.setattr(ipam_cmd, "time", types.SimpleNamespace(time=lambda: now))


def _ports(cli: Any, namespace: str) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in cli.show("segment-ports", "--namespace", namespace)}


def _binding(port: dict[str, Any]) -> tuple[str, str]:
    b = port["address_bindings"][0]
    return b["ip_address"], b["mac_address"]


def _pool(cli: Any, namespace: str) -> dict[str, Any]:
    (pool,) = cli.pools("--namespace", namespace)
    return pool


# --- re-runs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("sample", "extra"), SAMPLES)
def test_second_identical_sync_is_a_no_op(cli: Any, sample: str, extra: tuple[str, ...]) -> None:
    args = _extra(cli, extra)
    first = cli.sync(_sample(cli, sample), output="table", extra=args)
    assert first.code == 0, first.out
    assert "synced" in first.out
    rev, before = cli.revision(), cli.dump()
    second = cli.sync(_sample(cli, sample), output="table", extra=args)
    assert second.code == 0
    assert "already in sync" in second.out
    assert f"state revision {rev}" in second.out
    assert cli.revision() == rev
    assert cli.dump() == before


@pytest.mark.parametrize(("sample", "extra"), SAMPLES)
def test_full_resync_changes_nothing(cli: Any, sample: str, extra: tuple[str, ...]) -> None:
    args = _extra(cli, extra)
    assert cli.sync(_sample(cli, sample), extra=args).code == 0
    rev, before = cli.revision(), cli.dump()
    # Later, and in full: still nothing to do.
    res = cli.sync(_sample(cli, sample), now=cli.T0 + 3600, extra=(*args, "--full"))
    assert res.code == 0
    report = res.json()
    assert (report["created"], report["updated"], report["deleted"]) == ({}, {}, {})
    assert report["problems"] == []
    assert report["revision"] == rev
    assert cli.revision() == rev
    assert cli.dump() == before


# --- removing and adding back a workload ---------------------------------------------------

REMOVALS = [
    pytest.param("guestbook", "frontend.yaml", "default",
                 {"frontend-0", "frontend-1", "frontend-2"}, id="guestbook-frontend"),
    pytest.param("multi-tenant", "analytics.yaml", "analytics",
                 {"nightly-report-0", "nightly-report-1", "worker-0", "worker-1", "worker-2"},
                 id="multi-tenant-analytics"),
    pytest.param("multi-tenant", "monitoring.yaml", "monitoring",
                 {"node-exporter-node-a", "node-exporter-node-b", "node-exporter-node-c",
                  "node-exporter-node-d", "prometheus-0"}, id="multi-tenant-monitoring"),
]


def _service_ports(path: Path) -> int:
    """Virtual servers (and as many pools) a manifest's Services get: one per port on the
    cluster IP, and one more per port of a LoadBalancer Service (its external VIP)."""
    import yaml

    total = 0
    for d in yaml.safe_load_all(path.read_text()):
        spec = (d or {}).get("spec") or {}
        if d and d.get("kind") == "Service" and spec.get("clusterIP") != "None":
            ports = len(spec.get("ports") or [])
            total += ports * (2 if spec.get("type") == "LoadBalancer" else 1)
    return total


#: Kinds the last LoadBalancer Service of a cluster takes with it: the cluster's LB
#: service and, in the two-tier topology, its Tier-1.
LB_INFRA = {"LBService", "Tier1"}


@pytest.mark.parametrize(("sample", "filename", "ns", "removed"), REMOVALS)
def test_removing_a_manifest_releases_exactly_its_addresses(
        cli: Any, monkeypatch: pytest.MonkeyPatch, sample: str, filename: str, ns: str,
        removed: set[str]) -> None:
    folder = cli.copy_sample(_sample(cli, sample))
    assert cli.sync(folder).code == 0
    all_before = {p["path"]: p for p in cli.show("segment-ports")}
    ports_before = _ports(cli, ns)
    assert removed <= set(ports_before)
    pool_path = _pool(cli, ns)["path"]
    _freeze_ipam_clock(monkeypatch, cli.T0 + 10)
    usage_before = next(p for p in cli.ipam()["pools"] if p["path"] == pool_path)
    assert usage_before["held"] == 0

    lb = _service_ports(folder / filename)
    (folder / filename).unlink()
    res = cli.sync(folder, now=cli.T0 + 10)
    assert res.code == 0, res.out
    report = res.json()
    expected = {"SegmentPort": len(removed)}
    if lb:  # the file's Services go too: virtual servers and pools
        expected |= {"LBPool": lb, "LBVirtualServer": lb}
    deleted = {k: v for k, v in report["deleted"].items() if k not in LB_INFRA}
    assert deleted == expected
    assert set(report["deleted"]) - set(expected) <= LB_INFRA
    assert report["created"] == {}

    # Exactly those ports are gone; every other port is untouched, byte for byte.
    all_after = {p["path"]: p for p in cli.show("segment-ports")}
    gone = {all_before[p]["id"] for p in set(all_before) - set(all_after)}
    assert gone == removed
    for path, port in all_after.items():
        assert port == all_before[path], f"{path} changed"

    # Their pool allocations are released, and held back.
    pool = _pool(cli, ns)
    assert {a["id"] for a in pool["allocations"]} == set(ports_before) - removed
    usage = next(p for p in cli.ipam()["pools"] if p["path"] == pool_path)
    assert usage["allocated"] == usage_before["allocated"] - len(removed)
    assert usage["held"] == len(removed)
    check = cli.sdn("ipam", "check", "--state", cli.state)
    assert check.code == 0, check.out

    # After ip_reallocation_time the holds are gone.
    _freeze_ipam_clock(monkeypatch, cli.T0 + 10 + REALLOCATION + 1)
    usage = next(p for p in cli.ipam()["pools"] if p["path"] == pool_path)
    assert usage["held"] == 0


def test_adding_back_before_expiry_does_not_reuse_held_addresses(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    before = _ports(cli, "default")
    released = {_binding(before[n])[0] for n in before if n.startswith("frontend-")}
    kept = {n: _binding(p) for n, p in before.items() if not n.startswith("frontend-")}
    (folder / "frontend.yaml").unlink()
    assert cli.sync(folder, now=cli.T0 + 10).code == 0
    (folder / "frontend.yaml").write_text((cli.GUESTBOOK / "frontend.yaml").read_text())

    res = cli.sync(folder, now=cli.T0 + 20)
    assert res.code == 0, res.out
    after = _ports(cli, "default")
    assert set(after) == set(before)
    fresh = {_binding(after[n])[0] for n in after if n.startswith("frontend-")}
    assert len(fresh) == 3
    assert not fresh & released, "a held address was handed out before it expired"
    assert {n: _binding(after[n]) for n in kept} == kept


def test_adding_back_after_expiry_can_reuse_addresses(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    before = _ports(cli, "default")
    released = {_binding(before[n])[0] for n in before if n.startswith("frontend-")}
    kept = {n: _binding(p) for n, p in before.items() if not n.startswith("frontend-")}
    (folder / "frontend.yaml").unlink()
    assert cli.sync(folder, now=cli.T0 + 10).code == 0
    (folder / "frontend.yaml").write_text((cli.GUESTBOOK / "frontend.yaml").read_text())

    res = cli.sync(folder, now=cli.T0 + 10 + REALLOCATION + 1)
    assert res.code == 0, res.out
    # Back come the pods, the frontend's virtual servers and pools (cluster IP and
    # LoadBalancer VIP), and the cluster's LB service with its Tier-1.
    assert res.json()["created"] == {"LBPool": 2, "LBService": 1, "LBVirtualServer": 2,
                                     "SegmentPort": 3, "Tier1": 1}
    after = _ports(cli, "default")
    fresh = {_binding(after[n])[0] for n in after if n.startswith("frontend-")}
    assert fresh & released, "no released address was reused after it expired"
    assert {n: _binding(after[n]) for n in kept} == kept
    ips = [_binding(p)[0] for p in after.values()]
    macs = [_binding(p)[1] for p in after.values()]
    assert len(set(ips)) == len(ips) == 6
    assert len(set(macs)) == 6
    subnet_ips = {a["allocation_ip"] for a in _pool(cli, "default")["allocations"]}
    assert subnet_ips == set(ips)
    assert all(ip_address(ip).is_private for ip in ips)


def test_scaling_down_keeps_the_survivors(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    before = _ports(cli, "default")
    text = (folder / "frontend.yaml").read_text()
    (folder / "frontend.yaml").write_text(text.replace("replicas: 3", "replicas: 1"))
    res = cli.sync(folder, now=cli.T0 + 5)
    assert res.code == 0
    assert res.json()["deleted"] == {"SegmentPort": 2}
    after = _ports(cli, "default")
    assert set(before) - set(after) == {"frontend-1", "frontend-2"}
    for name, port in after.items():
        assert port == before[name]


def test_removing_namespaces_releases_subnets_and_snat_ips(
        cli: Any, monkeypatch: pytest.MonkeyPatch, tags: Any) -> None:
    import yaml

    folder = cli.copy_sample(cli.MULTI_TENANT)
    first = cli.sync(folder)
    assert first.code == 0
    ann = first.json()["namespaces"]
    gone = ("analytics", "shop")
    for name in ("analytics.yaml", "shop.yaml", "policies.yaml"):
        (folder / name).unlink()
    docs = [d for d in yaml.safe_load_all((folder / "namespaces.yaml").read_text())
            if d["metadata"]["name"] not in gone]
    cli.write_yaml(folder / "namespaces.yaml", *docs)

    res = cli.sync(folder, now=cli.T0 + 10)
    assert res.code == 0, res.out
    report = res.json()
    assert sorted(report["namespaces"]) == ["default", "kube-public", "kube-system",
                                            "monitoring", "payments"]
    # policies.yaml held the sample's 6 NetworkPolicies: their groups and the two
    # security policies per NetworkPolicy go with it.
    assert report["deleted"] == {"Group": 11, "IpAddressPool": 2, "LBPool": 3,
                                 "LBService": 1, "LBVirtualServer": 3, "PolicyNatRule": 1,
                                 "SecurityPolicy": 12, "Segment": 2, "SegmentPort": 5 + 6,
                                 "Tier1": 3}
    for kind in ("tier-1s", "segments", "segment-ports", "nat-rules", "ip-pools"):
        for ns in gone:
            assert cli.show(kind, "--namespace", ns) == [], (kind, ns)
    (snat,) = [p for p in cli.pools() if p["id"] == "ip-pool-snat"]
    assert ann["shop"]["ncp/snat_ip"] not in {a["allocation_ip"] for a in snat["allocations"]}
    assert not [a for a in snat["allocations"] if tags(a).get("ncp/project") in gone]

    # The released subnets and SNAT IP are held back for ip_reallocation_time.
    _freeze_ipam_clock(monkeypatch, cli.T0 + 11)
    usage = cli.ipam("--show-blocks")
    blocks = {b["path"].rsplit("/", 1)[1]: b for b in usage["blocks"]}
    assert blocks["ip-block-nosnat"]["held"] == 256
    assert blocks["ip-block-pods"]["held"] == 256
    carved = {s["cidr"] for b in usage["blocks"] for s in b["carved_subnets"]}
    assert ann["shop"]["ncp/subnet-0"] not in carved
    assert ann["analytics"]["ncp/subnet-0"] not in carved
    pools = {p["path"].rsplit("/", 1)[1]: p for p in usage["pools"]}
    assert pools["ip-pool-snat"]["held"] == 1
    assert cli.sdn("validate", "--state", cli.state).code == 0
    assert cli.sdn("ipam", "check", "--state", cli.state).code == 0

    # Back before the holds expire: new subnet and SNAT IP, not the held ones.
    shutil.rmtree(folder)
    folder = cli.copy_sample(cli.MULTI_TENANT, "multi-tenant-again")
    again = cli.sync(folder, now=cli.T0 + 20)
    assert again.code == 0
    ann2 = again.json()["namespaces"]
    for ns in gone:
        assert ann2[ns]["ncp/subnet-0"] != ann[ns]["ncp/subnet-0"]
    assert ann2["shop"]["ncp/snat_ip"] != ann["shop"]["ncp/snat_ip"]
    for ns in ("default", "kube-public", "kube-system", "monitoring", "payments"):
        assert ann2[ns] == ann[ns]
