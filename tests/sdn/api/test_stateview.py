"""The state view follows the store: a write by another connection (as ``ncp sync`` or
an API write makes) shows on the next look, changed, added and deleted rows alike, and
only the changed rows are parsed again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sdn.api.stateview import StateView
from sdn.model import Segment
from sdn.store import ChangeSet, Store
from sdn.store.codec import to_stored

SEGMENT = "/infra/segments/seg_k8s-cluster_default"
PORT = "/infra/segments/seg_k8s-cluster_default/ports/frontend-0"


def test_view_follows_writes_and_keeps_what_did_not_change(
        synced_states: dict[str, Path], tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    shutil.copyfile(synced_states["guestbook"], state)
    view = StateView(state)
    try:
        before = view.current()
        untouched = "/infra/tier-0s/t0-gateway"
        untouched_doc = before.docs[untouched]
        assert view.current() is before  # no write: the same snapshot
        with Store.open(state) as store:
            segment = store.inventory()[SEGMENT]
            assert isinstance(segment, Segment)
            renamed = segment.model_copy(update={"display_name": "renamed"})
            store.apply(ChangeSet(upserts=[to_stored(renamed)], deletes=[PORT]))
        after = view.current()
        assert after.revision > before.revision
        assert after.docs[SEGMENT]["display_name"] == "renamed"
        assert json.loads(after.documents.body(SEGMENT) or b"{}")["display_name"] == "renamed"
        assert PORT not in after.docs and PORT not in after.members[SEGMENT + "/ports"]
        assert after.docs[untouched] is untouched_doc  # not parsed again
    finally:
        view.close()
