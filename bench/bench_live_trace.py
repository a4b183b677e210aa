"""Benchmark of ``sdn traceflow --live`` (root): one real packet through a realized data
plane, traced by nftables. One JSON line per case on stdout, progress on stderr.

How to run (from the repository root, as root, after ``pip install -e .``)::

    python bench/bench_live_trace.py                       # every case, 10 runs each
    python bench/bench_live_trace.py --cases handmade      # no `sdn realize` needed
    python bench/bench_live_trace.py --cases pod_to_pod,to_outside --repeat 20 --seed 3

Target (issue 13): a live traceflow in at most 1 s, end to end (``target_met``: the
median).

Cases:

* ``pod_to_pod``, ``across_tier1s``, ``to_outside``, ``service``: the whole command
  ``python -m sdn traceflow --state S --src POD --dst D --live -o json`` in a fresh
  process, timed from its start to its exit, on the guestbook sample synced and realized
  (``sdn realize``) once in a temporary folder (not timed, ``realize_s``; torn down after).
  Sources and destinations are drawn with ``--seed``: a default-namespace pod to another
  one (``pod_to_pod``, TCP 80), to a node's address on the nodes' Tier-1 (``across_tier1s``,
  TCP 22), to the outside address 192.0.2.100 (``to_outside``, TCP 80 or 443), to the
  frontend Service (``service``). The same command without ``--live`` is timed alike
  (``simulated_median_s``: the start-up and state loading both share), and once, untimed,
  ``--compare`` checks that live and simulated agree (``agree``; a disagreement fails the
  case).
* ``handmade``: the tracer alone (:func:`sdn.dataplane.livetrace.capture` and
  :func:`~sdn.dataplane.observations.observe`, in-process, scapy imported by the first
  run) on the hand-made namespaces of the tests (``tests/support/handmade_net.py``), the
  cases of those tests in turn; it needs no ``sdn realize``. Its first run (scapy's import
  included) is reported apart (``first_s``).

Each line: ``{"bench": "live_trace", "case", "seed", "repeat", "median_s", "p95_s",
"min_s", "max_s", "target_met", "dispositions", "peak_rss_mib", <case extras>, "machine",
"revision"}``; the guestbook cases add ``"simulated_median_s", "agree", "realize_s",
"argv"``. Exit status 0 when every case ran, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, BenchParser, emit, p95, peak_rss_mib, run_info, workspace

REALIZED_CASES = ("pod_to_pod", "across_tier1s", "to_outside", "service")
CASES = ("handmade", *REALIZED_CASES)
TARGET_S = 1.0
_PODS = [f"default/{name}" for name in ("frontend-0", "frontend-1", "frontend-2",
                                        "redis-master-0", "redis-slave-0", "redis-slave-1")]
_NODES = ["172.23.0.2", "172.23.0.3", "172.23.0.4"]


def log(msg: str) -> None:
    print(f"[bench_live_trace {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


def _sdn(*argv: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sdn", *map(str, argv)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=check)


def _pick(case: str, rng: random.Random) -> list[str]:
    """The ``--src ... --dst ...`` of one run of a guestbook case."""
    src = rng.choice(_PODS[:3])
    if case == "pod_to_pod":
        return ["--src", src, "--dst", rng.choice([p for p in _PODS if p != src]),
                "--dport", "80"]
    if case == "across_tier1s":
        return ["--src", src, "--dst", rng.choice(_NODES), "--dport", "22"]
    if case == "to_outside":
        return ["--src", src, "--dst", "192.0.2.100", "--dport", str(rng.choice([80, 443]))]
    return ["--src", src, "--dst", "svc:default/frontend"]


def _timed(argv: list[object]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    proc = _sdn(*argv)
    return time.perf_counter() - start, json.loads(proc.stdout)


def _stats(samples: list[float]) -> dict[str, Any]:
    return {"median_s": round(statistics.median(samples), 4),
            "p95_s": round(p95(samples), 4), "min_s": round(min(samples), 4),
            "max_s": round(max(samples), 4),
            "target_met": statistics.median(samples) <= TARGET_S}


def realized_case(case: str, state: Path, args: Any, realize_s: float) -> dict[str, Any]:
    rng = random.Random(f"{args.seed}:{case}")
    picks = [_pick(case, rng) for _ in range(args.repeat)]
    compare = _sdn("traceflow", "--state", state, *picks[0], "--compare", "-o", "json",
                   check=False)
    agreed = json.loads(compare.stdout)["agree"] if compare.stdout else False
    if compare.returncode not in (0, 1) or not agreed:
        raise RuntimeError(f"live and simulated disagree on {picks[0]}: "
                           f"{compare.stdout or compare.stderr}")
    live, simulated, dispositions = [], [], Counter[str]()
    for pick in picks:
        seconds, data = _timed(["traceflow", "--state", state, *pick, "--live", "-o", "json"])
        live.append(seconds)
        dispositions[data["disposition"]] += 1
        simulated.append(_timed(["traceflow", "--state", state, *pick, "-o", "json"])[0])
    return {**_stats(live), "dispositions": dict(dispositions),
            "simulated_median_s": round(statistics.median(simulated), 4), "agree": agreed,
            "realize_s": round(realize_s, 3), "argv": ["traceflow", *picks[0], "--live"],
            "peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN)}


def handmade_case(args: Any, work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ["SDN_RUN_DIR"] = str(work / "run")
    from sdn.dataplane.nfttrace import of_flow, parse_line
    from sdn.dataplane.observations import observe
    from tests.support import handmade_net as net

    samples: list[float] = []
    dispositions = Counter[str]()
    net.build()
    try:
        for i in range(args.repeat + 1):
            case = net.CASES[i % len(net.CASES)]
            source = net.VIEW.ports[f"/infra/segments/sA/ports/{case.source}"]
            start = time.perf_counter()
            lines = net.capture_case(case, "bench-live")
            events = [e for ns, line in lines if (e := parse_line(ns, line)) is not None]
            t = observe(of_flow(events, case.flow.key), net.VIEW, case.flow.packet, source)
            samples.append(time.perf_counter() - start)
            dispositions[t.disposition.value] += 1
    finally:
        net.teardown()
    return {**_stats(samples[1:]), "first_s": round(samples[0], 4),
            "dispositions": dict(dispositions), "peak_rss_mib": peak_rss_mib()}


def main() -> int:
    parser = BenchParser(__doc__.split("\n\n")[0], cases=CASES)
    parser.add_repeat(10, help="runs per case")
    parser.add_keep()
    args = parser.parse_args()
    parser.resolve(args)
    if os.geteuid() != 0:
        log("needs root (it realizes namespaces and sends packets)")
        return 1
    failed = 0
    with workspace("bench-live-", keep=args.keep, log=log) as work:
        state = work / "state.db"
        realize_s: float | None = None
        runners: dict[str, Callable[[], dict[str, Any]]] = {"handmade": lambda: handmade_case(
            args, work)}
        for case in REALIZED_CASES:
            runners[case] = (lambda c=case: realized_case(c, state, args, realize_s or 0.0))
        try:
            for case in args.cases:
                if case in REALIZED_CASES and realize_s is None:
                    os.environ["SDN_RUN_DIR"] = str(work / "run")
                    subprocess.run([sys.executable, "-m", "ncp", "sync", "--cluster",
                                    str(ROOT / "topologies" / "guestbook"), "--state",
                                    str(state), "-q"], cwd=ROOT, check=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
                    start = time.perf_counter()
                    done = _sdn("realize", "--state", state, check=False)
                    if done.returncode != 0:
                        log(f"`sdn realize` failed: {done.stderr.strip()}")
                        failed += len([c for c in args.cases if c in REALIZED_CASES])
                        break
                    realize_s = time.perf_counter() - start
                log(f"case {case}")
                try:
                    result = runners[case]()
                except (RuntimeError, subprocess.CalledProcessError, OSError) as err:
                    log(f"case {case} FAILED: {err}")
                    failed += 1
                    continue
                emit({"bench": "live_trace", "case": case, "seed": args.seed,
                      "repeat": args.repeat, **result, **run_info()})
        finally:
            if realize_s is not None:
                _sdn("realize", "--teardown", "--state", state, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
