"""The SQLite state: writes are all-or-nothing, readers never write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdn.errors import StateError
from sdn.model import IpBlock, Tier0
from sdn.store import ChangeSet, Store
from sdn.store.codec import to_stored


def _objects() -> list[IpBlock | Tier0]:
    return [Tier0(id="t0", path="/infra/tier-0s/t0"),
            IpBlock(id="b", path="/infra/ip-blocks/b", cidr="10.0.0.0/16")]


def test_apply_round_trips_and_bumps_revision(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        rev = store.apply(ChangeSet(upserts=[to_stored(o) for o in _objects()]))
        assert rev == 1
        inv = store.inventory()
        assert sorted(inv) == ["/infra/ip-blocks/b", "/infra/tier-0s/t0"]
        assert inv["/infra/ip-blocks/b"] == _objects()[1]


def test_a_failing_write_leaves_the_state_untouched(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_objects()[0])]))
        before = [r.body for r in store.rows()], store.revision
        bad = ChangeSet(upserts=[to_stored(_objects()[1])],
                        profiles_added=[("p", "{}"), ("p", "{}")])  # duplicate key fails late
        with pytest.raises(sqlite3.IntegrityError):
            store.apply(bad)
        assert ([r.body for r in store.rows()], store.revision) == before


def test_readonly_never_creates_or_writes(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(StateError) as err:
        Store.open_readonly(missing)
    assert err.value.code == "STATE_NOT_FOUND"
    assert not missing.exists()
    Store.open(tmp_path / "s.db").close()
    with Store.open_readonly(tmp_path / "s.db") as ro, pytest.raises(StateError):
        ro.apply(ChangeSet())


def test_cached_inventory_follows_own_writes_and_notices_others(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as mine, Store.open(path) as other:
        mine.apply(ChangeSet(upserts=[to_stored(_objects()[0])]))
        first = mine.inventory()
        assert mine.inventory() is first  # cached while the revision stands
        mine.apply(ChangeSet(upserts=[to_stored(_objects()[1])],
                             deletes=["/infra/tier-0s/t0"]))
        assert sorted(mine.inventory()) == ["/infra/ip-blocks/b"]  # own write folded in
        other.apply(ChangeSet(upserts=[to_stored(_objects()[0])]))
        assert sorted(mine.inventory()) == ["/infra/ip-blocks/b", "/infra/tier-0s/t0"]
        fresh = Store.open_readonly(path)
        assert dict(mine.inventory().items()) == dict(fresh.inventory().items())
        fresh.close()
