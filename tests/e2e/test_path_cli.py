"""``sdn path`` end to end, on the sample topologies.

* :data:`FLOWS`: one question each on a sample state (guestbook, multi-tenant in both NCP
  topologies, lb-heavy, two clusters in one state), with the hops it must cross (as a
  string of kinds: ``P`` segment port, ``S`` segment, ``1`` Tier-1, ``0`` Tier-0) and how
  each path ends; and ``sdn traceflow --all-backends`` on the same question must cross the
  same components, backend by backend (a branch the firewall drops, the first ones).
* The JSON shape (README, Commands), ``-o yaml``, and the table.
* Several clusters: names are looked up in ``--cluster`` (or ``CLUSTER/NS/POD``), never in
  another cluster; a cluster IP in the source's cluster.
* :data:`BAD`: bad input, one coded line each (the guestbook's argument cases are in
  ``test_bad_input_table.py`` with every other command's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import sdn.cli
from tests.support.cli_runs import T0, TOPOLOGIES, run_main, sync_sample

SHARED_T1 = TOPOLOGIES / "profiles" / "shared-t1.json"
CLIENT = "203.0.113.7"
KINDS = {"SegmentPort": "P", "Segment": "S", "Tier1": "1", "Tier0": "0"}


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One state per sample (built once; the tests only read them)."""
    out: dict[str, Path] = {}
    for name in ("guestbook", "multi-tenant", "lb-heavy"):
        out[name] = tmp_path_factory.mktemp(name) / "state.db"
        sync_sample(out[name], name)
    shared = out["shared-t1"] = tmp_path_factory.mktemp("shared") / "state.db"
    sync_sample(shared, "multi-tenant", "--profile", SHARED_T1)
    two = out["two-clusters"] = tmp_path_factory.mktemp("two") / "state.db"
    sync_sample(two, "multi-tenant", "--cluster-name", "prod")
    sync_sample(two, "multi-tenant", "--cluster-name", "stage", "--profile", SHARED_T1, now=T0 + 1)
    return out


def sdn_json(state: Path, *argv: object) -> Any:
    code, out, err = run_main(sdn.cli.main, *argv, "--state", state, "-o", "json")
    assert code == 0, err
    return json.loads(out)


@dataclass(frozen=True)
class Flow:
    id: str
    state: str
    src: str
    dst: str
    hops: str  # every path's hop kinds (P, S, 1, 0)
    end: str  # every path's end
    backends: int = 0  # paths through a virtual server (0: to the destination itself)
    port: int | None = None
    cluster: str | None = None
    http_host: str | None = None


