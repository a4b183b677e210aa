"""The query index beside the state (``<state>.idx/``, :mod:`sdn.query`) from the command
line: built by the first question of a revision, read by the later ones, invalidated by
every kind of write, never trusted when damaged or foreign, and not needed to answer.

Every case compares what the commands print through the index with what they print
computed from scratch (the index folder removed first), byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdn.query import QueryIndex
from sdn.query.lazy import LazyInventory

REPO = Path(__file__).resolve().parents[2]
FLOW = ["--src", "default/redis-slave-0", "--dst", "default/frontend-0", "--dport", "80"]
#: The questions asked before and after every write, each printed whole.
QUESTIONS: dict[str, list[str]] = {
    "traceflow": ["traceflow", *FLOW, "-o", "json"],
    "explain": ["explain", *FLOW, "-o", "json"],
    "path": ["path", *FLOW, "-o", "json"],
    "reach": ["reach", "--port", "80", "-o", "json"],
    "reach-dst": ["reach", "--dst", "default/frontend-0", "--port", "80", "-o", "json"],
    "lint": ["lint", "--fail-on", "never", "-o", "json"],
    "validate": ["validate", "-o", "json"],
    "ipam": ["ipam", "-o", "json", "--now", "1700000000"],
    "topology": ["topology", "-n", "default"],
}

#: A NetworkPolicy that isolates the frontend (the writes below add or remove it).
DENY_FRONTEND = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "deny-frontend", "namespace": "default"},
                 "spec": {"podSelector": {"matchLabels": {"app": "guestbook"}},
                          "policyTypes": ["Ingress"]}}
#: The admin's own rule dropping everything to the frontend (sdn apply / delete).
ADMIN_DROP = [
    {"resource_type": "Group", "id": "frontend-pods",
     "expression": [{"resource_type": "Condition", "member_type": "SegmentPort",
                     "key": "Tag", "operator": "EQUALS", "value": "app|guestbook"}]},
    {"resource_type": "SecurityPolicy", "id": "no-frontend", "category": "Emergency",
     "sequence_number": 1,
     "rules": [{"id": "drop-frontend", "destination_groups":
                ["/infra/domains/default/groups/frontend-pods"], "action": "DROP"}]},
]


#: The parts ``ncp sync`` saves, and the questions above build.
ALL_PARTS = ["dfw-ALLOW", "lint", "lookups", "valid", "validate"]
#: With the parts the first `path`, picture and `ipam` of a revision add.
ASKED_PARTS = sorted([*ALL_PARTS, "ipam", "topology"])


def _ask(cli: Any, state: Path) -> dict[str, tuple[int, str, str]]:
    out = {}
    for name, argv in QUESTIONS.items():
        res = cli.sdn(*argv, "--state", state)
        out[name] = (res.code, res.out, res.err)
    return out


def _from_scratch(cli: Any, state: Path) -> dict[str, tuple[int, str, str]]:
    shutil.rmtree(_folder(state), ignore_errors=True)
    return _ask(cli, state)


def _folder(state: Path) -> Path:
    return state.with_name(state.name + ".idx")


def _key(state: Path, part: str = "dfw-ALLOW") -> dict[str, Any]:
    """The key a part was saved for: in its header line, or for a firewall or the lookups
    (SQLite files of records, :mod:`sdn.store.records`) in its header table."""
    if part.startswith("dfw-") or part == "lookups":
        with sqlite3.connect(_folder(state) / part) as db:
            head = db.execute("SELECT value FROM file_header").fetchone()[0]
        db.close()
    else:
        head = (_folder(state) / part).read_bytes().split(b"\n", 1)[0]
    key: dict[str, Any] = json.loads(head)["key"]
    return key


def _synced(cli: Any, *extra: Path) -> Path:
    res = cli.sync(cli.GUESTBOOK, *extra)
    assert res.code == 0, res.err
    return Path(cli.state)


def test_the_first_question_builds_the_index_and_later_ones_read_it(cli: Any) -> None:
    state = _synced(cli)
    scratch = _from_scratch(cli, state)
    assert sorted(os.listdir(_folder(state))) == ASKED_PARTS
    assert _ask(cli, state) == scratch
    with QueryIndex.open(state) as index:
        assert isinstance(index.inventory(), LazyInventory)
        index.dfw()
        assert index.hits == ["valid", "dfw-ALLOW"] and index.built == []
    # --default-action DROP is a firewall of its own, saved beside the other.
    cli.sdn("traceflow", *FLOW, "--default-action", "DROP", "--state", state)
    assert "dfw-DROP" in os.listdir(_folder(state))


def _write_policy(cli: Any) -> Path:
    return Path(cli.write_yaml("extra/deny-frontend.yaml", DENY_FRONTEND))


def _admin_file(cli: Any) -> Path:
    return Path(cli.write_yaml("admin.yaml", *ADMIN_DROP))


def _ncp_sync(cli: Any, state: Path) -> None:
    res = cli.sync(cli.GUESTBOOK, _write_policy(cli), now=cli.T0 + 10)
    assert res.code == 0, res.err


def _sdn_apply(cli: Any, state: Path) -> None:
    assert cli.sdn("apply", "-f", _admin_file(cli), "--state", state).code == 0


def _sdn_delete(cli: Any, state: Path) -> None:
    assert cli.sdn("delete", "-f", _admin_file(cli), "--state", state).code == 0


def _sdn_profile(cli: Any, state: Path) -> None:
    profile = cli.write_profile("another")
    assert cli.sdn("profile", "create", profile, "--state", state).code == 0


def _another_process(cli: Any, state: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "ncp.cli", "sync", "--cluster", str(cli.GUESTBOOK),
                    "--cluster", str(_write_policy(cli)), "--state", str(state), "--now",
                    str(cli.T0 + 10)], env=env, check=True, capture_output=True)


def _hand_edit(cli: Any, state: Path) -> None:
    """A write that does not go through the store (no revision bump): the file stamps
    still tell it apart."""
    with sqlite3.connect(state) as db:
        db.execute("DELETE FROM objects WHERE resource_type='SecurityPolicy'")
    db.close()


#: Each kind of write: (set the state up before the first questions, write, whether the
#: write changes the answers).
WRITES: dict[str, tuple[Callable[[Any], None], Callable[[Any, Path], None], bool]] = {
    "ncp-sync": (lambda cli: None, _ncp_sync, True),
    "sdn-apply": (lambda cli: None, _sdn_apply, True),
    "sdn-delete": (lambda cli: _sdn_apply(cli, Path(cli.state)), _sdn_delete, True),
    "sdn-profile": (lambda cli: None, _sdn_profile, False),
    "another-process": (lambda cli: None, _another_process, True),
    "hand-edit": (lambda cli: _ncp_sync(cli, Path(cli.state)), _hand_edit, True),
}


@pytest.mark.parametrize("kind", list(WRITES))
def test_every_kind_of_write_invalidates_the_index(cli: Any, kind: str) -> None:
    setup, write, changes_answers = WRITES[kind]
    state = _synced(cli)
    setup(cli)
    before = _from_scratch(cli, state)
    assert _ask(cli, state) == before  # now answered through the index
    key = _key(state)
    write(cli, state)
    after = _ask(cli, state)
    assert _key(state) != key  # rebuilt for the new content
    assert after == _from_scratch(cli, state)
    if changes_answers:
        assert after["traceflow"] != before["traceflow"]


def _truncate(state: Path) -> None:
    part = _folder(state) / "dfw-ALLOW"
    part.write_bytes(part.read_bytes()[:1000])


def _foreign_text(state: Path) -> None:
    for part in ("valid", "dfw-ALLOW"):
        (_folder(state) / part).write_text("not an index\n")


def _flip_bytes(state: Path, name: str = "dfw-ALLOW") -> None:
    part = _folder(state) / name
    data = bytearray(part.read_bytes())
    data[-10] ^= 0xFF
    part.write_bytes(bytes(data))


def _part_of_another_shape(part: str, allowed: str) -> Callable[[Path], None]:
    """A ``part`` of this key, header and checksum right, holding what it never holds."""
    from sdn.query import index as query_index
    from sdn.query import sidecar

    def damage(state: Path) -> None:
        with QueryIndex.open(state) as index:
            sidecar.write(_folder(state), part, index.key, (["not", "this"], [("a", "b")]),
                          getattr(query_index, allowed))

    return damage


def _another_states_index(state: Path) -> None:
    """The index of another state with the same revision (same manifests, same sync):
    its state id and stamps differ, so it is not this state's."""
    other = state.with_name("other.db")
    with sqlite3.connect(state) as src, sqlite3.connect(other) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    with sqlite3.connect(other) as db:
        db.execute("UPDATE meta SET value='feedfeedfeedfeedfeedfeedfeedfeed' "
                   "WHERE key='state_id'")
    db.close()
    with QueryIndex.open(other) as index:
        index.dfw()
    shutil.rmtree(_folder(state))
    shutil.copytree(_folder(other), _folder(state))


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "foreign-text": _foreign_text,
    "flipped-bytes": _flip_bytes,
    "ipam-flipped-bytes": lambda state: _flip_bytes(state, "ipam"),
    "ipam-not-usage": _part_of_another_shape("ipam", "_IPAM_CLASSES"),
    "topology-flipped-bytes": lambda state: _flip_bytes(state, "topology"),
    "topology-not-links": _part_of_another_shape("topology", "_TOPOLOGY_CLASSES"),
    "another-states-index": _another_states_index,
}


