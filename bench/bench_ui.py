"""Benchmark the web page's first paint in a real browser: ``sdn serve``'s page at ``/``
in headless Chromium (Selenium, the system chromedriver), on the guestbook and on a
generated cluster.

Usage::

    python bench/bench_ui.py                                  # guestbook + 2,500 ns / 10,000 pods
    python bench/bench_ui.py --cases cluster --namespaces 500 --pods 2000 --repeat 10

Method: the state is synced untimed (``guestbook``: ``topologies/guestbook``;
``cluster``: ``generate_cluster(namespaces=N, pods=P, seed=S, nodes=max(3, P // 100))``
with ``bench/large-cluster.yaml``), then ``python -m sdn serve --port 0`` runs over it
(this tree first on ``PYTHONPATH``). The browser signs in through NSX's session form
(``/api/session/create``, from a page of the server's own origin), then loads ``/``:
the first load is ``cold`` (the server computes the topology of this revision), the
``--repeat`` loads after it ``warm`` (the tree kept per revision). Per load, read from
the page with ``execute_script``: ``first_paint_ms``, the Paint Timing API's
first-contentful-paint (the page's frame), and ``topology_ms``, the page's own
``sdn-topology-drawn`` mark, set in a task queued from the animation frame after the
tree is in the document, i.e. once the topology is painted: the figure the targets are
about. Both from navigation start. One JSON line per case; exit 1 when a case failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, BenchParser, emit, p95, run_info, workspace

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import browser
from tests.support.served import AUDIT, running_server

CASES = ("guestbook", "cluster")
#: The issue's targets for the first paint, by case (ms).
TARGET_MS = {"guestbook": 1000.0, "cluster": 3000.0}
T0 = 1_700_000_000.0

#: Read after a load: the page's paint figures (ms from navigation start).
_FIGURES = """
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
const drawn = performance.getEntriesByName('sdn-topology-drawn')[0];
const topo = performance.getEntriesByType('resource')
  .find(r => r.name.includes('/ui/api/topology'));
return {first_paint_ms: fcp ? fcp.startTime : null, topology_ms: drawn ? drawn.startTime : null,
        topology_bytes: topo ? topo.encodedBodySize : null,
        nodes: document.querySelectorAll('#topology .node').length};
"""
_SIGN_IN = """
const [user, password, done] = arguments;
fetch('/api/session/create', {method: 'POST', credentials: 'same-origin',
  body: new URLSearchParams({j_username: user, j_password: password})})
  .then(r => done(r.status), e => done(String(e)));
"""


def log(msg: str) -> None:
    print(f"[bench_ui] {msg}", file=sys.stderr, flush=True)


def prepare(case: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The case's state, synced (untimed)."""
    from ncp.config import load_config
    from ncp.reconcile.sync import sync_cluster
    from sdn.store import Store
    from topologies.generate import generate_cluster, write_cluster

    state = work / f"{case}.db"
    facts: dict[str, Any] = {}
    if case == "guestbook":
        paths, config = [ROOT / "topologies" / "guestbook"], load_config(None)
    else:
        nodes = max(3, args.pods // 100)
        log(f"generating {args.namespaces} namespaces / {args.pods} pods / {nodes} nodes")
        write_cluster(generate_cluster(namespaces=args.namespaces, pods=args.pods,
                                       seed=args.seed, nodes=nodes), work / "cluster")
        paths, config = [work / "cluster"], load_config(args.config)
        facts = {"namespaces": args.namespaces, "pods": args.pods, "nodes": nodes}
    start = time.perf_counter()
    with Store.open(state) as store:
        sync_cluster(store, paths=paths, config=config, now=T0)
    facts["sync_s"] = round(time.perf_counter() - start, 3)
    return {"state": state, **facts}


def _load(driver: Any, url: str, timeout: float) -> dict[str, Any]:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "topology")
    figures: dict[str, Any] = driver.execute_script(_FIGURES)
    return figures


def _server_peak_mib(pid: int) -> float | None:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmHWM:"):
                return round(int(row.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def bench_case(case: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    prep = prepare(case, args, work)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDN_ADMIN_PASSWORD": "bench-admin",
           "SDN_AUDIT_PASSWORD": AUDIT[1]}
    env.pop("SDN_STATE", None)
    with running_server(prep["state"], "--rate-limit", "0", env=env) as served, \
            browser.chromium() as driver:
        driver.get(served.url + "/ui/static/style.css")  # the server's origin, no page
        status = driver.execute_async_script(_SIGN_IN, *AUDIT)
        if status != 200:
            raise RuntimeError(f"sign-in answered {status}")
        cold = _load(driver, served.url + "/", args.timeout)
        log(f"{case} cold: {cold}")
        warm = []
        for i in range(args.repeat):
            warm.append(_load(driver, served.url + "/", args.timeout))
            log(f"{case} warm {i + 1}: {warm[-1]}")
        server_mib = _server_peak_mib(served.process.pid)
    topo = [w["topology_ms"] for w in warm]
    paint = [w["first_paint_ms"] for w in warm]
    worst = max(cold["topology_ms"], *topo)
    return {"bench": "ui", "case": case, "seed": args.seed, "repeat": args.repeat,
            **{k: v for k, v in prep.items() if k != "state"},
            "cold_first_paint_ms": round(cold["first_paint_ms"], 1),
            "cold_topology_ms": round(cold["topology_ms"], 1),
            "median_ms": round(statistics.median(topo), 1), "p95_ms": round(p95(topo), 1),
            "median_first_paint_ms": round(statistics.median(paint), 1),
            "max_topology_ms": round(worst, 1), "target_ms": TARGET_MS[case],
            "target_met": worst <= TARGET_MS[case], "nodes_drawn": cold["nodes"],
            "topology_bytes": cold["topology_bytes"], "server_peak_rss_mib": server_mib,
            **run_info()}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchParser("The web page's first paint in headless Chromium (guestbook and a "
                         "generated cluster); one JSON line per case.", cases=CASES)
    parser.add_sizes((2500, 10000))
    parser.add_repeat(5)
    parser.add_config()
    parser.add_keep()
    parser.add_timeout(60.0)
    args = parser.parse_args(argv)
    parser.resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    reason = browser.missing()
    if reason is not None:
        log(f"cannot run: {reason}")
        return 1
    failed = []
    with workspace("bench-ui-", keep=args.keep, log=log) as work:
        for case in args.cases:
            try:
                emit(bench_case(case, args, work))
            except Exception as err:  # one case failing leaves the others to run
                log(f"case {case} FAILED: {err!r}")
                failed.append(case)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
