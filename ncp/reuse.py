"""What ``ncp sync`` keeps in the state's query index for its next run, and takes back.

Why: at 10,000 pods a sync or a dry run spends most of a second parsing manifests that
have not changed since the last sync, and a dry run more than a second parsing the state
and compiling its firewall, which that sync held in memory. The sync's background index
saver (:mod:`sdn.query.saving`) keeps them beside the state: the files as parsed, by the
digest of their content (the ``manifests`` part, written here), and the objects with
their compiled firewall (the ``objects`` part, :mod:`sdn.query.objects`). The next run
takes what is saved for the state exactly as it is (same identity, revision and file
stamps) and content-addressed files only where the bytes are the same; everything else
it parses and compiles as before, with the same answer.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path

from ncp.reconcile.sync import SyncReport
from ncp.sources.loading import Loaded
from sdn.errors import Problem
from sdn.model import Inventory
from sdn.policy.compiler import CompiledDfw
from sdn.query import sidecar
from sdn.query.objects import Extra, stored_objects, stored_part
from sdn.store import Store

#: The index part holding the files a sync parsed.
MANIFESTS_PART = "manifests"
#: What it may hold: parsed files, and the values YAML makes beyond JSON's (timestamps).
MANIFEST_CLASSES = sidecar.allowed_names(Loaded, Problem, datetime.date, datetime.datetime,
                                         datetime.timedelta, datetime.timezone)


class IndexReuse:
    """The earlier work saved in the index of ``state``, as ``store`` (open on it) is
    now (:class:`~ncp.reconcile.sync.Reuse`)."""

    def __init__(self, state: Path, store: Store) -> None:
        self.state = state
        self.store = store

    def parsed_files(self) -> Mapping[str, Loaded] | None:
        value = stored_part(self.state, self.store.identity, self.store.revision,
                            MANIFESTS_PART, MANIFEST_CLASSES)
        if not isinstance(value, list) or not all(isinstance(f, Loaded) for f in value):
            return None
        return {f.digest: f for f in value}

    def inventory(self) -> tuple[Inventory, CompiledDfw | None] | None:
        found = stored_objects(self.state, self.store.identity, self.store.revision)
        return None if found is None else (found.inventory, found.dfw)


def parts_to_keep(report: SyncReport) -> Extra:
    """The parts of ``report`` the index keeps for the next sync."""
    return {MANIFESTS_PART: (list(report.parsed_files), MANIFEST_CLASSES)}