FLOWS = [
    Flow("gb-same-segment", "guestbook", "default/frontend-0", "default/redis-master-0",
         "PSP", "SEGMENT_PORT", port=6379),
    Flow("gb-by-address", "guestbook", "default/frontend-0", "@pod:default/redis-slave-1",
         "PSP", "SEGMENT_PORT", port=6379),
    Flow("gb-to-outside", "guestbook", "default/frontend-0", "198.51.100.20", "PS10",
         "EXITS_NETWORK"),
    Flow("gb-to-node", "guestbook", "default/frontend-0", "@pod:worker-1", "PS101SP",
         "SEGMENT_PORT"),
    Flow("gb-to-gateway", "guestbook", "default/frontend-0", "@gateway:default", "PS1",
         "GATEWAY_INTERFACE", port=None),
    Flow("gb-free-address", "guestbook", "default/frontend-0", "@free:default", "PS",
         "ARP_FAIL"),
    Flow("gb-svc", "guestbook", "default/frontend-2", "svc:default/redis-slave", "PSP",
         "SEGMENT_PORT", backends=2),
    Flow("gb-clusterip-own-port", "guestbook", "default/frontend-1",
         "@clusterip:default/redis-master", "PSP", "SEGMENT_PORT", backends=1),
    Flow("gb-lb-from-outside", "guestbook", CLIENT, "svc:default/frontend", "01 01SP",
         "SEGMENT_PORT", backends=3),
    Flow("gb-outside-to-pod", "guestbook", CLIENT, "default/redis-master-0", "01SP",
         "SEGMENT_PORT", port=6379),
    Flow("mt-across-namespaces", "multi-tenant", "shop/frontend-0", "payments/api-0",
         "PS101SP", "SEGMENT_PORT", port=8443),
    Flow("mt-dropped-by-the-dfw", "multi-tenant", "shop/frontend-0", "payments/db-0",
         "PS101SP", "SEGMENT_PORT", port=5432),
    Flow("mt-clusterip", "multi-tenant", "shop/frontend-0", "@clusterip:payments/api",
         "PS101SP", "SEGMENT_PORT", backends=2, port=8443),
    Flow("mt-routed-namespace-out", "multi-tenant", "analytics/worker-0", "10.50.3.4",
         "PS10", "EXITS_NETWORK", port=443),
    Flow("shared-across-namespaces", "shared-t1", "shop/frontend-0", "payments/api-0",
         "PS1SP", "SEGMENT_PORT", port=8443),
    Flow("shared-to-outside", "shared-t1", "shop/frontend-0", "203.0.113.99", "PS10",
         "EXITS_NETWORK"),
    Flow("lb-public-vip", "lb-heavy", CLIENT, "@lb:apps/public-23", "01 01SP", "SEGMENT_PORT",
         backends=3, port=80),
    Flow("lb-ingress-by-host", "lb-heavy", CLIENT, "@ingress", "01 01SP", "SEGMENT_PORT",
         backends=3, port=80, http_host="shop.example.com"),
    Flow("two-stage-shared-t1", "two-clusters", "shop/frontend-0", "payments/api-0",
         "PS1SP", "SEGMENT_PORT", port=8443, cluster="stage"),
    Flow("two-prod-svc", "two-clusters", "shop/frontend-0", "svc:payments/api", "PS101SP",
         "SEGMENT_PORT", backends=2, cluster="prod"),
    Flow("two-cross-cluster-by-name", "two-clusters", "prod/shop/frontend-0",
         "stage/payments/api-0", "PS101SP", "SEGMENT_PORT", port=8443),
]


def _virtual_server_ip(state: Path, kind: str, name: str, cluster: str | None) -> str:
    ns, _, svc = name.partition("/")
    prefix = {"clusterip": "vs_", "lb": "l4vs_", "ingress": "l7vs_"}[kind]
    found = set()
    for vs in sdn_json(state, "show", "lb-virtual-servers"):
        tags = {t["scope"]: t["tag"] for t in vs["tags"]}
        if not vs["id"].startswith(prefix) or cluster not in (None, tags["ncp/cluster"]):
            continue
        if kind != "ingress" and (tags.get("ncp/project"), tags.get("ncp/service")) != (ns, svc):
            continue
        found.add(vs["ip_address"])
    (ip,) = found
    return str(ip)


def destination(state: Path, flow: Flow) -> str:
    """``@clusterip:NS/NAME``, ``@lb:NS/NAME``, ``@ingress``, ``@pod:NAME`` (a port's
    address), ``@gateway:NS`` and ``@free:NS`` (its segment's gateway and a free
    address) looked up in the state."""
    if not flow.dst.startswith("@"):
        return flow.dst
    kind, _, name = flow.dst[1:].partition(":")
    if kind == "pod":
        (port,) = [p for p in sdn_json(state, "show", "segment-ports")
                   if p["display_name"] == name]
        return str(port["address_bindings"][0]["ip_address"])
    if kind in ("gateway", "free"):
        (seg,) = sdn_json(state, "show", "segments", "-n", name)
        gateway = seg["subnets"][0]["gateway_address"].split("/")[0]
        return gateway if kind == "gateway" else gateway.rsplit(".", 1)[0] + ".250"
    return _virtual_server_ip(state, kind, name, flow.cluster)


def _options(flow: Flow) -> list[object]:
    opts: list[object] = []
    if flow.port is not None:
        opts += ["--dport", flow.port]
    if flow.cluster:
        opts += ["--cluster", flow.cluster]
    if flow.http_host:
        opts += ["--http-host", flow.http_host]
    return opts


