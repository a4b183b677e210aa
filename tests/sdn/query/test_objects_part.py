"""The query index's ``objects`` part (:mod:`sdn.query.objects`): what a dry run loads
instead of parsing the state and compiling its firewall.

* Saved by the background saver only, last; never by a saver that waits (small states).
* Loaded, it is exactly the state's inventory and its firewall compiled whole.
* Used only for exactly the files it was saved from: any write, or a bigger revision
  than the limit, and there is none; a part holding a class it may not is refused.
* ``ncp sync --dry-run`` through it answers as it does without it, the state untouched.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from ncp.cli import main as ncp_main
from sdn.model import Group, Inventory
from sdn.policy import compile_dfw
from sdn.query import objects, saving, sidecar
from sdn.store import Store
from sdn.store.codec import ChangeSet, to_stored
from tests.support.cli_runs import run_main, sample_isolating, sync_sample
from tests.support.statefiles import state_files


def _saved_in_background(state: Path, inventory: Inventory) -> None:
    pid = saving.save_index(state, inventory, force=True, validated=True)
    assert pid is not None
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            sample: str = "multi-tenant") -> tuple[Path, Inventory]:
    state = tmp_path / "state.db"
    monkeypatch.setenv("NCP_INDEX_SAVE", "wait")
    sync_sample(state, sample)
    with Store.open_readonly(state) as store:
        return state, store.inventory()


def _stored(state: Path) -> objects.StoredObjects | None:
    with Store.open_readonly(state) as store:
        return objects.stored_objects(state, store.identity, store.revision)


def test_only_the_background_saver_saves_it(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    state, inventory = _synced(tmp_path, monkeypatch)
    assert not (tmp_path / "state.db.idx" / objects.PART).exists()
    assert _stored(state) is None
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    _saved_in_background(state, inventory)
    found = _stored(state)
    assert found is not None
    assert dict(found.inventory.items()) == dict(inventory.items())
    assert found.inventory.revision == inventory.revision
    expected = compile_dfw(inventory)
    assert found.dfw is not None
    assert found.dfw.rules == expected.rules
    assert found.dfw.endpoints == expected.endpoints
    assert found.dfw.groups == expected.groups
    assert found.dfw.application_start == expected.application_start


def test_an_index_saved_before_gets_its_objects_on_the_next_save(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync that wrote nothing re-saves no part, but adds the objects when missing
    (an index saved by an older version, or by a saver that waited)."""
    state, inventory = _synced(tmp_path, monkeypatch)
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    pid = saving.save_index(state, inventory, force=False, validated=True)
    assert pid is not None
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    found = _stored(state)
    assert found is not None and found.dfw is None  # compiled by the dry run then
    assert dict(found.inventory.items()) == dict(inventory.items())


def _admin_group(state: Path) -> None:
    with Store.open(state) as store:
        store.apply(ChangeSet(upserts=[to_stored(Group(
            id="admin", path="/infra/domains/default/groups/admin", display_name="admin"))]))


@pytest.mark.parametrize("change", ["a-write", "too-many-objects", "foreign-class",
                                    "damaged"])
def test_not_used_unless_exactly_for_these_files(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 change: str) -> None:
    state, inventory = _synced(tmp_path, monkeypatch)
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    if change == "too-many-objects":
        monkeypatch.setattr(objects, "MAX_OBJECTS", len(inventory) - 1)
    _saved_in_background(state, inventory)
    part = tmp_path / "state.db.idx" / objects.PART
    if change == "a-write":
        _admin_group(state)
    elif change == "foreign-class":
        # a part that names a class outside the allowed ones, with a valid header
        with Store.open_readonly(state) as store:
            key = sidecar.Key(store.identity, store.revision, *sidecar.stamps(state))
        payload = pickle.dumps(([io.StringIO()], None))
        header = json.dumps({**sidecar.identity(objects.PART, key, objects.OBJECT_CLASSES),
                             "length": len(payload),
                             "sha256": hashlib.sha256(payload).hexdigest()},
                            sort_keys=True).encode()
        part.write_bytes(header + b"\n" + payload)
    elif change == "damaged":
        data = bytearray(part.read_bytes())
        data[-10] ^= 0xFF
        part.write_bytes(bytes(data))
    assert _stored(state) is None


def test_a_dry_run_through_it_answers_as_without_it(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: Any) -> None:
    state, inventory = _synced(tmp_path, monkeypatch)
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    _saved_in_background(state, inventory)
    changed = sample_isolating(tmp_path, "multi-tenant", "monitoring")
    argv = ["sync", "--dry-run", "--cluster", str(changed), "--state", str(state),
            "--now", "1700000100", "-o", "json"]
    used: list[bool] = []
    real = objects.stored_objects

    def spy(*args: Any) -> objects.StoredObjects | None:
        found = real(*args)
        used.append(found is not None)
        return found

    before = state_files(state)
    monkeypatch.setattr("ncp.reuse.stored_objects", spy)
    code, through_part, _ = run_main(ncp_main, *argv)
    assert used == [True]
    (tmp_path / "state.db.idx" / objects.PART).unlink()
    code_without, without, _ = run_main(ncp_main, *argv)
    assert used == [True, False]
    assert (code, json.loads(through_part)) == (code_without, json.loads(without))
    assert json.loads(through_part)["reachability"]["lost"]  # the change isolates pods
    assert state_files(state) == before


def test_an_apply_dry_run_through_it_answers_as_without_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdn.cli.main import main as sdn_main

    state, inventory = _synced(tmp_path, monkeypatch)
    monkeypatch.setenv("NCP_INDEX_SAVE", "background")
    _saved_in_background(state, inventory)
    policy = tmp_path / "drop.json"
    groups = "/infra/domains/default/groups"
    policy.write_text(json.dumps([
        {"resource_type": "Group", "id": "whatif-all", "expression": [
            {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
             "operator": "EQUALS", "value": "ncp/project|monitoring"}]},
        {"resource_type": "SecurityPolicy", "id": "whatif", "category": "Environment",
         "sequence_number": 1, "scope": [f"{groups}/whatif-all"], "rules": [
             {"id": "drop", "source_groups": ["ANY"],
              "destination_groups": [f"{groups}/whatif-all"], "action": "DROP",
              "direction": "IN", "services": ["ANY"]}]}]))
    argv = ["apply", "--dry-run", "-f", str(policy), "--state", str(state), "-o", "json"]
    monkeypatch.setenv("SDN_DAEMON", "off")
    used: list[bool] = []

    def spy(*args: Any) -> objects.StoredObjects | None:
        found = objects.stored_objects(*args)
        used.append(found is not None and found.dfw is not None)
        return found

    monkeypatch.setattr("sdn.cli.apply_cmd.stored_objects", spy)
    before = state_files(state)
    code, through_part, err = run_main(sdn_main, *argv)
    assert code == 0, err
    (tmp_path / "state.db.idx" / objects.PART).unlink()
    code_without, without, _ = run_main(sdn_main, *argv)
    assert used == [True, False]
    assert (code, json.loads(through_part)) == (code_without, json.loads(without))
    assert json.loads(through_part)["reachability"]["lost"]
    assert state_files(state) == before
