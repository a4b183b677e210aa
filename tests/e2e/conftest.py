"""Shared helpers for the end-to-end tests: run ``ncp`` and ``sdn`` in-process.

Every command goes through the console-script entry points (``ncp.cli.main`` and
``sdn.cli.main``) with ``capsys`` capturing stdout and stderr. Every call gets an explicit
``--state`` inside ``tmp_path``; every ``ncp sync`` gets an explicit ``--now``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ncp.cli
import sdn.cli

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"
GUESTBOOK = TOPOLOGIES / "guestbook"
MULTI_TENANT = TOPOLOGIES / "multi-tenant"
PROFILES = TOPOLOGIES / "profiles"

#: The ``--now`` of every first sync; later syncs add seconds to it.
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Result:
    """One command's exit code and captured output."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


class Cli:
    """Runs ``ncp``/``sdn`` against one state file, capturing their output."""

    def __init__(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        self.capsys = capsys
        self.tmp = tmp_path
        self.state = tmp_path / "state" / "state.db"

    # --- raw entry points -----------------------------------------------------------
    def _run(self, main: Any, argv: Sequence[str]) -> Result:
        self.capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in argv])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ncp(self, *argv: object) -> Result:
        """``ncp ARGV...`` (the caller passes ``--state`` and ``--now`` as needed)."""
        return self._run(ncp.cli.main, [str(a) for a in argv])

    def sdn(self, *argv: object) -> Result:
        """``sdn ARGV...`` (the caller passes ``--state``)."""
        return self._run(sdn.cli.main, [str(a) for a in argv])

    # --- conveniences ---------------------------------------------------------------
    def sync(self, *clusters: Path | str, now: float = T0, state: Path | None = None,
             output: str = "json", extra: Sequence[object] = ()) -> Result:
        """``ncp sync --cluster C... --state S --now N -o OUTPUT [extra...]``."""
        argv: list[object] = ["sync"]
        for c in clusters:
            argv += ["--cluster", c]
        argv += ["--state", state or self.state, "--now", repr(float(now)), "-o", output,
                 *extra]
        return self.ncp(*argv)

    def show(self, kind: str, *filters: object, state: Path | None = None) -> list[Any]:
        """``sdn show KIND -o json [filters...]``, parsed; asserts exit 0."""
        res = self.sdn("show", kind, "-o", "json", "--state", state or self.state, *filters)
        assert res.code == 0, res.err
        data = res.json()
        assert isinstance(data, list)
        return data

    def show_text(self, kind: str, *filters: object, state: Path | None = None) -> str:
        """``sdn show KIND -o json`` as the exact text printed (for byte comparisons)."""
        res = self.sdn("show", kind, "-o", "json", "--state", state or self.state, *filters)
        assert res.code == 0, res.err
        return res.out

    def ipam(self, *extra: object, state: Path | None = None) -> dict[str, Any]:
        """``sdn ipam -o json``, parsed; asserts exit 0."""
        res = self.sdn("ipam", "-o", "json", "--state", state or self.state, *extra)
        assert res.code == 0, res.err
        data: dict[str, Any] = res.json()
        return data

    def copy_sample(self, sample: Path, name: str | None = None) -> Path:
        """A private copy of a sample folder (so files can be removed or added)."""
        dest = self.tmp / (name or sample.name)
        shutil.copytree(sample, dest)
        return dest

    # --- direct state reads (read-only; for "nothing was written" checks) -----------
    def revision(self, state: Path | None = None) -> int:
        """The state's revision from the sqlite ``meta`` table."""
        with sqlite3.connect(state or self.state) as db:
            row = db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        return int(row[0])

    def dump(self, state: Path | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table that a sync writes, for before/after comparisons."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with sqlite3.connect(state or self.state) as db:
            for table in ("meta", "objects", "holds", "profiles", "clusters", "k8s_status",
                          "k8s_objects", "problems"):
                out[table] = sorted(db.execute(f"SELECT * FROM {table}").fetchall(),  # noqa: S608
                                    key=repr)
        return out


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    """A :class:`Cli` whose state lives in ``tmp_path``."""
    return Cli(capsys, tmp_path)


def tags_of(obj: dict[str, Any]) -> dict[str, str]:
    """An NSX object's tags as ``{scope: tag}``."""
    return {t["scope"]: t["tag"] for t in obj["tags"]}


@pytest.fixture
def tags() -> Any:
    """:func:`tags_of`, as a fixture (test modules do not import conftest)."""
    return tags_of
