"""The API server double, exercised only through the real ``kubernetes`` client.

These tests pin the protocol behaviour that ``ncp run`` depends on (list/watch resumption,
bookmarks, 410 handling, optimistic concurrency, cascading namespace deletion, custom
objects) and the fault-injection hooks other tests will lean on.  Every wait is bounded:
watches carry ``timeout_seconds`` and a client read timeout, and background writers join
with a timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.support.apiserver import (
    POLICY_GROUP,
    ApiError,
    ApiServer,
    api_client,
    client_configuration,
    running_apiserver,
)

READ_TIMEOUT = 5
Event = dict[str, Any]


@pytest.fixture
def srv() -> Iterator[ApiServer]:
    with running_apiserver(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def api(srv: ApiServer) -> Iterator[client.ApiClient]:
    with api_client(srv) as ac:
        yield ac


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def ns_body(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels}}


def pod_body(name: str, node: str = "", **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": spec}


def collect(
    func: Callable[..., Any],
    *args: Any,
    until: Callable[[list[Event]], bool] | None = None,
    w: watch.Watch | None = None,
    **kwargs: Any,
) -> list[Event]:
    """Stream a watch until ``until`` holds or the server-side timeout ends it."""
    w = w or watch.Watch()
    kwargs.setdefault("timeout_seconds", 5)
    kwargs.setdefault("_request_timeout", READ_TIMEOUT)
    events: list[Event] = []
    for event in w.stream(func, *args, **kwargs):
        events.append(event)
        if until is not None and until(events):
            w.stop()
            break
    return events


def summary(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(e["type"], e["raw_object"]["metadata"].get("name")) for e in events]


def rv_of(event: Event) -> int:
    return int(event["raw_object"]["metadata"]["resourceVersion"])


class Background:
    """Run writes once the client's watch is streaming, so tests never race the client."""

    def __init__(self, srv: ApiServer, action: Callable[[], None], watches: int = 1) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                assert srv.wait_for_watches(watches, timeout=READ_TIMEOUT)
                action()
            except BaseException as exc:  # surfaced by join()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join(timeout=READ_TIMEOUT)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error


# -------------------------------------------------------------------------------------------
# list / watch
# -------------------------------------------------------------------------------------------


def test_configuration_points_at_server(srv: ApiServer) -> None:
    cfg = client_configuration(srv)
    assert cfg.host == srv.url
    assert srv.url.startswith("http://127.0.0.1:")


