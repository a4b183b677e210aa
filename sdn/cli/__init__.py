"""The ``sdn`` command: read and question the manager's state.

Subcommands: ``show KIND``, ``ipam`` (``show``, ``check``), ``profile`` (``create``,
``list``, ``show``, ``delete``), ``topology`` and ``validate``. Commands that only read
open the state read-only and never write it. Exit codes: 0 success, 1 the answer is "a
problem was found" (``ipam check``, ``validate``), 2 unusable arguments or state.
"""

from __future__ import annotations

from sdn.commandline import guard_imports

_imports_done = guard_imports("sdn")

from sdn.cli.main import main  # noqa: E402

_imports_done()  # Ctrl-C is main()'s again

__all__ = ["main"]
