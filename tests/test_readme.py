"""The README and the package docstrings keep up with the code: every kind ``sdn show``
takes is in its row, and every subpackage of ``sdn`` is named in the README's Layout and
in ``sdn/__init__.py``."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import ncp
import sdn
from sdn.model import KINDS
from sdn.model.apishape import POOL_CHILD_KINDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SUBPACKAGES = sorted(m.name for m in pkgutil.iter_modules(sdn.__path__) if m.ispkg)


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_show_row_lists_every_kind() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| `sdn show KIND"))
    listed = re.findall(r"`([a-z0-9-]+)`", row.split(" | ")[1])
    assert listed == [*KINDS, *POOL_CHILD_KINDS]


def test_layout_names_every_sdn_subpackage() -> None:
    sdn_part = section("Layout").split("`ncp/`", 1)[0]
    assert [p for p in SUBPACKAGES if f"`{p}`" not in sdn_part] == []


def test_sdn_docstring_names_every_subpackage() -> None:
    assert [p for p in SUBPACKAGES if f":mod:`sdn.{p}`" not in (sdn.__doc__ or "")] == []


def test_layout_names_every_ncp_subpackage() -> None:
    ncp_part = section("Layout").split("`ncp/`", 1)[1].split("`topologies/`", 1)[0]
    names = sorted(m.name for m in pkgutil.iter_modules(ncp.__path__)
                   if m.ispkg or m.name in ("objects", "cli"))
    assert [p for p in names if f"`{p}`" not in ncp_part] == []