def traceflow_hops(branch: dict[str, Any], gateways: dict[str, str]) -> list[str]:
    """The components a traced packet crosses (as ``tests.support.trace_hops`` reads them).
    NSX's Delivered observation has no ``component_path``: a delivery to a gateway's
    interface names the gateway, whose path ``gateways`` gives by id."""
    hops = [] if branch["source_id"].startswith("outside:") else [branch["source_id"]]
    for o in branch["observations"]:
        if o.get("component_type") not in ("LS", "LR", "NAT") and \
                o["resource_type"] != "TraceflowObservationDelivered":
            continue
        path = o.get("component_path") or o.get("segment_port_path") or \
            gateways.get(o.get("component_name", ""))
        if path and (not hops or hops[-1] != path):
            hops.append(path)
    return hops


@pytest.mark.parametrize("flow", [pytest.param(f, id=f.id) for f in FLOWS])
def test_path_crosses_what_traceflow_crosses(states: dict[str, Path], flow: Flow) -> None:
    state = states[flow.state]
    dst = destination(state, flow)
    answer = sdn_json(state, "path", "--src", flow.src, "--dst", dst, *_options(flow))
    paths = answer["paths"]
    assert len(paths) == max(flow.backends, 1)
    assert (answer["destination"]["virtual_server_path"] is not None) == (flow.backends > 0)
    for p in paths:
        kinds = "".join(KINDS[h["resource_type"]] for h in p["hops"])
        assert kinds == flow.hops.replace(" ", ""), p
        assert p["end"] == flow.end
        assert p["start"] == ("UPLINK" if flow.src == CLIENT else "SEGMENT_PORT")
        assert (p["backend"] is not None) == (flow.backends > 0)
    # traceflow's --dport defaults to 80 for an address; path's to the virtual server's one
    port = [] if flow.port or not answer["destination"]["port"] else [
        "--dport", answer["destination"]["port"]]
    traced = sdn_json(state, "traceflow", "--src", flow.src, "--dst", dst, "--all-backends",
                      *_options(flow), *port)
    gateways = {g["id"]: g["path"] for kind in ("tier-0s", "tier-1s")
                for g in sdn_json(state, "show", kind)}
    by_backend = {}
    for branch in traced["branches"]:
        lb = [o for o in branch["observations"] if o.get("component_type") == "LOAD_BALANCER"]
        ip = lb[0]["translated_dst_ip"] if lb else branch["packet"]["ip_header"]["dst_ip"]
        by_backend[ip] = branch
    assert sorted(by_backend) == sorted(p["ip"] for p in paths)
    for p in paths:
        branch, hops = by_backend[p["ip"]], [h["path"] for h in p["hops"]]
        crossed = traceflow_hops(branch, gateways)
        if branch["observations"][-1].get("reason") == "FW_RULE":
            assert hops[:len(crossed)] == crossed
        else:
            assert crossed == hops


def test_json_shape(states: dict[str, Path]) -> None:
    state = states["multi-tenant"]
    answer = sdn_json(state, "path", "--src", "shop/frontend-0", "--dst", "svc:payments/api")
    assert list(answer) == ["source", "destination", "paths"]
    assert answer["source"] == {
        "name": "shop/frontend-0", "ip": answer["source"]["ip"], "cluster": "k8s-cluster",
        "segment_port_path": "/infra/segments/seg_k8s-cluster_shop/ports/frontend-0"}
    dst = answer["destination"]
    assert list(dst) == ["name", "ip", "port", "segment_port_path", "virtual_server_path",
                         "pool_path"]
    assert (dst["name"], dst["port"], dst["segment_port_path"]) == (
        "svc:payments/api", 8443, None)
    assert dst["virtual_server_path"].startswith("/infra/lb-virtual-servers/")
    assert dst["pool_path"].startswith("/infra/lb-pools/")
    for p in answer["paths"]:
        assert list(p) == ["backend", "ip", "start", "end", "hops"]
        assert p["backend"].startswith("payments/api-")
        for hop in p["hops"]:
            assert list(hop)[:4] == ["resource_type", "id", "display_name", "path"]
            assert list(hop)[-1] == "next"
        first, seg, t1, t0, *_rest, last = p["hops"]
        assert first["ip_addresses"] == [answer["source"]["ip"]]
        assert first["next"] == {"relation": "segment", "prefix": None}
        assert seg["subnets"][0].keys() == {"gateway_address", "network"}
        assert seg["next"] == {"relation": "gateway", "prefix": None}
        assert t1["next"] == {"relation": "uplink", "prefix": "0.0.0.0/0"}
        assert t0["next"]["relation"] == "downlink"
        assert last["ip_addresses"] == [p["ip"]] and last["next"] is None
    out = sdn_json(state, "path", "--src", "shop/frontend-0", "--dst", "8.8.8.8")
    [p] = out["paths"]
    assert p["end"] == "EXITS_NETWORK"
    assert p["hops"][-1]["resource_type"] == "Tier0"
    assert p["hops"][-1]["next"] == {"relation": "uplink", "prefix": "0.0.0.0/0"}
    assert out["destination"]["virtual_server_path"] is None


