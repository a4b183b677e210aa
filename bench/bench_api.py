"""Benchmark of ``sdn serve`` (NSX Manager's API) over real HTTP: one JSON line per case.

How to run (from the repository root, after ``pip install -e '.[test]'``: httpx)::

    python bench/bench_api.py                      # 2,500 ns / 10,000 pods / 7,500 policies
    python bench/bench_api.py --namespaces 250 --pods 1000 --policies 750 --repeat 200

Goals (issue 14; measured here, never asserted in tests), at 10,000 pods: GET by id p99
at most 5 ms; a list page of 1,000 at most 50 ms; at least 500 GETs/s sustained with
p99 at most 20 ms and no server error (2 cores).

Method: the cluster is generated and synced as ``bench_questions.py`` does
(``generate_cluster(..., seed=S)``, ``ncp sync --config bench/large-cluster.yaml``,
untimed). ``sdn serve --port 0 --rate-limit 0`` then starts on the synced state
(``start_s``: until it prints ``listening on``; ``first_get_s``: the first GET, which
builds the state view of the revision). Cases, each on a warm server:

* ``get_by_id``: ``--repeat`` GETs of segment ports drawn at random (seeded), one
  keep-alive connection, one at a time;
* ``list_page``: every page of the largest collection (``domains/default/groups``) with
  ``page_size=1000``, following the cursors, ``--repeat`` // 10 times over (at least once);
* ``flood``: 2,000 GETs of random ports from 16 threads (a connection each), as fast as
  they go: throughput, latency percentiles, and server errors (5xx, must be 0) and
  other non-200 answers;
* ``sustained``: the same 2,000 GETs offered at 500 per second (each thread paced,
  open loop): the latency at the goal's load rather than at saturation.

Each line: ``{"bench": "api", "case", "namespaces", "pods", "policies", "shapes", "seed",
"requests", "median_ms", "p95_ms", "p99_ms", "max_ms", "server_rss_mib" (the server's
peak so far), ...}`` with ``start_s`` and ``first_get_s`` on every line, ``page_size``
and ``pages`` (list_page), ``threads``, ``per_second``, ``server_errors``,
``other_errors`` and ``offered_per_second`` (flood, sustained), then ``machine`` and
``revision``. Exit status 1 when a request failed.
"""

from __future__ import annotations

import os
import random
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_questions import prepare
from benchlib import ROOT, BenchParser, emit, percentile, run_info, stop, workspace

CASES = ("get_by_id", "list_page", "flood", "sustained")
PASSWORD = "bench-admin-password"
LIST = "/policy/api/v1/infra/domains/default/groups"
FLOOD_REQUESTS, FLOOD_THREADS = 2000, 16
#: The ``sustained`` case's offered load (requests per second, all threads together).
SUSTAINED_RATE = 500


