"""Seeded synthetic clusters for tests and benchmarks.

Why this exists: the bundled samples are small and written by hand. Scale behaviour (a
namespace outgrowing its /24 so NCP adds ``ncp/subnet-1``, thousands of DFW rules, a full
resync of 100,000 pods) needs clusters of any size that are the same on every machine and
in every run, so that a benchmark number or a failing test can be reproduced from its
parameters and seed alone.

:func:`generate_cluster` is pure: the same arguments give the same list of Kubernetes
objects (plain dicts, as ``yaml.safe_load`` would return them), and the only randomness is
a ``random.Random(seed)`` it owns. :func:`write_cluster` is the one place that touches the
file system. The module also runs as a command::

    python -m topologies.generate --namespaces 2500 --pods 10000 --seed 7 \\
        --policies 500 --out /tmp/cluster
    ncp sync --cluster /tmp/cluster

Shape of a generated cluster, in output order:

* Namespaces ``ns-00001``, ``ns-00002``, ... (zero-padded to one width, so sorting by
  name is sorting by number), labelled ``team`` and ``env``; a ``no_snat_fraction`` share
  of them is annotated ``ncp/no_snat: "true"``.
* Nodes ``node-001``, ... when ``nodes > 0``.
* Deployments (one to thirteen per namespace) whose replicas add up to exactly ``pods``.
  Sizes are skewed the way real clusters are: most namespaces hold a few pods (some none
  when pods are scarcer than namespaces), a Pareto tail reaches dozens or hundreds, and
  when pods allow, about one namespace in 400 holds 300 or more (past the 254 usable
  addresses of a /24); none holds more than :data:`MAX_PODS_PER_NAMESPACE`.
* NetworkPolicies spread over the populated namespaces, each selecting one app.

``shapes="realistic"`` (what the benchmarks' ``full`` scale uses) changes three things, as
:mod:`topologies.shapes` describes: namespaces belong to teams of about 500 and half are
``env: prod``; containers name their ports (``http``, ``metrics``, ...); and policies have
peers selecting half the cluster or one team's namespaces, and named ports. The default,
``shapes="simple"``, gives the same objects as before that option existed.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import yaml

from topologies import shapes as _shapes

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # PyYAML built without libyaml: same output, slower
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]

__all__ = [
    "MAX_PODS_PER_NAMESPACE",
    "SHAPES",
    "GeneratorError",
    "generate_cluster",
    "main",
    "write_cluster",
]

#: Upper bound on pods in one generated namespace (a handful of /24 subnets' worth).
MAX_PODS_PER_NAMESPACE = 2000
#: Size of the "big" namespaces: more than a /24 (254 usable addresses) can hold.
BIG_NAMESPACE_PODS = 300

TEAMS = ("storefront", "payments", "data", "platform", "search", "identity", "ml", "media")
ENVS = ("dev", "staging", "prod")
TIERS = ("frontend", "backend", "data", "batch")
VERSIONS = ("v1", "v2", "v3")
POLICY_PORTS = (80, 443, 5432, 8080)
#: The policy shapes :func:`generate_cluster` can make (see :mod:`topologies.shapes`).
SHAPES = ("simple", "realistic")
#: (app, tier, container port) of the workloads a namespace draws its Deployments from.
APPS = (
    ("web", "frontend", 80),
    ("ui", "frontend", 8080),
    ("api", "backend", 8080),
    ("auth", "backend", 443),
    ("search", "backend", 8080),
    ("catalog", "backend", 8080),
    ("cart", "backend", 8080),
    ("billing", "backend", 443),
    ("db", "data", 5432),
    ("cache", "data", 6379),
    ("queue", "data", 5672),
    ("worker", "batch", 8080),
    ("report", "batch", 8080),
)

_FIRST_NODE_IP = int(IPv4Address("172.16.0.10"))
_CLUSTER_FILE = re.compile(r"cluster-\d{4,}\.yaml")

Obj = dict[str, Any]


class GeneratorError(ValueError):
    """Arguments that describe no possible cluster; ``code`` is stable for scripts."""

    code = "INVALID_GENERATOR_ARGUMENT"

    def __str__(self) -> str:
        return f"{self.code}: {super().__str__()}"


# --------------------------------------------------------------------------- sizing


def _apportion(counts: list[int], amount: int, weights: Sequence[float], cap: int) -> int:
    """Add ``amount`` to ``counts`` in proportion to ``weights``, never above ``cap``.

    Largest-remainder rounding, repeated while some entries hit the cap, so the result is
    exact and deterministic. Entries with weight 0 get nothing. Returns what did not fit.
    """
    active = [i for i, w in enumerate(weights) if w > 0 and counts[i] < cap]
    while amount > 0 and active:
        total_weight = sum(weights[i] for i in active)
        placed = 0
        remainders: list[tuple[float, int]] = []
        for i in active:
            exact = amount * weights[i] / total_weight
            whole = int(exact)
            take = min(whole, cap - counts[i])
            counts[i] += take
            placed += take
            if take == whole and counts[i] < cap:
                remainders.append((exact - whole, i))
        amount -= placed
        if amount > 0 and remainders:
            remainders.sort(key=lambda r: (-r[0], r[1]))
            extra = remainders[:amount]
            for _, i in extra:
                counts[i] += 1
            amount -= len(extra)
        active = [i for i in active if counts[i] < cap]
    return amount


def _pods_per_namespace(rng: random.Random, namespaces: int, pods: int) -> list[int]:
    """Split ``pods`` over ``namespaces``: a few big ones, a long tail of small ones."""
    counts = [0] * namespaces
    if pods == 0:
        return counts
    # Big namespaces: about one in 400, taking up to a third of all pods, at least 300 each
    # so that each of them needs a second subnet.
    big_budget = pods // 3
    n_big = min(max(1, namespaces // 400), big_budget // BIG_NAMESPACE_PODS, namespaces)
    big = rng.sample(range(namespaces), n_big) if n_big else []
    big_weights = [0.0] * namespaces
    for i in big:
        counts[i] = BIG_NAMESPACE_PODS
        big_weights[i] = 0.25 + rng.random()
    # Whatever does not fit under the cap here flows to the other namespaces below.
    _apportion(counts, big_budget - n_big * BIG_NAMESPACE_PODS if n_big else 0,
               big_weights, MAX_PODS_PER_NAMESPACE)
    # The rest: Pareto weights (alpha 1.5), so most namespaces hold a few pods and a tail
    # holds dozens or hundreds.
    big_set = set(big)
    small_weights = [
        0.0 if i in big_set else rng.paretovariate(1.5) for i in range(namespaces)
    ]
    left = _apportion(counts, pods - sum(counts), small_weights, MAX_PODS_PER_NAMESPACE)
    if left:  # every small namespace is full (few namespaces, many pods): fill any room
        left = _apportion(counts, left, [1.0] * namespaces, MAX_PODS_PER_NAMESPACE)
    if left:  # unreachable after the argument check, kept as a guard on the arithmetic
        raise GeneratorError(f"could not place {left} pods")
    return counts


def _below(rng: random.Random, n: int) -> int:
    """An integer in ``0..n-1``. ``int(random() * n)`` instead of ``randrange``: several
    times faster, and its bias (below 2**-40 for our n) does not matter here."""
    return int(rng.random() * n)


def _distinct(rng: random.Random, n: int, k: int) -> list[int]:
    """``k`` distinct integers from ``0..n-1`` in random order (``random.sample`` without
    its per-call overhead, which dominated the generator's time)."""
    chosen: list[int] = []
    seen: set[int] = set()
    while len(chosen) < k:
        i = _below(rng, n)
        if i not in seen:
            seen.add(i)
            chosen.append(i)
    return chosen


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` positive integers (random cut points between 1 and total-1)."""
    if parts == 1:
        return [total]
    cuts = sorted(1 + c for c in _distinct(rng, total - 1, parts - 1))
    bounds = [0, *cuts, total]
    return [bounds[k + 1] - bounds[k] for k in range(parts)]


# --------------------------------------------------------------------------- objects


def _namespace(name: str, labels: dict[str, str], no_snat: bool) -> Obj:
    metadata: Obj = {"name": name, "labels": labels}
    if no_snat:
        metadata["annotations"] = {"ncp/no_snat": "true"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def _node(name: str, index: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": f"az-{index % 3 + 1}",
            },
        },
        "spec": {},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": str(IPv4Address(_FIRST_NODE_IP + index))},
                {"type": "Hostname", "address": name},
            ]
        },
    }


def _deployment(namespace: str, app: str, tier: str, port: int, version: str,
                replicas: int, *, named_ports: bool = False) -> Obj:
    # Fresh dicts everywhere: a dict shared between two places would be written as a
    # YAML anchor and alias.
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "namespace": namespace, "labels": {"app": app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app, "tier": tier}},
            "template": {
                "metadata": {"labels": {"app": app, "tier": tier, "version": version}},
                "spec": {
                    "containers": [
                        {
                            "name": app,
                            "image": f"example/{app}:{version}",
                            "ports": (_shapes.container_ports(app, port, version)
                                      if named_ports
                                      else [{"containerPort": port, "protocol": "TCP"}]),
                        }
                    ]
                },
            },
        },
    }


def _ports(rng: random.Random) -> list[Obj]:
    chosen = sorted(POLICY_PORTS[i] for i in _distinct(rng, len(POLICY_PORTS), 1 + _below(rng, 2)))
    return [{"protocol": "TCP", "port": p} for p in chosen]


def _ip_block(rng: random.Random) -> Obj:
    second = 64 + _below(rng, 64)
    return {
        "ipBlock": {
            "cidr": f"10.{second}.0.0/16",
            "except": [f"10.{second}.{_below(rng, 256)}.0/24"],
        }
    }


def _peer(rng: random.Random) -> Obj:
    """One from/to peer: same-namespace pods by tier (half), a team's namespaces, or an
    IP block with a hole in it."""
    roll = rng.random()
    if roll < 0.5:
        return {"podSelector": {"matchLabels": {"tier": TIERS[_below(rng, len(TIERS))]}}}
    if roll < 0.8:
        return {"namespaceSelector": {"matchLabels": {"team": TEAMS[_below(rng, len(TEAMS))]}}}
    return _ip_block(rng)


def _policy(rng: random.Random, name: str, namespace: str, app: str) -> Obj:
    roll = rng.random()
    ingress, egress = roll < 0.85, roll >= 0.7  # 70% ingress, 15% egress, 15% both
    spec: Obj = {
        "podSelector": {"matchLabels": {"app": app}},
        "policyTypes": [t for t, on in (("Ingress", ingress), ("Egress", egress)) if on],
    }
    if ingress:
        spec["ingress"] = [{"from": [_peer(rng)], "ports": _ports(rng)}]
    if egress:
        spec["egress"] = [{"to": [_peer(rng)], "ports": _ports(rng)}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


# --------------------------------------------------------------------------- public


def generate_cluster(
    *,
    namespaces: int,
    pods: int,
    seed: int = 0,
    policies: int = 0,
    nodes: int = 0,
    no_snat_fraction: float = 0.1,
    shapes: str = "simple",
) -> list[Obj]:
    """Kubernetes objects of a synthetic cluster, as plain dicts; same arguments, same list.

    ``pods`` is the exact total of Deployment replicas. Raises :class:`GeneratorError`
    when no cluster fits the arguments (negative counts, pods without namespaces, more
    than :data:`MAX_PODS_PER_NAMESPACE` pods per namespace on average, a fraction
    outside 0..1, ``shapes`` neither ``simple`` nor ``realistic``).

    >>> objs = generate_cluster(namespaces=3, pods=10, seed=1)
    >>> [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"]
    ['ns-00001', 'ns-00002', 'ns-00003']
    >>> sum(o["spec"]["replicas"] for o in objs if o["kind"] == "Deployment")
    10
    """
    for arg, value in (("namespaces", namespaces), ("pods", pods),
                       ("policies", policies), ("nodes", nodes)):
        if value < 0:
            raise GeneratorError(f"{arg} must be >= 0, got {value}")
    if not 0.0 <= no_snat_fraction <= 1.0:
        raise GeneratorError(f"no_snat_fraction must be within 0..1, got {no_snat_fraction}")
    if pods > namespaces * MAX_PODS_PER_NAMESPACE:
        raise GeneratorError(
            f"{pods} pods do not fit in {namespaces} namespaces of at most "
            f"{MAX_PODS_PER_NAMESPACE} pods"
        )
    if shapes not in SHAPES:
        raise GeneratorError(f"shapes must be one of {', '.join(SHAPES)}, got {shapes!r}")
    if policies and not namespaces:
        raise GeneratorError("policies need at least one namespace")

    rng = random.Random(seed)
    width = max(5, len(str(namespaces)))
    names = [f"ns-{i:0{width}d}" for i in range(1, namespaces + 1)]
    routed = set(rng.sample(range(namespaces), round(namespaces * no_snat_fraction)))

    realistic = shapes == "realistic"
    teams = _shapes.team_count(namespaces)
    objects: list[Obj] = [
        _namespace(name, _shapes.namespace_labels(rng, i, teams) if realistic else
                   {"team": TEAMS[_below(rng, len(TEAMS))], "env": ENVS[_below(rng, len(ENVS))]},
                   i in routed)
        for i, name in enumerate(names)
    ]

    node_width = max(3, len(str(nodes)))
    objects.extend(_node(f"node-{i + 1:0{node_width}d}", i) for i in range(nodes))

    apps_by_namespace: list[tuple[str, list[str]]] = []
    for name, count in zip(names, _pods_per_namespace(rng, namespaces, pods), strict=True):
        if count == 0:
            continue
        n_apps = min(count, len(APPS), 1 + _below(rng, 3) + count // 100)
        apps = [APPS[i] for i in _distinct(rng, len(APPS), n_apps)]
        for (app, tier, port), replicas in zip(apps, _split(rng, count, n_apps), strict=True):
            version = VERSIONS[_below(rng, len(VERSIONS))]
            objects.append(_deployment(name, app, tier, port, version, replicas,
                                       named_ports=realistic))
        apps_by_namespace.append((name, [app for app, _, _ in apps]))

    # Policies go where the pods are; with no pods at all they select apps nobody runs.
    targets = apps_by_namespace or [(name, [app for app, _, _ in APPS]) for name in names]
    policy_width = max(5, len(str(policies)))
    for k in range(1, policies + 1):
        namespace, apps_here = targets[_below(rng, len(targets))]
        app = apps_here[_below(rng, len(apps_here))]
        policy_name = f"np-{k:0{policy_width}d}"
        objects.append(_shapes.realistic_policy(rng, policy_name, namespace, app, teams)
                       if realistic else _policy(rng, policy_name, namespace, app))
    return objects


def write_cluster(
    objects: Sequence[Mapping[str, Any]], directory: Path, *, per_file: int = 500
) -> list[Path]:
    """Write ``objects`` as multi-document YAML files ``cluster-0000.yaml``, ... in order.

    ``per_file`` objects go in each file. Earlier ``cluster-NNNN.yaml`` files in
    ``directory`` are removed first, so the folder then holds exactly this cluster (other
    files are left alone). Each file is written under a temporary name and renamed, so a
    reader never sees half a file. Returns the paths written, in order.
    """
    if per_file < 1:
        raise GeneratorError(f"per_file must be >= 1, got {per_file}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in sorted(directory.iterdir()):
        if _CLUSTER_FILE.fullmatch(stale.name) and stale.is_file():
            stale.unlink()

    n_files = -(-len(objects) // per_file)
    width = max(4, len(str(n_files - 1)))
    written: list[Path] = []
    for n in range(n_files):
        path = directory / f"cluster-{n:0{width}d}.yaml"
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as fh:
            yaml.dump_all(
                objects[n * per_file:(n + 1) * per_file],
                fh,
                Dumper=_Dumper,
                sort_keys=False,
                default_flow_style=False,
            )
        partial.replace(path)
        written.append(path)
    return written


def _dump_to_stdout(objects: list[Obj]) -> int:
    try:
        yaml.dump_all(objects, sys.stdout, Dumper=_Dumper, sort_keys=False,
                      default_flow_style=False)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (``| head``). Point stdout at devnull so the interpreter's
        # final flush does not raise again, and exit as Python does on EPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m topologies.generate``: write a generated cluster to a folder or stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m topologies.generate",
        description="Write a seeded synthetic Kubernetes cluster as multi-document YAML.",
    )
    parser.add_argument("--namespaces", type=int, required=True)
    parser.add_argument("--pods", type=int, required=True, help="exact total of pods")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policies", type=int, default=0)
    parser.add_argument("--nodes", type=int, default=0)
    parser.add_argument("--no-snat-fraction", type=float, default=0.1)
    parser.add_argument("--shapes", choices=SHAPES, default="simple",
                        help="policy shapes (realistic: see topologies.shapes)")
    parser.add_argument("--per-file", type=int, default=500, help="objects per YAML file")
    parser.add_argument("--out", type=Path, help="folder to write; stdout when omitted")
    args = parser.parse_args(argv)
    try:
        objects = generate_cluster(
            namespaces=args.namespaces,
            pods=args.pods,
            seed=args.seed,
            policies=args.policies,
            nodes=args.nodes,
            no_snat_fraction=args.no_snat_fraction,
            shapes=args.shapes,
        )
        if args.out is None:
            return _dump_to_stdout(objects)
        paths = write_cluster(objects, args.out, per_file=args.per_file)
    except GeneratorError as exc:
        parser.error(str(exc))  # exits 2
    print(
        f"wrote {len(objects)} objects ({args.namespaces} namespaces, {args.pods} pods, "
        f"{args.policies} policies, {args.nodes} nodes, seed {args.seed}) "
        f"to {len(paths)} file(s) in {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
