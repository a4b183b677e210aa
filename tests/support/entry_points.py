"""The checkout's own entry points, visible to ``importlib.metadata`` as an install of this
checkout would make them.

Why: ``sdn replay --candidate`` finds ncp's Kubernetes translator as an entry point
(``sdn.candidates``), which an installed package's metadata lists. Tests run from a
checkout whose package may have been installed before the entry point was declared; the
metadata written here is read from ``pyproject.toml`` itself, so a wrong declaration there
still fails the tests, and it is added only when the installed metadata lacks it.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def declared() -> dict[str, dict[str, str]]:
    """``[project.entry-points.GROUP]`` of ``pyproject.toml``: group -> name -> target."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {group: dict(points) for group, points in project.get("entry-points", {}).items()}


def missing() -> dict[str, dict[str, str]]:
    """The declared entry points the installed metadata does not list."""
    out: dict[str, dict[str, str]] = {}
    for group, points in declared().items():
        have = {ep.name: ep.value for ep in entry_points(group=group)}
        lacking = {n: v for n, v in points.items() if have.get(n) != v}
        if lacking:
            out[group] = lacking
    return out


def metadata_folder(parent: Path) -> Path | None:
    """A folder to put first on ``sys.path`` (or ``PYTHONPATH``) holding a distribution
    whose metadata lists the missing entry points (None: none is missing)."""
    lacking = missing()
    if not lacking:
        return None
    dist = parent / "nsx_sdn_checkout_entry_points-0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\n"
                                   "Name: nsx-sdn-checkout-entry-points\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{n} = {v}\n" for n, v in points.items()) + "\n"
        for group, points in lacking.items()))
    return parent
