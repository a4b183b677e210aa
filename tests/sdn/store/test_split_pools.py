"""IP pools stored split (one row per allocation): the text is the canonical JSON, reads
give pools whole, allocation-level writes land, and the kept inventory follows them."""

from __future__ import annotations

import sqlite3
import string
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sdn.model import IpAllocation, IpPool, IpPoolBlockSubnet, Tag
from sdn.store import ChangeSet, Store
from sdn.store.codec import ALLOCATIONS_MARK, pool_parts, split_pool_row, to_stored

_text = st.text(alphabet=string.ascii_letters + string.digits + '"\\/:{}[],é ', max_size=12)
_tag = st.builds(Tag, scope=_text, tag=_text)


@st.composite
def pools(draw: st.DrawFn) -> IpPool:
    ids = sorted(draw(st.sets(st.text(alphabet="abc-0123", min_size=1, max_size=6),
                              max_size=8)))
    if draw(st.booleans()):
        ids = ids[::-1]  # out of order: stored whole
    allocations = tuple(
        IpAllocation(id=i, allocation_ip=IPv4Address(0x0A000002 + n),
                     tags=tuple(draw(st.lists(_tag, max_size=3))))
        for n, i in enumerate(ids))
    return IpPool(id="p", path="/infra/ip-pools/p", display_name=draw(_text),
                  tags=tuple(draw(st.lists(_tag, max_size=3))), allocations=allocations,
                  subnets=(IpPoolBlockSubnet(id="p-0", ip_block_path="/infra/ip-blocks/b",
                                             size=256, cidr=IPv4Network("10.0.0.0/24")),))


@given(pools())
def test_the_spliced_text_is_the_canonical_json(pool: IpPool) -> None:
    row = to_stored(pool)
    assert row.body == pool.model_dump_json(exclude_none=True)
    parts = pool_parts(pool)
    ordered = [a.id for a in pool.allocations] == sorted(a.id for a in pool.allocations)
    assert (parts is not None) == ordered
    if parts is not None:
        assert parts.base.count(ALLOCATIONS_MARK) == 1
        # A writer that keeps a pool in parts (ncp's incremental reconcile) makes its row.
        assert split_pool_row(pool.path, row.cluster, parts) == row


def _pool(*ids: str) -> IpPool:
    return IpPool(id="p", path="/infra/ip-pools/p", allocations=tuple(
        IpAllocation(id=i, allocation_ip=IPv4Address(0x0A000002 + n)) for n, i in enumerate(ids)))


def test_a_pool_is_stored_split_and_read_whole(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_pool("a", "b", "c"))]))
        assert store.split_pools() == {"/infra/ip-pools/p"}
        (row,) = store.rows()
        assert row.body == _pool("a", "b", "c").model_dump_json(exclude_none=True)
        assert store.inventory()["/infra/ip-pools/p"] == _pool("a", "b", "c")
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("SELECT count(*) FROM allocations").fetchone() == (3,)


def test_allocation_updates_reach_rows_and_the_kept_inventory(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_pool("a", "b"))]))
        store.inventory()  # kept from here on
        new = IpAllocation(id="c", allocation_ip=IPv4Address("10.0.0.9"))
        store.apply(ChangeSet(allocation_updates=[
            ("/infra/ip-pools/p", "a", None),
            ("/infra/ip-pools/p", "c", new.model_dump_json(exclude_none=True))]))
        pool = store.inventory()["/infra/ip-pools/p"]
        assert isinstance(pool, IpPool)
        assert [a.id for a in pool.allocations] == ["b", "c"]
        with Store.open_readonly(tmp_path / "s.db") as fresh:
            assert fresh.inventory()["/infra/ip-pools/p"] == pool


def test_rewriting_or_deleting_a_pool_replaces_its_allocations(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_pool("a", "b", "c"))]))
        store.apply(ChangeSet(upserts=[to_stored(_pool("b"))]))
        assert store.inventory()["/infra/ip-pools/p"] == _pool("b")
        whole = to_stored(_pool("z", "y"))  # out of order: stored whole
        assert whole.parts is None
        store.apply(ChangeSet(upserts=[whole]))
        assert store.split_pools() == set()
        assert [r.body for r in store.rows()] == [whole.body]
        store.apply(ChangeSet(upserts=[to_stored(_pool("a"))]))
        store.apply(ChangeSet(deletes=["/infra/ip-pools/p"]))
        assert list(store.rows()) == []
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("SELECT count(*) FROM allocations").fetchone() == (0,)


def test_a_state_from_before_split_pools_reads_the_same(tmp_path: Path) -> None:
    """Pools stored whole (as before), and no allocations table, read as they were."""
    whole, empty = _pool("a", "b"), IpPool(id="q", path="/infra/ip-pools/q")
    with Store.open(tmp_path / "s.db"):
        pass
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("DROP TABLE allocations")
        for pool in (whole, empty):
            db.execute("INSERT INTO objects VALUES (?,?,?,?)",
                       (pool.path, "IpAddressPool", None, pool.model_dump_json(exclude_none=True)))
    with Store.open_readonly(tmp_path / "s.db") as old:
        assert old.inventory()["/infra/ip-pools/p"] == whole
        assert old.inventory()["/infra/ip-pools/q"] == empty
    with Store.open(tmp_path / "s.db") as store:  # opening to write adds the table
        assert store.split_pools() == {"/infra/ip-pools/q"}
        assert [r.body for r in store.rows()] == [
            whole.model_dump_json(exclude_none=True), empty.model_dump_json(exclude_none=True)]
