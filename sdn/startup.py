"""Ctrl-C while a command is still starting: one line and exit 130, not a traceback.

A command spends a good part of a second importing before its exit conventions
(:mod:`sdn.cli.entry`) are in place; an interrupt then would print Python's traceback.
The console-script modules (``sdn.cli``, ``ncp.cli``) call :func:`guard_imports` before
their imports and the function it returns after them. Nothing can have been written yet.
This module imports only the standard library, so it is itself quick to import.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType


def guard_imports(prog: str) -> Callable[[], None]:
    """Make Ctrl-C end ``prog`` quietly until the returned function restores the handler
    that was there (Python's own when there was none). Off the main thread signals are
    not ours to handle, and nothing is changed."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        print(f"{prog}: INTERRUPTED: stopped before writing anything", file=sys.stderr)
        raise SystemExit(130)

    try:
        previous = signal.signal(signal.SIGINT, stop)
    except ValueError:  # imported off the main thread
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGINT, previous if previous is not None
                      else signal.default_int_handler)

    return restore
