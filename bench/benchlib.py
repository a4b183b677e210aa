"""What every benchmark script shares: the command line (:class:`BenchParser`), the
fields every JSON line ends with (:func:`run_info`, :func:`emit`), the source revision a
figure belongs to, peak memory, nearest-rank percentiles, running a case in a fresh
interpreter. (``bench/`` is no package; scripts import this module through their own
folder on ``sys.path``.)"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The cluster settings of the generated clusters (blocks and pools for 25,000 namespaces).
DEFAULT_CONFIG = Path(__file__).resolve().parent / "large-cluster.yaml"
#: The size options, in the order :meth:`BenchParser.add_sizes` takes their defaults.
SIZES = ("namespaces", "pods", "policies")


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


def stop(proc: subprocess.Popen[Any], grace: float) -> None:
    """End a server the bench started: SIGTERM, then SIGKILL after ``grace`` seconds;
    waited for either way."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_info() -> dict[str, Any]:
    """The fields that say where a figure was measured: ``machine`` and ``revision``."""
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "revision": source_revision()}


def emit(line: dict[str, Any]) -> None:
    """Print one result line (JSON) on stdout, at once."""
    print(json.dumps(line), flush=True)


class BenchParser(argparse.ArgumentParser):
    """The command line the benchmark scripts share; each adds its own options with
    ``add_argument`` as usual.

    Every script has ``--seed`` (1), and ``--cases`` (a comma list of ``cases``, all by
    default) when it has cases. The ``add_*`` methods add the options several scripts
    have, and :meth:`resolve` (on the parent side) turns them into values: the list of
    cases, sizes and repeats that ``--scale`` left open, the lower bounds checked, the
    config path made absolute. ``child`` adds the hidden ``--child CASE`` of a script
    that runs each case in a fresh interpreter (:func:`run_child`).
    """

    def __init__(self, description: str, *, cases: Sequence[str] = (),
                 more_cases: Sequence[str] = (), child: bool = False) -> None:
        super().__init__(description=description)
        self._cases = (*cases, *more_cases)
        self._bounds: dict[str, tuple[str, float]] = {}
        self._scales: dict[str, dict[str, int]] = {}
        self.add_argument("--seed", type=int, default=1, help="the generator's seed (1)")
        if cases:
            self.add_argument("--cases", default=",".join(cases),
                              help=f"comma-separated subset of {','.join(cases)}")
        if child:
            self.add_argument("--child", help=argparse.SUPPRESS)

    def add_bounded(self, flag: str, at_least: float, **kwargs: Any) -> None:
        """An option whose value :meth:`resolve` checks is at least ``at_least``."""
        action = self.add_argument(flag, **kwargs)
        self._bounds[action.dest] = (flag, at_least)

    def add_sizes(self, default: Sequence[int], *, large: Sequence[int] | None = None,
                  full: Sequence[int] | None = None, at_least: Sequence[int] = (1, 1, 0),
                  what: str = "the cluster's") -> None:
        """``--namespaces``, ``--pods`` and ``--policies`` (as many as ``default`` has).

        With ``large`` the options default to ``--scale`` (``default``, ``large`` and, when
        ``full`` is given, ``full``): an option left out takes the chosen scale's value.
        ``full`` may have more sizes than ``default`` (a policy count for a script whose
        default cluster has none).
        """
        names = SIZES[:len(default)]
        extra = SIZES[len(default):len(full)] if full is not None else ()
        for name, value, low in zip(names, default, at_least, strict=False):
            if large is None:
                self.add_bounded(f"--{name}", low, type=int, default=value,
                                 help=f"{what} {name} ({value})")
            else:
                self.add_bounded(f"--{name}", low, type=int, default=None,
                                 help=f"{what} {name} ({value}; --scale large: "
                                      f"{large[SIZES.index(name)]})")
        for name in extra:
            self.add_bounded(f"--{name}", 0, type=int, default=None,
                             help=f"{what} {name} (0; --scale full: "
                                  f"{full[SIZES.index(name)] if full else 0})")
        if large is not None:
            self._scales.setdefault("default", {}).update(zip(names, default, strict=True))
            self._scales.setdefault("large", {}).update(zip(names, large, strict=True))
            for scale in ("default", "large"):
                self._scales[scale].update(dict.fromkeys(extra, 0))
            shown = " / ".join(f"{large[SIZES.index(n)]} {n}" for n in names)
            choices = ["default", "large"]
            if full is not None:
                self._scales.setdefault("full", {}).update(
                    zip((*names, *extra), full, strict=True))
                choices.append("full")
                shown += "; full: " + " / ".join(
                    f"{v} {n}" for n, v in zip((*names, *extra), full, strict=True))
            self.add_argument("--scale", choices=choices, default="default",
                              help=f"large: {shown}")

    def add_shapes(self) -> None:
        """``--shapes simple|realistic``: the generator's policy shapes
        (:mod:`topologies.shapes`); ``realistic`` by default at ``--scale full``, else
        ``simple``."""
        self.add_argument("--shapes", choices=["simple", "realistic"], default=None,
                          help="the generated policies' shapes (simple; realistic with "
                               "--scale full)")
        for scale in self._scales:
            self._scales[scale]["shapes"] = "realistic" if scale == "full" else "simple"

    def add_repeat(self, default: int, *, large: int | None = None,
                   help: str = "timed runs per case") -> None:
        """``--repeat`` (at least 1); with ``large``, ``--scale large`` (and ``full``)
        changes the default."""
        if large is None:
            self.add_bounded("--repeat", 1, type=int, default=default,
                             help=f"{help} ({default})")
            return
        self.add_bounded("--repeat", 1, type=int, default=None,
                         help=f"{help} ({default}; {large} with --scale large or full)")
        self._scales.setdefault("default", {})["repeat"] = default
        self._scales.setdefault("large", {})["repeat"] = large
        self._scales.setdefault("full", {})["repeat"] = large

    def add_config(self) -> None:
        """``--config``: the cluster settings (``bench/large-cluster.yaml``)."""
        self.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                          help="cluster settings (default bench/large-cluster.yaml)")

    def add_keep(self) -> None:
        """``--keep``: keep the temporary folder."""
        self.add_argument("--keep", action="store_true", help="keep the temporary folder")

    def add_profile(self, help: str) -> None:
        """``--profile``: a cProfile on stderr (of what, ``help`` says)."""
        self.add_argument("--profile", action="store_true", help=help)

    def add_verbose(self) -> None:
        """``--verbose``: ncp's INFO logs on stderr."""
        self.add_argument("--verbose", action="store_true", help="ncp's INFO logs on stderr")

    def add_timeout(self, default: float) -> None:
        """``--timeout``: how long any one wait may take before the case fails."""
        self.add_argument("--timeout", type=float, default=default,
                          help=f"seconds any one wait may take before the case fails "
                               f"({default:g})")

    def resolve(self, args: argparse.Namespace) -> None:
        """The parent side's values, in place: ``cases`` a list (unknown names are an
        error), sizes and ``repeat`` left open taken from ``--scale``, every lower bound
        checked (one error naming each option out of bounds), ``config`` absolute."""
        if self._cases:
            args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
            unknown = sorted(set(args.cases) - set(self._cases))
            if unknown:
                self.error(f"unknown case(s): {', '.join(unknown)}; choose from "
                           f"{', '.join(self._cases)}")
        for dest, value in self._scales.get(getattr(args, "scale", ""), {}).items():
            if getattr(args, dest, 0) is None:
                setattr(args, dest, value)
        low = [f"{flag} must be >= {bound:g}" for dest, (flag, bound) in self._bounds.items()
               if (getattr(args, dest) or 0) < bound]
        if low:
            self.error(", ".join(low))
        if isinstance(getattr(args, "config", None), Path):
            args.config = args.config.resolve()


@contextlib.contextmanager
def workspace(prefix: str, *, keep: bool, log: Callable[[str], None]) -> Iterator[Path]:
    """A temporary folder for one bench run: removed afterwards, or kept (and said so) with
    ``--keep`` so that its manifests and states can be looked at."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