@pytest.mark.parametrize("damage", list(CORRUPTIONS))
def test_a_damaged_or_foreign_index_is_ignored_and_rebuilt(cli: Any, damage: str) -> None:
    state = _synced(cli)
    expected = _from_scratch(cli, state)
    CORRUPTIONS[damage](state)
    assert _ask(cli, state) == expected
    with QueryIndex.open(state) as index:  # rebuilt: read back as this state's own
        index.dfw()
        index.ipam_usage()
        index.topology_graph()
        assert index.hits == ["dfw-ALLOW", "ipam", "topology"] and index.built == []


def test_an_unwritable_index_location_still_answers(cli: Any) -> None:
    state = _synced(cli)
    expected = _from_scratch(cli, state)
    shutil.rmtree(_folder(state))
    _folder(state).write_text("a file where the index folder would go")
    assert _ask(cli, state) == expected
    assert _ask(cli, state) == expected
    assert _folder(state).read_text() == "a file where the index folder would go"


def test_an_invalid_stored_object_is_still_refused_after_the_index_was_built(
        cli: Any) -> None:
    """The index marks a revision valid; a row broken later (by hand, no revision bump)
    is refused again, as without the index."""
    state = _synced(cli)
    _from_scratch(cli, state)
    with sqlite3.connect(state) as db:
        db.execute("UPDATE objects SET body='{\"resource_type\": \"Group\"}' "
                   "WHERE resource_type='Group'")
    db.close()
    res = cli.sdn(*QUESTIONS["traceflow"], "--state", state)
    assert res.code == 2 and "INVALID_STATE_OBJECT" in res.err


