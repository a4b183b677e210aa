"""Benchmark of ``sdn serve``'s Traceflow and search APIs over real HTTP: one JSON line
per case.

How to run (from the repository root, after ``pip install -e '.[test]'``: httpx)::

    python bench/bench_api_traceflow.py            # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_api_traceflow.py --namespaces 250 --pods 1000 --policies 750

Goals (issue 14; measured here, never asserted in tests), at 10,000 pods: a Manager
traceflow created and its observations read in at most 50 ms; a search in at most 50 ms.

Method: the cluster is generated and synced as ``bench_questions.py`` does
(``generate_cluster(..., seed=S)``, ``ncp sync --config bench/large-cluster.yaml``,
untimed). ``sdn serve --port 0 --rate-limit 0`` starts on the synced state; the logical
ports are listed once (untimed). Cases, each on one keep-alive connection:

* ``traceflow``: ``--repeat`` seeded random pairs of distinct pods, TCP to a port drawn
  from 80, 443, 5432, 8080: ``POST /api/v1/traceflows`` then
  ``GET /api/v1/traceflows/{id}/observations``, timed together (``first_s``: the first
  pair, which opens the query index and builds the trace context of the revision; it is
  not among the samples); the traceflow is deleted after (untimed);
* ``search``: ``--repeat`` queries of seeded random namespaces, cycling through three
  forms clients send: ``resource_type:SegmentPort AND tags.scope:ncp\\/project AND
  tags.tag:NS`` (NCP's own lookup), ``display_name:NS\\/*`` (a wildcard), and
  ``resource_type:Group AND tags.tag:NS``, each one page (``page_size`` 1000)
  (``first_s``: one of each form first, which indexes the fields they name; not among
  the samples).

Each line: ``{"bench": "api_traceflow", "case", "namespaces", "pods", "policies",
"shapes", "seed", "requests", "median_ms", "p95_ms", "p99_ms", "max_ms", "first_s",
"start_s", "target_ms", "target_met", "server_rss_mib", <case extras>, "machine",
"revision"}``; ``traceflow`` adds ``dispositions`` (from the counters), ``search`` adds
``mean_results``. Exit status 1 when a request failed.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_questions import prepare
from benchlib import ROOT, BenchParser, emit, percentile, run_info, workspace

CASES = ("traceflow", "search")
PASSWORD = "bench-admin-password"
PORTS = (80, 443, 5432, 8080)
TARGET_MS = 50.0


def log(msg: str) -> None:
    print(f"[bench_api_traceflow {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def start_server(state: Path) -> tuple[subprocess.Popen[str], str, float]:
    """``sdn serve`` on ``state``; its process, URL and the seconds until it listened."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDN_ADMIN_PASSWORD": PASSWORD}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sdn", "serve", "--port", "0",
                             "--rate-limit", "0", "--state", str(state)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()
            if line.startswith("listening on "):
                return proc, line.split()[-1], time.perf_counter() - started
    proc.kill()
    proc.wait()
    raise SystemExit("sdn serve did not start")


def rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), MiB (0 where /proc has none)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def latencies(times: list[float]) -> dict[str, Any]:
    ms = [t * 1000 for t in times]
    p99 = percentile(ms, 99)
    return {"requests": len(ms), "median_ms": round(percentile(ms, 50), 3),
            "p95_ms": round(percentile(ms, 95), 3), "p99_ms": round(p99, 3),
            "max_ms": round(max(ms), 3), "target_ms": TARGET_MS,
            "target_met": percentile(ms, 50) <= TARGET_MS}


def pods(http: Any) -> list[tuple[str, str, str]]:
    """Every pod's logical port: (lport id, address, namespace), from the Manager API."""
    out: list[tuple[str, str, str]] = []
    params: dict[str, Any] = {"page_size": 1000}
    while True:
        body = http.get("/api/v1/logical-ports", params=params).json()
        for lp in body["results"]:
            tags = {t["scope"]: t["tag"] for t in lp.get("tags", [])}
            if "ncp/pod" in tags and lp.get("address_bindings"):
                out.append((lp["id"], lp["address_bindings"][0]["ip_address"],
                            tags.get("ncp/project", "")))
        if "cursor" not in body:
            return out
        params["cursor"] = body["cursor"]


