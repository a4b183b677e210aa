"""Per-object revisions and create/modify stamps (``object_meta``): a revision goes up by
one per change of that object and never on a write that leaves it as it was, children
(rules, pool subnets and allocations) count apart from their parent, deletes forget, and
states written before the table existed get stamped at their first writable open."""

from __future__ import annotations

import json
import shutil
import sqlite3
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ncp.cli
from sdn.cli import main as sdn_main
from sdn.model import (
    IpAllocation,
    IpPool,
    IpPoolBlockSubnet,
    Rule,
    SecurityPolicy,
    Segment,
    Tag,
    rule_path,
    security_policy_path,
)
from sdn.model.apishape import ObjectMeta, api_object, child_paths
from sdn.store import ChangeSet, Store
from sdn.store.codec import pool_parts, split_pool_row, to_stored
from tests.support.cli_runs import T0, TOPOLOGIES, run_main, sync_sample

NCP = (Tag(scope="ncp/cluster", tag="c1"),)


def _segment(description: str = "", tags: tuple[Tag, ...] = NCP) -> Segment:
    return Segment(id="s", path="/infra/segments/s", description=description, tags=tags)


def _meta(store: Store, path: str) -> ObjectMeta:
    return store.object_meta([path])[path]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=12))
def test_the_revision_counts_the_changes(tmp_path_factory: pytest.TempPathFactory,
                                         descriptions: list[str]) -> None:
    """Against an independent count: writing a sequence of descriptions moves the
    revision once per write that differs from the one before, and the modify stamp is
    the last such write's."""
    with Store.open(tmp_path_factory.mktemp("rev") / "s.db") as store:
        changes, last_change = -1, 0.0
        previous: str | None = None
        for n, text in enumerate(descriptions):
            at = T0 + n
            store.apply(ChangeSet(upserts=[to_stored(_segment(text))], at=at))
            if text != previous:
                changes, last_change, previous = changes + 1, at, text
        meta = _meta(store, "/infra/segments/s")
        assert meta.revision == changes == store.revision_of("/infra/segments/s")
        assert (meta.created, meta.modified) == (int(T0 * 1000), int(last_change * 1000))
        assert meta.created_by == meta.modified_by == "ncp-c1"


def test_the_writer_is_named_when_given(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_segment())], at=T0))
        store.apply(ChangeSet(upserts=[to_stored(_segment("x"))], at=T0 + 1, user="admin"))
        meta = _meta(store, "/infra/segments/s")
        assert (meta.created_by, meta.modified_by, meta.revision) == ("ncp-c1", "admin", 1)
        store.apply(ChangeSet(upserts=[to_stored(_segment("y", tags=()))], at=T0 + 2))
        assert _meta(store, "/infra/segments/s").modified_by == "admin"


def test_a_delete_forgets_and_a_new_object_starts_again(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_segment())], at=T0))
        store.apply(ChangeSet(upserts=[to_stored(_segment("x"))], at=T0 + 1))
        store.apply(ChangeSet(deletes=["/infra/segments/s"]))
        assert store.revision_of("/infra/segments/s") is None
        assert store.object_meta(["/infra/segments/s"]) == {}
        store.apply(ChangeSet(upserts=[to_stored(_segment("x"))], at=T0 + 9))
        meta = _meta(store, "/infra/segments/s")
        assert (meta.revision, meta.created) == (0, int((T0 + 9) * 1000))


def _policy(*rules: tuple[str, str]) -> SecurityPolicy:
    path = security_policy_path("p")
    return SecurityPolicy(id="p", path=path, parent_path="/infra/domains/default", rules=tuple(
        Rule(id=rid, path=rule_path("p", rid), parent_path=path, action=action)
        for rid, action in rules))


def test_rules_count_apart_from_their_policy(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_policy(("r1", "ALLOW"), ("r2", "DROP")))]))
        store.apply(ChangeSet(upserts=[to_stored(_policy(("r1", "ALLOW"), ("r2", "ALLOW")))]))
        paths = [security_policy_path("p"), rule_path("p", "r1"), rule_path("p", "r2")]
        assert [store.revision_of(p) for p in paths] == [0, 0, 1]
        store.apply(ChangeSet(upserts=[to_stored(_policy(("r1", "ALLOW")))]))
        assert store.revision_of(rule_path("p", "r2")) is None
        assert store.revision_of(rule_path("p", "r1")) == 0
        data = api_object(store.inventory()[paths[0]],
                          store.object_meta([paths[0], *child_paths(store.inventory()[paths[0]])]))
        assert [r["_revision"] for r in data["rules"]] == [0]


