"""``sdn connectivity -o json`` and network-config-analyzer's connectivity map brought to
one form and compared (used by ``bench/bench_connectivity.py`` and the sample-topology
test).

The form: per ordered pair of pods, per protocol, the allowed destination ports (ICMP as
allowed or not); per pod and outside address, the same, both ways. The peer
(``nca --connectivity DIR -o txt_no_fw_rules --output_endpoints pods``) stands for a
workload by representative pods (``W-1``, ``W-2``): every pod of a workload is alike to
every policy, so a pair of pods of two workloads takes the answer of ``A-1 => B-1`` and a
pair inside one that of ``W-1 => W-2`` (a workload the peer made one representative for,
a DaemonSet, has no answer inside it: such pairs are counted as ``uncompared_pairs``).
``sdn`` answers outside addresses for the CIDRs policies name (atoms, as CIDRs), the peer
for the whole address space as ranges: the comparison is made address by address over
what ``sdn`` answers for (every peer range meeting an ``sdn`` CIDR must answer as ``sdn``
does for it, for every pod its representative stands for, and the peer's allowing ranges
must cover the CIDR whenever ``sdn`` allows anything); peer lines only about addresses no
policy names are counted
(``peer_unnamed_lines``), not compared.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

EVERY = ((1, 65535),)
LINE = re.compile(r"^(\S+) => (\S+) : (.+)$")
#: Fields of the peer's HTTP answers, from its own pseudo-pod for the Ingress controller
#: (not a pod of the cluster; ``sdn traceflow`` answers Ingress paths instead).
L7 = re.compile(r"[{,](hosts|paths|methods):")
#: One side's answer for a pair: protocol -> merged port ranges (ICMP: ((0, 0),)).
Answer = dict[str, tuple[tuple[int, int], ...]]


def peer_answer(conn: str) -> Answer:
    """One connection set of the peer's ``txt_no_fw_rules`` text as an :data:`Answer`."""
    if conn.strip() == "All connections":
        return {"TCP": EVERY, "UDP": EVERY, "SCTP": EVERY, "ICMP": ((0, 0),)}
    out: dict[str, list[tuple[int, int]]] = {}
    for block in re.findall(r"\{([^}]*)\}", conn):
        fields = dict(f.split(":", 1) for f in re.split(r",(?=[a-z_]+:)", block))
        if set(fields) - {"protocols", "dst_ports"}:
            raise ValueError(f"outside the common ground: {conn}")
        ports = [(int(a), int(b or a)) for a, _, b in (
            p.partition("-") for p in fields["dst_ports"].split(","))] \
            if "dst_ports" in fields else list(EVERY)
        for proto in (p.strip() for p in fields.get("protocols", "").split(",")):
            out.setdefault(proto, []).extend(ports if proto != "ICMP" else [(0, 0)])
    return {p: merged(r) for p, r in sorted(out.items())}


