"""ncp's translator of Kubernetes candidates (``sdn.candidates:kubernetes``): the objects
it plans equal the objects a real ``ncp sync`` of the same manifests writes, the state is
left untouched, and the entry point ``pyproject.toml`` declares is this function."""

from __future__ import annotations

import shutil
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from ncp.reconcile.candidate import candidate_inventory
from sdn.errors import CandidateError
from sdn.model import Inventory
from sdn.store import Store
from tests.support.cli_runs import TOPOLOGIES, sync_sample
from tests.support.entry_points import declared
from tests.support.statefiles import state_files


def objects(inv: Inventory) -> dict[str, object]:
    return {path: obj.to_api() for path, obj in inv.items()}


@pytest.mark.parametrize("change", ["policy-removed", "pod-added", "unchanged"])
def test_the_plan_is_what_a_sync_writes(tmp_path: Path, change: str) -> None:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    folder = tmp_path / "candidate"
    shutil.copytree(TOPOLOGIES / "guestbook", folder)
    if change == "policy-removed":
        (folder / "policy.yaml").unlink()
    elif change == "pod-added":
        text = (folder / "frontend.yaml").read_text().replace("replicas: 3", "replicas: 4")
        assert "replicas: 4" in text
        (folder / "frontend.yaml").write_text(text)
    before = state_files(state)
    with Store.open_readonly(state) as store:
        planned = candidate_inventory(store, [folder], cluster="k8s-cluster")
    assert state_files(state) == before
    sync_sample(state, str(folder))  # an absolute path: TOPOLOGIES / it is it
    with Store.open_readonly(state) as store:
        assert objects(planned) == objects(store.inventory())


def test_a_rejected_object_refuses_the_candidate(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    folder = tmp_path / "candidate"
    shutil.copytree(TOPOLOGIES / "guestbook", folder)
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text().replace("port: 6379", "port: 70000"))
    with Store.open_readonly(state) as store, pytest.raises(CandidateError) as err:
        candidate_inventory(store, [folder], cluster="k8s-cluster")
    assert err.value.code == "INVALID_CANDIDATE"
    assert any("redis-allow-frontend" in p.obj for p in err.value.problems)


def test_an_unreadable_manifest_refuses_the_candidate(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    folder = tmp_path / "candidate"
    shutil.copytree(TOPOLOGIES / "guestbook", folder)
    (folder / "broken.yaml").write_text("kind: Pod\nmetadata: [unclosed\n")
    with Store.open_readonly(state) as store, pytest.raises(CandidateError) as err:
        candidate_inventory(store, [folder], cluster="k8s-cluster")
    assert any("broken.yaml" in p.obj for p in err.value.problems)


def test_the_declared_entry_point_is_this_translator() -> None:
    target = declared()["sdn.candidates"]["kubernetes"]
    ep = EntryPoint(name="kubernetes", value=target, group="sdn.candidates")
    assert ep.load() is candidate_inventory
