"""Incremental realize equals a fresh one (root, property test): from the realized
guestbook, random edits (pods added or scaled away, a namespace added, a NetworkPolicy
added or removed) are synced and ``sdn realize`` brings the live realization up to date;
what the kernel then holds (per namespace: links and addresses, routes, the nftables
ruleset, normalised: ``proof_lab.kernel_view``) must be exactly what a teardown and a
fresh realize of the same state make, and a second realize must report zero changes.

Each example edits the plain sample, and its realize starts from what the previous
example left (the sample first), so what one example added the next one removes
(namespaces, pods, policies) and removals are proven too. Few examples, small sizes:
every one costs a teardown and a cold realize.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sdn.dataplane.layout import netns_prefix, owner_tag
from tests.sdn.dataplane.proof_lab import differences, kernel_view
from tests.sdn.dataplane.verify_lab import records_in, sdn
from tests.support.cli_runs import T0, TOPOLOGIES, sync_sample
from tests.support.dataplane import host_snapshot

pytestmark = pytest.mark.usefixtures("needs_root_dataplane")

Doc = dict[str, Any]
ZERO = {"created": 0, "updated": 0, "deleted": 0}


def _sample() -> list[Doc]:
    docs: list[Doc] = []
    for path in sorted((TOPOLOGIES / "guestbook").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _pod(namespace: str, name: str, labels: dict[str, str]) -> Doc:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


def _scale(name: str) -> Callable[[list[Doc], int], list[Doc]]:
    def edit(docs: list[Doc], n: int) -> list[Doc]:
        for d in docs:
            if d["kind"] == "Deployment" and d["metadata"]["name"] == name:
                d["spec"]["replicas"] = n - 1  # 0..2: down to none
        return docs
    return edit


def _extra_pods(docs: list[Doc], n: int) -> list[Doc]:
    return [*docs, *(_pod("default", f"extra-{i}", {"app": "extra"}) for i in range(n))]


def _new_namespace(docs: list[Doc], n: int) -> list[Doc]:
    name = f"team-{n}"
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": name, "labels": {"team": name}}}
    return [*docs, namespace, *(_pod(name, f"app-{i}", {"app": "team"}) for i in range(n))]


def _deny_ingress(docs: list[Doc], n: int) -> list[Doc]:
    ns = "default" if n == 1 else f"team-{n}"
    if not any(d["kind"] == "Namespace" and d["metadata"]["name"] == ns for d in docs):
        ns = "default"
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "deny-ingress", "namespace": ns},
              "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    return [*docs, policy]


def _drop_policy(docs: list[Doc], _n: int) -> list[Doc]:
    return [d for d in docs if d["kind"] != "NetworkPolicy"]


#: Edits by name, each applied with a small number (1..3), in this order.
EDITS: dict[str, Callable[[list[Doc], int], list[Doc]]] = {
    "scale-frontend": _scale("frontend"),
    "scale-redis-slave": _scale("redis-slave"),
    "extra-pods": _extra_pods,
    "new-namespace": _new_namespace,
    "drop-policy": _drop_policy,
    "deny-ingress": _deny_ingress,
}


@dataclass
class Lab:
    """The guestbook state of this module, realized, and where its edits are written."""

    state: Path
    folder: Path
    prefix: str
    clock: Iterator[int]
    docs: list[Doc] | None = None

    def sync(self, docs: list[Doc]) -> None:
        self.docs = docs
        (self.folder / "cluster.yaml").write_text(yaml.safe_dump_all(docs))
        sync_sample(self.state, str(self.folder), now=T0 + next(self.clock))

    def realize(self) -> dict[str, int]:
        code, out, err = sdn("realize", "--state", self.state, "-o", "json")
        assert code == 0, err
        changes: dict[str, int] = json.loads(out)["changes"]
        return changes

    def teardown(self) -> None:
        code, _, err = sdn("realize", "--teardown", "--state", self.state)
        assert code == 0, err


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, needs_root_dataplane: None
        ) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("incremental")
    (folder / "cluster").mkdir()
    state = folder / "state.db"
    prefix = netns_prefix(owner_tag(state))
    before = host_snapshot(prefix)
    with records_in(folder / "run"):
        made = Lab(state, folder / "cluster", prefix, count(1))
        try:
            made.sync(_sample())
            made.realize()
            yield made
        finally:
            made.teardown()
            assert host_snapshot(prefix) == before


@settings(max_examples=5, deadline=None, derandomize=True,
          phases=(Phase.explicit, Phase.generate),  # no shrinking: each try costs seconds
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.dictionaries(st.sampled_from(sorted(EDITS)), st.integers(1, 3),
                             min_size=1, max_size=3))
def test_incremental_realize_equals_a_fresh_one(lab: Lab, edits: dict[str, int]) -> None:
    docs = _sample()
    for name in (n for n in EDITS if n in edits):
        docs = EDITS[name](docs, edits[name])
    edited = docs != lab.docs
    lab.sync(docs)
    assert (lab.realize() != ZERO) == edited
    incremental = kernel_view(lab.prefix)
    assert lab.realize() == ZERO
    lab.teardown()
    lab.realize()
    fresh = kernel_view(lab.prefix)
    assert incremental == fresh, "\n".join(differences(incremental, fresh)[:20])
