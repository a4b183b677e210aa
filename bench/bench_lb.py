"""Benchmark: reconcile many LoadBalancer services.

The load-balancer issue's target: 2,000 LoadBalancer services with 10 endpoints each
reconciled in under 5 s. The cluster: N namespaces, each with 10 pods and S/N LoadBalancer
services selecting them (so every service has 10 endpoints); VIPs come from a /20 LB pool;
the profile's ``lb_size`` decides how many LB services auto-scaling creates.

Run: ``python bench/bench_lb.py`` (defaults: 2,000 services over 200 namespaces,
``lb_size`` large), ``--lb-size small`` shows auto-scaling to 100 LB services. Prints one
JSON line per case: ``cold`` (empty state), ``noop_full`` (the same again, in full) and
``trace_outside`` (``--traces`` Traceflows from seeded outside clients to seeded VIPs; every
one must be delivered to a member of its service's pool, else the case fails).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, BenchParser, emit, peak_rss_mib, percentile, run_info

sys.path.insert(0, str(ROOT))


def cluster(namespaces: int, services: int) -> list[dict[str, Any]]:
    """Namespaces with 10 pods each and LoadBalancer services selecting all 10."""
    docs: list[dict[str, Any]] = []
    per_ns = max(1, services // namespaces)
    for n in range(namespaces):
        ns = f"lb-{n:04d}"
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": "web", "namespace": ns},
                     "spec": {"replicas": 10, "template": {
                         "metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
        for s in range(per_ns):
            docs.append({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": f"svc-{s:03d}", "namespace": ns},
                         "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                                  "ports": [{"port": 80 + s % 3, "protocol": "TCP",
                                             "targetPort": 8080}]}})
    return docs


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, bounds checked."""
    parser = BenchParser(__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_sizes((200,))
    parser.add_argument("--lb-size", choices=["small", "medium", "large"], default="large")
    parser.add_repeat(3)
    parser.add_argument("--traces", type=int, default=1000)
    args = parser.parse_args(argv)
    parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)

    from ncp.config import parse_config
    from ncp.objects import K8sObject
    from ncp.reconcile.sync import sync_cluster
    from ncp.sources.manifests import ManifestSet
    from sdn.model import LBService, LBVirtualServer
    from sdn.profiles import parse_profile
    from sdn.store import Store

    docs = cluster(args.namespaces, args.services)
    objs = tuple(K8sObject(kind=d["kind"], api_version=d["apiVersion"],
                           namespace="" if d["kind"] == "Namespace"
                           else d["metadata"]["namespace"], name=d["metadata"]["name"],
                           body=d, source=f"bench#{i}") for i, d in enumerate(docs))
    mset = ManifestSet(objects=objs, problems=(), notes=())
    config = parse_config({
        "container_ip_blocks": [{"id": "ip-block-pods", "cidr": "10.0.0.0/8"}],
        "external_ip_pools": [{"id": "ip-pool-snat", "cidr": "198.18.0.0/16"}],
        "external_ip_pools_lb": [{"id": "ip-pool-lb", "cidr": "198.19.0.0/20"}],
        "service_cidr": "10.96.0.0/16",  # room for 2,000 cluster IPs as well
    })
    profile = parse_profile({"name": "bench", "parameters": {"lb_size": args.lb_size}})
    where = run_info()
    for case in ("cold", "noop_full"):
        times: list[float] = []
        info: dict[str, Any] = {}
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                store = Store.open(Path(tmp) / "s.db")
                if case == "noop_full":
                    sync_cluster(store, manifests=mset, config=config, profile=profile, now=1)
                started = time.perf_counter()
                report = sync_cluster(store, manifests=mset, config=config, profile=profile,
                                      now=2, full=True)
                times.append(time.perf_counter() - started)
                inv = store.inventory()
                vss = [v for v in inv.of_type(LBVirtualServer) if v.id.startswith("l4vs_")]
                if report.problems:
                    raise SystemExit(f"FAILED: {report.problems[:3]}")
                info = {"problems": len(report.problems), "l4_virtual_servers": len(vss),
                        "lb_services": len([s for s in inv.of_type(LBService)
                                            if s.size != "DLB"]),
                        "members": 10, "changed": report.changed}
                store.close()
        emit({"bench": "lb", "case": case, "services": args.services,
              "namespaces": args.namespaces, "lb_size": args.lb_size, "repeat": args.repeat,
              "median_s": round(statistics.median(times), 4),
              "p95_s": round(percentile(times, 95), 4), "peak_rss_mib": peak_rss_mib(),
              **info, **where})
    emit({"bench": "lb", "case": "trace_outside", "services": args.services,
          "namespaces": args.namespaces, "lb_size": args.lb_size,
          **trace_outside(mset, config, profile, args), **where})
    return 0


def trace_outside(mset: Any, config: Any, profile: Any, args: argparse.Namespace
                  ) -> dict[str, Any]:
    """Outside clients to random VIPs through ``sdn.traceflow.outside``."""
    from ipaddress import IPv4Address

    from ncp.reconcile.sync import sync_cluster
    from sdn.model import LBVirtualServer
    from sdn.store import Store
    from sdn.traceflow import PacketSpec, TraceContext
    from sdn.traceflow.outside import trace_from_outside

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "s.db")
        sync_cluster(store, manifests=mset, config=config, profile=profile, now=1)
        inv = store.inventory()
        store.close()
    started = time.perf_counter()
    ctx = TraceContext.build(inv)
    build_s = time.perf_counter() - started
    vss = [v for v in inv.of_type(LBVirtualServer) if v.id.startswith("l4vs_")]
    samples: list[float] = []
    for _ in range(args.traces):
        vs = rng.choice(vss)
        client = IPv4Address(f"203.0.113.{rng.randrange(1, 255)}")
        pkt = PacketSpec(src_ip=client, dst_ip=vs.ip_address, dst_port=int(vs.ports[0]))
        t0 = time.perf_counter()
        result = trace_from_outside(ctx, pkt)
        samples.append(time.perf_counter() - t0)
        pool = inv[vs.pool_path or ""]
        delivered = result.observations[-1].lport_name
        if result.disposition.value != "DELIVERED" or delivered not in {
                m.display_name for m in getattr(pool, "members", ())}:
            raise SystemExit(f"FAILED: {client} -> {vs.ip_address}: {result.summary}")
    return {"traces": args.traces, "context_build_s": round(build_s, 3),
            "median_us": round(statistics.median(samples) * 1e6, 1),
            "p99_us": round(percentile(samples, 99) * 1e6, 1), "peak_rss_mib": peak_rss_mib()}


if __name__ == "__main__":
    sys.exit(main())
