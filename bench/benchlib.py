"""What every benchmark script shares: the source revision a figure belongs to, peak
memory, nearest-rank percentiles, running a case in a fresh interpreter. (``bench/`` is
no package; scripts import this module through their own folder on ``sys.path``.)"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def source_revision(root: Path = ROOT) -> str:
    """``$BENCH_REVISION``, else the commit ``.git/HEAD`` names (read without running git),
    else ``"unknown"``."""
    env = os.environ.get("BENCH_REVISION")
    if env:
        return env
    git = root / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: PATH"
            git = (root / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:12]
        ref = head.split(":", 1)[1].strip()
        common = git / "commondir"
        bases = [git, (git / common.read_text().strip()).resolve() if common.is_file() else git]
        for base in bases:
            loose = base / ref
            if loose.is_file():
                return loose.read_text().strip()[:12]
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref:
                        return parts[0][:12]
    except (OSError, IndexError):
        pass
    return "unknown"


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """``ru_maxrss`` of ``who`` (RUSAGE_SELF or RUSAGE_CHILDREN) in MiB."""
    raw = resource.getrusage(who).ru_maxrss
    kib = raw / 1024 if sys.platform == "darwin" else raw  # macOS reports bytes
    return round(kib / 1024, 1)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank ``q`` percentile (0 < q <= 100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    return percentile(values, 95)


def run_child(script: str | Path, case: str, args: Sequence[str], *,
              log: Callable[[str], None], paths: Sequence[Path] = ()) -> dict[str, Any] | None:
    """Run ``script --child CASE ARGS`` in a fresh interpreter (the repository and
    ``paths`` first on its ``PYTHONPATH``) and return the JSON object on the last line of
    its stdout; None, logged, when it failed (its stderr went through to ours)."""
    cmd = [sys.executable, str(Path(script).resolve()), "--child", case, *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), *map(str, paths), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=False)
    if proc.returncode != 0:
        log(f"case {case} FAILED (exit {proc.returncode}); see the error above")
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result
