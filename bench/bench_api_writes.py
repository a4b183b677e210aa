"""Benchmark of NSX Manager API writes (``sdn serve``) over real HTTP: one JSON line per
case.

How to run (from the repository root, after ``pip install -e '.[test]'``: httpx)::

    python bench/bench_api_writes.py                   # 250 ns / 1,000 pods / 750 policies
    python bench/bench_api_writes.py --scale large     # 2,500 ns / 10,000 pods / 7,500

Method: the cluster is generated and synced as ``bench_questions.py`` does (untimed);
``sdn serve --rate-limit 0`` starts on it (``bench_api.py``'s start). The first write
opens the server's writing connection and parses the state once (``first_write_s``, on
every line). Cases, each ``--repeat`` requests one at a time on one connection:

* ``put_group``: ``PUT`` of a new group (a tag condition) each time;
* ``patch_rule``: ``PATCH`` of a new rule into one admin policy each time (the policy
  grows: the merge, the validation of the whole policy and the write all grow with it);
* ``put_stale``: ``PUT`` with a stale ``_revision`` (refused with 412: the cost of a
  refusal);
* ``hierarchical``: ``PATCH /infra`` of 10 groups and a policy of 10 rules naming them.

Each line: ``{"bench": "api_writes", "case", "namespaces", "pods", "policies", "shapes",
"seed", "requests", "median_ms", "p95_ms", "p99_ms", "max_ms", "first_write_s",
"server_rss_mib", "machine", "revision"}``. Exit status 1 when an answer was not the
expected one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import PASSWORD, latencies, log, rss_mib, start_server
from bench_questions import prepare
from benchlib import BenchParser, emit, run_info, stop, workspace

CASES = ("put_group", "patch_rule", "put_stale", "hierarchical")
DOMAIN = "/policy/api/v1/infra/domains/default"
CONDITION = {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
             "operator": "EQUALS", "value": "app|bench"}


def _group(n: str) -> dict[str, Any]:
    return {"display_name": n, "expression": [CONDITION]}


def requests_of(case: str, n: int) -> tuple[str, str, dict[str, Any], int]:
    """The ``n``-th request of a case: method, path, body, expected status."""
    if case == "put_group":
        return "PUT", f"{DOMAIN}/groups/bench-{n}", _group(f"bench-{n}"), 200
    if case == "patch_rule":
        return "PATCH", f"{DOMAIN}/security-policies/bench", {"rules": [
            {"id": f"r{n}", "action": "ALLOW",
             "source_groups": ["/infra/domains/default/groups/bench-0"]}]}, 200
    if case == "put_stale":
        return "PUT", f"{DOMAIN}/groups/bench-0", {**_group("x"), "_revision": 99}, 412
    groups = [{"resource_type": "ChildGroup", "Group": {"id": f"h{n}-{k}", **_group("h")}}
              for k in range(10)]
    rules = [{"resource_type": "ChildRule", "Rule": {
        "id": f"r{k}", "action": "DROP",
        "destination_groups": [f"/infra/domains/default/groups/h{n}-{k}"]}}
        for k in range(10)]
    return "PATCH", "/policy/api/v1/infra", {"resource_type": "Infra", "children": [{
        "resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain",
        "children": [*groups, {"resource_type": "ChildSecurityPolicy", "SecurityPolicy": {
            "id": f"h{n}", "category": "Application", "children": rules}}]}]}, 200


def main() -> int:
    import httpx

    parser = BenchParser(__doc__.split("\n\n")[0], cases=CASES)
    parser.add_sizes((250, 1000, 750), large=(2500, 10000, 7500))
    parser.add_shapes()
    parser.add_repeat(200, help="requests per case")
    parser.add_config()
    parser.add_keep()
    args = parser.parse_args()
    parser.resolve(args)
    ok = True
    with workspace("bench-api-writes-", keep=args.keep, log=log) as work:
        state = prepare(args, work)
        proc, url, _start = start_server(state)
        try:
            with httpx.Client(base_url=url, auth=("admin", PASSWORD), timeout=300) as http:
                started = time.perf_counter()
                first = http.put(f"{DOMAIN}/groups/bench-0", json=_group("bench-0"))
                first_write = time.perf_counter() - started
                ok &= first.status_code == 200
                for case in args.cases:
                    times = []
                    for n in range(1, args.repeat + 1):
                        method, path, body, status = requests_of(case, n)
                        began = time.perf_counter()
                        answer = http.request(method, path, json=body)
                        times.append(time.perf_counter() - began)
                        ok &= answer.status_code == status
                    emit({"bench": "api_writes", "case": case, "namespaces": args.namespaces,
                          "pods": args.pods, "policies": args.policies,
                          "shapes": args.shapes, "seed": args.seed, **latencies(times),
                          "first_write_s": round(first_write, 3),
                          "server_rss_mib": rss_mib(proc.pid), **run_info()})
        finally:
            stop(proc, 10)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
