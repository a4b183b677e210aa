"""The lookups stored as keyed records (:mod:`sdn.query.lookup_records`).

Property: on the sample topologies and on seeded generated clusters, what the stored
lookups answer (names, addresses, subnets, every gateway's routes, SNAT rules, pods)
equals what :meth:`Lookups.of` builds from the inventory (the oracle), and so do the
``traceflow`` and ``explain`` JSON answers through the command line for random pod pairs,
outside addresses and virtual servers: read through the index, and from scratch.

Never trusted: a damaged record (a route, a name, an address, a whole list), another
state's file, another program's file: each is ignored or, met while answering, rebuilt,
and the answers stay those computed from scratch.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdn.cli
from ncp.reconcile.sync import sync_cluster
from sdn.graph import TopologyIndex
from sdn.model import Inventory, LBVirtualServer
from sdn.query import QueryIndex, lookup_records, sidecar
from sdn.query.lookup_records import StoredLookups
from sdn.query.sidecar import FileStamp, Key
from sdn.store import Store
from sdn.store.records import RecordFile
from sdn.traceflow.lookups import Lookups
from tests.support.cli_runs import run_main, sync_sample
from tests.support.clusters import config, manifests
from topologies.generate import generate_cluster

KEY = Key("state-a", 7, FileStamp(1, 2), FileStamp(0, 0))
SAMPLES = ["guestbook", "multi-tenant", "lb-heavy"]
OUTSIDE = ["8.8.8.8", "192.0.2.77", "10.0.0.1", "172.16.0.9"]
#: Addresses probed in every table: the outside ones, and around each known prefix.
PROBES = [int(IPv4Address(a)) for a in OUTSIDE]


def _generated(state: Path, seed: int, namespaces: int, pods: int, policies: int) -> None:
    objs = generate_cluster(namespaces=namespaces, pods=pods, seed=seed, policies=policies)
    with Store.open(state) as store:
        sync_cluster(store, manifests=manifests(*objs), config=config(), now=1)


def _inventory(state: Path) -> Inventory:
    with Store.open_readonly(state) as store:
        return store.inventory()


def _never() -> RecordFile:
    raise AssertionError("a sound file needs no rebuild")


def _stored(folder: Path, built: Lookups) -> Lookups:
    assert lookup_records.save(folder, KEY, built)
    opened = StoredLookups.open(folder, KEY, _never)
    assert opened is not None
    return opened.lookups


def _probes(built: Lookups) -> list[int]:
    prefixes = [p for p, _ in built.routing.segments.entries()]
    prefixes += [p for t in built.routing.routes.values() for p, _ in t.entries()]
    near = {a for p in prefixes for a in (int(p.network_address), int(p.broadcast_address),
                                         int(p.network_address) + 1)}
    return sorted(near | set(PROBES) | set(built.routing.ports))


def _seen(lookups: Lookups, probes: list[int]) -> dict[str, Any]:
    """Everything ``lookups`` answers, as plain values (the comparison of both sides)."""
    routing = lookups.routing
    return {
        "port_paths": tuple(lookups.port_paths), "segment_paths": tuple(lookups.segment_paths),
        "by_name": dict(lookups.by_name), "node_ips": dict(lookups.node_ips),
        "clusters": tuple(lookups.clusters), "scopes": tuple(lookups.segment_scopes),
        "snat": dict(lookups.snat_rules), "pods": tuple(lookups.pods),
        "ports": dict(routing.ports),
        "subnets": sorted(routing.segments.entries()),
        "routes": {gw: sorted(t.entries(), key=lambda e: (e[0].prefixlen, e[0]))
                   for gw, t in routing.routes.items()},
        "segment_of": [routing.segments.lookup(a) for a in probes],
        "route_of": {gw: [t.lookup(a) for a in probes] for gw, t in routing.routes.items()},
        "members": [p in lookups.port_paths for p in (*lookups.port_paths, "/no/such")],
        "segment_members": [p in lookups.segment_paths
                            for p in (*lookups.segment_paths, "/no/such")],
        "names": [lookups.by_name.get(n) for n in (*lookups.by_name, "no/such")],
    }


@settings(max_examples=8, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(1, 10),
       policies=st.integers(0, 6))
def test_stored_lookups_answer_as_the_built_ones(tmp_path_factory: Any, seed: int,
                                                 namespaces: int, pods: int,
                                                 policies: int) -> None:
    tmp = Path(tmp_path_factory.mktemp("lookups"))
    _generated(tmp / "state.db", seed, namespaces, pods, policies)
    inv = _inventory(tmp / "state.db")
    built = Lookups.of(inv, TopologyIndex(inv))
    probes = _probes(built)
    assert _seen(_stored(tmp / "idx", built), probes) == _seen(built, probes)


@pytest.mark.parametrize("sample", SAMPLES)
def test_stored_lookups_of_the_samples_answer_as_the_built_ones(tmp_path: Path,
                                                                sample: str) -> None:
    sync_sample(tmp_path / "state.db", sample)
    inv = _inventory(tmp_path / "state.db")
    built = Lookups.of(inv, TopologyIndex(inv))
    probes = _probes(built)
    stored = _stored(tmp_path / "idx", built)
    assert _seen(stored, probes) == _seen(built, probes)
    # many membership probes read the whole list once, and answer the same
    assert [p in stored.port_paths for p in (*built.port_paths, "/no/such") * 40] \
        == [p in built.port_paths for p in (*built.port_paths, "/no/such") * 40]


# --- answers through the command line ---------------------------------------------------


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per topology, two copies of one synced state: the first answers from the index
    (saved by ``ncp sync``), the second from scratch (its index removed each time)."""
    out = {}
    for name in [*SAMPLES, "generated"]:
        tmp = tmp_path_factory.mktemp(name)
        if name == "generated":
            _generated(tmp / "state.db", seed=5, namespaces=4, pods=12, policies=8)
        else:
            sync_sample(tmp / "state.db", name)
        (tmp / "scratch").mkdir()
        shutil.copy(tmp / "state.db", tmp / "scratch" / "state.db")
        out[name] = (tmp / "state.db", tmp / "scratch" / "state.db")
    return out


