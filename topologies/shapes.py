"""Policies shaped as real clusters have them, for :func:`topologies.generate.generate_cluster`
with ``shapes="realistic"``.

The default generator's policies are easy on a policy engine: each peer selects pods of
the policy's own namespace, one of eight teams' namespaces, or an address block, and every
port is a number. Real clusters (and Antrea's controller benchmark, at 25,000 namespaces /
100,000 pods / 75,000 NetworkPolicies) also have

* peers that select **half the cluster**: a ``namespaceSelector`` on ``env: prod`` (half of
  the namespaces are prod) together with a ``podSelector`` on a ``tier`` label;
* peers that select **one team's namespaces**: teams of about
  :data:`NAMESPACES_PER_TEAM` namespaces each (``team: team-007``), alone or with a tier;
* **named ports** (``port: http``) that NCP resolves per destination pod: the same name
  means different numbers on different pods (``http`` is 80 on ``web``, 8080 on ``api``;
  ``metrics`` is 9090 on ``v1`` pods and 9102 on later versions).

A named port on an egress rule is resolved against every pod its peers select, and each
resolved number becomes an NSX group listing those pods' ports one by one, so named ports
here go where real clusters put them: ingress (resolved against the policy's own pods) and
egress to narrow peers (a tier of the same namespace, or of one team's namespaces).
"""

from __future__ import annotations

import random
from typing import Any

__all__ = [
    "NAMESPACES_PER_TEAM",
    "PORT_NAMES",
    "container_ports",
    "namespace_labels",
    "realistic_policy",
    "team_count",
]

Obj = dict[str, Any]

#: About this many namespaces per team (``team-001``, ...), at every scale.
NAMESPACES_PER_TEAM = 500
TIERS = ("frontend", "backend", "data", "batch")
#: The name of each app's serving port (``containerPort`` as the app defines it).
PORT_NAMES = {
    "web": "http", "ui": "http", "api": "http", "auth": "https", "search": "http",
    "catalog": "http", "cart": "http", "billing": "https", "db": "postgres",
    "cache": "redis", "queue": "amqp", "worker": "http", "report": "http",
}
#: Every pod also serves ``metrics``: 9090 on ``v1`` pods, 9102 on later versions.
METRICS_PORTS = {"v1": 9090, "v2": 9102, "v3": 9102}
NUMBERED_PORTS = (80, 443, 5432, 8080, 9090)


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def team_count(namespaces: int) -> int:
    """Teams of about :data:`NAMESPACES_PER_TEAM` namespaces (at least one)."""
    return max(1, round(namespaces / NAMESPACES_PER_TEAM))


def namespace_labels(rng: random.Random, index: int, teams: int) -> dict[str, str]:
    """``team`` (round robin, so each team has its share exactly) and ``env`` (``prod``
    for half of the namespaces, else ``staging`` or ``dev``)."""
    roll = rng.random()
    env = "prod" if roll < 0.5 else ("staging" if roll < 0.75 else "dev")
    return {"team": f"team-{index % teams + 1:03d}", "env": env}


def container_ports(app: str, port: int, version: str) -> list[Obj]:
    """The app's named serving port and its named metrics port."""
    return [{"name": PORT_NAMES[app], "containerPort": port, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORTS[version], "protocol": "TCP"}]


def _tier(rng: random.Random) -> Obj:
    return {"matchLabels": {"tier": TIERS[_below(rng, len(TIERS))]}}


def _team(rng: random.Random, teams: int) -> Obj:
    return {"matchLabels": {"team": f"team-{_below(rng, teams) + 1:03d}"}}


def _peer(rng: random.Random, teams: int) -> tuple[Obj, bool]:
    """One peer, and whether it is narrow enough for a named port on egress."""
    roll = rng.random()
    if roll < 0.3:
        return {"podSelector": _tier(rng)}, True
    if roll < 0.55:  # half the cluster: prod namespaces, one tier
        return {"namespaceSelector": {"matchLabels": {"env": "prod"}},
                "podSelector": _tier(rng)}, False
    if roll < 0.75:  # one team's namespaces
        return {"namespaceSelector": _team(rng, teams)}, False
    if roll < 0.9:  # one tier of one team's namespaces
        return {"namespaceSelector": _team(rng, teams), "podSelector": _tier(rng)}, True
    second = 64 + _below(rng, 64)
    return {"ipBlock": {"cidr": f"10.{second}.0.0/16",
                        "except": [f"10.{second}.{_below(rng, 256)}.0/24"]}}, False


def _ports(rng: random.Random, name: str | None) -> list[Obj]:
    """A named port (``name``, when given, half of the time) or one or two numbers."""
    if name is not None and rng.random() < 0.5:
        ports: list[Obj] = [{"protocol": "TCP", "port": name}]
        if rng.random() < 0.3:
            ports.append({"protocol": "TCP", "port": "metrics"})
        return ports
    first = _below(rng, len(NUMBERED_PORTS))
    chosen = sorted({NUMBERED_PORTS[first],
                     NUMBERED_PORTS[(first + _below(rng, 2)) % len(NUMBERED_PORTS)]})
    return [{"protocol": "TCP", "port": p} for p in chosen]


def realistic_policy(rng: random.Random, name: str, namespace: str, app: str,
                     teams: int) -> Obj:
    """A NetworkPolicy selecting ``app`` in ``namespace``: 70% ingress, 15% egress, 15%
    both, each rule with one or two peers (see the module docstring)."""
    roll = rng.random()
    ingress, egress = roll < 0.85, roll >= 0.7
    spec: Obj = {
        "podSelector": {"matchLabels": {"app": app}},
        "policyTypes": [t for t, on in (("Ingress", ingress), ("Egress", egress)) if on],
    }
    if ingress:
        peers = [_peer(rng, teams)[0] for _ in range(1 + _below(rng, 2))]
        spec["ingress"] = [{"from": peers, "ports": _ports(rng, PORT_NAMES[app])}]
    if egress:
        drawn = [_peer(rng, teams) for _ in range(1 + _below(rng, 2))]
        narrow = all(ok for _, ok in drawn)
        spec["egress"] = [{"to": [p for p, _ in drawn],
                           "ports": _ports(rng, "http" if narrow else None)}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
