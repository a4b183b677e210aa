"""Benchmark ``sdn reach`` against a peer, network-config-analyzer, on the same manifests.

Usage::

    python bench/bench_peers.py                      # 30 namespaces / 300 pods / 100 policies
    python bench/bench_peers.py --repeat 9 --ports 80,443,8080
    python bench/bench_peers.py --peer-venv /tmp/nca-venv   # where the peer is installed
    python bench/bench_peers.py --daemon             # also through `sdn daemon`

Method: the cluster is ``generate_cluster(namespaces=N, pods=P, policies=K, seed=S,
nodes=max(3, P // 100))``, written as YAML into one folder and synced with
``sync_cluster`` and ``bench/large-cluster.yaml`` (untimed). The peer
(``network-config-analyzer``, a Python tool) is installed by name with pip into a venv of
its own (``--peer-venv``, by default under ``~/.cache``; made once, then reused). Each
repeat then runs, one after the other, in fresh processes and from the shell's point of
view (interpreter start-up and imports included):

* ``sdn reach --protocol TCP --port 80 --port 8080 -o json --state STATE``;
* ``nca --connectivity DIR -o txt_no_fw_rules --output_endpoints pods``: the peer's
  connectivity map as explicit pairs, the answer that is compared;
* ``nca --connectivity DIR``: its default connectivity map (summarised as firewall rules).

Before the first timed run this project's packages are byte-compiled (``python -m
compileall -q sdn ncp topologies``, :func:`byte_compile`), as ``pip install`` compiles the
peer's: otherwise every ``sdn`` run would compile its modules again (the environment may
set ``PYTHONDONTWRITEBYTECODE``).

The plain ``sdn`` run is always in-process (``SDN_NO_DAEMON=1``). With ``--daemon``,
``sdn daemon start`` runs on the state first (``daemon_start_s``, its load included) and
each repeat also times the same ``sdn reach`` command answered by it (``sdn_daemon_*``,
``speedup_daemon``); its output must be byte-identical to the in-process one.

The answers of the last repeat are brought to one form, the set of ordered pairs of
distinct pods allowed per TCP port, and must be identical. The peer models a Deployment by
two representative pods (``D-1``, ``D-2``), which stand for all its replicas (they share
labels and namespace, so every policy treats them alike): a pair of pods of different
Deployments takes the answer of ``A-1 => B-1``, a pair within one Deployment that of
``D-1 => D-2``. Where the two differ by documented semantics the comparison is limited to
the common ground, and the line says so: the peer never matches a pod by an ``ipBlock``
(pods and address ranges are disjoint to it) while NSX matches addresses, so pods inside a
policy's ``ipBlock`` are counted (``ipblock_pods``, 0 for the generator's blocks at this
size); named ports are counted (``named_ports``, the generator writes none); only TCP and
the ``--ports`` asked are compared. A mismatch is printed pair by pair on stderr and the
exit status is 1.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, BenchParser, emit, p95, run_info

CASES = ("reach_vs_nca",)
PEER = "network-config-analyzer"
#: The issue's goal: ``sdn reach`` at least this many times faster than the peer.
TARGET_SPEEDUP = 10.0
T0 = 1_700_000_000.0
Pair = tuple[str, str]
#: One line of the peer's ``txt_no_fw_rules`` output between two pods.
PEER_LINE = re.compile(r"^(\S+/\S+) => (\S+/\S+) : (.+)$")


def log(msg: str) -> None:
    print(f"[bench_peers] {msg}", file=sys.stderr, flush=True)


def default_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "nsx-sdn-bench" / "nca-venv"


def install_peer(venv: Path) -> str:
    """The peer in its own venv (made and filled by pip once); its version."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "nca").exists():
        log(f"installing {PEER} into {venv} (python -m venv, pip install {PEER})")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEER], check=True,
                       stdout=sys.stderr)
    return subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({PEER!r}))"],
        capture_output=True, text=True, check=True).stdout.strip()


