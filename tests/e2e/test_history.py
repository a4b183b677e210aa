"""The history end to end: a sequence of syncs of the guestbook (policy added, pods
scaled, policy removed and added again), answers kept after each, then asked again with
``--at``, ``sdn diff`` and ``sdn blame`` through the CLI, and compared."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sdn.store import Store
from tests.support.statefiles import snapshot

FLOW = ["--src", "default/redis-slave-0", "--dst", "default/redis-master-0",
        "--protocol", "TCP", "--port", "6379"]


class History:
    """The synced sequence and what was answered at each revision."""

    def __init__(self, cli: Any) -> None:
        self.cli = cli
        self.folder = cli.copy_sample(cli.GUESTBOOK, "gb")
        self.policy = self.folder / "policy.yaml"
        self.kept = cli.tmp / "policy.yaml"
        shutil.move(self.policy, self.kept)
        self.reach: dict[int, str] = {}
        self.connectivity: dict[int, str] = {}
        self.rows: dict[int, dict[str, str]] = {}
        self.times: dict[int, float] = {}
        self.step(lambda: None)  # 1: no policy
        self.step(lambda: shutil.copy(self.kept, self.policy))  # 2: the policy
        self.step(self.scale_slaves)  # 3: three redis replicas
        self.step(self.policy.unlink)  # 4: no policy
        self.step(lambda: shutil.copy(self.kept, self.policy))  # 5: the policy again

    def scale_slaves(self) -> None:
        path = self.folder / "redis-slave.yaml"
        path.write_text(path.read_text().replace("replicas: 2", "replicas: 3"))

    def step(self, change: Any) -> None:
        change()
        now = self.cli.T0 + 100 * (len(self.reach) + 1)
        res = self.cli.sync(self.folder, now=now)
        assert res.code == 0, res.err
        rev = res.json()["revision"]
        assert rev == len(self.reach) + 1
        self.times[rev] = now
        self.reach[rev] = self.sdn("reach", "--port", "6379", "-o", "json").out
        self.connectivity[rev] = self.sdn("connectivity", "-o", "json").out
        with Store.open_readonly(self.cli.state) as store:
            self.rows[rev] = {r.path: r.body for r in store.rows()}

    def sdn(self, *argv: object, code: int = 0) -> Any:
        res = self.cli.sdn(*argv, "--state", self.cli.state)
        assert res.code == code, res.err
        return res


@pytest.fixture
def hist(cli: Any) -> History:
    return History(cli)


def test_reach_at_each_revision_answers_as_it_did_then(hist: History) -> None:
    for rev, answer in hist.reach.items():
        assert hist.sdn("reach", "--port", "6379", "-o", "json", "--at", rev).out == answer
        when = datetime.fromtimestamp(hist.times[rev] + 50, UTC).isoformat()
        assert hist.sdn("reach", "--port", "6379", "-o", "json", "--at", when).out == answer


def test_connectivity_at_each_revision_answers_as_it_did_then(hist: History) -> None:
    for rev, answer in hist.connectivity.items():
        assert hist.sdn("connectivity", "-o", "json", "--at", rev).out == answer


def _difference(old: dict[str, str], new: dict[str, str]) -> set[tuple[str, str]]:
    return ({(p, "added") for p in new.keys() - old.keys()}
            | {(p, "removed") for p in old.keys() - new.keys()}
            | {(p, "changed") for p in old.keys() & new.keys() if old[p] != new[p]})


def _allowed(reach_json: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The pods of a ``reach -o json`` answer, and its allowed pairs."""
    (result,) = json.loads(reach_json)["results"]
    return set(result["pods"]), {(a, b) for a, b in result["allowed"]}


@pytest.mark.parametrize(("frm", "to"), [(1, 2), (2, 3), (3, 4), (1, 5), (5, 1), (2, 5)])
def test_diff_is_the_difference_of_the_revisions(hist: History, frm: int, to: int) -> None:
    doc = hist.sdn("diff", "--from", frm, "--to", to, "-o", "json").json()
    assert (doc["from"], doc["to"]) == (frm, to)
    assert {(o["path"], o["change"]) for o in doc["objects"]} == \
        _difference(hist.rows[frm], hist.rows[to])
    (pods, before), (also, after) = _allowed(hist.reach[frm]), _allowed(hist.reach[to])
    on_6379 = {kind: {(f["src"], f["dst"]) for f in doc["reachability"][kind]
                      if f["protocol"] == "TCP" and {f["src"], f["dst"]} <= pods & also
                      and any(lo <= 6379 <= hi for lo, hi in f["ports"])}
               for kind in ("gained", "lost")}
    both = {(a, b) for a, b in before | after if {a, b} <= pods & also}
    before, after = before & both, after & both
    assert on_6379 == {"gained": after - before, "lost": before - after}


