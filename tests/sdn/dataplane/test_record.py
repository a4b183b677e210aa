"""The realize record: written atomically, read back equal, and never trusted when it is
not one of ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdn.dataplane import record
from sdn.dataplane.layout import Layout
from sdn.store import Store
from tests.support.cli_runs import sync_sample


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    state = tmp_path / "state.db"
    sync_sample(state, "guestbook")
    store = Store.open_readonly(state)
    try:
        return Layout.of(store.inventory(), "abc123")
    finally:
        store.close()


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SDN_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


def test_a_saved_record_reads_back_equal(layout: Layout) -> None:
    realized = record.Realized.of(layout, "/s/state.db", 7, {"applied": {"x": 1}})
    path = record.save("abc123", realized)
    assert path == record.record_path("abc123")
    assert record.load("abc123") == realized
    public = realized.public()
    assert sorted(public) == ["gateways", "outside", "ports", "revision"]
    assert len(public["ports"]) == len(layout.ports) == 9
    frontend = realized.port("default/frontend-0")
    assert frontend is not None and frontend.ip == "172.16.0.2"
    assert realized.port(frontend.path) == frontend and realized.port("nope/x") is None


@pytest.mark.parametrize("text", ["", "{", "[]", '{"revision": 1}', '{"ports": 3}'],
                         ids=["empty", "cut", "list", "no-ports", "foreign"])
def test_a_damaged_or_foreign_record_is_absent(run_dir: Path, text: str) -> None:
    run_dir.mkdir()
    (run_dir / "abc123.json").write_text(text)
    assert record.load("abc123") is None


def test_forget_is_safe_twice(layout: Layout) -> None:
    record.save("abc123", record.Realized.of(layout, "/s", 1))
    record.forget("abc123")
    record.forget("abc123")
    assert record.load("abc123") is None
