"""Tests for expanding workload controllers into pods (ncp.translate.workloads)."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncp.objects import K8sObject
from ncp.translate.workloads import expand_workloads, node_names, place

NODES = ("node-a", "node-b", "node-c")
API = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1",
       "DaemonSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1",
       "Node": "v1", "Service": "v1"}


def make(
    kind: str,
    name: str,
    namespace: str = "shop",
    *,
    spec: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    owners: list[tuple[str, str]] | None = None,
    source: str | None = None,
) -> K8sObject:
    """A K8sObject as read_manifests would produce it."""
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels is not None:
        metadata["labels"] = labels
    if owners:
        metadata["ownerReferences"] = [
            {"apiVersion": API[k], "kind": k, "name": n, "controller": True} for k, n in owners
        ]
    body: dict[str, Any] = {"apiVersion": API[kind], "kind": kind, "metadata": metadata}
    if spec is not None:
        body["spec"] = spec
    return K8sObject(kind, API[kind], namespace, name, body, source or f"{kind}-{name}.yaml#0")


def template(labels: dict[str, str] | None = None, **pod_spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels or {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **pod_spec},
    }


def controller(kind: str, name: str = "web", **spec: Any) -> K8sObject:
    return make(kind, name, spec={"template": template(), **spec})


def names(objects: list[K8sObject], nodes: tuple[str, ...] = NODES) -> list[str]:
    result = expand_workloads(objects, nodes=nodes)
    assert result.problems == ()
    return [pod.ref for pod in result.pods]


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param([controller("Deployment", replicas=3)],
                     ["shop/web-0", "shop/web-1", "shop/web-2"], id="deployment"),
        pytest.param([controller("Deployment")], ["shop/web-0"], id="deployment-default-1"),
        pytest.param([controller("Deployment", replicas=None)], ["shop/web-0"],
                     id="deployment-null-replicas"),
        pytest.param([controller("ReplicaSet", replicas=2)], ["shop/web-0", "shop/web-1"],
                     id="replicaset"),
        pytest.param([controller("StatefulSet", "db", replicas=2)], ["shop/db-0", "shop/db-1"],
                     id="statefulset"),
        pytest.param([controller("StatefulSet", "db", replicas=0)], [], id="zero-replicas"),
        pytest.param([controller("Job", "batch", parallelism=2)],
                     ["shop/batch-0", "shop/batch-1"], id="job"),
        pytest.param([controller("Job", "batch")], ["shop/batch-0"], id="job-default-1"),
        pytest.param([controller("Job", "batch", parallelism=3, completions=1)],
                     ["shop/batch-0"], id="job-completions-cap"),
        pytest.param([controller("Job", "batch", suspend=True)], [], id="job-suspended"),
        pytest.param([make("CronJob", "nightly", spec={"jobTemplate": {"spec": {
            "template": template()}}})], [], id="cronjob-no-pods"),
        pytest.param([controller("DaemonSet", "agent")],
                     ["shop/agent-node-a", "shop/agent-node-b", "shop/agent-node-c"],
                     id="daemonset-per-node"),
        pytest.param([make("DaemonSet", "agent", spec={
            "template": template(nodeSelector={"gpu": "yes"})})],
                     ["shop/agent-node-a", "shop/agent-node-b", "shop/agent-node-c"],
                     id="daemonset-selector-ignored-without-node-objects"),
        pytest.param([make("Pod", "solo", spec={"containers": []}),
                      make("Service", "web", spec={"ports": [{"port": 80}]})],
                     ["shop/solo"], id="bare-pod-kept-others-ignored"),
        pytest.param([controller("Deployment", "b", replicas=1),
                      make("Pod", "a", namespace="zz"), controller("Deployment", "a")],
                     ["shop/a-0", "shop/b-0", "zz/a"], id="sorted-by-namespace-name"),
    ],
)
def test_expansion_per_kind(objects: list[K8sObject], expected: list[str]) -> None:
    assert names(objects) == expected


def test_daemonset_node_selector_with_node_objects() -> None:
    nodes = [
        make("Node", "n1", namespace="", labels={"gpu": "yes"}),
        make("Node", "n2", namespace="", labels={"gpu": "no"}),
        make("Node", "n3", namespace=""),
    ]
    ds = make("DaemonSet", "agent", spec={"template": template(nodeSelector={"gpu": "yes"})})
    plain = controller("DaemonSet", "all")
    objects = [*nodes, ds, plain]
    result = expand_workloads(objects, nodes=node_names(objects, NODES))
    assert [(p.name, p.body["spec"]["nodeName"]) for p in result.pods] == [
        ("agent-n1", "n1"), ("all-n1", "n1"), ("all-n2", "n2"), ("all-n3", "n3"),
    ]


def test_cronjob_is_noted() -> None:
    result = expand_workloads([make("CronJob", "nightly", spec={})], nodes=NODES)
    assert result.pods == ()
    assert result.problems == ()
    assert any("CronJob shop/nightly" in note for note in result.notes)


def test_generated_pod_shape() -> None:
    tpl = template(labels={"app": "web", "tier": "front"}, serviceAccountName="web")
    tpl["metadata"]["annotations"] = {"note": "hi"}
    deployment = make("Deployment", "web", spec={"replicas": 1, "template": tpl},
                      source="shop.yaml#4")
    deployment.body["metadata"]["uid"] = "1234"
    (pod,) = expand_workloads([deployment], nodes=NODES).pods
    node = place("shop", "web", 0, NODES)
    assert (pod.kind, pod.api_version, pod.namespace, pod.name, pod.source) == (
        "Pod", "v1", "shop", "web-0", "shop.yaml#4")
    assert pod.body == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "shop",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"note": "hi"},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "controller": True, "blockOwnerDeletion": True, "uid": "1234",
            }],
        },
        "spec": {
            "containers": [{"name": "c", "image": "nginx"}],
            "serviceAccountName": "web",
            "nodeName": node,
        },
    }
    # The template itself is not modified; nested parts are shared read-only (K8sObject).
    assert "nodeName" not in tpl["spec"]
    assert pod.body["spec"] is not tpl["spec"]


def kubectl_dump(*, with_replicaset: bool = True, with_pods: bool = True) -> list[K8sObject]:
    """What ``kubectl get all -o yaml`` shows for a Deployment with 2 running pods."""
    objects = [controller("Deployment", "web", replicas=2)]
    if with_replicaset:
        objects.append(make("ReplicaSet", "web-7d9f8", spec={"replicas": 2,
                                                             "template": template()},
                            owners=[("Deployment", "web")]))
    if with_pods:
        for suffix, node in (("x2x4q", "node-c"), ("k8b2m", "node-c")):
            objects.append(make("Pod", f"web-7d9f8-{suffix}",
                                labels={"app": "x", "pod-template-hash": "7d9f8"},
                                owners=[("ReplicaSet", "web-7d9f8")],
                                spec={"nodeName": node}))
    return objects


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param(kubectl_dump(), ["shop/web-7d9f8-k8b2m", "shop/web-7d9f8-x2x4q"],
                     id="deployment-replicaset-pods"),
        pytest.param(kubectl_dump(with_replicaset=False),
                     ["shop/web-7d9f8-k8b2m", "shop/web-7d9f8-x2x4q"],
                     id="deployment-pods-replicaset-missing"),
        pytest.param(kubectl_dump(with_pods=False), ["shop/web-0", "shop/web-1"],
                     id="deployment-replicaset-no-pods"),
        pytest.param([make("ReplicaSet", "web-7d9f8", spec={"replicas": 2,
                                                            "template": template()},
                           owners=[("Deployment", "web")])],
                     ["shop/web-7d9f8-0", "shop/web-7d9f8-1"],
                     id="replicaset-owner-absent-is-expanded"),
        pytest.param([controller("StatefulSet", "db", replicas=3),
                      make("Pod", "db-0", owners=[("StatefulSet", "db")])],
                     ["shop/db-0"], id="statefulset-with-real-pods"),
        pytest.param([controller("DaemonSet", "agent"),
                      make("Pod", "agent-q1", owners=[("DaemonSet", "agent")])],
                     ["shop/agent-q1"], id="daemonset-with-real-pods"),
        pytest.param([controller("Job", "batch"),
                      make("Pod", "batch-zz", owners=[("Job", "batch")])],
                     ["shop/batch-zz"], id="job-with-real-pods"),
        pytest.param([make("Pod", "orphan", owners=[("ReplicaSet", "gone")]),
                      controller("Deployment", "web")],
                     ["shop/orphan", "shop/web-0"], id="pod-owner-absent"),
        pytest.param([controller("Deployment", "web"),
                      make("Pod", "web-abc", namespace="other",
                           owners=[("Deployment", "web")])],
                     ["other/web-abc", "shop/web-0"], id="owner-refs-are-namespace-local"),
    ],
)
def test_kubectl_dump_is_not_double_counted(objects: list[K8sObject], expected: list[str]) -> None:
    assert names(objects) == expected


def test_real_pods_keep_their_bodies() -> None:
    dump = kubectl_dump()
    result = expand_workloads(dump, nodes=NODES)
    assert {pod.body["metadata"]["name"] for pod in result.pods} == {
        "web-7d9f8-x2x4q", "web-7d9f8-k8b2m"}
    assert all(pod.body["spec"]["nodeName"] == "node-c" for pod in result.pods)
    assert any("not expanded" in note and "Deployment shop/web" in note for note in result.notes)


def test_placement_formula_and_determinism() -> None:
    deployment = controller("Deployment", "frontend", replicas=5)
    nodes = ("n3", "n1", "n2")
    first = expand_workloads([deployment], nodes=nodes)
    again = expand_workloads([deployment], nodes=tuple(reversed(nodes)))
    assert first == again
    offset = zlib.crc32(b"shop/frontend")
    expected = [["n1", "n2", "n3"][(offset + i) % 3] for i in range(5)]
    assert [pod.body["spec"]["nodeName"] for pod in first.pods] == expected


def test_replicas_spread_round_robin() -> None:
    nodes = tuple(f"n{i}" for i in range(4))
    pods = expand_workloads([controller("Deployment", replicas=4)], nodes=nodes).pods
    assert sorted(pod.body["spec"]["nodeName"] for pod in pods) == list(nodes)


def test_placement_stable_when_replicas_grow() -> None:
    def placement(replicas: int) -> dict[str, str]:
        result = expand_workloads([controller("Deployment", replicas=replicas)], nodes=NODES)
        return {pod.name: pod.body["spec"]["nodeName"] for pod in result.pods}

    small, large = placement(3), placement(7)
    assert all(large[name] == node for name, node in small.items())


def test_node_name_honoured() -> None:
    bare = make("Pod", "pinned", spec={"nodeName": "elsewhere"})
    unplaced = make("Pod", "free", spec={"containers": []})
    pinned_deployment = make("Deployment", "web", spec={
        "replicas": 2, "template": template(nodeName="node-b")})
    result = expand_workloads([bare, unplaced, pinned_deployment], nodes=NODES)
    placed = {pod.name: pod.body["spec"]["nodeName"] for pod in result.pods}
    assert placed == {
        "free": place("shop", "free", 0, NODES),
        "pinned": "elsewhere",
        "web-0": "node-b",
        "web-1": "node-b",
    }
    assert bare in result.pods  # a pod that is already placed is returned as is
    assert "nodeName" not in unplaced.body["spec"]  # the input is not modified


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        pytest.param(make("Deployment", "web", spec={"replicas": 2}), "spec.template",
                     id="no-template"),
        pytest.param(make("Deployment", "web"), "spec.template", id="no-spec"),
        pytest.param(controller("Deployment", replicas=-1), "negative", id="negative-replicas"),
        pytest.param(controller("Job", parallelism=-2), "negative", id="negative-parallelism"),
        pytest.param(controller("StatefulSet", replicas="3"), "not an integer",
                     id="string-replicas"),
        pytest.param(controller("Deployment", replicas=True), "not an integer",
                     id="bool-replicas"),
        pytest.param(controller("Deployment", "Web"), "invalid pod name", id="uppercase"),
        pytest.param(controller("Deployment", "web_1"), "invalid pod name", id="underscore"),
        pytest.param(controller("Deployment", "a" * 251, replicas=11), "invalid pod name",
                     id="too-long-with-ordinal"),
        pytest.param(controller("DaemonSet", "a" * 248), "invalid pod name",
                     id="too-long-with-node"),
    ],
)
def test_invalid_controllers(obj: K8sObject, fragment: str) -> None:
    ok = controller("Deployment", "fine")
    result = expand_workloads([obj, ok], nodes=NODES)
    assert [pod.name for pod in result.pods] == ["fine-0"]  # the others are not blocked
    (problem,) = result.problems
    assert problem.code == "INVALID_OBJECT"
    assert problem.obj == obj.ident
    assert fragment in problem.message


def test_longest_valid_name_is_accepted() -> None:
    # "<251 a's>-10" has 254 characters, "<251 a's>-9" 253.
    result = expand_workloads([controller("Deployment", "a" * 251, replicas=11)], nodes=("n",))
    assert result.problems[0].code == "INVALID_OBJECT"
    result = expand_workloads([controller("Deployment", "a" * 251, replicas=10)], nodes=("n",))
    assert result.problems == ()
    assert len(result.pods[-1].name) == 253


@pytest.mark.parametrize(
    ("pod_source", "deployment_source", "reported", "kept_source"),
    [
        pytest.param("b.yaml#0", "a.yaml#0", "Pod shop/web-0 (b.yaml#0)", "a.yaml#0",
                     id="bare-pod-later"),
        pytest.param("a.yaml#0", "b.yaml#0", "pod generated by Deployment shop/web (b.yaml#0)",
                     "a.yaml#0", id="generated-later"),
        pytest.param("a.yaml#10", "a.yaml#9", "Pod shop/web-0 (a.yaml#10)", "a.yaml#9",
                     id="document-index-numeric"),
    ],
)
def test_collisions(pod_source: str, deployment_source: str, reported: str,
                    kept_source: str) -> None:
    bare = make("Pod", "web-0", spec={"nodeName": "node-a"}, source=pod_source)
    deployment = make("Deployment", "web", spec={"replicas": 2, "template": template()},
                      source=deployment_source)
    for objects in ([bare, deployment], [deployment, bare]):
        result = expand_workloads(objects, nodes=NODES)
        assert [pod.name for pod in result.pods] == ["web-0", "web-1"]
        assert result.pods[0].source == kept_source
        (problem,) = result.problems
        assert (problem.code, problem.obj) == ("DUPLICATE_OBJECT", "Pod shop/web-0")
        assert problem.message.startswith(reported)
        assert problem.message.endswith("which is kept")


def test_collision_between_controllers() -> None:
    objects = [
        make("Deployment", "web", spec={"template": template()}, source="a.yaml#0"),
        make("StatefulSet", "web", spec={"template": template()}, source="a.yaml#1"),
    ]
    result = expand_workloads(objects, nodes=NODES)
    assert [pod.source for pod in result.pods] == ["a.yaml#0"]
    assert [(p.code, p.obj) for p in result.problems] == [("DUPLICATE_OBJECT", "Pod shop/web-0")]


def test_duplicate_controller_reported() -> None:
    objects = [controller("Deployment", "web"), controller("Deployment", "web")]
    objects[1] = K8sObject(*objects[1].key[:1], "apps/v1", "shop", "web", objects[1].body,
                           "z.yaml#0")
    result = expand_workloads(objects, nodes=NODES)
    assert [pod.name for pod in result.pods] == ["web-0"]
    assert [p.code for p in result.problems] == ["DUPLICATE_OBJECT"]


@pytest.mark.parametrize("nodes", [(), []], ids=["tuple", "list"])
def test_no_nodes_is_an_error(nodes: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="no nodes"):
        expand_workloads([controller("Deployment")], nodes=nodes)


def test_nodes_as_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        expand_workloads([], nodes="node-a")


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param([], ("d1", "d2"), id="default"),
        pytest.param([controller("Deployment")], ("d1", "d2"), id="no-nodes-in-input"),
        pytest.param([make("Node", "z", namespace=""), make("Node", "a", namespace=""),
                      make("Node", "a", namespace="", source="again.yaml#0")],
                     ("a", "z"), id="sorted-distinct"),
    ],
)
def test_node_names(objects: list[K8sObject], expected: tuple[str, ...]) -> None:
    assert node_names(objects, ("d1", "d2")) == expected


# A set of Deployments: distinct (namespace, name), each with a replica count.
deployment_sets = st.dictionaries(
    keys=st.tuples(st.sampled_from(["shop", "db", "ops"]), st.from_regex(r"[a-z][a-z0-9]{0,8}",
                                                                         fullmatch=True)),
    values=st.integers(min_value=0, max_value=12),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    specs=deployment_sets,
    nodes=st.lists(st.from_regex(r"n[0-9]{1,2}", fullmatch=True), min_size=1, max_size=5,
                   unique=True),
    data=st.data(),
)
def test_expansion_deterministic_and_counts(
    specs: dict[tuple[str, str], int], nodes: list[str], data: st.DataObject
) -> None:
    objects = [
        make("Deployment", name, namespace, source=f"d.yaml#{i}",
             spec={"replicas": replicas, "template": template()})
        for i, ((namespace, name), replicas) in enumerate(sorted(specs.items()))
    ]
    shuffled = data.draw(st.permutations(objects))
    shuffled_nodes = data.draw(st.permutations(nodes))
    first = expand_workloads(objects, nodes=nodes)
    second = expand_workloads(shuffled, nodes=shuffled_nodes)
    assert first == second
    assert first.problems == ()
    assert len(first.pods) == sum(specs.values())
    assert all(pod.body["spec"]["nodeName"] in nodes for pod in first.pods)
    assert [(p.namespace, p.name) for p in first.pods] == sorted(
        (p.namespace, p.name) for p in first.pods)
