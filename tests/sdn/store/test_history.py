"""The state's history (:mod:`sdn.store.history`, :mod:`sdn.store.past`): every kept
revision rebuilds exactly as the state was, retention drops exactly the oldest, and
revisions and times resolve (or are refused with their codes)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.errors import SdnError
from sdn.model import Group, IpAllocation, IpPool, IpPoolBlockSubnet
from sdn.store import ChangeSet, Store, history, past
from sdn.store.codec import StoredObject, decode, to_stored

POOL = "/infra/ip-pools/p"


def _group(name: str, label: str) -> Group:
    return Group(id=name, path=f"/infra/domains/default/groups/{name}", display_name=label)


def _pool(*ids: str) -> IpPool:
    return IpPool(id="p", path=POOL, display_name="p", allocations=tuple(
        IpAllocation(id=i, allocation_ip=IPv4Address(0x0A000002 + n))
        for n, i in enumerate(sorted(ids))),
        subnets=(IpPoolBlockSubnet(id="p-0", ip_block_path="/infra/ip-blocks/b", size=256,
                                   cidr=IPv4Network("10.0.0.0/24")),))


def _allocation(i: str) -> str:
    return IpAllocation(id=i, allocation_ip=IPv4Address("10.0.0.200")).model_dump_json(
        exclude_none=True)


#: One write: ("put", name, label), ("drop", name), ("pool", ids), ("alloc", id, keep).
_writes = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from("abcd"), st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("drop"), st.sampled_from("abcd")),
    st.tuples(st.just("pool"), st.sets(st.sampled_from("klmn"), max_size=3)),
    st.tuples(st.just("alloc"), st.sampled_from("klmn"), st.booleans()),
), min_size=1, max_size=12)


def _change(store: Store, write: tuple[object, ...]) -> ChangeSet:
    kind = write[0]
    if kind == "put":
        return ChangeSet(upserts=[to_stored(_group(str(write[1]), str(write[2])))])
    if kind == "drop":
        return ChangeSet(deletes=[f"/infra/domains/default/groups/{write[1]}"])
    if kind == "pool":
        return ChangeSet(upserts=[to_stored(_pool(*sorted(write[1])))])  # type: ignore[call-overload]
    if POOL not in store.split_pools():
        return ChangeSet(upserts=[to_stored(_pool(str(write[1])))])
    text = _allocation(str(write[1])) if write[2] else None
    return ChangeSet(allocation_updates=[(POOL, str(write[1]), text)])


def _texts(store: Store) -> dict[str, str]:
    return {r.path: r.body for r in store.rows()}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=_writes)
def test_every_kept_revision_rebuilds_as_it_was(tmp_path: Path, writes: list[tuple[object, ...]]
                                                ) -> None:
    state = Path(tempfile.mkdtemp(dir=tmp_path)) / "s.db"
    seen: dict[int, dict[str, str]] = {0: {}}
    with Store.open(state) as store:
        for write in writes:
            rev = store.apply(_change(store, write))
            seen[rev] = _texts(store)
    with Store.open_readonly(state) as store:
        current = store.inventory()
        for rev, texts in seen.items():
            inv = past.inventory_at(store, rev, current)
            assert {p: o.model_dump_json(exclude_none=True) for p, o in inv.items()} == \
                {p: decode(StoredObject(p, "", None, t)).model_dump_json(exclude_none=True)
                 for p, t in texts.items()}, rev


def test_retention_keeps_exactly_the_last_n(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(history.KEEP_ENV, "3")
    with Store.open(tmp_path / "s.db") as store:
        for n in range(6):
            store.apply(ChangeSet(upserts=[to_stored(_group("a", f"v{n}"))]))
        assert [r.revision for r in history.revisions(store.history())] == [4, 5, 6]
        assert past.oldest_known(store) == 3
        assert past.inventory_at(store, 3)["/infra/domains/default/groups/a"] \
            .display_name == "v2"
        with pytest.raises(SdnError) as err:
            past.resolve(store, "2")
        assert err.value.code == "HISTORY_UNKNOWN_REVISION"


def test_keep_zero_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(history.KEEP_ENV, "0")
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_group("a", "x"))]))
        assert history.revisions(store.history()) == []
        assert past.resolve(store, "1") == 1
        with pytest.raises(SdnError):
            past.resolve(store, "0")


def test_a_write_records_its_command_time_and_kinds(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_group("a", "x"))], at=1_700_000_000.0,
                              command="PUT /policy/api/v1/infra/domains/default/groups/a"))
        (rev,) = history.revisions(store.history())
    assert (rev.revision, rev.at, rev.command, rev.kinds) == (
        1, 1_700_000_000.0, "PUT /policy/api/v1/infra/domains/default/groups/a",
        frozenset({"Group"}))


def _times(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "s.db")
    for n in range(3):
        store.apply(ChangeSet(upserts=[to_stored(_group("a", f"v{n}"))],
                              at=1_700_000_000.0 + 100 * n))
    return store


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


@pytest.mark.parametrize(("text", "revision"), [
    ("2", 2), ("0", 0), ("3", 3),
    (_iso(1_700_000_000.0), 1), (_iso(1_700_000_150.0), 2), (_iso(1_700_000_200.0), 3),
    (_iso(1_699_999_999.0), 0), ("2030-01-01", 3),
    ("2023-11-14T23:15:50+01:00", 2),  # 22:15:50 UTC = 1_700_000_150
], ids=["rev-2", "rev-0-empty", "rev-current", "time-at-write-1", "time-between",
        "time-at-last", "time-before-first-write", "date-after", "time-with-zone"])
def test_revisions_and_times_resolve(tmp_path: Path, text: str, revision: int) -> None:
    with _times(tmp_path) as store:
        assert past.resolve(store, text) == revision


@pytest.mark.parametrize(("text", "code"), [
    ("4", "HISTORY_UNKNOWN_REVISION"), ("-1", "HISTORY_UNKNOWN_REVISION"),
    ("yesterday", "HISTORY_BAD_REVISION"), ("", "HISTORY_BAD_REVISION"),
], ids=["after-current", "negative", "words", "empty"])
def test_unknown_revisions_are_coded(tmp_path: Path, text: str, code: str) -> None:
    with _times(tmp_path) as store, pytest.raises(SdnError) as err:
        past.resolve(store, text, option="--from")
    assert (err.value.code, err.value.obj) == (code, "--from")


def test_a_time_before_the_kept_history_is_unknown(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(history.KEEP_ENV, "1")
    with _times(tmp_path) as store, pytest.raises(SdnError) as err:
        past.resolve(store, _iso(1_700_000_100.0))
    assert err.value.code == "HISTORY_UNKNOWN_REVISION"
