"""The house rules as tests: ruff (complexity included), mypy (strict on sdn, topologies,
ncp.live and ncp.sources) and the import-linter contracts.

They run as part of the one test command so that CI and a developer see the same thing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([sys.executable, "-m", "ruff", "check", "."], id="ruff"),
        pytest.param([sys.executable, "-m", "mypy", "sdn", "ncp", "topologies"], id="mypy"),
        pytest.param(["lint-imports"], id="import-linter"),
    ],
)
def test_house_rules(command: list[str]) -> None:
    exe = Path(sys.executable).parent / command[0]
    if command[0] == "lint-imports":
        command = [str(exe) if exe.exists() else command[0]]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
