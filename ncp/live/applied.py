"""The cache version the state has caught up with, and waiting for it.

The worker moves it when a pass's state transaction has landed; the write-back waits on it
to let the state lead during a burst, and callers (tests, ``bench/``) wait on it to know
that a change reached the state. A module of its own, so that neither of the two parts
that share it imports the other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class AppliedVersion:
    """A cache version that only moves forward, with a condition to wait on."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = threading.Condition()

    def advance(self, version: int) -> None:
        """The state now holds cache ``version``."""
        with self._changed:
            self.version = version
            self._changed.notify_all()

    def wait_for(self, version: int, timeout: float) -> bool:
        """Block until the state holds cache ``version`` (or the timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.version >= version, timeout=timeout)

    def wait_caught_up(self, current: Callable[[], int], give_up: Callable[[], bool],
                       timeout: float) -> None:
        """Block until the state holds the cache's ``current()`` version, ``give_up()``
        says to stop waiting, or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._changed.wait_for(
                lambda: self.version >= current() or give_up()
                or time.monotonic() >= deadline, timeout=timeout)