def _pool(*allocations: tuple[str, str]) -> IpPool:
    return IpPool(id="p", path="/infra/ip-pools/p", tags=NCP, subnets=(IpPoolBlockSubnet(
        id="p-0", ip_block_path="/infra/ip-blocks/b", size=256,
        cidr=IPv4Network("10.0.0.0/24")),), allocations=tuple(
        IpAllocation(id=i, allocation_ip=IPv4Address(ip)) for i, ip in allocations))


def test_pool_children_count_apart_whole_or_split(tmp_path: Path) -> None:
    pool_path, a_path = "/infra/ip-pools/p", "/infra/ip-pools/p/ip-allocations/a"
    with Store.open(tmp_path / "s.db") as store:
        store.apply(ChangeSet(upserts=[to_stored(_pool(("a", "10.0.0.2")))], at=T0))
        # allocation-level writes (ncp run's incremental reconcile) stamp the allocation
        pool = _pool(("a", "10.0.0.3"), ("b", "10.0.0.4"))
        parts = pool_parts(pool)
        assert parts is not None
        store.apply(ChangeSet(allocation_updates=[
            (pool_path, i, t) for i, t in parts.allocations], at=T0 + 1))
        assert store.revision_of(a_path) == 1
        assert store.revision_of(f"{pool_path}/ip-allocations/b") == 0
        assert store.revision_of(pool_path) == 0
        assert store.revision_of(f"{pool_path}/ip-subnets/p-0") == 0
        store.apply(ChangeSet(allocation_updates=[(pool_path, "b", None)], at=T0 + 2))
        assert store.revision_of(f"{pool_path}/ip-allocations/b") is None
        # the same pool rewritten whole, as it is stored: nothing moves
        store.apply(ChangeSet(upserts=[split_pool_row(pool_path, "c1", pool_parts(
            _pool(("a", "10.0.0.3"))) or parts)], at=T0 + 3))
        assert store.revision_of(a_path) == 1
        assert _meta(store, a_path).created_by == "ncp-c1"


