"""Printing helpers shared by the ``sdn`` and ``ncp`` commands: tables that fit the
terminal (rich), JSON and YAML.

rich and yaml are imported by the helpers that use them: a command that prints JSON
loads neither (rich alone takes tens of milliseconds to import).
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sdn.commandline import STRUCTURED, quiet_stdout
from sdn.errors import SdnError
from sdn.render.plain_table import plain_table

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["STRUCTURED", "console", "plain", "print_data", "print_json", "print_table",
           "print_text", "print_yaml", "write_output"]


#: How wide a table may be drawn into a pipe or a file before its cells fold.
PIPE_WIDTH = 1000
#: What makes rich take a stream for a terminal whatever ``isatty`` says (or not).
_TERMINAL_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE")


def surely_no_terminal(stream: TextIO | None = None) -> bool:
    """Whether rich would see ``stream`` (stdout by default) as no terminal, and so draw
    without styling at :data:`PIPE_WIDTH` columns, told without importing rich (tens of
    milliseconds, a tenth of a filtered ``sdn show``): a stream that says it is no
    terminal, with none of the variables that make rich think otherwise set, and no
    notebook or IDLE about. False when unsure: rich is then asked (a test holds this to
    rich's own answer)."""
    out = stream or sys.stdout
    if any(name in os.environ for name in _TERMINAL_VARIABLES) \
            or hasattr(builtins, "get_ipython") \
            or getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return False
    isatty = getattr(out, "isatty", None)
    try:
        return isatty is not None and not isatty()
    except ValueError:  # a closed stream
        return False


def console(stream: TextIO | None = None) -> Console:
    """A console on ``stream`` (stdout by default).

    On a terminal tables fold to its width; into a pipe or file lines are never folded,
    so ``grep`` and ``awk`` see whole rows. Styling (bold headers) only on a terminal,
    and never under ``NO_COLOR``.
    """
    from rich.console import Console

    out = stream or sys.stdout
    probe = Console(file=out)
    width = None if probe.is_terminal else PIPE_WIDTH
    return _console_class()(file=out, highlight=False, soft_wrap=False, width=width,
                            color_system=None if plain() else "auto")


@functools.cache
def _console_class() -> type[Console]:
    """rich's console, but a reader that went away (``| head``) is not rich's exit 1: the
    rest of the output goes nowhere and the command's own exit code stands
    (:func:`_reader_may_go`). Made when the first table is printed (rich is imported
    then)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError("the reader of stdout went away")

    return _Console


@contextmanager
def _reader_may_go(stream: TextIO | None) -> Iterator[None]:
    """Write, and if the reader of stdout went away (``sdn show ... | head -1``), send the
    rest of the output to /dev/null: the command goes on to its own exit code. (Any other
    stream's broken pipe is its owner's business, and raised.)"""
    try:
        yield
    except BrokenPipeError:
        if stream is not None and stream is not sys.stdout:
            raise
        quiet_stdout()


def plain() -> bool:
    """Whether to print without any terminal styling: ``NO_COLOR`` set to anything
    (no-color.org; we drop bold too, not only colours) or a ``dumb`` terminal."""
    return bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "",
                stream: TextIO | None = None) -> None:
    """A compact table; long cells fold instead of widening the table past the screen.

    Into a pipe or a file, a table of plain cells is written directly
    (:func:`~sdn.render.plain_table.plain_table`, the same bytes): rich's layout of
    10,000 rows takes seconds, and importing rich tens of milliseconds."""
    if surely_no_terminal(stream):
        text = plain_table(header, rows, title=title, width=PIPE_WIDTH)
        if text is not None:
            _write(text, stream)
            return
    rich_table(console(stream), header, rows, title=title, stream=stream)


def rich_table(out: Console, header: Sequence[str], rows: Sequence[Sequence[str]], *,
               title: str, stream: TextIO | None) -> None:
    """The table as rich draws it on ``out`` (a console on ``stream``)."""
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False,
                  collapse_padding=True)
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    with _reader_may_go(stream):
        if title:
            out.print(title, style="bold", overflow="fold")
        out.print(table)


def print_data(data: Any, output: str, *, stream: TextIO | None = None) -> None:
    """``data`` as JSON or YAML (``output`` one of :data:`STRUCTURED`)."""
    (print_yaml if output == "yaml" else print_json)(data, stream=stream)


def print_json(data: Any, *, stream: TextIO | None = None) -> None:
    """Pretty JSON with a trailing newline."""
    _write(json.dumps(data, indent=2, sort_keys=False) + "\n", stream)


def print_yaml(data: Any, *, stream: TextIO | None = None) -> None:
    """YAML in block style, keys in their given order."""
    import yaml  # only here: most output is a table or JSON

    _write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), stream)


def print_text(text: str, *, stream: TextIO | None = None) -> None:
    """Text as it is (a picture, a document)."""
    _write(text, stream)


def _write(text: str, stream: TextIO | None) -> None:
    out = stream or sys.stdout
    with _reader_may_go(stream):
        out.write(text)
        out.flush()  # a reader gone away is found here, not at the interpreter's exit


def write_output(path: Path, text: str) -> None:
    """Write a picture or report to ``path`` whole: into a temporary file beside it, then
    renamed, so an interrupted or failed write never leaves half a file.

    Raises:
        SdnError: ``OUTPUT_UNWRITABLE`` naming the path (missing folder, no permission).
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as err:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise SdnError(f"cannot write {path}: {err.strerror}", code="OUTPUT_UNWRITABLE",
                       obj=str(path)) from err
