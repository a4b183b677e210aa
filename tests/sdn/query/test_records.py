"""The firewall stored as keyed records (:mod:`sdn.query.records`).

Property: on seeded generated clusters, every answer read from the stored firewall, one
record at a time, equals the answer of the firewall compiled from scratch (the oracle):
each flow's verdict with its explain trail, between pods and to and from outside
addresses, and the reach matrix over every pod and over a subset.

Never trusted: a damaged record (endpoint, address, path or rule), a damaged or foreign
meta, another state's file, another program's file: each is ignored or, met while
answering, rebuilt, and the answers stay those of the compiled firewall.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncp.reconcile.sync import sync_cluster
from sdn.cli.questions import decision_json
from sdn.model import Inventory
from sdn.policy import Firewall, compile_dfw, evaluate_flow, reach_matrix
from sdn.policy.compiler import CompiledDfw, Endpoint
from sdn.query import QueryIndex, records, sidecar
from sdn.query.records import ALLOWED, Records, StoredFirewall, current, save
from sdn.query.sidecar import FileStamp, Key
from sdn.store import Store
from tests.support.clusters import config, manifests, sync_generated
from topologies.generate import generate_cluster

KEY = Key("state-a", 7, FileStamp(1, 2), FileStamp(0, 0))
OUTSIDE = [IPv4Address("8.8.8.8"), IPv4Address("192.0.2.77"), IPv4Address("10.0.0.1")]


def _inventory(tmp: Path, seed: int, namespaces: int, pods: int, policies: int,
               shapes: str = "simple") -> Inventory:
    objs = generate_cluster(namespaces=namespaces, pods=pods, seed=seed, policies=policies,
                            shapes=shapes)
    state = tmp / "state.db"
    return sync_generated(state, objs)


def _stored(folder: Path, dfw: CompiledDfw, key: Key = KEY) -> StoredFirewall:
    assert save(folder, "dfw-ALLOW", key, dfw)
    records = Records.open(folder, "dfw-ALLOW", key)
    assert records is not None

    def never() -> Records:
        raise AssertionError("a sound file needs no rebuild")

    return StoredFirewall(records, never)


def _verdicts(dfw: Firewall, ends: list[Endpoint], protocol: str, port: int) -> list[Any]:
    out = []
    for src in ends:
        for dst in ends:
            v = evaluate_flow(dfw, src, dst, protocol=protocol, port=port, explain=True)
            out.append((str(src.ip), str(dst.ip), v.allowed, decision_json(v.egress),
                        decision_json(v.ingress)))
    return out


def _answers(dfw: Firewall, ips: list[IPv4Address], protocol: str, port: int,
             subset: list[int]) -> dict[str, Any]:
    ends = [dfw.endpoint_for_ip(ip) for ip in ips]
    return {
        "endpoints": [(e.ip, e.index, e.path, e.name) for e in ends],
        "verdicts": _verdicts(dfw, ends, protocol, port),
        "reach": sorted(reach_matrix(dfw, protocol=protocol, port=port)),
        "reach_subset": sorted(reach_matrix(dfw, protocol=protocol, port=port,
                                            among=subset)),
        "candidates": [[r.path for r in dfw.candidates(i, d)]
                       for i in range(dfw.endpoint_count) for d in ("IN", "OUT")],
        "default": (dfw.default_action, dfw.application_start),
    }


@settings(max_examples=10, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(1, 10),
       policies=st.integers(0, 8), shapes=st.sampled_from(["simple", "realistic"]),
       default_action=st.sampled_from(["ALLOW", "DROP"]),
       protocol=st.sampled_from(["TCP", "UDP"]), port=st.sampled_from([80, 443, 8080]))
def test_the_stored_firewall_answers_as_the_compiled_one(
        tmp_path_factory: Any, seed: int, namespaces: int, pods: int, policies: int,
        shapes: str, default_action: str, protocol: str, port: int) -> None:
    tmp = Path(tmp_path_factory.mktemp("records"))
    inv = _inventory(tmp, seed, namespaces, pods, policies, shapes)
    compiled = compile_dfw(inv, default_action=default_action)
    stored = _stored(tmp / "idx", compile_dfw(inv, default_action=default_action))
    ips = [ep.ip for ep in compiled.endpoints] + OUTSIDE
    subset = list(range(0, compiled.endpoint_count, 2))
    assert _answers(stored, ips, protocol, port, subset) \
        == _answers(compile_dfw(inv, default_action=default_action), ips, protocol, port,
                    subset)
    paths = [ep.path for ep in compiled.endpoints] + ["/infra/no/such/port"]
    assert stored.endpoints_of(paths) == compiled.endpoints_of(paths)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    return _inventory(tmp_path_factory.mktemp("one"), seed=3, namespaces=3, pods=9,
                      policies=6)


def _sql(folder: Path, statement: str) -> None:
    with sqlite3.connect(folder / "dfw-ALLOW") as db:
        db.execute(statement)
    db.close()


def _rewrite(folder: Path, table: str, change: Callable[[Any], Any]) -> None:
    """Every payload of ``table`` loaded, changed and stored again, a valid pickle under
    its old digest (what only the digest can catch)."""
    with sqlite3.connect(folder / "dfw-ALLOW") as db:
        for k, body in db.execute(f"SELECT key, body FROM {table}").fetchall():
            new = sidecar.dumps(change(sidecar.loads(body, ALLOWED)))
            db.execute(f"UPDATE {table} SET body = ? WHERE key = ?", (new, k))
    db.close()


def _flip_actions(folder: Path) -> None:
    flipped = {"ALLOW": "DROP", "DROP": "ALLOW"}
    _rewrite(folder, "rules",
             lambda r: replace(r, action=flipped.get(r.action, r.action)))


def _forget_classes(folder: Path) -> None:
    _rewrite(folder, "endpoints", lambda e: (replace(e[0], classes=frozenset()), e[1]))


#: Damage met while answering: the record fails its check when read.
RECORD_DAMAGE: dict[str, str | Callable[[Path], None]] = {
    "rule-rewritten": _flip_actions,
    "endpoint-rewritten": _forget_classes,
    "endpoint-body": "UPDATE endpoints SET body = substr(body, 1, length(body) - 3)",
    "endpoint-swapped": "UPDATE endpoints SET key = 100000 + key",
    "address": "UPDATE by_ip SET body = CAST('0' AS BLOB)",
    "path": "UPDATE by_path SET digest = zeroblob(16)",
    "rule-body": "UPDATE rules SET body = CAST('not a pickle' AS BLOB)",
    "rule-missing": "DELETE FROM rules",
}


@pytest.mark.parametrize("damage", list(RECORD_DAMAGE))
def test_a_damaged_record_is_never_trusted_and_the_file_is_rebuilt(
        tmp_path: Path, inventory: Inventory, damage: str) -> None:
    compiled = compile_dfw(inventory)
    folder = tmp_path / "idx"
    assert save(folder, "dfw-ALLOW", KEY, compiled)
    how = RECORD_DAMAGE[damage]
    if isinstance(how, str):
        _sql(folder, how)
    else:
        how(folder)
    rebuilt: list[str] = []

    def rebuild() -> Records:
        rebuilt.append("dfw-ALLOW")
        assert save(folder, "dfw-ALLOW", KEY, compile_dfw(inventory))
        records = Records.open(folder, "dfw-ALLOW", KEY)
        assert records is not None
        return records

    records = Records.open(folder, "dfw-ALLOW", KEY)
    assert records is not None  # the meta is sound: the damage shows when read
    stored = StoredFirewall(records, rebuild)
    ips = [ep.ip for ep in compiled.endpoints] + OUTSIDE
    subset = list(range(compiled.endpoint_count))
    paths = [ep.path for ep in compiled.endpoints]
    assert stored.endpoints_of(paths) == compiled.endpoints_of(paths)
    assert _answers(stored, ips, "TCP", 80, subset) \
        == _answers(compiled, ips, "TCP", 80, subset)
    assert rebuilt == ["dfw-ALLOW"]
    assert _answers(_stored(folder, compile_dfw(inventory)), ips, "TCP", 80, subset) \
        == _answers(compiled, ips, "TCP", 80, subset)


def _copy_from_another_state(folder: Path, dfw: CompiledDfw) -> None:
    save(folder, "dfw-ALLOW", Key("state-b", 7, FileStamp(1, 2), FileStamp(0, 0)), dfw)


def _another_programs_database(folder: Path) -> None:
    (folder / "dfw-ALLOW").unlink()
    _sql(folder, "CREATE TABLE t (x)")


#: Damage seen on opening: the file is ignored.
FILE_DAMAGE: dict[str, Callable[[Path, CompiledDfw], object]] = {
    "meta-body": lambda f, _: _sql(f, "UPDATE meta SET body = x'00'"),
    "meta-digest": lambda f, _: _sql(f, "UPDATE meta SET digest = zeroblob(16)"),
    "meta-missing": lambda f, _: _sql(f, "DELETE FROM meta"),
    "another-state": _copy_from_another_state,
    "not-sqlite": lambda f, _: (f / "dfw-ALLOW").write_bytes(b"sdn-query-index\nnot ours"),
    "other-tables": lambda f, _: _another_programs_database(f),
    "truncated": lambda f, _: (f / "dfw-ALLOW").write_bytes(
        (f / "dfw-ALLOW").read_bytes()[:3000]),
}


@pytest.mark.parametrize("damage", list(FILE_DAMAGE))
def test_a_damaged_or_foreign_file_is_ignored(tmp_path: Path, inventory: Inventory,
                                              damage: str) -> None:
    compiled = compile_dfw(inventory)
    folder = tmp_path / "idx"
    assert save(folder, "dfw-ALLOW", KEY, compiled)
    FILE_DAMAGE[damage](folder, compiled)
    assert Records.open(folder, "dfw-ALLOW", KEY) is None
    if damage in ("another-state", "not-sqlite", "other-tables"):  # not ours at all
        assert not current(folder, "dfw-ALLOW", KEY)


def _synced(tmp: Path) -> Path:
    state = tmp / "state.db"
    objs = generate_cluster(namespaces=3, pods=9, seed=5, policies=6)
    with Store.open(state) as store:
        sync_cluster(store, manifests=manifests(*objs), config=config(), now=1)
    return state


def _index_answers(state: Path) -> tuple[Any, list[str], list[str]]:
    with QueryIndex.open(state) as index:
        dfw = index.dfw()
        ips = [dfw.endpoint(i).ip for i in range(dfw.endpoint_count)] + OUTSIDE
        got = _answers(dfw, ips, "TCP", 80, list(range(dfw.endpoint_count)))
        return got, index.hits, index.built


def test_the_index_rebuilds_a_file_damaged_while_answering(tmp_path: Path) -> None:
    state = _synced(tmp_path)
    expected, _, built = _index_answers(state)  # the first reader builds the file
    assert built == ["valid", "dfw-ALLOW"]
    _sql(state.with_name("state.db.idx"), "UPDATE rules SET body = x'80'")
    got, hits, built = _index_answers(state)
    assert got == expected and "dfw-ALLOW" in hits and built == ["dfw-ALLOW"]
    got, hits, built = _index_answers(state)  # rebuilt: sound again
    assert got == expected and "dfw-ALLOW" in hits and built == []


def test_a_damaged_file_that_cannot_be_rewritten_still_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rebuilt records are held in memory when they cannot be saved."""
    state = _synced(tmp_path)
    expected, _, _ = _index_answers(state)
    _sql(state.with_name("state.db.idx"), "UPDATE endpoints SET body = x'80'")
    monkeypatch.setattr(records, "save", lambda *args: False)
    got, _, built = _index_answers(state)
    assert got == expected and built == ["dfw-ALLOW"]
    got, _, built = _index_answers(state)  # still damaged on disk: rebuilt again
    assert got == expected and built == ["dfw-ALLOW"]
