"""The ``sdn`` read commands on a synced guestbook: ``ipam``, ``ipam check``, ``validate``,
``topology`` (text, DOT, SVG), ``show`` in its three formats, and a missing state."""

from __future__ import annotations

import shutil
import sqlite3
from ipaddress import ip_network
from typing import Any

import pytest
import yaml

KINDS = ("tier-0s", "tier-1s", "segments", "segment-ports", "ip-blocks", "ip-pools",
         "nat-rules", "groups", "security-policies", "lb-services", "lb-virtual-servers",
         "lb-pools")


@pytest.fixture
def gb(cli: Any) -> Any:
    """A guestbook state of this test's own (tests here may damage it)."""
    res = cli.sync(cli.GUESTBOOK)
    assert res.code == 0
    return res.json()


# --- ipam ------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    pytest.param(("ipam",), id="ipam"),
    pytest.param(("ipam", "show"), id="ipam-show"),
    pytest.param(("ipam", "--show-blocks"), id="ipam-show-blocks"),
    pytest.param(("ipam", "show", "--show-blocks"), id="ipam-show-show-blocks"),
])
def test_ipam_table(cli: Any, gb: Any, argv: tuple[str, ...]) -> None:
    res = cli.sdn(*argv, "--state", cli.state)
    assert res.code == 0, res.err
    for name in ("ip-block-pods", "ip-block-nodes", "ip-pool-snat"):
        assert name in res.out
    if "--show-blocks" in argv:
        for ns, ann in gb["namespaces"].items():
            assert ann["ncp/subnet-0"] in res.out, ns


def test_ipam_json(cli: Any, gb: Any) -> None:
    usage = cli.ipam()
    blocks = {b["path"].rsplit("/", 1)[1]: b for b in usage["blocks"]}
    pods = blocks["ip-block-pods"]
    assert pods["cidr"] == "172.16.0.0/16"
    assert pods["subnets"] == 3
    assert pods["carved"] == 3 * 256
    assert pods["held"] == 0
    assert pods["free"] == pods["total"] - pods["carved"]
    assert "carved_subnets" not in pods
    pools = {p["path"].rsplit("/", 1)[1]: p for p in usage["pools"]}
    assert pools["ipp_k8s-cluster_default"]["allocated"] == 6
    assert pools["ipp_k8s-cluster_default"]["owner"] == "k8s-cluster/default"
    assert pools["ipp_k8s-cluster-nodes"]["allocated"] == 3
    snat = pools["ip-pool-snat"]
    assert (snat["kind"], snat["owner"], snat["capacity"]) == ("static", "admin", 241)
    assert snat["allocated"] == 4  # three namespaces and the node network


def test_ipam_show_blocks_json(cli: Any, gb: Any) -> None:
    usage = cli.ipam("--show-blocks")
    pods = next(b for b in usage["blocks"] if b["path"].endswith("/ip-block-pods"))
    carved = {s["owner"]: s for s in pods["carved_subnets"]}
    assert sorted(carved) == ["k8s-cluster/default", "k8s-cluster/kube-public",
                              "k8s-cluster/kube-system"]
    for owner, sub in carved.items():
        ns = owner.split("/")[1]
        assert sub["cidr"] == gb["namespaces"][ns]["ncp/subnet-0"]
        assert ip_network(sub["cidr"]).subnet_of(ip_network(pods["cidr"]))
        assert sub["capacity"] == 253
    assert carved["k8s-cluster/default"]["allocated"] == 6
    assert carved["k8s-cluster/kube-system"]["allocated"] == 0


