"""Manifests parsed in worker processes give exactly what a serial read gives: the same
objects, problems and notes in the same order (duplicates across files resolved the same
way, a broken file dropped whole), and the split keeps every file once, in order."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncp.sources import loading
from ncp.sources.manifests import read_manifests

_POD = """apiVersion: v1
kind: Pod
metadata: {{name: p{n}, namespace: ns{ns}, labels: {{app: a{n}}}}}
spec: {{containers: [{{name: c, image: i}}]}}
"""


def _write_cluster(root: Path) -> None:
    for f in range(7):
        docs = [_POD.format(n=n % 25, ns=f % 3) for n in range(f * 10, f * 10 + 12)]
        (root / f"f{f}.yaml").write_text("---\n".join(docs))
    (root / "broken.yaml").write_text("kind: Pod\nmetadata: {name: [\n")
    (root / "list.json").write_text(
        '{"kind": "List", "items": [{"kind": "Namespace", "apiVersion": "v1", '
        '"metadata": {"name": "ns9"}}]} {"kind": "ConfigMap", "metadata": {"name": "c"}}')
    (root / "bad.json").write_text('{"kind": ')


@pytest.mark.parametrize("workers", ["1", "3"])
def test_parallel_parse_reads_exactly_what_a_serial_read_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str) -> None:
    _write_cluster(tmp_path)
    monkeypatch.setenv("NCP_PARSE_WORKERS", "0")
    serial = read_manifests([tmp_path])
    monkeypatch.setattr(loading, "PARALLEL_BYTES", 0)
    monkeypatch.setenv("NCP_PARSE_WORKERS", workers)
    files = sorted(tmp_path.iterdir())
    assert loading._workers(len(files), 1) == int(workers)  # the parallel path is taken
    parallel = read_manifests([tmp_path])
    assert parallel == serial
    assert {p.code for p in serial.problems} >= {"MALFORMED_MANIFEST", "DUPLICATE_OBJECT"}


def test_no_worker_while_other_threads_run(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork copies only the calling thread (``ncp run`` reads manifests in one)."""
    _write_cluster(tmp_path)
    monkeypatch.setattr(loading, "PARALLEL_BYTES", 0)
    monkeypatch.setenv("NCP_PARSE_WORKERS", "2")
    count = len(list(tmp_path.iterdir()))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert loading._workers(count, 1) == 0
    finally:
        stop.set()
        other.join()
    assert loading._workers(count, 1) == 2


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=2, max_size=30), st.integers(1, 4))
def test_the_split_keeps_every_file_once_in_order(sizes: list[int], workers: int) -> None:
    files = [Path(f"/nonexistent/{n:03}") for n in range(len(sizes))]
    mine, theirs = loading._split(files, sizes, workers)
    assert [*mine, *(f for run in theirs for f in run)] == files
    assert len(theirs) <= workers and all(theirs)
