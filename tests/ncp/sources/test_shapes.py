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
    # what a file cut after a list's "-" holds (found by the corruption property test)
    "container-null": (_pod(containers=[None]),
                       "spec.containers[0]: null (write {} for an empty item)"),
    "container-port-null": (_pod(containers=[{"name": "c", "ports": [None]}]),
                            "spec.containers[0].ports[0]: null (write {} for an empty item)"),
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



def test_a_sync_reads_a_null_field_as_absent(tmp_path: Path) -> None:
    """``containers: null`` passes the shape check (absent), so everything after the
    reader (the input fingerprint included) reads it as absent: the pod gets its port."""
    from ncp.reconcile.sync import sync_cluster
    from sdn.model import SegmentPort
    from sdn.store import Store
    from tests.support.clusters import config

    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}},
            _pod(containers=None)]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all(docs))
    with Store.open(tmp_path / "state.db") as store:
        report = sync_cluster(store, paths=[tmp_path / "m.yaml"], config=config(),
                              now=1000.0)
        ports = store.inventory().of_type(SegmentPort)
    assert not report.problems
    assert [p.display_name for p in ports if p.tag("ncp/pod")] == ["d/p"]
