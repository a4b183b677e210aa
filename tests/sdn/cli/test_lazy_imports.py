"""``--help``, ``--version``-less usage errors and each subcommand's ``--help`` import
nothing heavy (issue 12: ``sdn --help`` took 0.5 to 0.9 s, all of it imports).

Each command line runs in a fresh interpreter that prints which of the heavy modules it
loaded; none may be there. Timing is ``bench/bench_startup.py``'s business: this test
only keeps the imports from creeping back, whatever the machine.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdn.commandline import importing

ROOT = Path(__file__).resolve().parents[3]

#: What parsing a command line must not load: the libraries (and the standard library's
#: database and package-metadata modules) that the commands' work needs.
FORBIDDEN = ("kubernetes", "networkx", "pydantic", "pydantic_core", "rich", "yaml",
             "sqlite3", "importlib.metadata", "fastapi", "starlette", "uvicorn")

#: id -> (program, argv): the help of every level, and misused command lines.
COMMANDS: dict[str, tuple[str, list[str]]] = {
    "sdn --help": ("sdn", ["--help"]),
    "sdn show --help": ("sdn", ["show", "--help"]),
    "sdn traceflow --help": ("sdn", ["traceflow", "--help"]),
    "sdn reach --help": ("sdn", ["reach", "--help"]),
    "sdn ipam show --help": ("sdn", ["ipam", "show", "--help"]),
    "sdn profile create --help": ("sdn", ["profile", "create", "--help"]),
    "sdn apply --help": ("sdn", ["apply", "--help"]),
    "sdn daemon start --help": ("sdn", ["daemon", "start", "--help"]),
    "sdn realize --help": ("sdn", ["realize", "--help"]),
    "sdn verify --help": ("sdn", ["verify", "--help"]),
    "sdn serve --help": ("sdn", ["serve", "--help"]),
    "sdn verify --sample 0": ("sdn", ["verify", "--sample", "0"]),
    "sdn (no command)": ("sdn", []),
    "sdn show bogus": ("sdn", ["show", "bogus"]),
    "sdn reach --port 0": ("sdn", ["reach", "--port", "0"]),
    "sdn bogus": ("sdn", ["bogus"]),
    "ncp --help": ("ncp", ["--help"]),
    "ncp sync --help": ("ncp", ["sync", "--help"]),
    "ncp run --help": ("ncp", ["run", "--help"]),
    "ncp sync (no --cluster)": ("ncp", ["sync"]),
    "ncp run --metrics-port x": ("ncp", ["run", "--metrics-port", "x"]),
}

_PROBE = """
import json, sys
from {package}.cli import main
code = main({argv!r})
print(json.dumps([code, sorted(m for m in sys.modules if m in {forbidden!r}
                               or m.split(".")[0] in {forbidden!r})]))
"""


@functools.cache
def _loaded(case: str) -> tuple[int, list[str]]:
    prog, argv = COMMANDS[case]
    code = _PROBE.format(package=prog, argv=argv, forbidden=FORBIDDEN)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    exit_code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return exit_code, modules


@pytest.mark.parametrize(("case", "module"), [
    pytest.param(c, m, id=f"{c} / {m}") for c in COMMANDS for m in FORBIDDEN])
def test_parsing_the_command_line_imports_nothing_heavy(case: str, module: str) -> None:
    exit_code, loaded = _loaded(case)
    assert exit_code in (0, 2)
    assert not [m for m in loaded if m == module or m.startswith(module + ".")], loaded


def _sdn_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = importlib.import_module("sdn.cli.main")._parser()
    return parser


def _runs(parser: argparse.ArgumentParser) -> list[str]:
    """The ``module.function`` of every (sub)command's lazily imported run function."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                run = sub.get_default("run")
                if run is not None:
                    found.append(run.__qualname__)
                found += _runs(sub)
    return found


def test_every_lazy_command_names_a_function_that_exists() -> None:
    runs = set(_runs(_sdn_parser()))
    assert len(runs) >= 14
    for name in runs:
        module, _, function = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), name


def test_the_parsers_choices_are_their_modules_own() -> None:
    from sdn.cli import options, policy_cmd
    from sdn.dataplane.probe import PROBE_PROTOCOLS
    from sdn.model import KINDS
    from sdn.model.apishape import POOL_CHILD_KINDS
    from sdn.policy.flows import FORMATS
    from sdn.policy.lint import SEVERITIES
    from sdn.render.output import STRUCTURED

    assert tuple(KINDS) == options.KIND_NAMES
    assert POOL_CHILD_KINDS == options.CHILD_KIND_NAMES
    assert options.SEVERITIES == SEVERITIES
    assert options.PROTOCOLS == policy_cmd.PROTOCOLS
    assert options.VERIFY_PROTOCOLS == PROBE_PROTOCOLS
    assert options.STRUCTURED == STRUCTURED
    assert options.FLOW_FORMATS == FORMATS


def test_ctrl_c_during_a_commands_imports_is_taken_after_them() -> None:
    """The interrupt is held while the block imports and raised once it is done."""
    finished = False
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), importing():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here: it must not raise
        finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("output", ["json", "table"])
def test_show_loads_no_graph_library_and_json_no_table_library(tmp_path: Path,
                                                               output: str) -> None:
    """``sdn show`` needs the models and the store, not networkx (nor kubernetes); as JSON
    it needs neither rich nor yaml."""
    from sdn.store import Store

    state = tmp_path / "state.db"
    Store.open(state).close()
    code = _PROBE.format(package="sdn", forbidden=FORBIDDEN,
                         argv=["show", "segments", "-o", output, "--state", str(state)])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    exit_code, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert exit_code == 0, done.stderr
    heavy = {m.split(".")[0] for m in loaded}
    assert not heavy & {"networkx", "kubernetes"}, loaded
    if output == "json":
        assert not heavy & {"rich", "yaml"}, loaded
