"""What every ``sdn`` and ``ncp`` command does around its own work: the exit conventions.

One place decides how a command ends, so that every command ends the same way:

* a coded error (:class:`~sdn.errors.SdnError`, or anything else with ``code`` and
  ``problems``) prints ``error: CODE object: message`` (one line per problem) on stderr
  and exits 2;
* Ctrl-C prints one line and exits 130 (128 + SIGINT, as shells report it). Writes are
  single SQLite transactions that an interrupt rolls back (see
  :meth:`sdn.store.Store.apply`), so the state is as before; the line says so, or, when
  the interrupt came during the commit itself, that the write landed whole;
* a reader that goes away (``sdn show ... | head -1``) is not an error: exit 0, and no
  complaint from Python when it flushes stdout at exit;
* anything else is a bug: one line naming the exception and exit 70 (``EX_SOFTWARE``);
  ``SDN_DEBUG=1`` prints the traceback as well.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

from sdn.errors import Interrupted

#: Exit codes shared by both commands.
EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 70, 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nsx-sdn")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def version_text(prog: str) -> str:
    """``prog VERSION`` for ``--version``."""
    return f"{prog} {_version()}"


def print_error(err: BaseException) -> None:
    """A coded error on stderr: ``error: CODE obj: message``, then one line per problem.

    When the problems say everything (an error that is only their carrier, or whose one
    problem repeats its headline), each problem is printed once, as its own ``error:``
    line. Every line is one line: a message that spans several is joined.
    """
    problems = [_one_line(str(p)) for p in getattr(err, "problems", None) or []]
    head = _one_line(str(err)) or type(err).__name__
    if problems and (not getattr(err, "obj", "") or problems == [head]):
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return
    print(f"error: {head}", file=sys.stderr)
    for line in problems:
        print(f"  {line}", file=sys.stderr)


def _one_line(text: str) -> str:
    """The first line of an error's text (where an error has more, they list its
    problems, which are printed from ``problems``)."""
    return text.partition("\n")[0].strip()


def quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it)
        pass


def guarded(prog: str, body: Callable[[], int], *,
            coded: tuple[type[BaseException], ...] = ()) -> int:
    """Run one command's ``body`` under the exit conventions above; returns the exit code.

    ``coded`` are further exception types that carry stable codes (``ncp`` passes
    :class:`~ncp.errors.NcpError`); :class:`~sdn.errors.SdnError` always is one.
    """
    from sdn.errors import SdnError

    handled: tuple[type[BaseException], ...] = (SdnError, *coded)
    try:
        return body()
    except handled as err:
        print_error(err)
        return EXIT_USAGE
    except Interrupted as stop:
        print(f"{prog}: INTERRUPTED: {stop.outcome}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"{prog}: INTERRUPTED: stopped before writing anything", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_OK
    except Exception as err:  # a bug, not bad input: say so in one line
        if os.environ.get("SDN_DEBUG"):
            traceback.print_exc()
        text = " ".join(str(err).split())
        print(f"error: INTERNAL_ERROR: {type(err).__name__}: {text} (a bug in {prog}; "
              "SDN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_BUG


def add_version(parser: argparse.ArgumentParser, prog: str) -> None:
    """``--version`` on a parser."""
    parser.add_argument("--version", action="version", version=version_text(prog))


class Parser(argparse.ArgumentParser):
    """argparse with the project's error shape: a misused command line is one line,
    ``error: BAD_ARGUMENT: <what>`` with a pointer to ``--help``, and exit 2 (argparse's
    own exit code for usage errors), instead of the usage block followed by the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: BAD_ARGUMENT: {self.prog}: {message} "
                              f"(see {self.prog} --help)\n")


def port_number(text: str) -> int:
    """An argparse type: a TCP/UDP/SCTP port, 1-65535."""
    value = _integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return value


def non_negative(text: str) -> int:
    """An argparse type: a count, 0 or more."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def state_option(*, top: bool = False) -> Parser:
    """A parent parser with ``--state``, accepted before the subcommand (``top``) and after
    it. The subcommand's copy defaults to "not given" so it never hides the top one."""
    parent = Parser(add_help=False)
    parent.add_argument("--state", default=None if top else argparse.SUPPRESS,
                        help="state database (default $SDN_STATE or .sdn/state.db)")
    return parent