def one_traceflow(http: Any, src: str, dst_ip: str, port: int) -> tuple[float, str, bool]:
    """Create + observations, timed; the disposition the counters say; success."""
    packet = {"resource_type": "FieldsPacketData", "ip_header": {"dst_ip": dst_ip},
              "transport_header": {"tcp_header": {"dst_port": port}}}
    started = time.perf_counter()
    created = http.post("/api/v1/traceflows", json={"lport_id": src, "packet": packet})
    ok = created.status_code == 201
    flow = created.json() if ok else {}
    if ok:
        ok = http.get(f"/api/v1/traceflows/{flow['id']}/observations").status_code == 200
    elapsed = time.perf_counter() - started
    if ok:
        http.delete(f"/api/v1/traceflows/{flow['id']}")
    counters = flow.get("counters", {})
    ending = "DELIVERED" if counters.get("delivered_count") else \
        "DROPPED" if counters.get("dropped_count") else "OTHER"
    return elapsed, ending, ok


def case_traceflow(http: Any, every: list[tuple[str, str, str]], repeat: int,
                   rng: random.Random) -> tuple[dict[str, Any], bool]:
    def pair() -> tuple[str, str, int]:
        src, dst = rng.sample(every, 2)
        return src[0], dst[1], rng.choice(PORTS)

    first, _, ok = one_traceflow(http, *pair())
    times, endings = [], Counter[str]()
    for _ in range(repeat):
        t, ending, good = one_traceflow(http, *pair())
        times.append(t)
        endings[ending] += 1
        ok &= good
    return {**latencies(times), "first_s": round(first, 3),
            "dispositions": dict(sorted(endings.items()))}, ok


def _queries(namespace: str) -> list[str]:
    ns = namespace.replace("-", "\\-")
    return [f"resource_type:SegmentPort AND tags.scope:ncp\\/project AND tags.tag:{ns}",
            f"display_name:{ns}\\/*", f"resource_type:Group AND tags.tag:{ns}"]


def case_search(http: Any, every: list[tuple[str, str, str]], repeat: int,
                rng: random.Random) -> tuple[dict[str, Any], bool]:
    namespaces = sorted({ns for _, _, ns in every})
    ok = True
    started = time.perf_counter()
    for query in _queries(rng.choice(namespaces)):
        ok &= http.get("/policy/api/v1/search/query", params={"query": query}).status_code \
            == 200
    first = time.perf_counter() - started
    times, results = [], 0
    for n in range(repeat):
        query = _queries(rng.choice(namespaces))[n % 3]
        begin = time.perf_counter()
        answer = http.get("/policy/api/v1/search/query", params={"query": query})
        times.append(time.perf_counter() - begin)
        ok &= answer.status_code == 200
        results += len(answer.json().get("results", []))
    return {**latencies(times), "first_s": round(first, 3),
            "mean_results": round(results / max(1, repeat), 1)}, ok


def main() -> int:
    parser = BenchParser(__doc__.split("\n\n")[0], cases=CASES)
    parser.add_sizes((2500, 10000, 7500), large=(25000, 100000, 75000))
    parser.add_shapes()
    parser.add_repeat(300, help="traceflows / searches per case")
    parser.add_config()
    parser.add_keep()
    args = parser.parse_args()
    parser.resolve(args)
    failed = False
    with workspace("bench-api-tf-", keep=args.keep, log=log) as work:
        synced = prepare(args, work)
        proc, url, start_s = start_server(synced)
        try:
            import httpx

            with httpx.Client(base_url=url, auth=("admin", PASSWORD), timeout=600) as http:
                every = pods(http)
                log(f"listening after {start_s:.2f} s; {len(every)} pods")
                rng = random.Random(args.seed)
                for case in args.cases:
                    run = case_traceflow if case == "traceflow" else case_search
                    res, ok = run(http, every, args.repeat, rng)
                    failed |= not ok
                    emit({"bench": "api_traceflow", "case": case,
                          "namespaces": args.namespaces, "pods": args.pods,
                          "policies": args.policies, "shapes": args.shapes,
                          "seed": args.seed, **res, "start_s": round(start_s, 3),
                          "server_rss_mib": rss_mib(proc.pid), **run_info()})
                    log(f"{case}: median {res['median_ms']} ms, p99 {res['p99_ms']} ms, "
                        f"first {res['first_s']} s")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
