"""The seeded cluster generator: exact totals, bounded namespaces, same seed same cluster.

Benchmarks and scale tests trust these properties without re-checking them, so they are
checked here over small and mid-sized cases (timing lives in bench/, not here).
"""

from __future__ import annotations

import doctest
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import topologies
from topologies import generate
from topologies.generate import (
    MAX_PODS_PER_NAMESPACE,
    GeneratorError,
    generate_cluster,
    main,
    write_cluster,
)

Obj = dict[str, Any]


def kinds(objs: list[Obj]) -> Counter[str]:
    return Counter(o["kind"] for o in objs)


def pods_per_namespace(objs: list[Obj]) -> Counter[str]:
    per: Counter[str] = Counter()
    for o in objs:
        if o["kind"] == "Deployment":
            per[o["metadata"]["namespace"]] += o["spec"]["replicas"]
    return per


def read_back(paths: list[Path]) -> list[Obj]:
    objs: list[Obj] = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            objs.extend(yaml.safe_load_all(fh))
    return objs


def test_doctests() -> None:
    for module in (topologies, generate):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


def test_same_seed_same_cluster() -> None:
    args: dict[str, Any] = {"namespaces": 200, "pods": 1500, "policies": 50, "nodes": 4}
    assert generate_cluster(seed=11, **args) == generate_cluster(seed=11, **args)


def test_different_seeds_different_clusters() -> None:
    args: dict[str, Any] = {"namespaces": 200, "pods": 1500, "policies": 50}
    assert generate_cluster(seed=1, **args) != generate_cluster(seed=2, **args)


@pytest.mark.parametrize(
    ("namespaces", "pods"),
    [
        pytest.param(0, 0, id="empty"),
        pytest.param(1, 0, id="no-pods"),
        pytest.param(10, 4, id="fewer-pods-than-namespaces"),
        pytest.param(3, 10, id="tiny"),
        pytest.param(1, MAX_PODS_PER_NAMESPACE, id="one-full-namespace"),
        pytest.param(2, 3000, id="two-crowded-namespaces"),
        pytest.param(7, 7 * MAX_PODS_PER_NAMESPACE, id="every-namespace-full"),
        pytest.param(2500, 10_000, id="2500x10000"),
    ],
)
def test_counts_are_exact_and_bounded(namespaces: int, pods: int) -> None:
    objs = generate_cluster(namespaces=namespaces, pods=pods, seed=5)
    names = [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"]
    assert len(names) == namespaces
    assert names == sorted(names)  # zero-padded: name order is number order
    assert len({len(n) for n in names}) <= 1
    per = pods_per_namespace(objs)
    assert sum(per.values()) == pods
    assert max(per.values(), default=0) <= MAX_PODS_PER_NAMESPACE
    assert set(per) <= set(names)
    assert all(o["spec"]["replicas"] >= 1 for o in objs if o["kind"] == "Deployment")


def test_some_namespaces_outgrow_a_slash_24() -> None:
    per = pods_per_namespace(generate_cluster(namespaces=2500, pods=10_000, seed=0))
    big = [n for n, count in per.items() if count >= 300]
    assert 1 <= len(big) <= 25  # a few, not many


@pytest.mark.slow
def test_large_cluster_invariants() -> None:
    objs = generate_cluster(namespaces=25_000, pods=100_000, seed=3, policies=2000)
    per = pods_per_namespace(objs)
    assert kinds(objs)["Namespace"] == 25_000
    assert sum(per.values()) == 100_000
    assert max(per.values()) <= MAX_PODS_PER_NAMESPACE
    assert sum(1 for count in per.values() if count >= 300) >= 10


def test_deployments_are_unique_and_selectors_match_templates() -> None:
    objs = generate_cluster(namespaces=300, pods=3000, seed=9)
    keys = [(o["metadata"]["namespace"], o["metadata"]["name"])
            for o in objs if o["kind"] == "Deployment"]
    assert len(keys) == len(set(keys))
    for o in objs:
        if o["kind"] == "Deployment":
            labels = o["spec"]["template"]["metadata"]["labels"]
            assert set(labels) == {"app", "tier", "version"}
            assert o["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_namespace_labels_and_no_snat_share() -> None:
    objs = generate_cluster(namespaces=1000, pods=2000, seed=4, no_snat_fraction=0.25)
    namespaces = [o for o in objs if o["kind"] == "Namespace"]
    assert all(set(ns["metadata"]["labels"]) == {"team", "env"} for ns in namespaces)
    routed = [ns for ns in namespaces
              if ns["metadata"].get("annotations") == {"ncp/no_snat": "true"}]
    assert len(routed) == 250


def test_nodes() -> None:
    objs = generate_cluster(namespaces=2, pods=4, nodes=12)
    nodes = [o for o in objs if o["kind"] == "Node"]
    assert [n["metadata"]["name"] for n in nodes][:2] == ["node-001", "node-002"]
    ips = [n["status"]["addresses"][0]["address"] for n in nodes]
    assert len(set(ips)) == 12
    assert kinds(generate_cluster(namespaces=2, pods=4))["Node"] == 0


def test_policies_select_apps_that_run_in_their_namespace() -> None:
    objs = generate_cluster(namespaces=100, pods=800, seed=2, policies=400)
    apps = {(o["metadata"]["namespace"], o["metadata"]["name"])
            for o in objs if o["kind"] == "Deployment"}
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    assert len(policies) == 400
    assert len({p["metadata"]["name"] for p in policies}) == 400
    seen = Counter[str]()
    for p in policies:
        spec = p["spec"]
        assert (p["metadata"]["namespace"], spec["podSelector"]["matchLabels"]["app"]) in apps
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction, []):
                seen[direction] += 1
                assert {port["port"] for port in rule["ports"]} <= {80, 443, 5432, 8080}
                for peer in rule[key]:
                    seen.update(peer.keys())
                    if "ipBlock" in peer:
                        assert peer["ipBlock"]["except"]
        assert spec["policyTypes"] == [t for t in ("Ingress", "Egress")
                                       if t.lower() in spec]
    assert {"ingress", "egress", "podSelector", "namespaceSelector", "ipBlock"} <= set(seen)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"namespaces": 1, "pods": MAX_PODS_PER_NAMESPACE + 1}, id="too-many-pods"),
        pytest.param({"namespaces": 0, "pods": 1}, id="pods-without-namespaces"),
        pytest.param({"namespaces": -1, "pods": 0}, id="negative"),
        pytest.param({"namespaces": 1, "pods": 1, "no_snat_fraction": 1.5}, id="fraction"),
        pytest.param({"namespaces": 0, "pods": 0, "policies": 1}, id="policies-nowhere"),
    ],
)
def test_impossible_arguments_raise_with_a_code(kwargs: dict[str, Any]) -> None:
    with pytest.raises(GeneratorError, match="INVALID_GENERATOR_ARGUMENT"):
        generate_cluster(**kwargs)


