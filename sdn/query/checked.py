"""``sdn validate``'s answer, kept per state revision: the ``validate`` part of the index.

Why a module of its own, apart from :mod:`sdn.query.index`: validating is a pure function
of the stored rows, and needs neither the firewall compiler nor the graph nor the
traceflow modules that the index imports (a third of the command's start-up). It keys
and reads the part exactly as the index does (:func:`pinned`, :mod:`sdn.query.sidecar`),
so a write by any means moves the key and a damaged or foreign file is rebuilt.
"""

from __future__ import annotations

from pathlib import Path

from sdn.errors import Problem
from sdn.model.checks import validate_inventory
from sdn.model.inventory import Inventory
from sdn.query import savelock, sidecar
from sdn.query.sidecar import Key
from sdn.store import Store

#: The part's name in the index folder.
PART = "validate"
#: What the part may hold: a list of problems.
PROBLEM_CLASSES = sidecar.allowed_names(Problem)


def pinned(state: str | Path) -> tuple[Store, Key]:
    """``state`` opened read-only with one revision pinned, and that content's key.

    The files' stamps are taken before the snapshot: a write that lands in between
    leaves a key older than the content, which no later reader matches (a rebuild,
    never a stale answer).
    """
    path = Path(state)
    before = sidecar.stamps(path)
    store = Store.open_readonly(path)
    try:
        store.pin()
        key = Key(store.identity, store.revision, *before)
    except BaseException:
        store.close()
        raise
    return store, key


def problems_of(inventory: Inventory, invalid: list[Problem]) -> list[Problem]:
    """``sdn validate``'s problems: the stored rows that do not parse (``invalid``), then
    the cross-object checks on the valid rest (``inventory``)."""
    return invalid + validate_inventory(inventory)


def load(folder: Path, key: Key) -> list[Problem] | None:
    """The kept problems for ``key``, or None (missing, stale, damaged, foreign)."""
    loaded = sidecar.read(folder, PART, key, PROBLEM_CLASSES)
    if isinstance(loaded, list) and all(isinstance(p, Problem) for p in loaded):
        return loaded
    return None


def kept_problems(store: Store, key: Key, folder: Path) -> tuple[list[Problem], bool]:
    """The problems of the pinned ``store`` (content ``key``), loaded from the index
    ``folder`` when kept there, else checked and saved; and whether they were loaded."""
    found = load(folder, key)
    if found is not None:
        return found, True
    problems = problems_of(*store.checked_inventory())
    sidecar.write(folder, PART, key, problems, PROBLEM_CLASSES)
    return problems, False


def validate_state(state: str | Path) -> list[Problem]:
    """``sdn validate``'s problems for the current content of ``state`` (after the last
    sync's background save, if one runs: :mod:`sdn.query.savelock`)."""
    savelock.wait_for_saver(sidecar.folder_of(Path(state)))
    store, key = pinned(state)
    with store:
        return kept_problems(store, key, sidecar.folder_of(Path(state)))[0]
