"""The realistic policy shapes (``generate_cluster(shapes="realistic")``), which the
benchmarks' ``full`` scale uses: half the namespaces prod, teams of about 500 namespaces,
named container ports, and policies whose peers select half the cluster or one team."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import pytest

from topologies.generate import GeneratorError, generate_cluster
from topologies.shapes import NAMESPACES_PER_TEAM, PORT_NAMES

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster() -> list[Obj]:
    return generate_cluster(namespaces=2000, pods=8000, policies=3000, nodes=80, seed=4,
                            shapes="realistic")


def of(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def test_simple_is_the_default_and_unchanged() -> None:
    args: dict[str, Any] = {"namespaces": 40, "pods": 200, "policies": 60, "nodes": 3, "seed": 2}
    assert generate_cluster(**args) == generate_cluster(**args, shapes="simple")
    # The output of the default shapes as it was before the option existed.
    text = json.dumps(generate_cluster(**args), sort_keys=True).encode()
    assert hashlib.sha256(text).hexdigest()[:16] == "8e21a4f72872b613"


def test_realistic_is_deterministic_and_keeps_the_sizes(cluster: list[Obj]) -> None:
    again = generate_cluster(namespaces=2000, pods=8000, policies=3000, nodes=80, seed=4,
                             shapes="realistic")
    assert again == cluster
    assert len(of(cluster, "Namespace")) == 2000
    assert len(of(cluster, "NetworkPolicy")) == 3000
    assert len(of(cluster, "Node")) == 80
    assert sum(d["spec"]["replicas"] for d in of(cluster, "Deployment")) == 8000


def test_half_prod_and_teams_of_500(cluster: list[Obj]) -> None:
    labels = [n["metadata"]["labels"] for n in of(cluster, "Namespace")]
    prod = sum(1 for lab in labels if lab["env"] == "prod")
    assert 900 <= prod <= 1100
    teams = Counter(lab["team"] for lab in labels)
    assert len(teams) == 2000 // NAMESPACES_PER_TEAM
    assert set(teams.values()) == {NAMESPACES_PER_TEAM}


def test_containers_name_their_ports(cluster: list[Obj]) -> None:
    for d in of(cluster, "Deployment"):
        ports = d["spec"]["template"]["spec"]["containers"][0]["ports"]
        app = d["metadata"]["name"]
        assert [p["name"] for p in ports] == [PORT_NAMES[app], "metrics"]


def test_policies_have_the_wide_peers_and_named_ports(cluster: list[Obj]) -> None:
    seen: Counter[str] = Counter()
    for p in of(cluster, "NetworkPolicy"):
        for side, key in (("ingress", "from"), ("egress", "to")):
            for rule in p["spec"].get(side, []):
                for peer in rule[key]:
                    ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
                    if ns == {"env": "prod"} and "tier" in peer["podSelector"]["matchLabels"]:
                        seen["half the cluster"] += 1
                    elif "team" in ns:
                        seen["a team"] += 1
                if any(isinstance(port["port"], str) for port in rule["ports"]):
                    seen[f"named {side}"] += 1
    assert min(seen["half the cluster"], seen["a team"]) > 300
    assert seen["named ingress"] > 300 and seen["named egress"] > 10


def test_unknown_shapes_are_refused() -> None:
    with pytest.raises(GeneratorError, match="shapes"):
        generate_cluster(namespaces=1, pods=1, shapes="odd")