def test_write_cluster_round_trips(tmp_path: Path) -> None:
    objs = generate_cluster(namespaces=20, pods=90, seed=8, policies=15, nodes=3)
    paths = write_cluster(objs, tmp_path / "out", per_file=7)
    assert [p.name for p in paths][:2] == ["cluster-0000.yaml", "cluster-0001.yaml"]
    assert len(paths) == -(-len(objs) // 7)
    assert read_back(paths) == objs
    assert "&id" not in paths[0].read_text(encoding="utf-8")  # no YAML anchors


def test_write_cluster_replaces_an_earlier_cluster(tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    write_cluster(generate_cluster(namespaces=30, pods=60), tmp_path, per_file=5)
    small = generate_cluster(namespaces=2, pods=2)
    paths = write_cluster(small, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster-0000.yaml", "notes.txt"]
    assert read_back(paths) == small


def test_cli_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cluster"
    code = main(["--namespaces", "50", "--pods", "200", "--seed", "3", "--policies", "10",
                 "--out", str(out), "--per-file", "40"])
    assert code == 0
    objs = read_back(sorted(out.glob("cluster-*.yaml")))
    assert objs == generate_cluster(namespaces=50, pods=200, seed=3, policies=10)
    assert len(list(out.glob("cluster-*.yaml"))) == -(-len(objs) // 40)
    assert f"wrote {len(objs)} objects" in capsys.readouterr().err


def test_cli_writes_stdout_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--namespaces", "4", "--pods", "9", "--nodes", "2", "--seed", "6"]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert printed == generate_cluster(namespaces=4, pods=9, nodes=2, seed=6)


def test_cli_rejects_impossible_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--namespaces", "1", "--pods", "5000"])
    assert info.value.code == 2
    assert "INVALID_GENERATOR_ARGUMENT" in capsys.readouterr().err
