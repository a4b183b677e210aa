"""The write-back queue (:mod:`ncp.live.writeback`) on its own, with a recording status
writer: a full result supersedes what was queued, only the leader queues, the writer reads
a copy, a failing write does not end write-back, and a failed write is queued again once
its backoff has passed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ncp.live.applied import AppliedVersion
from ncp.live.cache import ClusterCache
from ncp.live.writeback import WriteBack
from ncp.reconcile.incremental import Applied
from ncp.reconcile.sync import SyncReport


class Recorder:
    """A StatusWriter stand-in: records what it is asked to write."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail
        self.failed = False
        self.retry_at = 0.0
        self.backoff_resets = 0
        self.pause: Any = None

    def write(self, report: SyncReport, snapshot: Any) -> int:
        if self.fail:
            raise RuntimeError("a bug in the writer")
        self.calls.append(("full", dict(report.pod_annotations)))
        return 0

    def write_changes(self, applied: Applied, objects: Mapping[Any, Any]) -> int:
        self.calls.append(("changes", applied.revision))
        return 0

    def reset_backoff(self) -> None:
        self.backoff_resets += 1


class Harness:
    def __init__(self, writer: Recorder, *, leader: bool = True) -> None:
        self.writer = writer
        self.stop = threading.Event()
        self.worker_alive = True
        self.wb = WriteBack(writer, ClusterCache(), AppliedVersion(),  # type: ignore[arg-type]
                            self.stop, may_write=lambda: leader,
                            worker_alive=lambda: self.worker_alive)
        self.thread = threading.Thread(target=self.wb.run, daemon=True)

    def drain(self) -> None:
        """Run the writer thread until everything queued is written, then stop it."""
        self.thread.start()
        assert self.wb.wait_written(timeout=10)
        self.stop.set()
        self.worker_alive = False
        self.wb.wake()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness(Recorder())
    yield h
    h.stop.set()
    h.worker_alive = False


def report(pod_annotation: str) -> SyncReport:
    return SyncReport(cluster="c", pod_annotations={("ns", "p"): {"k": pod_annotation}})


def test_a_full_result_supersedes_what_was_queued_before_it(harness: Harness) -> None:
    harness.wb.queue_changes(Applied(revision=1), {})
    harness.wb.queue_full(report("one"))
    harness.wb.queue_changes(Applied(revision=2), {})
    harness.wb.queue_full(report("two"))
    harness.wb.queue_changes(Applied(revision=3), {})
    assert harness.wb.pending
    harness.drain()
    assert harness.writer.calls == [("full", {("ns", "p"): {"k": "two"}}), ("changes", 3)]
    assert harness.wb.written == 2 and not harness.wb.pending
    assert harness.writer.backoff_resets == 1  # the full write went through


def test_the_writer_reads_a_copy_of_the_report(harness: Harness) -> None:
    """The worker goes on merging incremental batches into its own report."""
    mine = report("queued")
    harness.wb.queue_full(mine)
    mine.pod_annotations[("ns", "p")] = {"k": "merged later"}
    harness.drain()
    assert harness.writer.calls == [("full", {("ns", "p"): {"k": "queued"}})]


def test_a_standby_queues_nothing() -> None:
    h = Harness(Recorder(), leader=False)
    h.wb.queue_full(report("x"))
    h.wb.queue_changes(Applied(revision=1), {})
    assert not h.wb.pending
    h.drain()
    assert h.writer.calls == []


def test_a_failing_write_marks_the_writer_failed_and_write_back_goes_on() -> None:
    h = Harness(Recorder(fail=True))
    h.wb.queue_full(report("x"))
    h.wb.queue_changes(Applied(revision=7), {})
    h.drain()
    assert h.writer.failed and h.wb.written == 2
    assert h.writer.calls == [("changes", 7)]


def test_a_failed_write_is_queued_again_once_its_backoff_has_passed(harness: Harness) -> None:
    writer = harness.writer
    harness.wb.retry_failed(report("x"))
    assert not harness.wb.pending  # nothing failed: nothing to retry
    writer.failed, writer.retry_at = True, time.monotonic() + 60
    harness.wb.retry_failed(report("x"))
    assert not harness.wb.pending and writer.failed  # not yet
    writer.retry_at = time.monotonic() - 1
    harness.wb.retry_failed(None)
    assert not harness.wb.pending  # no full report to write again
    harness.wb.retry_failed(report("again"))
    assert harness.wb.pending and not writer.failed
    harness.drain()
    assert writer.calls == [("full", {("ns", "p"): {"k": "again"}})]