def test_list_shape_matches_real_apiserver(core: client.CoreV1Api, srv: ApiServer) -> None:
    listing = core.list_namespace()
    names = [n.metadata.name for n in listing.items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert listing.metadata.resource_version == srv.resource_version
    assert all(n.kind is None and n.api_version is None for n in listing.items)
    raw = core.list_namespace(_preload_content=False)
    body = json.loads(raw.data)
    assert (body["kind"], body["apiVersion"]) == ("NamespaceList", "v1")
    default = core.read_namespace("default")
    assert default.kind == "Namespace"
    assert default.metadata.labels == {"kubernetes.io/metadata.name": "default"}
    assert default.metadata.uid and default.metadata.creation_timestamp
    assert default.metadata.generation == 1


def test_list_watch_round_trip(core: client.CoreV1Api, srv: ApiServer) -> None:
    listing = core.list_namespaced_pod("default")
    assert listing.items == []

    def writes() -> None:
        core.create_namespaced_pod("default", pod_body("p1"))
        core.patch_namespaced_pod("p1", "default", {"metadata": {"labels": {"a": "b"}}})
        core.delete_namespaced_pod("p1", "default")

    bg = Background(srv, writes)
    events = collect(core.list_namespaced_pod, "default",
                     resource_version=listing.metadata.resource_version,
                     until=lambda evs: len(evs) == 3)
    bg.join()
    assert summary(events) == [("ADDED", "p1"), ("MODIFIED", "p1"), ("DELETED", "p1")]
    assert isinstance(events[0]["object"], client.V1Pod)
    assert events[1]["object"].metadata.labels == {"a": "b"}
    versions = [rv_of(e) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert versions[-1] == int(srv.resource_version)


@pytest.mark.parametrize("rv", [None, "0"])
def test_watch_without_version_starts_with_synthetic_added(
    core: client.CoreV1Api, srv: ApiServer, rv: str | None
) -> None:
    srv.apply(pod_body("a"))
    srv.apply(pod_body("b"))
    kwargs = {} if rv is None else {"resource_version": rv}
    bg = Background(srv, lambda: core.create_namespaced_pod("default", pod_body("c")))
    events = collect(core.list_namespaced_pod, "default", until=lambda evs: len(evs) == 3,
                     **kwargs)
    bg.join()
    assert summary(events) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]


def test_send_initial_events_ends_with_marked_bookmark(
    core: client.CoreV1Api, srv: ApiServer
) -> None:
    srv.apply(pod_body("a"))
    events = collect(core.list_namespaced_pod, "default", send_initial_events=True,
                     resource_version_match="NotOlderThan", allow_watch_bookmarks=True,
                     until=lambda evs: evs[-1]["type"] == "BOOKMARK")
    assert summary(events) == [("ADDED", "a"), ("BOOKMARK", None)]
    marker = events[-1]["raw_object"]["metadata"]
    assert marker["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert marker["resourceVersion"] == srv.resource_version
    with pytest.raises(ApiException) as exc:
        collect(core.list_namespaced_pod, "default", send_initial_events=True)
    assert exc.value.status == 422


def test_resume_from_resource_version(core: client.CoreV1Api, srv: ApiServer) -> None:
    start = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod_body("a"))
    b = core.create_namespaced_pod("default", pod_body("b"))
    core.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"x": "1"}}})
    everything = collect(core.list_namespaced_pod, "default", resource_version=start,
                         until=lambda evs: len(evs) == 3)
    assert summary(everything) == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a")]
    after_b = collect(core.list_namespaced_pod, "default",
                      resource_version=b.metadata.resource_version,
                      until=lambda evs: len(evs) == 1)
    assert summary(after_b) == [("MODIFIED", "a")]


def test_client_reconnects_after_graceful_close(core: client.CoreV1Api, srv: ApiServer) -> None:
    """Without ``timeout_seconds`` the client re-watches from its last resourceVersion."""
    start = core.list_namespace().metadata.resource_version

    def writes() -> None:
        core.create_namespace(ns_body("one"))
        time.sleep(0.1)
        assert srv.drop_watches(graceful=True) == 1
        assert srv.wait_for_watches(1, timeout=READ_TIMEOUT)
        core.create_namespace(ns_body("two"))

    bg = Background(srv, writes)
    events: list[Event] = []
    w = watch.Watch()
    for event in w.stream(core.list_namespace, resource_version=start,
                          _request_timeout=READ_TIMEOUT):
        events.append(event)
        if len(events) == 2:
            w.stop()
    bg.join()
    assert summary(events) == [("ADDED", "one"), ("ADDED", "two")]
    watches = [r for r in srv.requests if r.watch]
    assert len(watches) == 2
    assert watches[1].query["resourceVersion"] == str(rv_of(events[0]))


def test_bookmarks_arrive_and_advance_resource_version(
    core: client.CoreV1Api, srv: ApiServer
) -> None:
    start = core.list_namespace().metadata.resource_version
    srv.apply(pod_body("unrelated"))  # advances the global RV without a namespace event
    w = watch.Watch()
    events = collect(core.list_namespace, resource_version=start, allow_watch_bookmarks=True,
                     w=w, until=lambda evs: len(evs) == 2)
    assert summary(events) == [("BOOKMARK", None), ("BOOKMARK", None)]
    obj = events[0]["raw_object"]
    assert obj == {"kind": "Namespace", "apiVersion": "v1",
                   "metadata": {"resourceVersion": srv.resource_version}}
    assert w.resource_version == srv.resource_version


