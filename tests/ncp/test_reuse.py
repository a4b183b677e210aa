"""What ``ncp sync`` keeps in the query index for its next run (:mod:`ncp.reuse`): the files
it parsed, saved by the background saver after it returns, are what parsing them gives
(nothing the sync did to them since), and a later sync or dry run that takes them answers
exactly as one that parses everything."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from ncp.cli import main as ncp_main
from ncp.reuse import MANIFEST_CLASSES, MANIFESTS_PART, IndexReuse
from ncp.sources.manifests import read_manifests
from sdn.query import sidecar
from sdn.store import Store
from tests.support.cli_runs import TOPOLOGIES, run_main, sample_isolating
from tests.support.statefiles import state_files


def _saved(state: Path) -> bool:
    with Store.open_readonly(state) as store:
        key = sidecar.Key(store.identity, store.revision, *sidecar.stamps(state))
    return sidecar.current(sidecar.folder_of(state), MANIFESTS_PART, key, MANIFEST_CLASSES)


def _synced_in_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          sample: str) -> Path:
    state = tmp_path / "state.db"
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    code, out, err = run_main(ncp_main, "sync", "--cluster", TOPOLOGIES / sample,
                              "--state", state, "--now", "1700000000", "-q")
    assert code in (0, 1), out + err
    deadline = time.monotonic() + 60
    while not _saved(state):
        assert time.monotonic() < deadline, "the saver never saved the parsed files"
        time.sleep(0.05)
    return state


@pytest.mark.parametrize("sample", ["guestbook", "multi-tenant", "lb-heavy"])
def test_the_kept_files_are_what_parsing_gives(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               sample: str) -> None:
    state = _synced_in_background(tmp_path, monkeypatch, sample)
    with Store.open_readonly(state) as store:
        kept = IndexReuse(state, store).parsed_files()
    fresh = read_manifests([TOPOLOGIES / sample]).parsed
    assert kept == {f.digest: f for f in fresh}


def test_syncs_taking_them_answer_as_without(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    state = _synced_in_background(tmp_path, monkeypatch, "multi-tenant")
    changed = sample_isolating(tmp_path, "multi-tenant", "monitoring")
    taken: list[bool] = []
    real = IndexReuse.parsed_files

    def spy(self: IndexReuse) -> Any:
        found = real(self)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(IndexReuse, "parsed_files", spy)
    answers = []
    for keep_index in (True, False):
        if not keep_index:
            shutil.rmtree(tmp_path / "state.db.idx")
        before = state_files(state)
        code, out, err = run_main(ncp_main, "sync", "--dry-run", "--cluster", changed,
                                  "--state", state, "--now", "1700000100", "-o", "json")
        assert state_files(state) == before
        answers.append((code, json.loads(out)))
    assert taken == [True, False]
    assert answers[0] == answers[1]
    assert answers[0][1]["reachability"]["lost"]
    # and a real sync of the change, then its dry run again: the same either way
    copy = tmp_path / "copy.db"
    shutil.copy(state, copy)
    for target in (state, copy):
        code, out, err = run_main(ncp_main, "sync", "--cluster", changed, "--state", target,
                                  "--now", "1700000200", "-o", "json")
        assert code in (0, 1), err
    with Store.open_readonly(state) as a, Store.open_readonly(copy) as b:
        assert dict(a.inventory().items()) == dict(b.inventory().items())