def test_an_unstamped_state_is_stamped_at_its_first_writable_open(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    with Store.open(state) as store:
        store.apply(ChangeSet(upserts=[to_stored(_segment()), to_stored(_policy(
            ("r1", "ALLOW")))], at=T0))
    db = sqlite3.connect(state)
    db.execute("DROP TABLE object_meta")
    db.execute("DELETE FROM meta WHERE key='object_meta'")
    db.commit()
    db.close()
    with Store.open_readonly(state) as store:  # read-only: no stamps, revision 0
        assert store.object_meta(["/infra/segments/s"]) == {}
        assert store.revision_of("/infra/segments/s") == 0
        assert store.revision_of("/infra/segments/none") is None
        data = api_object(store.inventory()["/infra/segments/s"], {})
        assert (data["_revision"], data["_create_time"], data["_create_user"]) == (
            0, 0, "ncp-c1")
    with Store.open(state) as store:
        assert set(store.object_meta(["/infra/segments/s", rule_path("p", "r1")])) == {
            "/infra/segments/s", rule_path("p", "r1")}
        store.apply(ChangeSet(upserts=[to_stored(_segment("x"))], at=T0 + 1))
        assert store.revision_of("/infra/segments/s") == 1


def _all_meta(state: Path) -> dict[str, Any]:
    db = sqlite3.connect(state)
    try:
        return {p: rest for p, *rest in db.execute("SELECT * FROM object_meta")}
    finally:
        db.close()


def _json(state: Path, kind: str) -> list[dict[str, Any]]:
    code, out, err = run_main(sdn_main, "show", kind, "-o", "json", "--state", state)
    assert code == 0, err
    data: list[dict[str, Any]] = json.loads(out)
    return data


def _without_system(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_") and k != "rules"}


def test_a_sync_moves_exactly_the_objects_it_changes(tmp_path: Path) -> None:
    """A no-op sync moves nothing; a sync after a label change moves exactly the objects
    whose JSON changed, by one, stamped with that sync's time (the oracle: the JSON
    before and after, system fields left out)."""
    sample = tmp_path / "guestbook"
    shutil.copytree(TOPOLOGIES / "guestbook", sample)
    state = tmp_path / "state.db"
    code, out, err = run_main(ncp.cli.main, "sync", "--cluster", sample,
                              "--state", state, "--now", repr(T0), "-q")
    assert code in (0, 1), out + err
    stamped = _all_meta(state)
    before = {k: _json(state, k) for k in ("segment-ports", "segments", "groups")}
    code, _, _ = run_main(ncp.cli.main, "sync", "--cluster", sample,
                          "--state", state, "--now", repr(T0 + 60), "-q")
    assert _all_meta(state) == stamped  # the no-op sync
    text = (sample / "frontend.yaml").read_text()
    assert "tier: frontend" in text
    (sample / "frontend.yaml").write_text(text.replace("tier: frontend", "tier: web"))
    code, out, err = run_main(ncp.cli.main, "sync", "--cluster", sample,
                              "--state", state, "--now", repr(T0 + 120), "-q")
    assert code in (0, 1), out + err
    moved = 0
    for kind, items in before.items():
        after = {i["path"]: i for i in _json(state, kind)}
        for item in items:
            new = after.get(item["path"])
            if new is None:
                continue
            changed = _without_system(new) != _without_system(item)
            moved += changed
            assert new["_revision"] == item["_revision"] + changed, item["path"]
            assert new["_create_time"] == item["_create_time"]
            assert new["_last_modified_time"] == (int((T0 + 120) * 1000) if changed
                                                  else item["_last_modified_time"])
    assert moved


def test_admin_objects_from_sdn_apply_are_the_admins(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    code, out, err = run_main(sdn_main, "apply", "-f", TOPOLOGIES / "admin" / "guardrails.yaml",
                              "--state", state)
    assert code == 0, out + err
    admin = [g for g in _json(state, "groups")
             if not any(t["scope"] == "ncp/cluster" for t in g["tags"])]
    assert admin and all((g["_create_user"], g["_protection"]) == ("admin", "NOT_PROTECTED")
                         for g in admin)


_TEXT = st.lists(st.sampled_from(['"', "\\", "[", "]", ",", ":", "{", "}", "é", '"rules":[',
                                  "rules", "subnets", "allocations", "a"]),
                 max_size=12).map("".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXT, st.sampled_from(["ALLOW", "DROP"])), max_size=4,
                unique_by=lambda r: r[0]), _TEXT, st.booleans())
def test_entries_digest_exactly_each_child_and_the_rest(rules: list[tuple[str, str]],
                                                        description: str,
                                                        owned: bool) -> None:
    """Against the models themselves: each rule's digest is that of the rule's own
    canonical JSON, and the policy's that of the policy without rules, whatever the
    strings hold (quotes, brackets, the array's own key); owners follow the tags."""
    from sdn.store.codec import _digest, meta_entries

    path = security_policy_path("p")
    rule_objs = tuple(Rule(id=f"r{n}", path=rule_path("p", f"r{n}"), parent_path=path,
                           action=action, description=name, tags=NCP if owned else ())
                      for n, (name, action) in enumerate(rules))
    policy = SecurityPolicy(id="p", path=path, parent_path="/infra/domains/default",
                            description=description, rules=rule_objs)
    entries = meta_entries(to_stored(policy))
    assert entries[0].digest == _digest(to_stored(
        policy.model_copy(update={"rules": ()})).body)
    assert [(e.path, e.digest, e.owner) for e in entries[1:]] == [
        (r.path, _digest(r.model_dump_json(exclude_none=True)), "c1" if owned else None)
        for r in rule_objs]


def test_a_state_digested_under_the_old_scheme_is_redigested_moving_nothing(
        tmp_path: Path) -> None:
    """A state stamped before the digest scheme had a number (``1``): its first writable
    open re-digests every entry in place; no revision or stamp moves, and an unchanged
    rewrite afterwards moves nothing either."""
    state = tmp_path / "s.db"
    pool = _pool(("a", "10.0.0.2"), ("b", "10.0.0.3"))
    policy = _policy(("r1", "ALLOW"), ("r2", "DROP"))
    with Store.open(state) as store:
        store.apply(ChangeSet(upserts=[to_stored(_segment()), to_stored(policy),
                                       to_stored(pool)], at=T0))
        store.apply(ChangeSet(upserts=[to_stored(_segment("x"))], at=T0 + 1))
    fresh = _all_meta(state)
    db = sqlite3.connect(state)
    db.execute("UPDATE object_meta SET digest='old-' || path")
    db.execute("UPDATE meta SET value='1' WHERE key='object_meta'")
    db.commit()
    db.close()
    with Store.open_readonly(state):  # a reader never rewrites
        pass
    assert all(v[0].startswith("old-") for v in _all_meta(state).values())
    with Store.open(state) as store:
        store.apply(ChangeSet(upserts=[to_stored(_segment("x")), to_stored(policy),
                                       to_stored(pool)], at=T0 + 2))
    assert _all_meta(state) == fresh
