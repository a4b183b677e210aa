"""When a writer saves the query index: before it returns, or in a process of its own.

Why: at 100,000 pods saving the index after ``ncp sync`` (compiling the firewall, linting
it, writing its records and the lookups) takes a third of the command, about 30 s, while
the state it indexes is already written and final. The index is a cache: a question that
comes before it is saved builds the parts it needs itself (:class:`QueryIndex`), and parts
are written whole and moved in place, so two builders never harm each other. A big
state's sync therefore returns once the state is written, and a child process saves the
index from the objects the sync holds (a fork: nothing is read or parsed again).

Below :data:`BACKGROUND_OBJECTS` objects the index is saved before the command returns, as
always: it takes a fraction of a second there, a question right after the sync then finds
it whole, and no process outlives the command (test suites run many small syncs).
``NCP_INDEX_SAVE`` overrides the choice: ``wait`` (always before returning),
``background`` (always in a child), ``auto`` (the default, by size).

Only the child saves the ``objects`` part (:mod:`sdn.query.objects`, what a dry run loads
instead of parsing the state), last: the command has returned by then.

A question asked while the child saves waits for it (:mod:`sdn.query.savelock`: the
writer takes the lock before forking, the child holds it until the parts most questions
read are saved) rather than building the same parts next to it.

The child: its own session (a Ctrl-C at the terminal is the command's, not its), its
standard streams on ``/dev/null`` (a caller reading the command's output until the end,
as ``subprocess.run`` does, is not kept waiting), and it exits without running the
parent's exit handlers. When it cannot be made (``fork`` refused), the index is saved
before returning.
"""

from __future__ import annotations

import os
from pathlib import Path

from sdn.model import Inventory
from sdn.query import savelock, sidecar
from sdn.query.index import warm_index
from sdn.query.objects import Extra

#: Objects in a revision from which ``auto`` saves its index in the background (about
#: 5,000 pods: 10,000 pods are about 20,000 objects, whose index takes 0.6 s of a 2.5 s
#: cold sync; below this the index takes under 0.3 s and waiting for it is cheaper than
#: a process).
BACKGROUND_OBJECTS = 10_000
MODES = ("auto", "wait", "background")


def mode() -> str:
    """``NCP_INDEX_SAVE`` as one of :data:`MODES` (anything else counts as ``auto``)."""
    value = os.environ.get("NCP_INDEX_SAVE", "auto").strip().lower()
    return value if value in MODES else "auto"


def in_background(inventory: Inventory) -> bool:
    """Whether the index of ``inventory`` is saved by a child process."""
    chosen = mode()
    return chosen == "background" or (chosen == "auto"
                                      and len(inventory) >= BACKGROUND_OBJECTS)


def save_index(state: str | Path, inventory: Inventory, *, force: bool,
               validated: bool, extra: Extra | None = None) -> int | None:
    """Save the index of the revision just written (:func:`~sdn.query.index.warm_index`,
    same arguments), here or in a child (:func:`in_background`); the child's pid, or
    None when it was saved here. The index is optional: nothing here raises for it.
    The ``objects`` part and the writer's ``extra`` ones are saved by the child only."""
    if in_background(inventory):
        lock = savelock.hold(sidecar.folder_of(Path(state)))
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:
            _child(state, inventory, force=force, validated=validated, lock=lock,
                   extra=extra)
        if lock is not None:  # the child holds it on (the same lock) until its parts are in
            savelock.release(lock)
        if pid > 0:
            return pid
    warm_index(state, inventory, force=force, validated=validated)
    return None


def _child(state: str | Path, inventory: Inventory, *, force: bool,
           validated: bool, lock: int | None, extra: Extra | None) -> None:
    """The saving child's whole life; it never returns. It lets the lock go once the
    parts most questions read are saved (at 100,000 pods the ``lint`` and ``validate``
    parts after them take another 8 s, which a traceflow need not wait for)."""
    code = 1
    try:
        os.setsid()
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(quiet, fd)
        warm_index(state, inventory, force=force, validated=validated,
                   ready=lambda: savelock.release(lock) if lock is not None else None,
                   objects=True, extra=extra)
        code = 0
    finally:
        os._exit(code)