def merged(ranges: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return tuple(out)


def address_range(text: str) -> tuple[int, int] | None:
    """``a.b.c.d-e.f.g.h`` (the peer) or a CIDR (``sdn``) as integers; None for a pod."""
    if not text[0].isdigit():
        return None
    if "-" in text:
        lo, hi = text.split("-", 1)
        return int(ipaddress.IPv4Address(lo)), int(ipaddress.IPv4Address(hi))
    net = ipaddress.IPv4Network(text)
    return int(net.network_address), int(net.broadcast_address)


def read_peer(path: Path) -> tuple[dict[tuple[str, str], Answer],
                                   list[tuple[str, tuple[int, int], str, Answer]]]:
    """The peer's pairs of representative pods, and its lines between a pod and an
    address range as (pod, range, "out"|"in", answer)."""
    pods: dict[tuple[str, str], Answer] = {}
    outside: list[tuple[str, tuple[int, int], str, Answer]] = []
    # each line once: the peer appends to its ``-f`` file, so repeated runs repeat it
    for line in dict.fromkeys(path.read_text().splitlines()):
        m = LINE.match(line.strip())
        if not m:
            continue
        if L7.search(m[3]):
            continue  # the peer's Ingress-controller pseudo-pod: HTTP hosts and paths
        src, dst, answer = m[1], m[2], peer_answer(m[3])
        s_range, d_range = address_range(src), address_range(dst)
        if s_range is None and d_range is None:
            pods[(src, dst)] = answer
        elif s_range is None and d_range is not None:
            outside.append((src, d_range, "out", answer))
        elif s_range is not None:
            outside.append((dst, s_range, "in", answer))
    return pods, outside


def read_sdn(path: Path) -> Iterator[tuple[str, str, str, tuple[tuple[int, int], ...]]]:
    """The entries of ``sdn connectivity -o json`` read line by line (2.4 million entries
    at 1,000 pods: ``json.load`` would hold gigabytes), as (src, dst, protocol, ports)."""
    entry: dict[str, Any] = {}
    numbers: list[int] = []
    with path.open() as f:
        for raw in f:
            line = raw.strip().rstrip(",")
            if line.startswith('"src": '):
                entry = {"src": json.loads(line[7:])}
                numbers = []
            elif line.startswith('"dst": '):
                entry["dst"] = json.loads(line[7:])
            elif line.startswith('"protocol": '):
                entry["protocol"] = json.loads(line[12:])
            elif line.isdigit():
                numbers.append(int(line))
            elif line == "}" and "protocol" in entry:
                ports = tuple(zip(numbers[::2], numbers[1::2], strict=True)) or ((0, 0),)
                yield entry["src"], entry["dst"], entry["protocol"], ports
                entry = {}


#: A pod's workload (``NS/NAME``), from its name (``NS/POD``).
Workload = Callable[[str], str]


def workload(pod: str) -> str:
    """The generator's pods are named ``WORKLOAD-N``."""
    return pod.rsplit("-", 1)[0]


#: The kinds whose pods the peer stands for by representatives.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "CronJob")


def workloads_in(folder: Path) -> Workload:
    """A pod's workload read from the manifests of ``folder`` (the longest ``NS/NAME``
    that the pod's name continues with ``-``; a pod of none is its own workload): a
    DaemonSet's pods are named after their nodes, a StatefulSet's by ordinal."""
    import yaml

    names = []
    for path in sorted(folder.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in WORKLOAD_KINDS:
                meta = doc.get("metadata", {})
                names.append(f"{meta.get('namespace', 'default')}/{meta['name']}")
    names.sort(key=len, reverse=True)

    def of(pod: str) -> str:
        return next((n for n in names if pod.startswith(n + "-")), pod)

    return of


def representative(a: str, b: str, of: Workload = workload) -> tuple[str, str]:
    """The peer's pair of representative pods for the pods ``a`` and ``b``."""
    wa, wb = of(a), of(b)
    return (f"{wa}-1", f"{wb}-2") if wa == wb else (f"{wa}-1", f"{wb}-1")


def compare(sdn_json: Path, peer_txt: Path, pods: Sequence[str],
            log: Callable[[str], None] = print, of: Workload = workload) -> dict[str, Any]:
    """Mismatches between the two answers (see the module's doc), the first 30 logged."""
    peer_pods, peer_outside = read_peer(peer_txt)
    ours_pods: set[tuple[str, str]] = set()
    ours_outside: dict[tuple[str, str, str], Answer] = {}
    bad: list[str] = []
    current: tuple[str, str] | None = None
    answer: Answer = {}

    seen = {name for pair in peer_pods for name in pair}
    uncompared = 0

    def alone(a: str, b: str) -> bool:
        """Two pods of a workload the peer made one representative for (a DaemonSet, a
        single replica): the peer has no answer for pairs inside it."""
        return of(a) == of(b) and f"{of(a)}-2" not in seen

    def check(pair: tuple[str, str] | None, got: Answer) -> None:
        nonlocal uncompared
        if pair is None:
            return
        s, d = pair
        if address_range(s) is None and address_range(d) is None:
            ours_pods.add(pair)
            if alone(s, d):
                uncompared += 1
                return
            want = peer_pods.get(representative(s, d, of), {})
            if got != want:
                bad.append(f"{s} -> {d}: sdn {got} peer {want}")
        elif address_range(s) is None:
            ours_outside[(s, d, "out")] = got
        else:
            ours_outside[(d, s, "in")] = got

    for s, d, protocol, ports in read_sdn(sdn_json):
        if (s, d) != current:
            check(current, answer)
            current, answer = (s, d), {}
        answer[protocol] = ports
    check(current, answer)
    missing = sum(1 for a in pods for b in pods if a != b and (a, b) not in ours_pods
                  and not alone(a, b) and peer_pods.get(representative(a, b, of)))
    if missing:
        bad.append(f"{missing} pod pairs the peer allows are absent from sdn's answer")
    outside_bad, unnamed = compare_outside(ours_outside, peer_outside, pods, of)
    bad += outside_bad
    for line in bad[:30]:
        log(f"MISMATCH {line}")
    return {"mismatches": len(bad), "pod_pairs_allowed": len(ours_pods),
            "outside_entries": len(ours_outside), "peer_unnamed_lines": unnamed,
            "uncompared_pairs": uncompared,
            "answers_identical": not bad}


def compare_outside(ours: dict[tuple[str, str, str], Answer],
                    peer: list[tuple[str, tuple[int, int], str, Answer]],
                    pods: Sequence[str], of: Workload = workload) -> tuple[list[str], int]:
    """Every peer line meeting a CIDR ``sdn`` answers for must answer as ``sdn`` does for
    that CIDR, for every pod the line's representative stands for; and every such CIDR's
    addresses must be covered by the peer's lines that allow anything when ``sdn``
    allows anything."""
    cidrs = {cidr: address_range(cidr) for _, cidr, _ in ours}
    by_rep: dict[str, list[str]] = {}
    for pod in pods:
        by_rep.setdefault(f"{of(pod)}-1", []).append(pod)
    bad: list[str] = []
    unnamed = 0
    covered: dict[tuple[str, str, str], int] = {}
    spans = sorted((r, c) for c, r in cidrs.items() if r is not None)  # disjoint CIDRs
    starts = [r[0] for r, _ in spans]
    for rep, (lo, hi), way, answer in peer:
        first = max(0, bisect.bisect_right(starts, lo) - 1)
        met = []
        for r, c in spans[first:]:
            if r[0] > hi:
                break
            if r[1] >= lo:
                met.append((c, r))
        if not met:
            unnamed += 1
            continue
        for pod in by_rep.get(rep, ()):
            for cidr, (c_lo, c_hi) in met:
                key = (pod, cidr, way)
                got = ours.get(key, {})
                if got != answer:
                    bad.append(f"{pod} {way} {cidr}: sdn {got} peer {answer} ({lo}-{hi})")
                covered[key] = covered.get(key, 0) + min(hi, c_hi) - max(lo, c_lo) + 1
    for key, got in ours.items():
        if got:
            size = cidrs[key[1]]
            assert size is not None
            if covered.get(key, 0) != size[1] - size[0] + 1:
                bad.append(f"{key}: sdn allows {got}, the peer not for all of the CIDR")
    return bad, unnamed