def test_ncp_sync_saves_the_index_the_first_question_reads(cli: Any) -> None:
    """``ncp sync`` builds ``valid``, ``dfw-ALLOW``, ``lookups``, ``lint`` and
    ``validate`` from the objects it wrote, keyed as a reader keys the state: the first
    question loads them, builds nothing, and answers as a question from scratch."""
    state = _synced(cli)
    assert sorted(os.listdir(_folder(state))) == ALL_PARTS
    saved = {part: _key(state, part) for part in ALL_PARTS}
    with QueryIndex.open(state) as index:
        index.trace_context()
        index.lint_findings()
        index.validate_problems()
        assert sorted(index.hits) == ALL_PARTS
        assert index.built == []
        assert all(key == index.key.as_json() for key in saved.values())
    warm = _ask(cli, state)
    assert sorted(os.listdir(_folder(state))) == ASKED_PARTS
    assert {part: _key(state, part) for part in saved} == saved  # none rebuilt
    assert warm == _from_scratch(cli, state)


def test_a_sync_that_writes_nothing_saves_a_missing_index_and_keeps_a_current_one(
        cli: Any) -> None:
    state = _synced(cli)
    _ncp_sync(cli, state)  # another input: written, index saved for the new revision
    saved = (_folder(state) / "dfw-ALLOW").read_bytes()
    _ncp_sync(cli, state)  # the same input, a no-op: the current index is kept as it is
    assert (_folder(state) / "dfw-ALLOW").read_bytes() == saved
    shutil.rmtree(_folder(state))
    res = cli.sync(cli.GUESTBOOK, _write_policy(cli), now=cli.T0 + 10, extra=["--full"])
    assert res.code == 0, res.err  # reconciled in full, nothing to write: saved again
    assert sorted(os.listdir(_folder(state))) == ALL_PARTS
    with QueryIndex.open(state) as index:
        index.trace_context()
        assert index.built == []