def log(msg: str) -> None:
    print(f"[bench_api {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


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
    return {"requests": len(ms), "median_ms": round(percentile(ms, 50), 3),
            "p95_ms": round(percentile(ms, 95), 3), "p99_ms": round(percentile(ms, 99), 3),
            "max_ms": round(max(ms), 3)}


def timed_get(http: Any, path: str, params: dict[str, Any] | None = None,
              ) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = http.get(path, params=params)
    return time.perf_counter() - started, answer


def case_get_by_id(url: str, ports: list[str], repeat: int, rng: random.Random,
                   ) -> tuple[dict[str, Any], bool]:
    import httpx

    times, ok = [], True
    with httpx.Client(base_url=url, auth=("admin", PASSWORD), timeout=60) as http:
        for _ in range(repeat):
            t, answer = timed_get(http, "/policy/api/v1" + rng.choice(ports))
            times.append(t)
            ok &= answer.status_code == 200
    return latencies(times), ok


def case_list_page(url: str, repeat: int) -> tuple[dict[str, Any], bool]:
    import httpx

    times, ok, pages = [], True, 0
    with httpx.Client(base_url=url, auth=("admin", PASSWORD), timeout=60) as http:
        for _ in range(max(1, repeat // 10)):
            params: dict[str, Any] = {"page_size": 1000}
            while True:
                t, answer = timed_get(http, LIST, params)
                times.append(t)
                ok &= answer.status_code == 200
                body = answer.json()
                pages += 1
                if "cursor" not in body:
                    break
                params = {"page_size": 1000, "cursor": body["cursor"]}
    return {**latencies(times), "page_size": 1000, "pages": pages}, ok


def case_flood(url: str, ports: list[str], rng: random.Random,
               rate: float | None = None) -> tuple[dict[str, Any], bool]:
    """As fast as the threads go (``rate`` None), or each thread paced so that together
    they offer ``rate`` requests per second (an open loop: a late answer does not
    delay the next request's schedule)."""
    import httpx

    plan = [[rng.choice(ports) for _ in range(FLOOD_REQUESTS // FLOOD_THREADS)]
            for _ in range(FLOOD_THREADS)]
    interval = FLOOD_THREADS / rate if rate else 0.0
    times: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(FLOOD_THREADS + 1)

    def worker(paths: list[str]) -> None:
        mine, codes = [], []
        with httpx.Client(base_url=url, auth=("admin", PASSWORD), timeout=60) as http:
            gate.wait()
            begin = time.perf_counter()
            for n, path in enumerate(paths):
                if interval:
                    time.sleep(max(0.0, begin + n * interval - time.perf_counter()))
                t, answer = timed_get(http, "/policy/api/v1" + path)
                mine.append(t)
                codes.append(answer.status_code)
        with lock:
            times.extend(mine)
            statuses.extend(codes)

    threads = [threading.Thread(target=worker, args=(p,)) for p in plan]
    for th in threads:
        th.start()
    gate.wait()
    started = time.perf_counter()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - started
    server = sum(1 for s in statuses if s >= 500)
    other = sum(1 for s in statuses if s != 200 and s < 500)
    return {**latencies(times), "threads": FLOOD_THREADS, "offered_per_second": rate,
            "per_second": round(len(times) / elapsed, 1), "server_errors": server,
            "other_errors": other}, server == 0 and other == 0


def port_paths(state: Path) -> list[str]:
    from sdn.store import Store

    with Store.open_readonly(state) as store:
        return [p for p, t in store.catalog() if t == "SegmentPort"]


def main() -> int:
    parser = BenchParser(__doc__.split("\n\n")[0], cases=CASES)
    parser.add_sizes((2500, 10000, 7500), large=(25000, 100000, 75000))
    parser.add_shapes()
    parser.add_repeat(1000, help="GETs by id (and list passes: repeat // 10)")
    parser.add_config()
    parser.add_keep()
    args = parser.parse_args()
    parser.resolve(args)
    failed = False
    with workspace("bench-api-", keep=args.keep, log=log) as work:
        synced = prepare(args, work)
        ports = port_paths(synced)
        proc, url, start_s = start_server(synced)
        try:
            import httpx

            started = time.perf_counter()
            first = httpx.get(url + LIST, params={"page_size": 1},
                              auth=("admin", PASSWORD), timeout=600)
            first_get_s = time.perf_counter() - started
            failed |= first.status_code != 200
            log(f"listening after {start_s:.2f} s, first GET {first_get_s:.2f} s; "
                f"{len(ports)} ports")
            rng = random.Random(args.seed)
            for case in args.cases:
                if case == "get_by_id":
                    res, ok = case_get_by_id(url, ports, args.repeat, rng)
                elif case == "list_page":
                    res, ok = case_list_page(url, args.repeat)
                elif case == "flood":
                    res, ok = case_flood(url, ports, rng)
                else:
                    res, ok = case_flood(url, ports, rng, rate=SUSTAINED_RATE)
                failed |= not ok
                emit({"bench": "api", "case": case, "namespaces": args.namespaces,
                      "pods": args.pods, "policies": args.policies, "shapes": args.shapes,
                      "seed": args.seed, **res, "start_s": round(start_s, 3),
                      "first_get_s": round(first_get_s, 3),
                      "server_rss_mib": rss_mib(proc.pid), **run_info()})
                log(f"{case}: median {res['median_ms']} ms, p99 {res['p99_ms']} ms"
                    + (f", {res['per_second']}/s" if "per_second" in res else ""))
        finally:
            stop(proc, 10)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
