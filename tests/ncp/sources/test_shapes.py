"""Fields of the wrong type are refused where manifests come in (``ncp.sources.shapes``),
as the API server would refuse them, instead of failing a translator later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ncp.sources.manifests import read_manifests
from ncp.sources.shapes import shape_problem

REPO = Path(__file__).resolve().parents[3]


def _pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c"}], **spec}}


CASES = {
    "labels-a-string": ({**_pod(), "metadata": {"name": "p", "labels": "app"}},
                        "metadata.labels: not a mapping of strings to strings"),
    "label-value-a-number": ({**_pod(), "metadata": {"name": "p", "labels": {"v": 1}}},
                             "metadata.labels: not a mapping of strings to strings"),
    "containers-a-string": (_pod(containers="web"), "spec.containers: not a list"),
    "container-a-string": (_pod(containers=["web"]), "spec.containers[0]: not a mapping"),
    "port-number-a-string": (_pod(containers=[{"name": "c", "ports": [
        {"containerPort": "80"}]}]), "spec.containers[0].ports[0].containerPort: not a whole "
                                     "number"),
    "host-network-a-string": (_pod(hostNetwork="yes"), "spec.hostNetwork: not true or false"),
    "spec-a-list": ({**_pod(), "spec": []}, "spec: not a mapping"),
    "service-port-a-string": ({"kind": "Service", "metadata": {"name": "s"},
                               "spec": {"ports": [{"port": "80"}]}},
                              "spec.ports[0].port: not a whole number"),
    "replicas-a-boolean": ({"kind": "Deployment", "metadata": {"name": "d"},
                            "spec": {"replicas": True}}, "spec.replicas: not a whole number"),
    "policy-peers-a-mapping": ({"kind": "NetworkPolicy", "metadata": {"name": "n"},
                                "spec": {"ingress": [{"from": {"podSelector": {}}}]}},
                               "spec.ingress[0].from: not a list"),
}


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_a_mistyped_field_is_named(case: str) -> None:
    body, expected = CASES[case]
    kind = body["kind"]
    assert shape_problem(kind, body) == expected


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_the_reader_refuses_the_object(tmp_path: Path, case: str) -> None:
    body, expected = CASES[case]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(body))
    mset = read_manifests([tmp_path])
    assert mset.objects == ()
    [problem] = mset.problems
    assert problem.code == "INVALID_OBJECT"
    assert problem.message.endswith(expected)


def test_nulls_and_unknown_kinds_pass() -> None:
    assert shape_problem("Pod", _pod(nodeName=None, containers=None)) is None
    assert shape_problem("ConfigMap", {"data": "anything"}) is None


def test_every_sample_passes() -> None:
    samples = [REPO / "topologies" / name for name in ("guestbook", "lb-heavy", "multi-tenant")]
    mset = read_manifests(samples)
    assert mset.objects
    assert not [p for p in mset.problems if p.code == "INVALID_OBJECT"]


@pytest.mark.parametrize("containers", [
    pytest.param([None], id="a-null-container"),
    pytest.param([{"name": "c", "ports": None}, None], id="null-ports-and-container"),
    pytest.param(None, id="null-containers"),
])
def test_a_sync_reads_nulls_where_the_shapes_allow_them(tmp_path: Path,
                                                        containers: Any) -> None:
    """A null passes the shape check (it means absent), so everything after the reader
    (the input fingerprint included) must read it as absent, not fail on it (found by
    the corruption property test: a file cut after ``containers:`` then ``-``)."""
    from ncp.reconcile.sync import sync_cluster
    from sdn.model import SegmentPort
    from sdn.store import Store
    from tests.support.clusters import config

    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}},
            _pod(containers=containers)]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all(docs))
    with Store.open(tmp_path / "state.db") as store:
        report = sync_cluster(store, paths=[tmp_path / "m.yaml"], config=config(),
                              now=1000.0)
        ports = store.inventory().of_type(SegmentPort)
    assert not report.problems
    assert [p.display_name for p in ports if p.tag("ncp/pod")] == ["d/p"]