def test_an_unwritable_index_location_does_not_fail_the_sync(cli: Any) -> None:
    state = _synced(cli)
    shutil.rmtree(_folder(state))
    _folder(state).write_text("a file where the index folder would go")
    res = cli.sync(cli.GUESTBOOK, _write_policy(cli), now=cli.T0 + 10)
    assert res.code == 0, res.err
    assert res.json()["revision"] == 2
    assert _folder(state).read_text() == "a file where the index folder would go"
    answers = _ask(cli, state)
    _folder(state).unlink()
    assert answers == _ask(cli, state)


def _undeclared_class(state: Path, part: str) -> None:
    """A part whose header is right but whose payload holds a class the part does not
    declare (a lint finding where validate's problems go, and the other way round)."""
    from sdn.errors import Problem
    from sdn.policy.lint import Finding
    from sdn.query import sidecar

    declared, stranger = (Finding, Problem("X", "/x", "x")) if part == "lint" \
        else (Problem, Finding("X", "info", "/x", "x"))
    with QueryIndex.open(state) as index:
        key = index.key
    assert sidecar.write(_folder(state), part, key, [stranger],
                         sidecar.allowed_names(declared))


PART_DAMAGES: dict[str, Callable[[Path, str], None]] = {
    "truncated": lambda state, part: (_folder(state) / part).write_bytes(
        (_folder(state) / part).read_bytes()[:300]),
    "foreign-text": lambda state, part: (_folder(state) / part).write_text("not ours\n"),
    "undeclared-class": _undeclared_class,
}


@pytest.mark.parametrize("part", ["lint", "validate"])
@pytest.mark.parametrize("damage", list(PART_DAMAGES))
def test_a_damaged_lint_or_validate_part_is_rebuilt_never_trusted(
        cli: Any, damage: str, part: str) -> None:
    state = _synced(cli)
    expected = _from_scratch(cli, state)
    PART_DAMAGES[damage](state, part)
    assert _ask(cli, state) == expected
    with QueryIndex.open(state) as index:  # rebuilt: read back as this state's own
        index.lint_findings() if part == "lint" else index.validate_problems()
        assert index.hits == [part] and index.built == []


def test_validate_sees_a_row_broken_after_its_answer_was_kept(cli: Any) -> None:
    """A hand edit (no revision bump) after ``validate`` was kept: the stamps moved, so
    the kept answer is not used and the broken row is reported, as from scratch."""
    state = _synced(cli)
    assert cli.sdn("validate", "--state", state).code == 0
    with sqlite3.connect(state) as db:
        db.execute("UPDATE objects SET body='{\"resource_type\": \"Group\"}' WHERE path = "
                   "(SELECT MIN(path) FROM objects WHERE resource_type='Group')")
    db.close()
    res = cli.sdn(*QUESTIONS["validate"], "--state", state)
    assert res.code == 1 and res.json()
    assert (res.code, res.out) == _from_scratch(cli, state)["validate"][:2]
    assert (res.code, res.out) == _ask(cli, state)["validate"][:2]  # kept, and the same


def test_a_sync_that_writes_nothing_saves_a_missing_lint_or_validate_part(cli: Any) -> None:
    """The index counts as current only with every part: a sync reconciled in full that
    writes nothing saves the ones missing."""
    state = _synced(cli)
    _ncp_sync(cli, state)
    for part in ("lint", "validate"):
        (_folder(state) / part).unlink()
    res = cli.sync(cli.GUESTBOOK, _write_policy(cli), now=cli.T0 + 10, extra=["--full"])
    assert res.code == 0, res.err
    assert sorted(os.listdir(_folder(state))) == ALL_PARTS


def test_validate_loads_no_compiler_graph_or_traceflow(cli: Any) -> None:
    """``sdn validate`` reads its kept answer through :mod:`sdn.query.checked` alone: the
    modules the index needs for other questions are not imported (start-up time)."""
    state = _synced(cli)
    probe = ("import sys; from sdn.cli import main; code = main(['validate', '--state', "
             f"{str(state)!r}]); print(code, sorted({{m.split('.')[0] if m.startswith("
             "'networkx') else m for m in sys.modules if m.startswith(('networkx', "
             "'sdn.policy', 'sdn.traceflow', 'sdn.graph', 'sdn.query.index'))}))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.splitlines()[-1] == "0 []"


def test_the_package_names_its_index_lazily() -> None:
    import sdn.query

    assert sdn.query.QueryIndex is QueryIndex
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sdn.query.nothing  # noqa: B018
