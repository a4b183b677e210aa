"""The store's filtered reads for ``sdn show`` (issue 12): SQLite selects rows by their
tags (``rows_tagged``) and by the path a field names (``rows_referring``) from the stored
text, and must select exactly what parsing every row and filtering in Python selects, on
any state: generated ones (tags with empty, quoted, escaped and non-ASCII values, values
that are substrings of others, repeated tags) and hand-made rows that are not JSON or
whose tags are not objects.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.model import Group, PolicyResource, Segment, SegmentPort, Tag
from sdn.store import ChangeSet, Store
from sdn.store.codec import parse_stored, to_stored
from tests.support.builders import port, segment, tier1

SCOPES = ("ncp/cluster", "ncp/project", "app", "")
VALUES = ("a", "ab", "b", "", 'q"uote', "back\\slash", "é", "x y", "ncp/project")
TYPES = ("Tier1", "Segment", "SegmentPort", "Group")

tags = st.lists(st.builds(Tag, scope=st.sampled_from(SCOPES), tag=st.sampled_from(VALUES)),
                max_size=4).map(tuple)
wanted = st.lists(st.tuples(st.sampled_from(SCOPES), st.sampled_from(VALUES)), max_size=2)


@st.composite
def states(draw: st.DrawFn) -> list[PolicyResource]:
    """Tier-1s, segments on them (or on none), ports on the segments, groups; tagged."""
    objs: list[PolicyResource] = []
    gateways = [tier1(f"t1-{i}") for i in range(draw(st.integers(0, 3)))]
    segments: list[Segment] = []
    for i in range(draw(st.integers(0, 4))):
        gw = draw(st.sampled_from([None, *(g.path for g in gateways)]))
        segments.append(segment(f"seg-{i}", gw, f"10.{i}.0.0/24"))
    ports = [port(draw(st.sampled_from([s.id for s in segments])), f"p-{i}", f"10.9.0.{i + 2}")
             for i in range(draw(st.integers(0, 6) if segments else st.just(0)))]
    groups = [Group(id=f"g-{i}", path=f"/infra/domains/default/groups/g-{i}")
              for i in range(draw(st.integers(0, 3)))]
    for obj in [*gateways, *segments, *ports, *groups]:
        objs.append(obj.model_copy(update={"tags": draw(tags)}))
    return objs


def _write(path: Path, objs: Sequence[PolicyResource]) -> None:
    with Store.open(path) as store:
        store.apply(ChangeSet(upserts=[to_stored(o) for o in objs]))


def _python_filter(store: Store, rtype: str, want: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for row in store.rows(resource_type=rtype):
        have = {(t.scope, t.tag) for t in parse_stored(row).tags}
        if all(w in have for w in want):
            out.append(row.path)
    return out


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objs=states(), want=wanted)
def test_tagged_rows_are_the_rows_python_would_keep(tmp_path: Path, objs: list[PolicyResource],
                                                   want: list[tuple[str, str]]) -> None:
    state = tmp_path / "s.db"
    state.unlink(missing_ok=True)
    _write(state, objs)
    with Store.open_readonly(state) as store:
        for rtype in TYPES:
            rows = list(store.rows_tagged(rtype, want))
            assert [r.path for r in rows] == _python_filter(store, rtype, want), (rtype, want)
            whole = {r.path: r for r in store.rows(resource_type=rtype)}
            assert all(whole[r.path] == r for r in rows)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objs=states(), data=st.data())
def test_referring_rows_are_the_rows_python_would_keep(tmp_path: Path,
                                                      objs: list[PolicyResource],
                                                      data: st.DataObject) -> None:
    state = tmp_path / "s.db"
    state.unlink(missing_ok=True)
    _write(state, objs)
    paths = sorted({o.path for o in objs} | {"/infra/segments/none", "/infra"})
    keys = data.draw(st.lists(st.sampled_from(paths), max_size=4))
    with Store.open_readonly(state) as store:
        for rtype, field in (("SegmentPort", "parent_path"), ("Segment", "connectivity_path"),
                             ("Tier1", "tier0_path")):
            got = [r.path for r in store.rows_referring(rtype, field, keys)]
            expected = [r.path for r in store.rows(resource_type=rtype)
                        if getattr(parse_stored(r), field) in keys]
            assert got == expected, (rtype, keys)


def test_hand_made_rows_are_returned_for_parsing_or_left_out_never_an_error(
        tmp_path: Path) -> None:
    """A body that is not JSON is returned (the caller names it as invalid); tags that
    are not objects are no tags; neither fails the query."""
    state = tmp_path / "s.db"
    good = Group(id="g", path="/infra/domains/default/groups/g",
                 tags=(Tag(scope="app", tag="a"),))
    _write(state, [good])
    odd = {"not-json": "{nope", "string-tags": json.dumps({"tags": "a"}),
           "scalar-tags": json.dumps({"tags": ["a", 1, None, {"scope": "app"}]}),
           "object-tags": json.dumps({"tags": {"k": {"scope": "app", "tag": "a"}}})}
    with sqlite3.connect(state) as db:
        db.executemany("INSERT INTO objects VALUES (?, 'Group', NULL, ?)",
                       [(f"/infra/domains/default/groups/{k}", v) for k, v in odd.items()])
    with Store.open_readonly(state) as store:
        got = [r.path.rsplit("/", 1)[1] for r in store.rows_tagged("Group", [("app", "a")])]
        assert got == ["g", "not-json", "object-tags"]
        assert [r.path.rsplit("/", 1)[1] for r in store.rows_referring(
            "Group", "parent_path", ["/infra"])] == ["g", "not-json"]


def test_a_filtered_pool_is_read_whole(tmp_path: Path) -> None:
    """Pools are stored split (their allocations in rows of their own): a pool selected
    by its tags comes back with every allocation, as an unfiltered read gives it."""
    from sdn.model import IpPool

    pool = IpPool.model_validate({
        "id": "p", "path": "/infra/ip-pools/p", "tags": [{"scope": "ncp/project", "tag": "a"}],
        "subnets": [{"resource_type": "IpAddressPoolStaticSubnet", "id": "s",
                     "cidr": "10.0.0.0/24",
                     "allocation_ranges": [{"start": "10.0.0.2", "end": "10.0.0.254"}]}],
        "allocations": [{"id": f"a{i}", "allocation_ip": f"10.0.0.{i + 2}"} for i in range(3)]})
    _write(tmp_path / "s.db", [pool])
    with Store.open_readonly(tmp_path / "s.db") as store:
        (row,) = store.rows_tagged("IpAddressPool", [("ncp/project", "a")])
        assert row == next(store.rows(resource_type="IpAddressPool"))
        assert len(parse_stored(row).allocations) == 3  # type: ignore[attr-defined]


def test_ports_of_a_segment_are_found_by_parent_path(tmp_path: Path) -> None:
    seg = segment("s", None, "10.0.0.0/24")
    ports: list[SegmentPort] = [port("s", "p1", "10.0.0.2"), port("t", "p2", "10.0.1.2")]
    _write(tmp_path / "s.db", [seg, *ports])
    with Store.open_readonly(tmp_path / "s.db") as store:
        assert [r.path for r in store.rows_referring("SegmentPort", "parent_path",
                                                     [seg.path])] == [ports[0].path]