def test_ipam_check_clean_then_leak(cli: Any, gb: Any) -> None:
    res = cli.sdn("ipam", "check", "--state", cli.state)
    assert res.code == 0, res.out
    assert cli.sdn("ipam", "check", "-o", "json", "--state", cli.state).json() == []
    (port,) = cli.show("segment-ports", "--tag", "ncp/pod=redis-master-0")
    leaked = port["address_bindings"][0]["ip_address"]
    with sqlite3.connect(cli.state) as db:
        gone = db.execute("DELETE FROM objects WHERE path=?", (port["path"],)).rowcount
    assert gone == 1
    res = cli.sdn("ipam", "check", "--state", cli.state)
    assert res.code == 1
    assert leaked in res.out
    assert "LEAKED" in res.out
    found = cli.sdn("ipam", "check", "-o", "json", "--state", cli.state)
    assert found.code == 1
    (orphan,) = found.json()
    assert orphan["address"] == leaked
    assert orphan["kind"] == "LEAKED"
    assert orphan["where"].endswith("/ip-allocations/redis-master-0")


def test_ipam_check_finds_an_unrecorded_address(cli: Any, gb: Any) -> None:
    """The reverse leak: a port whose address no pool records."""
    (pool,) = cli.show("ip-pools", "--namespace", "default")
    with sqlite3.connect(cli.state) as db:  # pools are stored split: one row per allocation
        gone = db.execute("DELETE FROM allocations WHERE pool=? AND id=?",
                          (pool["path"], "frontend-1")).rowcount
        assert gone == 1
    (port,) = cli.show("segment-ports", "--tag", "ncp/pod=frontend-1")
    res = cli.sdn("ipam", "check", "-o", "json", "--state", cli.state)
    assert res.code == 1
    assert [o["address"] for o in res.json()] == [port["address_bindings"][0]["ip_address"]]


# --- validate --------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [pytest.param("guestbook", id="guestbook"),
                                    pytest.param("multi-tenant", id="multi-tenant")])
def test_validate_clean(cli: Any, synced: Any, sample: str) -> None:
    state = synced(sample).state
    res = cli.sdn("validate", "--state", state)
    assert res.code == 0, res.out
    assert cli.sdn("validate", "-o", "json", "--state", state).json() == []


# --- topology --------------------------------------------------------------------------------


def test_topology_text(cli: Any, gb: Any) -> None:
    res = cli.sdn("topology", "--state", cli.state)
    assert res.code == 0
    assert "t0-gateway" in res.out
    assert "tier-0" in res.out
    port_lines = [line for line in res.out.splitlines() if "port default/frontend-0" in line]
    assert len(port_lines) == 1
    (frontend,) = cli.show("segment-ports", "--tag", "ncp/pod=frontend-0")
    assert frontend["address_bindings"][0]["ip_address"] in port_lines[0]
    for seg in cli.show("segments"):
        assert seg["id"] in res.out


def test_topology_filtered_by_namespace(cli: Any, gb: Any) -> None:
    res = cli.sdn("topology", "--namespace", "kube-system", "--state", cli.state)
    assert res.code == 0
    assert "seg_k8s-cluster_kube-system" in res.out
    assert "frontend-0" not in res.out


def test_topology_dot(cli: Any, gb: Any) -> None:
    res = cli.sdn("topology", "-o", "dot", "--state", cli.state)
    assert res.code == 0
    assert res.out.lstrip().startswith("digraph")
    assert res.out.rstrip().endswith("}")
    assert "t0-gateway" in res.out


def test_topology_svg(cli: Any, gb: Any) -> None:
    """An SVG with Graphviz (CI installs it); without it, the documented error."""
    res = cli.sdn("topology", "-o", "svg", "--state", cli.state)
    if shutil.which("dot") is None:
        assert res.code != 0 and "GRAPHVIZ_MISSING" in res.err
        return
    assert res.code == 0, res.err
    assert "<svg" in res.out


def test_topology_to_a_file(cli: Any, gb: Any) -> None:
    out = cli.tmp / "topo.dot"
    res = cli.sdn("topology", "-o", "dot", "--out", out, "--state", cli.state)
    assert res.code == 0
    assert res.out == ""
    assert out.read_text().startswith("digraph")