def test_yaml_is_the_json(states: dict[str, Path]) -> None:
    state = states["guestbook"]
    argv = ["path", "--src", "default/frontend-0", "--dst", "svc:default/redis-slave",
            "--state", state]
    code, out, err = run_main(sdn.cli.main, *argv, "-o", "yaml")
    assert code == 0, err
    assert yaml.safe_load(out) == sdn_json(state, *argv[:-2])


def test_table(states: dict[str, Path]) -> None:
    state = states["multi-tenant"]
    code, out, err = run_main(sdn.cli.main, "path", "--src", "shop/frontend-0", "--dst",
                          "payments/api-0", "--state", state)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    api = destination(state, Flow("x", "multi-tenant", "", "@pod:payments/api-0", "", ""))
    assert lines[0] == f"path shop/frontend-0 -> payments/api-0 ({api})"
    assert lines[1].split() == ["#", "HOP", "NAME", "ADDRESS", "ONWARD"]
    rows = [line.split() for line in lines[2:9]]
    assert [r[0] for r in rows] == [str(i) for i in range(1, 8)]
    assert rows[3][1:4] == ["Tier-0", "t0-gateway", "advertised"]
    assert rows[2][-2:] == ["default", "0.0.0.0/0"]
    assert max(len(line.rstrip()) for line in lines[:9]) <= 80  # fits a terminal
    assert lines[9] == ""
    assert lines[10].startswith("shop/frontend-0 ─▶ seg_k8s-cluster_shop ─▶")
    assert lines[10].endswith("payments/api-0 ✓")
    assert lines[11].startswith("SEGMENT_PORT: reaches payments/api-0")


def test_table_per_backend_and_out_of_nsx(states: dict[str, Path]) -> None:
    state = states["guestbook"]
    code, out, _ = run_main(sdn.cli.main, "path", "--src", CLIENT, "--dst",
                        "svc:default/frontend", "--state", state)
    assert code == 0
    assert out.count("backend ") == 3 and "backend 3 of 3: default/frontend-" in out
    assert out.count("outside ─▶ t0-gateway ─▶") == 3
    code, out, _ = run_main(sdn.cli.main, "path", "--src", "default/frontend-0", "--dst",
                        "8.8.8.8", "--state", state)
    assert code == 0
    assert "uplink 0.0.0.0/0, out of NSX" in out
    assert out.splitlines()[-2].endswith("t0-gateway ─▶ ↗ outside")
    assert out.splitlines()[-1] == ("EXITS_NETWORK: 8.8.8.8 is outside NSX; leaves through "
                                    "t0-gateway's uplink")


# --- several clusters --------------------------------------------------------------------


def _cluster_of(state: Path, port_path: str) -> str:
    (port,) = [p for p in sdn_json(state, "show", "segment-ports") if p["path"] == port_path]
    return {t["scope"]: t["tag"] for t in port["tags"]}["ncp/cluster"]


@pytest.mark.parametrize("cluster", ["prod", "stage"])
def test_names_and_cluster_ips_are_looked_up_in_one_cluster(states: dict[str, Path],
                                                             cluster: str) -> None:
    state = states["two-clusters"]
    flow = Flow("x", "two-clusters", "", "@clusterip:payments/api", "", "", cluster=cluster)
    cluster_ip = destination(state, flow)
    for dst in ("svc:payments/api", cluster_ip, "payments/api-0"):
        answer = sdn_json(state, "path", "--src", "shop/frontend-0", "--dst", dst,
                          "--cluster", cluster)
        assert answer["source"]["cluster"] == cluster
        for p in answer["paths"]:
            assert p["end"] == "SEGMENT_PORT"
            assert _cluster_of(state, p["hops"][-1]["path"]) == cluster
    # from the other cluster's pod, the same cluster IP is that cluster's own
    other = {"prod": "stage", "stage": "prod"}[cluster]
    answer = sdn_json(state, "path", "--src", f"{other}/shop/frontend-0", "--dst", cluster_ip)
    assert {_cluster_of(state, p["hops"][-1]["path"]) for p in answer["paths"]} == {other}


