"""The quiet chores (:mod:`ncp.live.chores`) on their own: the write-ahead log is
checkpointed every so many passes even without a quiet time, and a quiet time primes,
retries, checkpoints and collects, in that order, only what is owed."""

from __future__ import annotations

import pytest

from ncp.live.chores import CHECKPOINT_EVERY, QuietChores
from ncp.reconcile.sync import SyncReport


class Store:
    """A Store stand-in that counts checkpoints."""

    def __init__(self) -> None:
        self.checkpoints = 0

    def checkpoint(self) -> None:
        self.checkpoints += 1


def test_the_log_is_checkpointed_every_so_many_passes_even_without_quiet() -> None:
    chores, store = QuietChores(None), Store()
    for _ in range(CHECKPOINT_EVERY - 1):
        chores.pass_landed(store, full=False)  # type: ignore[arg-type]
    assert store.checkpoints == 0
    chores.pass_landed(store, full=False)  # type: ignore[arg-type]
    assert store.checkpoints == 1


class Retries:
    """A WriteBack stand-in: notes the retries asked for."""

    def __init__(self, done: list[str]) -> None:
        self.done = done

    def retry_failed(self, report: SyncReport | None) -> None:
        self.done.append(f"retry {report.cluster if report else None}")


def test_quiet_chores_prime_retry_checkpoint_and_collect_what_is_owed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    done: list[str] = []
    monkeypatch.setattr("gc.collect", lambda: done.append("collect") or 0)
    monkeypatch.setattr("gc.freeze", lambda: done.append("freeze"))
    monkeypatch.setattr("gc.unfreeze", lambda: done.append("unfreeze"))
    chores, store = QuietChores(Retries(done)), Store()  # type: ignore[arg-type]
    chores.pass_landed(store, full=True)  # type: ignore[arg-type]
    chores.run(store, prime=lambda: done.append("prime"),  # type: ignore[arg-type]
               report=SyncReport(cluster="c"))
    assert done == ["prime", "retry c", "unfreeze", "collect", "freeze"]
    assert store.checkpoints == 1
    done.clear()
    chores.run(store, prime=lambda: done.append("prime"),  # type: ignore[arg-type]
               report=SyncReport(cluster="c"))
    assert done == ["prime", "retry c"] and store.checkpoints == 1  # nothing else owed