def test_blame_names_the_write_that_last_flipped_the_flow(hist: History) -> None:
    doc = hist.sdn("blame", *FLOW, "-o", "json").json()
    assert doc["revision"] == 5
    assert doc["command"].startswith("ncp sync --cluster ")
    assert (doc["allowed_before"], doc["allowed_after"]) == (True, False)
    assert doc["before"] is None
    assert doc["after"]["path"].endswith("/rules/ingress-isolation")
    assert {c["kind"] for c in doc["changes"]} == {"Group", "SecurityPolicy"}
    table = hist.sdn("blame", *FLOW).out
    assert "last flipped at revision 5" in table


def test_a_flow_that_never_flipped_is_coded(hist: History) -> None:
    res = hist.sdn("blame", "--src", "default/frontend-0", "--dst", "default/redis-master-0",
                   "--port", "6379", code=2)
    assert res.err.startswith("error: HISTORY_NEVER_FLIPPED ")


@pytest.mark.parametrize("argv", [
    ["reach", "--at", "9"], ["connectivity", "--at", "9"],
    ["explain", "--src", "default/frontend-0", "--dst", "default/redis-master-0",
     "--dport", "6379", "--at", "9"],
    ["diff", "--from", "9"], ["diff", "--from", "1", "--to", "9"],
    ["diff", "--from=-1", "--to", "1"],
], ids=["reach", "connectivity", "explain", "diff-from", "diff-to", "diff-negative"])
def test_unknown_revisions_are_coded(hist: History, argv: list[str]) -> None:
    res = hist.cli.sdn(*argv, "--state", hist.cli.state)
    assert res.code == 2
    assert res.err.startswith("error: HISTORY_UNKNOWN_REVISION ")


def test_bad_revision_text_is_coded(hist: History) -> None:
    res = hist.sdn("diff", "--from", "last-week", code=2)
    assert res.err.startswith("error: HISTORY_BAD_REVISION --from: ")


def test_a_noop_sync_keeps_no_history(hist: History) -> None:
    before = snapshot(hist.cli.state)
    assert hist.cli.sync(hist.folder, now=hist.cli.T0 + 10_000).code == 0
    assert snapshot(hist.cli.state) == before


def _files(state: Path) -> dict[str, bytes]:
    """The state file and its journal (write-ahead log and index), byte for byte."""
    return {p.name: p.read_bytes() for p in state.parent.iterdir()
            if p.is_file() and p.name.startswith(state.name)}


@pytest.mark.parametrize("argv", [
    ["reach", "--at", "2"], ["explain", "--src", "default/frontend-0", "--dst",
                             "default/redis-master-0", "--dport", "6379", "--at", "1"],
    ["connectivity", "--at", "3"],
    ["diff", "--from", "1", "--to", "4"], ["blame", *FLOW], ["blame", *FLOW, "-o", "json"],
], ids=["reach-at", "explain-at", "connectivity-at", "diff", "blame", "blame-json"])
def test_the_history_questions_write_nothing(hist: History, argv: list[str]) -> None:
    state = hist.cli.state
    hist.sdn("reach")  # the current revision's query index exists, as after any question
    before = _files(state)
    hist.sdn(*argv)
    assert _files(state) == before
    missing = state.parent / "missing.db"
    assert hist.cli.sdn(*argv, "--state", missing).code == 2
    assert not missing.exists()


def test_the_history_records_each_sync_command(hist: History) -> None:
    with sqlite3.connect(hist.cli.state) as db:
        rows = db.execute("SELECT revision, command FROM history ORDER BY revision").fetchall()
    assert [r for r, _ in rows] == [1, 2, 3, 4, 5]
    assert all(c.startswith(f"ncp sync --cluster {hist.folder}") for _, c in rows)
