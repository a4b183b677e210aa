"""Printing helpers shared by the ``sdn`` and ``ncp`` commands: tables that fit the
terminal (rich), JSON and YAML."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.table import Table


class _PipeConsole(Console):
    """A console that lets a closed pipe (``... | head -1``) reach the command's exit
    conventions (:mod:`sdn.cli.entry`: exit 0) instead of rich's own ``SystemExit(1)``."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def console(stream: TextIO | None = None) -> Console:
    """A console on ``stream`` (stdout by default).

    On a terminal tables fold to its width; into a pipe or file lines are never folded,
    so ``grep`` and ``awk`` see whole rows.
    """
    out = stream or sys.stdout
    probe = Console(file=out)
    width = None if probe.is_terminal else 1000
    return _PipeConsole(file=out, highlight=False, soft_wrap=False, width=width)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "",
                stream: TextIO | None = None) -> None:
    """A compact table; long cells fold instead of widening the table past the screen."""
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False,
                  collapse_padding=True)
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out = console(stream)
    if title:
        out.print(title, style="bold", overflow="fold")
    out.print(table)


def print_json(data: Any, *, stream: TextIO | None = None) -> None:
    """Pretty JSON with a trailing newline."""
    out = stream or sys.stdout
    out.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def print_yaml(data: Any, *, stream: TextIO | None = None) -> None:
    """YAML in block style, keys in their given order."""
    out = stream or sys.stdout
    out.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
