"""The host-global ARP limit (pure, on a fake ``/proc/sys``): raised only when a
realization needs more neighbours than the soft limit, the first originals kept through
later raises, and put back at teardown unless someone changed it since."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdn.dataplane.kernel import raise_arp_limit, restore_arp_limit

LIMITS = {"gc_thresh1": 128, "gc_thresh2": 512, "gc_thresh3": 1024}


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    folder = tmp_path / "net/ipv4/neigh/default"
    folder.mkdir(parents=True)
    for name, value in LIMITS.items():
        (folder / name).write_text(f"{value}\n")
    return tmp_path


def _limits(root: Path) -> dict[str, int]:
    return {n: int((root / "net/ipv4/neigh/default" / n).read_text()) for n in LIMITS}


def test_a_small_realization_leaves_the_limits(proc: Path) -> None:
    assert raise_arp_limit(512, None, root=proc) is None
    assert _limits(proc) == LIMITS


def test_a_big_one_raises_them_and_teardown_puts_them_back(proc: Path) -> None:
    kept = raise_arp_limit(10_108, None, root=proc)
    assert _limits(proc) == {"gc_thresh1": 128, "gc_thresh2": 16384, "gc_thresh3": 32768}
    assert kept is not None and kept["original"] == LIMITS
    again = raise_arp_limit(40_000, kept, root=proc)  # a later, bigger realize
    assert again is not None and again["original"] == LIMITS
    assert _limits(proc)["gc_thresh2"] == 65536
    restore_arp_limit(again, root=proc)
    assert _limits(proc) == LIMITS


def test_a_limit_someone_changed_since_is_left_alone(proc: Path) -> None:
    kept = raise_arp_limit(2_000, None, root=proc)
    (proc / "net/ipv4/neigh/default/gc_thresh3").write_text("99999")
    restore_arp_limit(kept, root=proc)
    assert _limits(proc) == {"gc_thresh1": 128, "gc_thresh2": 512, "gc_thresh3": 99999}
