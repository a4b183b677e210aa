"""The lock a background index save holds, and the wait of a reader that meets it.

Why: a big state's index is saved by a child after ``ncp sync`` returns
(:mod:`sdn.query.saving`). A question asked in the meantime used to build the parts it
needs itself, next to the child building the same ones: on two cores both slowed down
(at 100,000 pods a traceflow right after the sync took 38 s instead of the 25 s left to
the save). A reader that finds the save under way waits for it instead, then loads what
it saved.

How: ``<state>.idx/saving.lock``, locked exclusively (``flock``) by the writer before it
forks, so the child inherits the lock and holds it until the parts most questions read
are saved (the firewall and the lookups; the ``lint`` and ``validate`` parts follow
unlocked), and no reader can come between the writer's return and the child's start. A
reader takes the lock shared (waiting while the save runs) and lets it go at once. A
crashed saver's lock goes with its process. Nothing here fails a question: a folder
without the file, or one that cannot be opened, means nothing to wait for.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path

LOCK_NAME = "saving.lock"
#: The longest a reader waits for a save (then it builds what it needs itself).
WAIT_LIMIT = 600.0
_POLL = 0.05


def hold(folder: Path) -> int | None:
    """Lock ``folder``'s save lock exclusively for the caller (and a child it forks);
    the descriptor, or None when the lock cannot be made or is held by another saver."""
    try:
        folder.mkdir(exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def release(fd: int) -> None:
    """Let this process's hold of the lock go (a child holding it keeps it)."""
    with contextlib.suppress(OSError):
        os.close(fd)


def wait_for_saver(folder: Path, limit: float = WAIT_LIMIT) -> float:
    """Wait while a save holds ``folder``'s lock (at most ``limit`` seconds); the
    seconds waited. Says so on stderr when it is a terminal."""
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return 0.0
    started = time.monotonic()
    told = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return time.monotonic() - started
            except BlockingIOError:
                if time.monotonic() - started > limit:
                    return time.monotonic() - started
                if not told and sys.stderr.isatty():
                    print("waiting for the query index the last sync is saving ...",
                          file=sys.stderr, flush=True)
                    told = True
                time.sleep(_POLL)
            except OSError:
                return 0.0
    finally:
        os.close(fd)