def prepare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Generate, write and sync the cluster (untimed)."""
    from ncp.config import load_config
    from ncp.reconcile.sync import sync_cluster
    from sdn.store import Store
    from topologies.generate import generate_cluster, write_cluster

    nodes = max(3, args.pods // 100)
    objects = generate_cluster(namespaces=args.namespaces, pods=args.pods,
                               policies=args.policies, nodes=nodes, seed=args.seed)
    write_cluster(objects, work / "cluster")
    state = work / "state.db"
    with Store.open(state) as store:
        report = sync_cluster(store, paths=[work / "cluster"], config=load_config(args.config),
                              now=T0)
        pod_ips = _pod_ips(store)
    log(f"synced {args.namespaces} namespaces / {args.pods} pods / {args.policies} policies "
        f"(untimed), {len(report.problems)} problem(s)")
    return {"state": state, "cluster": work / "cluster", "nodes": nodes,
            "sync_problems": len(report.problems), **common_ground(objects, pod_ips)}


def _pod_ips(store: Any) -> list[ipaddress.IPv4Address]:
    from sdn.model import SegmentPort

    return [b.ip_address for p in store.inventory().of_type(SegmentPort)
            if p.tag("ncp/pod") for b in p.address_bindings]


def common_ground(objects: list[dict[str, Any]],
                  pod_ips: list[ipaddress.IPv4Address]) -> dict[str, int]:
    """Where the peer's semantics differ from NSX's: pods inside an ``ipBlock`` (the peer
    never matches a pod by address) and named ports (counted, not compared)."""
    blocks: list[tuple[ipaddress.IPv4Network, list[ipaddress.IPv4Network]]] = []
    named = 0
    for obj in objects:
        if obj["kind"] != "NetworkPolicy":
            continue
        for rule in [*obj["spec"].get("ingress", []), *obj["spec"].get("egress", [])]:
            named += sum(isinstance(p.get("port"), str) for p in rule.get("ports", []))
            for peer in [*rule.get("from", []), *rule.get("to", [])]:
                if "ipBlock" in peer:
                    block = peer["ipBlock"]
                    blocks.append((ipaddress.IPv4Network(block["cidr"]),
                                   [ipaddress.IPv4Network(e) for e in block.get("except", [])]))
    inside = sum(any(ip in net and not any(ip in e for e in cut) for net, cut in blocks)
                 for ip in pod_ips)
    return {"ipblock_pods": inside, "named_ports": named, "ip_blocks": len(blocks)}


def timed(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          stdout: Path | None = None) -> tuple[float, float]:
    """Run ``cmd`` to completion: its seconds and peak memory (MiB); fails loudly."""
    with tempfile.TemporaryFile("w+") as err, \
            open(stdout or os.devnull, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"FAILED: {' '.join(cmd)}: {err.read()[-1000:]}")
    return elapsed, round(usage.ru_maxrss / 1024, 1)


def commands(args: argparse.Namespace, prep: dict[str, Any], venv: Path,
             work: Path) -> dict[str, tuple[list[str], Path]]:
    """The three timed commands and where each writes its answer."""
    ports = [f for p in args.ports for f in ("--port", str(p))]
    nca = str(venv / "bin" / "nca")
    sdn = [sys.executable, "-m", "sdn", "reach", "--protocol", "TCP", *ports, "-o", "json",
           "--state", str(prep["state"])]
    daemon = {"sdn_daemon": (sdn, work / "sdn-daemon.json")} if args.daemon else {}
    return {
        "sdn": (sdn, work / "sdn.json"),
        **daemon,
        "nca": ([nca, "--connectivity", "-r", str(prep["cluster"]), "-o", "txt_no_fw_rules",
                 "--output_endpoints", "pods", "--return_0", "-f", str(work / "nca.txt")],
                work / "nca.log"),
        "nca_map": ([nca, "--connectivity", "-r", str(prep["cluster"]), "--return_0", "-f",
                     str(work / "nca-map.txt")], work / "nca-map.log"),
    }


def sdn_daemon(state: Path, *argv: str) -> None:
    """``sdn daemon ARGV --state STATE`` with this tree's code."""
    subprocess.run([sys.executable, "-m", "sdn", "daemon", *argv, "--state", str(state)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def start_daemon(state: Path) -> float:
    """Start ``sdn daemon`` on ``state``; the seconds until it answers (its load included)."""
    start = time.perf_counter()
    sdn_daemon(state, "start")
    return round(time.perf_counter() - start, 3)


#: The packages ``sdn`` runs from, byte-compiled before anything is timed.
COMPILED = ("sdn", "ncp", "topologies")


def byte_compile() -> None:
    """Byte-compile this project's packages (``python -m compileall -q sdn ncp
    topologies``), as ``pip install`` does for an installed package: the peer was
    installed by pip, so its modules are compiled, while this checkout, run from source
    under ``PYTHONDONTWRITEBYTECODE=1``, would compile about 85 modules (0.09 s) in every
    timed run. Done once before timing; up-to-date files are left as they are."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *COMPILED], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


def run_all(args: argparse.Namespace, cmds: dict[str, tuple[list[str], Path]]
            ) -> dict[str, list[tuple[float, float]]]:
    """Every command once per repeat, interleaved, after :func:`byte_compile`."""
    byte_compile()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    envs = {"sdn": {**env, "SDN_NO_DAEMON": "1"}, "sdn_daemon": env}
    for i in range(args.repeat):
        for name, (cmd, out) in cmds.items():
            # cwd: ``python -m`` puts the working folder before PYTHONPATH on sys.path
            run = timed(cmd, env=envs.get(name), cwd=ROOT, stdout=out)
            log(f"repeat {i + 1}: {name} {run[0]:.3f} s, {run[1]} MiB")
            runs[name].append(run)
    return runs


def sdn_answer(path: Path) -> tuple[list[str], dict[int, set[Pair]]]:
    """The pods and, per port, the allowed ordered pairs ``sdn reach -o json`` printed."""
    data = json.loads(path.read_text())
    pods: list[str] = data["results"][0]["pods"]
    return pods, {r["port"]: {(a, b) for a, b in r["allowed"]} for r in data["results"]}


def peer_ports(conn: str, ports: Sequence[int]) -> set[int]:
    """Which of the TCP ``ports`` a connection set of the peer's text allows."""
    if conn.strip() == "All connections":
        return set(ports)
    allowed: set[int] = set()
    for block in re.findall(r"\{([^}]*)\}", conn):
        fields = dict(f.split(":", 1) for f in re.split(r",(?=[a-z_]+:)", block))
        if "TCP" not in fields.get("protocols", "").split(","):
            continue
        if "src_ports" in fields:
            raise SystemExit(f"FAILED: source ports are outside the common ground: {conn}")
        if "dst_ports" not in fields:
            return set(ports)
        for item in fields["dst_ports"].split(","):
            low, _, high = item.partition("-")
            allowed.update(p for p in ports if int(low) <= p <= int(high or low))
    return allowed


def peer_answer(path: Path, pods: Sequence[str], ports: Sequence[int]) -> dict[int, set[Pair]]:
    """The peer's pairs between representative pods, expanded to every pair of pods."""
    rep: dict[Pair, set[int]] = {}
    for line in path.read_text().splitlines():
        m = PEER_LINE.match(line.strip())
        if m and not re.match(r"^\d+\.", m[1]) and not re.match(r"^\d+\.", m[2]):
            rep[(m[1], m[2])] = peer_ports(m[3], ports)
    workload = {p: p.rsplit("-", 1)[0] for p in pods}
    split = representatives_disagree(rep, set(workload.values()))
    if split:
        raise SystemExit(f"FAILED: the peer's representatives of one Deployment disagree "
                         f"({split} pairs), so a Deployment cannot stand for its pods")
    out: dict[int, set[Pair]] = {port: set() for port in ports}
    for a in pods:
        for b in pods:
            if a == b:
                continue
            wa, wb = workload[a], workload[b]
            key = (f"{wa}-1", f"{wb}-2") if wa == wb else (f"{wa}-1", f"{wb}-1")
            for port in rep.get(key, ()):
                out[port].add((a, b))
    return out


def representatives_disagree(rep: dict[Pair, set[int]], workloads: set[str]) -> int:
    """Pairs of Deployments whose representative pods (``-1``, and ``-2`` when the peer
    made one: not for a single replica) got different answers from the peer (0 expected:
    they are alike to every policy). A pair the peer does not print is denied."""
    seen = {name for pair in rep for name in pair}
    reps = {w: [f"{w}-1", *([f"{w}-2"] if f"{w}-2" in seen else [])] for w in workloads}
    bad = 0
    for a in workloads:
        for b in workloads:
            if a != b:
                answers = {frozenset(rep.get((x, y), ())) for x in reps[a] for y in reps[b]}
                bad += len(answers) > 1
    return bad


def compare(sdn: dict[int, set[Pair]], peer: dict[int, set[Pair]]) -> int:
    """Mismatched pairs, each printed on stderr; 0 when the answers are identical."""
    bad = 0
    for port in sorted(sdn):
        only_sdn, only_peer = sdn[port] - peer[port], peer[port] - sdn[port]
        for what, pairs in (("sdn only", only_sdn), ("nca only", only_peer)):
            for a, b in sorted(pairs)[:20]:
                log(f"MISMATCH TCP/{port} {a} -> {b}: allowed by {what}")
            if len(pairs) > 20:
                log(f"MISMATCH TCP/{port}: ... {len(pairs) - 20} more allowed by {what}")
        bad += len(only_sdn) + len(only_peer)
    return bad


def result(args: argparse.Namespace, prep: dict[str, Any], version: str,
           runs: dict[str, list[tuple[float, float]]], answers: dict[str, Any]) -> dict[str, Any]:
    med = {name: statistics.median(t for t, _ in r) for name, r in runs.items()}
    line: dict[str, Any] = {
        "bench": "peers", "case": "reach_vs_nca", "namespaces": args.namespaces,
        "pods": args.pods, "policies": args.policies, "nodes": prep["nodes"], "seed": args.seed,
        "repeat": args.repeat, "protocol": "TCP", "ports": args.ports,
        "peer": {"name": PEER, "version": version}}
    for name, r in runs.items():
        times = [t for t, _ in r]
        line[f"{name}_median_s"] = round(med[name], 3)
        line[f"{name}_p95_s"] = round(p95(times), 3)
        line[f"{name}_peak_rss_mib"] = max(m for _, m in r)
    line["speedup"] = round(med["nca"] / med["sdn"], 2)
    if "sdn_daemon" in med:
        line["speedup_daemon"] = round(med["nca"] / med["sdn_daemon"], 2)
    line["speedup_map"] = round(med["nca_map"] / med["sdn"], 2)
    line["target_met"] = line["speedup"] >= TARGET_SPEEDUP
    line.update(answers)
    line.update({k: prep[k] for k in ("ipblock_pods", "named_ports", "ip_blocks",
                                      "sync_problems")})
    return {**line, **run_info()}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = BenchParser("Time `sdn reach` against network-config-analyzer's connectivity map "
                         "on the same manifests, and check the answers are identical.",
                         cases=CASES)
    parser.add_sizes((30, 300, 100), at_least=(1, 2, 0))
    parser.add_repeat(5)
    parser.add_config()
    parser.add_keep()
    parser.add_argument("--ports", default="80,8080",
                        help="TCP ports asked and compared, comma-separated (80,8080)")
    parser.add_argument("--daemon", action="store_true",
                        help="also time `sdn reach` answered by `sdn daemon` (started on "
                             "the state first, timed apart as daemon_start_s)")
    parser.add_argument("--peer-venv", type=Path, default=default_venv(),
                        help=f"the venv {PEER} is installed in (made when missing; "
                             "default ~/.cache/nsx-sdn-bench/nca-venv)")
    args = parser.parse_args(argv)
    parser.resolve(args)
    try:
        args.ports = [int(p) for p in args.ports.split(",") if p.strip()]
    except ValueError:
        parser.error(f"--ports wants numbers, got {args.ports!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    version = install_peer(args.peer_venv.resolve())
    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    log(f"working in {work}; {PEER} {version}")
    prep = prepare(args, work)
    if prep["ipblock_pods"] or prep["named_ports"]:
        log(f"WARNING: outside the common ground: {prep['ipblock_pods']} pod(s) inside an "
            f"ipBlock, {prep['named_ports']} named port(s); mismatches there are semantics")
    cmds = commands(args, prep, args.peer_venv.resolve(), work)
    daemon_start_s = start_daemon(prep["state"]) if args.daemon else None
    try:
        runs = run_all(args, cmds)
    finally:
        if args.daemon:
            sdn_daemon(prep["state"], "stop")
    pods, sdn = sdn_answer(work / "sdn.json")
    if args.daemon and (work / "sdn-daemon.json").read_bytes() != (work / "sdn.json").read_bytes():
        log("the daemon's answer differs from the in-process one")
        return 1
    peer = peer_answer(work / "nca.txt", pods, args.ports)
    mismatches = compare(sdn, peer)
    answers = {"pods_compared": len(pods), "answers_identical": mismatches == 0,
               "mismatches": mismatches, "representatives_checked": True,
               "pairs_allowed": {str(p): len(sdn[p]) for p in args.ports}}
    if daemon_start_s is not None:
        answers["daemon_start_s"] = daemon_start_s
        answers["daemon_same_output"] = True
    emit(result(args, prep, version, runs, answers))
    if args.keep:
        log(f"kept {work}")
    else:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
