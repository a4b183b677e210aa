"""Chores for quiet times, so that the next change does not pay for them.

When the worker finds nothing to do, it runs them in this order:

1. prime the incremental reconcile after a full pass (a pass over the state: seconds at
   10,000 pods), so that the next pod change does not wait for it;
2. queue again the status writes that failed
   (:meth:`~ncp.live.writeback.WriteBack.retry_failed`), to be compared with the objects
   as they are now;
3. copy the state's write-ahead log into it (a checkpoint): the worker's connection keeps
   the log from being checkpointed on every commit, which would cost each pass;
4. after a full pass, run a full garbage collection, then freeze what survives. A full pass
   leaves hundreds of thousands of long-lived objects, and Python's oldest-generation
   collection, which scans them all, once took 650 ms in the middle of a pod change.
   Collected here and frozen (``gc.freeze``), they are not scanned again until the next
   quiet time unfreezes and collects them.

A busy runner may never be quiet: every ``CHECKPOINT_EVERY`` passes the log is
checkpointed anyway, so that it cannot grow without bound.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from ncp.live.writeback import WriteBack
from ncp.reconcile.sync import SyncReport
from sdn.store import Store

#: Passes after which the state's write-ahead log is checkpointed even without a quiet time.
CHECKPOINT_EVERY = 1000


class QuietChores:
    """What is owed since the last quiet time, and paying it (module docstring)."""

    def __init__(self, writeback: WriteBack | None) -> None:
        self.writeback = writeback
        self._passes_since_checkpoint = 0
        self._collect = False  # a full pass ran since the last collection

    def pass_landed(self, store: Store, *, full: bool) -> None:
        """Count a pass whose state transaction landed; checkpoint if none was for long."""
        self._passes_since_checkpoint += 1
        self._collect = self._collect or full
        if self._passes_since_checkpoint >= CHECKPOINT_EVERY:
            store.checkpoint()  # never quiet for long: the log must not grow forever
            self._passes_since_checkpoint = 0

    def run(self, store: Store, *, prime: Callable[[], None],
            report: SyncReport | None) -> None:
        """Do the chores: ``prime`` readies the worker's incremental reconcile; ``report``
        is the last full result, for the status retry."""
        prime()
        if self.writeback is not None:
            self.writeback.retry_failed(report)
        if self._passes_since_checkpoint:
            store.checkpoint()
            self._passes_since_checkpoint = 0
        if self._collect:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._collect = False
