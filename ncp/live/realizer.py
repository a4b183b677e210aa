"""``ncp run --realize``: the Linux data plane kept in step with the state.

After every reconcile pass the worker says which state revision the pass left
(:meth:`Realizer.owe`); this thread realizes it with the very code of ``sdn realize``
(:func:`sdn.dataplane.realize.realize`, which applies only differences), once per pass
and never per object. Why a thread of its own and not a quiet-time chore: a cold
realize takes seconds (a thousand namespaces), and the worker must keep reconciling
meanwhile; the state is read from a snapshot of its own (SQLite readers do not block the
writer).

* **Coalescing**: passes landing while a realize runs only move the revision owed; the
  next realize takes the state as it is then, so a burst costs at most two realizes. One
  thread: never two realizes at once.
* **Only what wrote**: a pass that left the revision already realized realizes nothing;
  the first pass after start always realizes (the data plane may be older than the
  state, or absent).
* **Failures**: a realize that fails is logged with its code and counted, and tried
  again after the next pass; it never stops the runner. What a failed realize left half
  made, the next one rebuilds (:mod:`sdn.dataplane.realize`).
* **Stop**: a realize under way finishes within the runner's stop timeout (one cut
  short is finished by the next realize, as after a killed ``sdn realize``); nothing is
  torn down (``sdn realize --teardown`` does that).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from ncp.live.metrics import BUCKETS, Metrics

if TYPE_CHECKING:  # the data plane is imported only when a realize runs (``--realize``)
    from sdn.dataplane.plan import Changes

log = logging.getLogger("ncp.running")

#: A realize of the state as it is now: the revision realized and what changed.
Apply = Callable[[], "tuple[int, Changes]"]


def realize_state(state: Path) -> Apply:
    """``sdn realize --state STATE`` (the whole state, every cluster), as an :data:`Apply`."""

    def apply() -> tuple[int, Changes]:
        from sdn.dataplane.realize import realize
        from sdn.model import Inventory
        from sdn.policy.firewall import Firewall
        from sdn.query import QueryIndex

        with ExitStack() as stack:
            def load() -> tuple[Inventory, int, Firewall]:
                index = stack.enter_context(QueryIndex.open(state))
                return index.inventory(), index.key.revision, index.dfw()

            outcome = realize(str(state), load)
        return outcome.realized.revision, outcome.changes

    return apply


def declare(m: Metrics) -> None:
    """The realize metrics (declared only when ``--realize`` is on)."""
    m.describe("ncp_realizes_total", "counter", "Data-plane realizes run, by outcome")
    m.describe("ncp_realize_seconds", "histogram", "Time of one data-plane realize",
               buckets=BUCKETS)
    m.describe("ncp_realize_changes_total", "counter",
               "Kernel objects a realize changed, by change (created, updated, deleted)")


class Realizer:
    """Realizes the revision the last pass left, one realize at a time (module docs)."""

    def __init__(self, apply: Apply, metrics: Metrics, stop: threading.Event) -> None:
        self.apply = apply
        self.metrics = metrics
        self.stop = stop
        declare(metrics)
        self._cond = threading.Condition()
        self._owed: int | None = None  # the revision the latest pass left, not yet taken
        self._busy = False
        #: The state revision the data plane holds (None: none realized by this run).
        self.realized: int | None = None
        #: Realizes run (ok or not).
        self.realizes = 0
        #: Why the last realize failed (None: it did not).
        self.last_error: str | None = None

    def owe(self, revision: int) -> None:
        """A pass landed and left the state at ``revision`` (called by the worker)."""
        with self._cond:
            self._owed = revision
            self._cond.notify_all()

    def wake(self) -> None:
        """Let the thread see the stop."""
        with self._cond:
            self._cond.notify_all()

    def run(self) -> None:
        """The thread, until stop; a realize under way finishes first."""
        while True:
            with self._cond:
                while self._owed is None and not self.stop.is_set():
                    self._cond.wait()
                if self.stop.is_set():
                    return
                revision, self._owed = self._owed, None
                if revision == self.realized:
                    self._cond.notify_all()
                    continue
                self._busy = True
            try:
                self._realize()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _realize(self) -> None:
        t0 = time.perf_counter()
        try:
            revision, changes = self.apply()
        except Exception as err:  # any failure: logged, retried after the next pass
            self.realizes += 1
            code = str(getattr(err, "code", type(err).__name__))
            self.last_error = str(err)
            self.metrics.inc("ncp_realizes_total", outcome="error")
            self.metrics.inc("ncp_errors_total", code=code)
            log.error("realize failed (%s): %s", code, err)
            return
        elapsed = time.perf_counter() - t0
        self.realizes += 1
        self.realized, self.last_error = revision, None
        self.metrics.inc("ncp_realizes_total", outcome="ok")
        self.metrics.observe("ncp_realize_seconds", elapsed)
        for what, n in changes.to_json().items():
            self.metrics.inc("ncp_realize_changes_total", float(n), change=what)
        log.info("realized state revision %d in %.2fs: %d created, %d updated, %d deleted "
                 "(kernel objects)", revision, elapsed, changes.created, changes.updated,
                 changes.deleted)

    def wait_settled(self, timeout: float) -> bool:
        """Block until nothing is owed and no realize runs (or the timeout); whether so."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._owed is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True