# --- show ------------------------------------------------------------------------------------


def test_show_segments_table(cli: Any, gb: Any) -> None:
    res = cli.sdn("show", "segments", "--state", cli.state)
    assert res.code == 0
    for seg_id in ("seg_k8s-cluster_default", "seg_k8s-cluster_kube-public",
                   "seg_k8s-cluster_kube-system", "seg_k8s-cluster-nodes"):
        assert seg_id in res.out


@pytest.mark.parametrize("kind", [pytest.param(k, id=k) for k in KINDS])
def test_show_yaml_equals_json(cli: Any, synced: Any, kind: str) -> None:
    state = synced("guestbook").state
    as_json = cli.show(kind, state=state)
    res = cli.sdn("show", kind, "-o", "yaml", "--state", state)
    assert res.code == 0
    assert (yaml.safe_load(res.out) or []) == as_json
    table = cli.sdn("show", kind, "--state", state)
    assert table.code == 0
    for obj in as_json:
        assert obj["id"] in table.out


@pytest.mark.parametrize("filters", [
    pytest.param(("--cluster", "k8s-cluster"), id="cluster"),
    pytest.param(("--namespace", "default"), id="namespace"),
    pytest.param(("--tag", "app=redis"), id="tag"),
    pytest.param(("--tag", "app=redis", "--tag", "role=slave"), id="two-tags"),
])
def test_show_filters(cli: Any, synced: Any, tags: Any, filters: tuple[str, ...]) -> None:
    state = synced("guestbook").state
    everything = cli.show("segment-ports", state=state)
    wanted = []
    for i in range(0, len(filters), 2):
        flag, value = filters[i], filters[i + 1]
        scope = {"--cluster": "ncp/cluster", "--namespace": "ncp/project"}.get(flag)
        wanted.append((scope, value) if scope else tuple(value.split("=", 1)))
    expected = [p for p in everything if all(tags(p).get(s) == v for s, v in wanted)]
    assert expected
    assert cli.show("segment-ports", *filters, state=state) == expected


def test_show_bad_tag_filter(cli: Any, gb: Any) -> None:
    res = cli.sdn("show", "segments", "--tag", "no-equals-sign", "--state", cli.state)
    assert res.code == 2
    assert "BAD_ARGUMENT" in res.err


@pytest.mark.parametrize("argv", [
    pytest.param(("show", "segments"), id="show"),
    pytest.param(("show", "segment-ports", "-o", "json"), id="show-json"),
    pytest.param(("ipam",), id="ipam"),
    pytest.param(("ipam", "check"), id="ipam-check"),
    pytest.param(("validate",), id="validate"),
    pytest.param(("topology",), id="topology"),
    pytest.param(("profile", "list"), id="profile-list"),
])
def test_missing_state(cli: Any, argv: tuple[str, ...]) -> None:
    missing = cli.tmp / "nowhere" / "state.db"
    res = cli.sdn(*argv, "--state", missing)
    assert res.code == 2
    assert "STATE_NOT_FOUND" in res.err
    assert not missing.exists()
    assert not missing.parent.exists()


def test_read_commands_never_write(cli: Any, gb: Any) -> None:
    before = cli.dump()
    rev = cli.revision()
    for argv in (("show", "segments"), ("show", "nat-rules", "-o", "json"),
                 ("show", "ip-pools", "-o", "yaml"), ("ipam",), ("ipam", "--show-blocks"),
                 ("ipam", "check"), ("validate",), ("topology",), ("topology", "-o", "dot"),
                 ("profile", "list")):
        assert cli.sdn(*argv, "--state", cli.state).code == 0, argv
    assert cli.revision() == rev
    assert cli.dump() == before


def test_state_from_environment(cli: Any, gb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDN_STATE", str(cli.state))
    res = cli.sdn("show", "tier-0s", "-o", "json")
    assert res.code == 0
    assert [t["id"] for t in res.json()] == ["t0-gateway"]
