"""``sdn diff``'s flows against the whole matrix: on random admin histories over the synced
guestbook, the delta over the affected ports equals the delta over every pair."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.policy.compiler import compile_dfw
from sdn.policy.connectivity import reachability_delta
from sdn.query.history_diff import diff, object_changes
from sdn.store import Store, past
from tests.sdn.query.test_blame import _write, _writes, template  # noqa: F401 (fixture)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=_writes, data=st.data())
def test_the_delta_of_the_affected_ports_is_the_whole_delta(
        template: Path, tmp_path: Path, writes: list[tuple[object, ...]],  # noqa: F811
        data: st.DataObject) -> None:
    state = Path(tempfile.mkdtemp(dir=tmp_path)) / "state.db"
    shutil.copy(template, state)
    with Store.open(state) as store:
        for op in writes:
            store.apply(_write(store, op))
    with Store.open_readonly(state) as store:
        frm = data.draw(st.integers(1, store.revision))
        to = data.draw(st.integers(1, store.revision))
        current = store.inventory()
        before, after = (compile_dfw(past.inventory_at(store, rev, current))
                         for rev in (frm, to))
        answer = diff(store, frm, to)
        assert answer.objects == object_changes(store, frm, to)
        assert (answer.gained, answer.lost) == reachability_delta(before, after)