def test_410_after_compact(core: client.CoreV1Api, srv: ApiServer) -> None:
    start = core.list_namespace().metadata.resource_version
    core.create_namespace(ns_body("x"))
    srv.compact()
    with pytest.raises(ApiException) as exc:
        collect(core.list_namespace, resource_version=start)
    assert exc.value.status == 410
    assert "Expired" in exc.value.reason and "too old resource version" in exc.value.reason
    raw = core.list_namespace(watch=True, resource_version=start, _preload_content=False)
    lines = [json.loads(line) for line in raw.data.decode().splitlines()]
    assert lines == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {start} ({srv.resource_version})",
        "reason": "Expired", "code": 410}}]
    with pytest.raises(ApiException) as exc:
        core.list_namespace(resource_version=start, resource_version_match="Exact")
    assert exc.value.status == 410
    # Resuming from the current version is still fine.
    resumed = collect(core.list_namespace, resource_version=srv.resource_version,
                      allow_watch_bookmarks=True, until=lambda evs: True)
    assert summary(resumed) == [("BOOKMARK", None)]


def test_bounded_history(core: client.CoreV1Api, srv: ApiServer) -> None:
    srv.history_size = 2
    start = srv.resource_version
    for name in ("a", "b", "c"):
        core.create_namespace(ns_body(name))
    with pytest.raises(ApiException) as exc:
        collect(core.list_namespace, resource_version=start)
    assert exc.value.status == 410
    after_a = str(int(start) + 1)
    events = collect(core.list_namespace, resource_version=after_a,
                     until=lambda evs: len(evs) == 2)
    assert summary(events) == [("ADDED", "b"), ("ADDED", "c")]


def test_timeout_seconds_ends_watch_cleanly(core: client.CoreV1Api) -> None:
    """Also shows that no BOOKMARK is sent unless allowWatchBookmarks asks for it."""
    began = time.monotonic()
    events = collect(core.list_namespace, resource_version=core.list_namespace()
                     .metadata.resource_version, timeout_seconds=1)
    elapsed = time.monotonic() - began
    assert events == []
    assert 0.9 <= elapsed < 3


def test_list_at_exact_version_and_paging(core: client.CoreV1Api, srv: ApiServer) -> None:
    for i in range(5):
        srv.apply(pod_body(f"p{i}"))
    before = core.list_namespaced_pod("default").metadata.resource_version
    core.delete_namespaced_pod("p0", "default")
    past = core.list_namespaced_pod("default", resource_version=before,
                                    resource_version_match="Exact")
    assert [p.metadata.name for p in past.items] == [f"p{i}" for i in range(5)]
    assert past.metadata.resource_version == before

    page = core.list_namespaced_pod("default", limit=2)
    names = [p.metadata.name for p in page.items]
    assert page.metadata.remaining_item_count == 2
    srv.apply(pod_body("p9"))  # a consistent snapshot ignores later writes
    while page.metadata._continue:
        page = core.list_namespaced_pod("default", limit=2, _continue=page.metadata._continue)
        names += [p.metadata.name for p in page.items]
    assert names == ["p1", "p2", "p3", "p4"]


def test_future_resource_version_times_out(srv: ApiServer) -> None:
    srv.too_large_rv_wait = 0.2
    with api_client(srv) as ac, pytest.raises(ApiException) as exc:
        client.CoreV1Api(ac).list_namespace(resource_version="999999")
    assert exc.value.status == 504
    assert "Too large resource version" in json.loads(exc.value.body)["message"]


# -------------------------------------------------------------------------------------------
# selectors
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d"]),
        ("app in (web,db)", ["a", "b", "c"]),
        ("app notin (web)", ["c", "d"]),
        ("tier", ["a", "c"]),
        ("!tier", ["b", "d"]),
        ("app=web,tier=front", ["a"]),
        ("app in (web, db),!tier", ["b"]),
    ],
)
def test_label_selectors(
    core: client.CoreV1Api, srv: ApiServer, selector: str, expected: list[str]
) -> None:
    srv.apply(pod_body("a", app="web", tier="front"))
    srv.apply(pod_body("b", app="web"))
    srv.apply(pod_body("c", app="db", tier="back"))
    srv.apply(pod_body("d"))
    got = core.list_namespaced_pod("default", label_selector=selector)
    assert [p.metadata.name for p in got.items] == expected