def _targets(state: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Pod names (``NS/POD``) and virtual servers (address, port) of a state."""
    inv = _inventory(state)
    built = Lookups.of(inv, TopologyIndex(inv))
    pods = sorted({f"{ns}/{pod}" for _, _, ns, pod in built.pods})
    vips = sorted({(str(vs.ip_address), int(vs.ports[0].split("-")[0]))
                   for vs in inv.of_type(LBVirtualServer) if vs.ports})
    return pods, vips


def _ask(state: Path, argv: list[str], scratch: bool) -> tuple[int, str, str]:
    if scratch:
        shutil.rmtree(sidecar.folder_of(state), ignore_errors=True)
    return run_main(sdn.cli.main, *argv, "--state", state)


@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), topology=st.sampled_from([*SAMPLES, "generated"]),
       question=st.sampled_from(["traceflow", "explain"]),
       port=st.sampled_from([80, 443, 6379, 8080]))
def test_answers_through_the_stored_lookups_equal_those_from_scratch(
        states: dict[str, tuple[Path, Path]], data: st.DataObject, topology: str,
        question: str, port: int) -> None:
    indexed, scratch = states[topology]
    pods, vips = _targets(indexed)
    if not pods:
        return
    src = data.draw(st.sampled_from(pods))
    kind = data.draw(st.sampled_from(["pod", "outside", "vip"] if vips else ["pod", "outside"]))
    if kind == "vip":
        dst, port = data.draw(st.sampled_from(vips))
    else:
        dst = data.draw(st.sampled_from(pods if kind == "pod" else OUTSIDE))
    argv = [question, "--src", src, "--dst", dst, "--dport", str(port), "-o", "json"]
    assert _ask(indexed, argv, scratch=False) == _ask(scratch, argv, scratch=True)
    with QueryIndex.open(indexed) as index:
        index.trace_context()
        assert "lookups" in index.hits and "lookups" not in index.built


# --- never trusted ----------------------------------------------------------------------


def _rewrite(path: Path, table: str, change: Any) -> None:
    """Every payload of ``table`` changed in place under its old digest."""
    with sqlite3.connect(path) as db:
        for k, body in db.execute(f"SELECT key, body FROM {table}").fetchall():
            db.execute(f"UPDATE {table} SET body = ? WHERE key = ?", (change(body), k))
    db.close()


def _other_route(body: bytes) -> bytes:
    route = sidecar.loads(body, lookup_records.ALLOWED)
    return sidecar.dumps(replace(route, prefix=IPv4Network("203.0.113.0/24")))


def _bodies(path: Path, table: str) -> list[Any]:
    with sqlite3.connect(path) as db:
        rows = db.execute(f"SELECT key, body FROM {table} ORDER BY key").fetchall()
    db.close()
    return rows


DAMAGE = {
    "route-moved": ("routes", _other_route),
    "route-garbage": ("routes", lambda body: b"\x80garbage"),
    "name-other-paths": ("by_name", lambda body: sidecar.dumps(("/infra/elsewhere",))),
    "address-other-port": ("port_by_ip", lambda body: b"/infra/elsewhere"),
    "pods-emptied": ("whole", lambda body: sidecar.dumps(())),
    "route-lens-emptied": ("route_lens", lambda body: sidecar.dumps(())),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_record_is_rebuilt_and_answers_stay_right(
        states: dict[str, tuple[Path, Path]], tmp_path: Path, damage: Any) -> None:
    source, _ = states["guestbook"]
    state = tmp_path / "state.db"
    shutil.copy(source, state)
    shutil.copytree(sidecar.folder_of(source), sidecar.folder_of(state))
    questions = [["traceflow", "--src", "default/redis-slave-0", "--dst", dst, "--dport",
                  "80", "-o", "json"] for dst in ("default/frontend-0", "8.8.8.8")]
    questions.append(["reach", "--port", "80", "-o", "json"])
    expected = [_ask(state, q, scratch=True) for q in questions]
    table, change = damage
    _rewrite(sidecar.folder_of(state) / "lookups", table, change)
    damaged = _bodies(sidecar.folder_of(state) / "lookups", table)
    assert [_ask(state, q, scratch=False) for q in questions] == expected
    assert _bodies(sidecar.folder_of(state) / "lookups", table) != damaged  # rebuilt
    with QueryIndex.open(state) as index:  # the rebuilt file is sound again
        index.trace_context()
        assert "lookups" in index.hits and "lookups" not in index.built


def test_foreign_and_garbage_files_are_never_opened(tmp_path: Path) -> None:
    sync_sample(tmp_path / "state.db", "guestbook")
    inv = _inventory(tmp_path / "state.db")
    built = Lookups.of(inv, TopologyIndex(inv))
    folder = tmp_path / "idx"
    assert lookup_records.save(folder, KEY, built)
    assert lookup_records.current(folder, KEY)
    other = replace(KEY, revision=KEY.revision + 1)
    assert not lookup_records.current(folder, other)
    assert StoredLookups.open(folder, other, _never) is None
    (folder / "lookups").write_bytes(b"not a record file at all")
    assert StoredLookups.open(folder, KEY, _never) is None
    assert StoredLookups.open(tmp_path / "missing", KEY, _never) is None


def test_a_damaged_meta_is_never_opened(tmp_path: Path) -> None:
    sync_sample(tmp_path / "state.db", "guestbook")
    inv = _inventory(tmp_path / "state.db")
    folder = tmp_path / "idx"
    assert lookup_records.save(folder, KEY, Lookups.of(inv, TopologyIndex(inv)))
    _rewrite(folder / "lookups", "meta", lambda body: sidecar.dumps(({}, (), ())))
    assert StoredLookups.open(folder, KEY, _never) is None


TABLES = ["whole", "ports", "segments", "by_name", "snat", "port_by_ip", "subnets",
          "route_lens", "routes"]


@pytest.mark.parametrize("table", TABLES)
def test_every_table_read_damaged_is_rebuilt(tmp_path: Path, table: str) -> None:
    sync_sample(tmp_path / "state.db", "multi-tenant")
    inv = _inventory(tmp_path / "state.db")
    built = Lookups.of(inv, TopologyIndex(inv))
    folder = tmp_path / "idx"
    assert lookup_records.save(folder, KEY, built)
    _rewrite(folder / "lookups", table, lambda body: body + b"!")
    rebuilds: list[int] = []

    def rebuild() -> RecordFile:
        rebuilds.append(1)
        return lookup_records.rebuilt(tmp_path / "unwritable" / "no" / "such", KEY, built)

    opened = StoredLookups.open(folder, KEY, rebuild)
    assert opened is not None
    probes = _probes(built)
    assert _seen(opened.lookups, probes) == _seen(built, probes)
    assert rebuilds == [1]
