"""The write-back queue: the passes' results, written to Kubernetes on a thread of its own.

The thread is there so that the worker never waits for the API: after a burst, 10,000 pod
annotations take seconds to write. Passes hand their results over in order
(:meth:`WriteBack.queue_full`, :meth:`WriteBack.queue_changes`); a full pass's result
supersedes everything queued before it, since the :class:`~ncp.live.statuswriter.StatusWriter`
compares all of it with the objects as they are. Only the leader queues anything.

While the worker has changes not yet applied (a burst), the writer waits for it, up to
``WRITE_DEFER`` seconds, before each result and between chunks of patches: the state
first, then its status. Writing back competes with reconciling for the interpreter, and a
burst's status is rewritten by the next full result anyway.

Retry: a patch that failed leaves the writer ``failed``; in a quiet time
(:mod:`ncp.live.chores`) :meth:`WriteBack.retry_failed` queues the last full result again,
once the writer's backoff allows, to be compared with the objects as they are by then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ncp.live.applied import AppliedVersion
from ncp.live.cache import ClusterCache
from ncp.live.statuswriter import StatusWriter
from ncp.objects import ObjectKey
from ncp.reconcile.incremental import Applied
from ncp.reconcile.sync import SyncReport

# The runtime's log lines have always carried this name (log lines are an outside contract).
log = logging.getLogger("ncp.running")

#: The longest the status writer waits for the worker to catch up with a burst.
WRITE_DEFER = 2.0


@dataclass(frozen=True)
class FullResult:
    """A full pass's report (a copy: the worker goes on merging later passes into its own)."""

    report: SyncReport


@dataclass(frozen=True)
class ChangesResult:
    """An incremental batch: what it applied, and the changed objects as the pass saw them."""

    applied: Applied
    objects: Mapping[ObjectKey, dict[str, Any] | None]


Result = FullResult | ChangesResult


class WriteBack:
    """The queue between the worker and the writer thread (module docstring)."""

    def __init__(self, writer: StatusWriter, cache: ClusterCache, applied: AppliedVersion,
                 stop: threading.Event, *, may_write: Callable[[], bool],
                 worker_alive: Callable[[], bool]) -> None:
        """``may_write``: whether this replica leads; ``worker_alive``: whether passes may
        still queue results (at stop, the writer leaves once the worker's last pass has
        queued what it had)."""
        self.writer = writer
        self.cache = cache
        self.applied = applied
        self.stop = stop
        self.may_write = may_write
        self.worker_alive = worker_alive
        writer.pause = self.let_the_state_lead
        self._queue: deque[Result] = deque()
        self._changed = threading.Condition()
        self._writing = False
        #: Results written (for tests and benchmarks).
        self.written = 0

    # --- the worker's side ---------------------------------------------------------------
    def queue_full(self, report: SyncReport) -> None:
        """Hand over a full pass's report; it covers whatever was queued before."""
        if self.may_write():
            self._put(FullResult(_copy_report(report)))

    def queue_changes(self, applied: Applied,
                      objects: Mapping[ObjectKey, dict[str, Any] | None]) -> None:
        """Hand over an incremental batch's result."""
        if self.may_write():
            self._put(ChangesResult(applied, objects))

    def retry_failed(self, report: SyncReport | None) -> None:
        """Queue ``report`` (the last full one) again if a write failed and the writer's
        backoff has passed; nothing while a result is being written."""
        writer = self.writer
        if writer.failed and report is not None and time.monotonic() >= writer.retry_at \
                and not self._writing:
            log.info("retrying the status writes that failed")
            writer.failed = False
            self.queue_full(report)

    def _put(self, item: Result) -> None:
        with self._changed:
            if isinstance(item, FullResult):
                self._queue.clear()  # it compares everything: what was queued is covered
            self._queue.append(item)
            self._changed.notify_all()

    # --- the writer thread -----------------------------------------------------------------
    def run(self) -> None:
        """The writer thread: the queued results, in order; at stop, what is queued still
        goes out (within the runner's stop deadline)."""
        while (item := self._next()) is not None:
            self._write(item)

    def _next(self) -> Result | None:
        """The next result to write, once the state leads; None when it is time to go."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._queue) or self.stop.is_set(),
                                       timeout=1.0)
                if not self._queue:
                    if self.stop.is_set() and not self.worker_alive():
                        return None  # the worker's last pass has queued what it had
                    if self.stop.is_set():
                        self._changed.wait(0.05)
                    continue
            self.let_the_state_lead()
            with self._changed:
                self._writing = True
                return self._queue.popleft()

    def _write(self, item: Result) -> None:
        writer = self.writer
        try:
            if isinstance(item, FullResult):
                writer.write(item.report, self.cache.snapshot()[1])
                if not writer.failed:
                    writer.reset_backoff()
            else:
                writer.write_changes(item.applied, item.objects)
        except Exception:  # a bug must not end write-back for good
            log.exception("status write-back failed")
            writer.failed = True
        finally:
            with self._changed:
                self._writing = False
                self.written += 1
                self._changed.notify_all()

    def let_the_state_lead(self) -> None:
        """While the worker has changes not yet applied, wait for it, up to
        ``WRITE_DEFER`` seconds (module docstring)."""
        self.applied.wait_caught_up(lambda: self.cache.version, self.stop.is_set,
                                    WRITE_DEFER)

    # --- for the runner and its callers ------------------------------------------------------
    def wake(self) -> None:
        """Wake the writer thread (to see that it must stop)."""
        with self._changed:
            self._changed.notify_all()

    @property
    def pending(self) -> bool:
        """Whether the writer has results queued or in hand."""
        with self._changed:
            return bool(self._queue) or self._writing

    def wait_written(self, timeout: float) -> bool:
        """Block until the writer has nothing queued or in hand (or the timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._writing,
                                          timeout=timeout)


def _copy_report(report: SyncReport) -> SyncReport:
    """A copy the writer thread can read while the worker merges later passes into the
    original (the dicts it reads are copied; their values are never changed in place)."""
    return replace(report, problems=list(report.problems),
                   annotations=dict(report.annotations),
                   pod_annotations=dict(report.pod_annotations),
                   service_annotations=dict(report.service_annotations),
                   ingress_annotations=dict(report.ingress_annotations),
                   lb_vips=dict(report.lb_vips), ingress_vips=dict(report.ingress_vips))