def test_field_selectors(core: client.CoreV1Api, srv: ApiServer) -> None:
    srv.apply(ns_body("other"))
    srv.apply(pod_body("a", node="n1"))
    srv.apply(pod_body("b", node="n2"))
    srv.apply({**pod_body("c", node="n1"), "metadata": {"name": "c", "namespace": "other"}})
    srv.apply(pod_body("d"))

    def names(**kw: str) -> list[str]:
        return [p.metadata.name for p in core.list_pod_for_all_namespaces(**kw).items]

    assert names(field_selector="spec.nodeName=n1") == ["a", "c"]
    assert names(field_selector="spec.nodeName!=n1") == ["b", "d"]
    assert names(field_selector="spec.nodeName=") == ["d"]
    assert names(field_selector="metadata.namespace=other") == ["c"]
    assert names(field_selector="metadata.name=b,spec.nodeName=n2") == ["b"]
    with pytest.raises(ApiException) as exc:
        names(field_selector="spec.bogus=1")
    assert exc.value.status == 400
    with pytest.raises(ApiException) as exc:
        names(label_selector="a in (")
    assert exc.value.status == 400


def test_filtered_watch_reports_entering_and_leaving(
    core: client.CoreV1Api, srv: ApiServer
) -> None:
    srv.apply(pod_body("p", app="web"))
    start = srv.resource_version

    def writes() -> None:
        core.patch_namespaced_pod("p", "default", {"metadata": {"labels": {"app": "db"}}})
        core.patch_namespaced_pod("p", "default", {"metadata": {"labels": {"x": "y"}}})
        core.patch_namespaced_pod("p", "default", {"metadata": {"labels": {"app": "web"}}})

    bg = Background(srv, writes)
    events = collect(core.list_namespaced_pod, "default", label_selector="app=web",
                     resource_version=start, until=lambda evs: len(evs) == 2)
    bg.join()
    assert summary(events) == [("DELETED", "p"), ("ADDED", "p")]
    assert events[0]["object"].metadata.labels["app"] == "web"  # previous content
    assert rv_of(events[0]) == int(start) + 1


# -------------------------------------------------------------------------------------------
# writes
# -------------------------------------------------------------------------------------------


def test_errors_are_v1_status(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("missing", "default")
    assert exc.value.status == 404
    body = json.loads(exc.value.body)
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": 'pods "missing" not found', "reason": "NotFound",
                    "details": {"name": "missing", "kind": "pods"}, "code": 404}
    core.create_namespace(ns_body("dup"))
    with pytest.raises(ApiException) as exc:
        core.create_namespace(ns_body("dup"))
    assert (exc.value.status, json.loads(exc.value.body)["reason"]) == (409, "AlreadyExists")
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("nowhere", pod_body("p"))
    assert exc.value.status == 404
    assert json.loads(exc.value.body)["message"] == 'namespaces "nowhere" not found'


def test_stale_update_conflicts_and_noop_keeps_version(
    core: client.CoreV1Api, srv: ApiServer
) -> None:
    ns = core.create_namespace(ns_body("n", a="1"))
    ns.metadata.labels["a"] = "2"
    updated = core.replace_namespace("n", ns)
    assert updated.metadata.labels["a"] == "2"
    assert int(updated.metadata.resource_version) > int(ns.metadata.resource_version)
    ns.metadata.labels["a"] = "3"  # still carries the old resourceVersion
    with pytest.raises(ApiException) as exc:
        core.replace_namespace("n", ns)
    assert (exc.value.status, json.loads(exc.value.body)["reason"]) == (409, "Conflict")
    before = srv.resource_version
    same = core.replace_namespace("n", updated)
    assert same.metadata.resource_version == updated.metadata.resource_version
    assert srv.resource_version == before


def test_patch_flavours(core: client.CoreV1Api, srv: ApiServer) -> None:
    core.create_namespace(ns_body("n", a="1", b="2"))
    merged = core.patch_namespace("n", {"metadata": {"labels": {"a": None, "c": "3"}}},
                                  _content_type="application/merge-patch+json")
    assert merged.metadata.labels == {"b": "2", "c": "3", "kubernetes.io/metadata.name": "n"}
    strategic = core.patch_namespace("n", {"metadata": {"annotations": {"k": "v"}}})
    assert strategic.metadata.annotations == {"k": "v"}
    assert srv.requests[-1].content_type == "application/strategic-merge-patch+json"
    patched = core.patch_namespace("n", [
        {"op": "add", "path": "/metadata/labels/d", "value": "4"},
        {"op": "remove", "path": "/metadata/labels/b"},
        {"op": "test", "path": "/metadata/labels/c", "value": "3"},
    ])
    assert srv.requests[-1].content_type == "application/json-patch+json"
    assert patched.metadata.labels == {"c": "3", "d": "4", "kubernetes.io/metadata.name": "n"}
    with pytest.raises(ApiException) as exc:
        core.patch_namespace("n", [{"op": "test", "path": "/metadata/labels/c", "value": "9"}])
    assert exc.value.status == 422
    stale = {"metadata": {"resourceVersion": "1", "labels": {"z": "1"}}}
    with pytest.raises(ApiException) as exc:
        core.patch_namespace("n", stale)
    assert exc.value.status == 409