def test_an_address_is_where_the_network_puts_it(states: dict[str, Path]) -> None:
    """Only names are per cluster: a stage pod's address from a prod pod is that pod,
    across the shared Tier-0, as a packet would go."""
    state = states["two-clusters"]
    stage_api = sdn_json(state, "path", "--src", "stage/shop/frontend-0", "--dst",
                         "payments/api-0", "--cluster", "stage")["paths"][0]
    answer = sdn_json(state, "path", "--src", "shop/frontend-0", "--dst", stage_api["ip"],
                      "--cluster", "prod")
    [p] = answer["paths"]
    assert p["hops"][-1]["path"] == stage_api["hops"][-1]["path"]
    assert "".join(KINDS[h["resource_type"]] for h in p["hops"]) == "PS101SP"


#: id -> (state, argv after ``sdn path``, expected code). Each is exit 2, one line.
BAD: dict[str, tuple[str, list[object], str]] = {
    "ambiguous-pod": ("two-clusters", ["--src", "shop/frontend-0", "--dst", "8.8.8.8"],
                      "AMBIGUOUS_POD"),
    "ambiguous-service": ("two-clusters", ["--src", CLIENT, "--dst", "svc:shop/frontend"],
                          "AMBIGUOUS_SERVICE"),
    "other-clusters-pod-by-name": ("two-clusters", ["--src", "shop/frontend-0", "--dst",
                                                    "stage/payments/api-0", "--cluster",
                                                    "prod"], "UNKNOWN_POD"),
    "unknown-cluster": ("two-clusters", ["--src", "shop/frontend-0", "--dst", "8.8.8.8",
                                         "--cluster", "dev"], "UNKNOWN_CLUSTER"),
    "unknown-namespace-in-cluster": ("two-clusters", ["--src", "shop/frontend-0", "--dst",
                                                      "nosuchns/api-0", "--cluster", "prod"],
                                     "UNKNOWN_POD"),
    "vip-with-two-ports-needs-dport": ("lb-heavy", ["--src", CLIENT, "--dst", "@ingress"],
                                       "UNKNOWN_SERVICE_PORT"),
    "service-port-it-does-not-serve": ("multi-tenant", ["--src", "shop/frontend-0", "--dst",
                                                        "svc:payments/api", "--dport", "80"],
                                       "UNKNOWN_SERVICE_PORT"),
    "service-of-another-protocol": ("multi-tenant", ["--src", "shop/frontend-0", "--dst",
                                                     "svc:payments/api", "--protocol", "UDP"],
                                    "UNKNOWN_SERVICE"),
    "pod-without-slash": ("multi-tenant", ["--src", "shop/frontend-0", "--dst", "frontend-0"],
                          "BAD_ARGUMENT"),
    "protocol-unknown": ("multi-tenant", ["--src", "shop/frontend-0", "--dst", "8.8.8.8",
                                          "--protocol", "GRE"], "BAD_ARGUMENT"),
    "output-dot": ("multi-tenant", ["--src", "shop/frontend-0", "--dst", "8.8.8.8", "-o",
                                    "dot"], "BAD_ARGUMENT"),
}


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in BAD])
def test_bad_input_is_one_coded_line(states: dict[str, Path], case: str) -> None:
    name, argv, code = BAD[case]
    state = states[name]
    if "@ingress" in argv:
        argv = [destination(state, Flow("x", name, "", "@ingress", "", "")) if a == "@ingress"
                else a for a in argv]
    res = run_main(sdn.cli.main, "path", *argv, "--state", state)
    assert res[0] == 2, res
    [line] = res[2].splitlines()
    assert line.startswith(f"error: {code}"), line
    assert res[1] == ""