def test_status_subresource_and_generation(core: client.CoreV1Api, srv: ApiServer) -> None:
    svc = core.create_namespaced_service("default", {
        "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "6.6.6.6"}]}}})
    assert svc.status.load_balancer.ingress is None  # status is not writable on create
    assert svc.spec.cluster_ip and svc.spec.ports[0].target_port == 80
    assert svc.metadata.generation == 1
    lb = {"status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}
    out = core.patch_namespaced_service_status("web", "default", {**lb, "spec": {"type": "X"}})
    assert out.status.load_balancer.ingress[0].ip == "1.2.3.4"
    assert out.spec.type == "ClusterIP" and out.metadata.generation == 1
    out = core.patch_namespaced_service("web", "default", {
        "spec": {"selector": {"a": "c"}}, "status": {"loadBalancer": {}}})
    assert out.status.load_balancer.ingress[0].ip == "1.2.3.4"
    assert out.metadata.generation == 2
    deleted = core.delete_namespaced_service("web", "default")
    assert isinstance(deleted, client.V1Service)
    assert int(deleted.metadata.resource_version) == int(srv.resource_version)


def test_events_and_other_builtins(api: client.ApiClient, core: client.CoreV1Api) -> None:
    event = core.create_namespaced_event("default", client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="ncp."),
        involved_object=client.V1ObjectReference(kind="Pod", name="p", namespace="default"),
        reason="Realized", message="ok", type="Normal"))
    assert event.metadata.name.startswith("ncp.") and len(event.metadata.name) == 9
    listed = core.list_namespaced_event("default", field_selector="reason=Realized")
    assert [e.metadata.name for e in listed.items] == [event.metadata.name]
    status = core.delete_namespaced_event(event.metadata.name, "default")
    assert status["status"] == "Success"
    net = client.NetworkingV1Api(api)
    net.create_namespaced_network_policy("default", {
        "metadata": {"name": "deny"}, "spec": {"podSelector": {}}})
    assert [p.metadata.name for p in net.list_network_policy_for_all_namespaces().items] == [
        "deny"]
    client.DiscoveryV1Api(api).create_namespaced_endpoint_slice("default", {
        "metadata": {"name": "s"}, "addressType": "IPv4", "endpoints": []})
    client.CoreV1Api(api).create_node({"metadata": {"name": "n1"}})
    assert [n.metadata.name for n in core.list_node().items] == ["n1"]


def test_namespace_deletion_cascades(api: client.ApiClient, core: client.CoreV1Api,
                                     srv: ApiServer) -> None:
    srv.apply(ns_body("doomed"))
    srv.apply(ns_body("kept"))
    for name in ("a", "b"):
        srv.apply({**pod_body(name), "metadata": {"name": name, "namespace": "doomed"}})
    srv.apply({**pod_body("c"), "metadata": {"name": "c", "namespace": "kept"}})
    srv.apply({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": "l", "namespace": "doomed"}, "spec": {}})
    start = srv.resource_version

    def delete() -> None:
        response = core.delete_namespace("doomed")
        assert response["status"]["phase"] == "Terminating"

    bg = Background(srv, delete, watches=2)
    pod_events: list[Event] = []
    pods = threading.Thread(target=lambda: pod_events.extend(collect(
        core.list_pod_for_all_namespaces, resource_version=start,
        until=lambda evs: len(evs) == 2)))
    pods.start()
    ns_events = collect(core.list_namespace, resource_version=start,
                        until=lambda evs: len(evs) == 2)
    pods.join(timeout=READ_TIMEOUT)
    bg.join()
    assert summary(pod_events) == [("DELETED", "a"), ("DELETED", "b")]
    assert summary(ns_events) == [("MODIFIED", "doomed"), ("DELETED", "doomed")]
    assert ns_events[0]["object"].status.phase == "Terminating"
    assert [p["metadata"]["name"] for p in srv.objects("Pod")] == ["c"]
    assert srv.objects("Lease") == []
    with pytest.raises(ApiException) as exc:
        core.delete_namespace("default")
    assert exc.value.status == 403


def test_finalizers_delay_deletion(core: client.CoreV1Api, srv: ApiServer) -> None:
    pod = pod_body("f")
    pod["metadata"]["finalizers"] = ["ncp/cleanup"]
    core.create_namespaced_pod("default", pod)
    marked = core.delete_namespaced_pod("f", "default")
    assert marked.metadata.deletion_timestamp is not None
    assert srv.get("Pod", "default", "f") is not None
    core.patch_namespaced_pod("f", "default", {"metadata": {"finalizers": None}},
                              _content_type="application/merge-patch+json")
    assert srv.get("Pod", "default", "f") is None


def test_leases_with_conflicts(api: client.ApiClient, srv: ApiServer) -> None:
    coord = client.CoordinationV1Api(api)
    lease = coord.create_namespaced_lease("kube-system", client.V1Lease(
        metadata=client.V1ObjectMeta(name="ncp-leader"),
        spec=client.V1LeaseSpec(holder_identity="ncp-1", lease_duration_seconds=15)))
    with pytest.raises(ApiException) as exc:
        coord.create_namespaced_lease("kube-system", lease)
    assert exc.value.status == 409
    mine = coord.read_namespaced_lease("ncp-leader", "kube-system")
    theirs = coord.read_namespaced_lease("ncp-leader", "kube-system")
    mine.spec.holder_identity = "ncp-2"
    renewed = coord.replace_namespaced_lease("ncp-leader", "kube-system", mine)
    assert renewed.spec.holder_identity == "ncp-2"
    theirs.spec.holder_identity = "ncp-3"
    with pytest.raises(ApiException) as exc:
        coord.replace_namespaced_lease("ncp-leader", "kube-system", theirs)
    assert exc.value.status == 409
    assert srv.get("Lease", "kube-system", "ncp-leader")["spec"]["holderIdentity"] == "ncp-2"


# -------------------------------------------------------------------------------------------
# custom objects and discovery
# -------------------------------------------------------------------------------------------


ANP = {"apiVersion": f"{POLICY_GROUP}/v1alpha1", "kind": "AdminNetworkPolicy",
       "metadata": {"name": "deny-all"},
       "spec": {"priority": 10, "subject": {"namespaces": {}}, "ingress": []}}


def test_custom_objects(api: client.ApiClient, srv: ApiServer) -> None:
    custom = client.CustomObjectsApi(api)
    created = custom.create_cluster_custom_object(POLICY_GROUP, "v1alpha1",
                                                  "adminnetworkpolicies", ANP)
    assert created["metadata"]["generation"] == 1 and "namespace" not in created["metadata"]
    custom.create_cluster_custom_object(POLICY_GROUP, "v1alpha2", "clusternetworkpolicies", {
        "apiVersion": f"{POLICY_GROUP}/v1alpha2", "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "cnp"}, "spec": {"tier": "Admin", "priority": 1}})
    listed = custom.list_cluster_custom_object(POLICY_GROUP, "v1alpha1", "adminnetworkpolicies")
    assert listed["kind"] == "AdminNetworkPolicyList"
    assert [(i["kind"], i["metadata"]["name"]) for i in listed["items"]] == [
        ("AdminNetworkPolicy", "deny-all")]  # CR list items keep kind, unlike built-ins
    patched = custom.patch_cluster_custom_object(POLICY_GROUP, "v1alpha1",
                                                 "adminnetworkpolicies", "deny-all",
                                                 {"spec": {"priority": 20}})
    assert patched["spec"]["priority"] == 20 and patched["metadata"]["generation"] == 2
    no_rv = {**ANP, "metadata": {"name": "deny-all"}}
    with pytest.raises(ApiException) as exc:
        custom.replace_cluster_custom_object(POLICY_GROUP, "v1alpha1", "adminnetworkpolicies",
                                             "deny-all", no_rv)
    assert exc.value.status == 422
    events = collect(custom.list_cluster_custom_object, POLICY_GROUP, "v1alpha2",
                     "clusternetworkpolicies", until=lambda evs: len(evs) == 1)
    assert summary(events) == [("ADDED", "cnp")]
    gone = custom.delete_cluster_custom_object(POLICY_GROUP, "v1alpha1",
                                               "adminnetworkpolicies", "deny-all")
    assert gone["kind"] == "AdminNetworkPolicy"
    assert srv.objects("AdminNetworkPolicy") == []


def test_group_switch(api: client.ApiClient, srv: ApiServer) -> None:
    custom = client.CustomObjectsApi(api)
    apis = client.ApisApi(api)

    def groups() -> list[str]:
        return [g.name for g in apis.get_api_versions().groups]

    assert POLICY_GROUP in groups()
    resources = custom.get_api_resources(POLICY_GROUP, "v1alpha1").resources
    assert {r.name for r in resources} >= {"adminnetworkpolicies",
                                           "baselineadminnetworkpolicies"}
    assert next(r for r in resources if r.name == "adminnetworkpolicies").namespaced is False
    group = next(g for g in apis.get_api_versions().groups if g.name == POLICY_GROUP)
    assert [v.version for v in group.versions] == ["v1alpha2", "v1alpha1"]

    def disable() -> None:
        srv.disable_group(POLICY_GROUP)

    bg = Background(srv, disable)
    assert collect(custom.list_cluster_custom_object, POLICY_GROUP, "v1alpha1",
                   "adminnetworkpolicies", resource_version=srv.resource_version) == []
    bg.join()
    assert POLICY_GROUP not in groups()
    for call in (lambda: custom.get_api_resources(POLICY_GROUP, "v1alpha1"),
                 lambda: custom.list_cluster_custom_object(POLICY_GROUP, "v1alpha1",
                                                           "adminnetworkpolicies")):
        with pytest.raises(ApiException) as exc:
            call()
        assert exc.value.status == 404
    srv.enable_group(POLICY_GROUP)
    assert POLICY_GROUP in groups()
    with running_apiserver(disabled_groups=[POLICY_GROUP]) as other:
        assert not other.group_served(POLICY_GROUP)


def test_dynamic_client_discovery(api: client.ApiClient) -> None:
    from kubernetes.dynamic import DynamicClient

    dyn = DynamicClient(api)
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace").get()
    assert "default" in [n.metadata.name for n in namespaces.items]
    kinds = {r.kind for r in dyn.resources.search(group=POLICY_GROUP)}
    assert {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"} <= kinds


# -------------------------------------------------------------------------------------------
# fault injection
# -------------------------------------------------------------------------------------------


def test_drop_watches_ends_client_stream(core: client.CoreV1Api, srv: ApiServer) -> None:
    bg = Background(srv, lambda: srv.drop_watches())
    began = time.monotonic()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        collect(core.list_namespace, resource_version=srv.resource_version, timeout_seconds=30)
    bg.join()
    assert time.monotonic() - began < 2
    assert srv.open_watches == 0


def test_restart_keeps_or_drops_state(core: client.CoreV1Api, srv: ApiServer) -> None:
    port = srv.port
    start = core.list_namespace().metadata.resource_version
    core.create_namespace(ns_body("survivor"))
    srv.restart(keep_state=True)
    assert srv.port == port
    assert "survivor" in [n.metadata.name for n in core.list_namespace().items]
    resumed = collect(core.list_namespace, resource_version=start,
                      until=lambda evs: len(evs) == 1)
    assert summary(resumed) == [("ADDED", "survivor")]
    rv_before = int(srv.resource_version)
    srv.restart(keep_state=False)
    names = [n.metadata.name for n in core.list_namespace().items]
    assert "survivor" not in names and "default" in names
    assert int(srv.resource_version) > rv_before
    with pytest.raises(ApiException) as exc:
        collect(core.list_namespace, resource_version=start)
    assert exc.value.status == 410


def test_restart_cuts_open_watch(core: client.CoreV1Api, srv: ApiServer) -> None:
    bg = Background(srv, lambda: srv.restart(keep_state=True))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        collect(core.list_namespace, resource_version=srv.resource_version, timeout_seconds=30)
    bg.join()
    assert core.list_namespace().items


@pytest.mark.parametrize("status", [500, 429, 503])
def test_fail_next(core: client.CoreV1Api, srv: ApiServer, status: int) -> None:
    srv.fail_next(2, status=status)
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            core.list_namespace()
        assert exc.value.status == status
        assert json.loads(exc.value.body)["code"] == status
    assert core.list_namespace().items
    assert [r.status for r in srv.requests[-3:]] == [status, status, 200]


def test_retry_after_is_honoured_by_the_client(core: client.CoreV1Api, srv: ApiServer) -> None:
    """A 429 with Retry-After is retried inside urllib3, as against a real apiserver."""
    srv.fail_next(1, status=429, retry_after=0)
    assert core.list_namespace().items
    assert [r.status for r in srv.requests[-2:]] == [429, 200]
    srv.fail_next(1, status=429, retry_after=0, include_watches=True)
    raw = core.list_namespace(watch=True, timeout_seconds=1, _preload_content=False)
    assert raw.status == 200


def test_fail_next_targets_method_and_skips_watches(core: client.CoreV1Api,
                                                    srv: ApiServer) -> None:
    srv.fail_next(1, status=500, method="POST")
    assert collect(core.list_namespace, until=lambda evs: True)
    core.list_namespace()
    with pytest.raises(ApiException):
        core.create_namespace(ns_body("x"))
    core.create_namespace(ns_body("x"))


def test_duplicate_and_reorder_events(core: client.CoreV1Api, srv: ApiServer) -> None:
    start = srv.resource_version

    def writes() -> None:
        srv.duplicate_next_events(1)
        core.create_namespace(ns_body("dup"))
        srv.reorder_next_events(2)
        core.create_namespace(ns_body("r1"))
        core.create_namespace(ns_body("r2"))

    bg = Background(srv, writes)
    events = collect(core.list_namespace, resource_version=start,
                     until=lambda evs: len(evs) == 4)
    bg.join()
    assert summary(events) == [("ADDED", "dup"), ("ADDED", "dup"), ("ADDED", "r2"),
                               ("ADDED", "r1")]
    # History keeps commit order, so a resume sees the truth.
    resumed = collect(core.list_namespace, resource_version=start,
                      until=lambda evs: len(evs) == 3)
    assert summary(resumed) == [("ADDED", "dup"), ("ADDED", "r1"), ("ADDED", "r2")]


def test_requests_log(core: client.CoreV1Api, srv: ApiServer) -> None:
    srv.clear_requests()
    core.list_namespaced_pod("default", label_selector="a=b")
    core.create_namespace(ns_body("logged"))
    first, second = srv.requests
    assert (first.method, first.path, first.query, first.status) == (
        "GET", "/api/v1/namespaces/default/pods", {"labelSelector": "a=b"}, 200)
    assert (second.method, second.status, second.body["metadata"]["name"]) == (
        "POST", 201, "logged")


# -------------------------------------------------------------------------------------------
# helpers
# -------------------------------------------------------------------------------------------


def test_bulk_helpers(srv: ApiServer) -> None:
    pod = pod_body("p", app="web")
    pod["status"] = {"phase": "Running", "podIP": "10.0.0.5"}
    first = srv.apply(pod)
    assert first["metadata"]["namespace"] == "default"
    assert first["status"]["podIP"] == "10.0.0.5"  # helpers may seed status
    again = srv.apply(pod)
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    changed = srv.apply({**pod_body("p", app="db")})
    assert changed["metadata"]["labels"] == {"app": "db"}
    assert changed["status"]["podIP"] == "10.0.0.5"  # absent status is kept
    assert [p["metadata"]["name"] for p in srv.objects("pods")] == ["p"]
    assert srv.delete("Pod", "default", "p") is not None
    assert srv.delete("Pod", "default", "p") is None
    with pytest.raises(ApiError) as exc:
        srv.apply({**pod_body("q"), "metadata": {"name": "q", "namespace": "absent"}})
    assert exc.value.code == 404
