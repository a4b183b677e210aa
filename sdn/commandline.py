"""What every ``sdn`` and ``ncp`` command does around its own work: start, read its command
line, and end. One place, so that every command ends the same way:

* a coded error (:class:`~sdn.errors.SdnError`, or anything else with ``code`` and
  ``problems``) prints ``error: CODE object: message`` (one line per problem) on stderr
  and exits 2; a misused command line is one ``error: BAD_ARGUMENT: ...`` line, exit 2;
* Ctrl-C prints one line and exits 130 (128 + SIGINT, as shells report it), from the
  first import on (:func:`guard_imports`). Writes are single SQLite transactions that an
  interrupt rolls back (:meth:`sdn.store.Store.apply`), and the store notes every write
  it commits here (:func:`note_write`), so the line says truthfully whether the state is
  as before or was written whole;
* a reader that goes away (``sdn show ... | head -1``) is not an error: the command's own
  exit code stands (:mod:`sdn.render.output` lets the rest of the output go), and no
  complaint from Python when it flushes stdout at exit;
* anything else is a bug: one line naming the exception and exit 70 (``EX_SOFTWARE``);
  ``SDN_DEBUG=1`` prints the traceback as well.

It imports only the standard library and :mod:`sdn.errors`, so that a command can load
it first, before the imports that take a good part of a second.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from ipaddress import IPv4Network
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from sdn.errors import SdnError

#: Exit codes shared by both commands (1, "problems found", is each command's own).
EXIT_OK, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 2, 70, 130
#: A dry run with ``--fail-on KIND`` found reachability changes of that kind: not 1 (ncp
#: sync's "objects rejected"), 2 or 70, so that a CI gate tells them apart.
EXIT_CHANGES = 3
#: What ``--fail-on`` takes (:meth:`sdn.policy.whatif.WhatIf.has`).
FAIL_ON = ("lost", "gained", "any")

#: The structured ``-o`` formats every command with ``-o json`` offers (here, where both
#: commands' parsers can have them without importing the printers behind them).
STRUCTURED = ("json", "yaml")

#: The command line this process runs (:func:`run_command` sets it), as the state's
#: history records each write's command (:mod:`sdn.store.history`).
_command: list[str] = []

#: The state this command last committed a write to (:func:`note_write`), if any: at most
#: one item, so that a long ``ncp run`` keeps no history.
_writes: list[str] = []


def default_state_path() -> Path:
    """``$SDN_STATE``, else ``.sdn/state.db`` in the working directory."""
    return Path(os.environ.get("SDN_STATE") or Path(".sdn") / "state.db")


def current_command() -> str:
    """The command line this process runs, quoted as a shell would take it (``python``
    and the script's path for code that runs outside :func:`run_command`)."""
    return _command[0] if _command else shlex.join(["python", *sys.argv])


def note_write(state: str) -> None:
    """The store committed a write to ``state`` for this command."""
    _writes[:] = [state]


def wrote() -> bool:
    """Whether this command has committed a write to a state."""
    return bool(_writes)


def interrupted_line(prog: str) -> str:
    """What an interrupted command says: whether it wrote the state (whole) or nothing."""
    if _writes:
        return f"{prog}: INTERRUPTED: stopped after the state was written whole ({_writes[0]})"
    return f"{prog}: INTERRUPTED: stopped before writing anything (the state is as before)"


def guard_imports(prog: str) -> Callable[[], None]:
    """Make Ctrl-C end ``prog`` in one line while its modules are still importing (before
    :func:`guarded` is in place, an interrupt would print Python's traceback), until the
    returned function restores the handler that was there. Off the main thread signals
    are not ours to handle, and nothing is changed."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        print(interrupted_line(prog), file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED)

    try:
        previous = signal.signal(signal.SIGINT, stop)
    except ValueError:  # imported off the main thread
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGINT, previous if previous is not None
                      else signal.default_int_handler)

    return restore


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
    problems = [one_line(str(p)) for p in getattr(err, "problems", None) or []]
    text = str(err)
    # an error carrying problems lists them after its first line: those print below
    head = one_line(text.partition("\n")[0] if problems else text) or type(err).__name__
    if problems and (not getattr(err, "obj", "") or problems == [head]):
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return
    print(f"error: {head}", file=sys.stderr)
    for line in problems:
        print(f"  {line}", file=sys.stderr)


def one_line(text: str) -> str:
    """A message on one line (a multi-line text joined, its spacing collapsed)."""
    return " ".join(text.split())


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
    handled: tuple[type[BaseException], ...] = (SdnError, *coded)
    _writes.clear()
    try:
        return body()
    except handled as err:
        print_error(err)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Interrupted (from a write) included
        print(interrupted_line(prog), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_OK
    except Exception as err:  # a bug, not bad input: say so in one line
        if os.environ.get("SDN_DEBUG"):
            traceback.print_exc()
        print(f"error: INTERNAL_ERROR: {type(err).__name__}: {one_line(str(err))} (a bug "
              f"in {prog}; SDN_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_BUG


class _Version(argparse._VersionAction):
    """argparse's ``--version``, its text (``version``, the program's name until then)
    looked up only when asked for: reading the installed package's metadata takes longer
    than the rest of ``--help``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None,
                 option_string: str | None = None) -> None:
        self.version = version_text(str(self.version))
        super().__call__(parser, namespace, values, option_string)


def add_version(parser: argparse.ArgumentParser, prog: str) -> None:
    """``--version`` on a parser."""
    parser.add_argument("--version", action=_Version, version=prog)


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


def tep_pool(text: str) -> IPv4Network:
    """An argparse type: the TEP pool, an IPv4 network with room for a few nodes."""
    try:
        network = IPv4Network(text, strict=False)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 network") from err
    if network.num_addresses < 4:
        raise argparse.ArgumentTypeError(f"{text!r} is smaller than a /30")
    return network


def positive_count(text: str) -> int:
    """An argparse type: a count, 1 or more."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1 or more")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a duration in seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def non_negative_rate(text: str) -> float:
    """An argparse type: a rate per second, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate (0 or more)")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def add_fail_on(parser: argparse.ArgumentParser) -> None:
    """``--fail-on lost|gained|any`` of a command with ``--dry-run``."""
    parser.add_argument("--fail-on", choices=FAIL_ON, default=None,
                        help=f"with --dry-run: exit {EXIT_CHANGES} when reachability would "
                             "change so (flows lost, gained, or either); the output is "
                             "printed in full either way")


def refuse_fail_on_alone(args: argparse.Namespace) -> None:
    """``--fail-on`` asks about a dry run's reachability: without ``--dry-run`` it is a
    usage error (exit 2) rather than a gate that never closes."""
    if getattr(args, "fail_on", None) and not getattr(args, "dry_run", False):
        raise SdnError("--fail-on needs --dry-run", code="BAD_ARGUMENT", obj="--fail-on")


def state_option(*, top: bool = False) -> Parser:
    """A parent parser with ``--state``, accepted before the subcommand (``top``) and after
    it. The subcommand's copy defaults to "not given" so it never hides the top one."""
    parent = Parser(add_help=False)
    parent.add_argument("--state", default=None if top else argparse.SUPPRESS,
                        help="state database (default $SDN_STATE or .sdn/state.db)")
    return parent


def run_command(prog: str, parser: argparse.ArgumentParser, argv: Sequence[str] | None,
                dispatch: Callable[[argparse.Namespace], int], *,
                coded: tuple[type[BaseException], ...] = ()) -> int:
    """A whole command: read ``argv``, run ``dispatch`` under :func:`guarded`, return the
    exit code (``--help``, ``--version`` and usage errors return too, not raise).

    Once the process's own command is over (``argv`` None: a console script), a Ctrl-C
    while the interpreter tears down changes nothing, so it is ignored rather than
    turning a finished command into a death by SIGINT without a word.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error (printed already)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if getattr(args, "state", None) is None:
        args.state = str(default_state_path())
    _command[:] = [shlex.join([prog, *(sys.argv[1:] if argv is None else argv)])]
    code = guarded(prog, lambda: dispatch(args), coded=coded)
    try:
        sys.stdout.flush()  # what print() left in the buffer: a reader gone is no error
    except BrokenPipeError:
        quiet_stdout()
    if argv is None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


@contextmanager
def importing() -> Iterator[None]:
    """Hold Ctrl-C while the block imports the modules a subcommand needs, and take it
    when they are in: a :class:`KeyboardInterrupt` after the block, which
    :func:`guarded` reports in one line with exit 130.

    The commands import those modules only when the subcommand runs, so that parsing the
    command line (``--help``, a usage error) loads none of them. Why not raise at once, as
    :func:`guard_imports` does for the commands' own first imports: an exception raised
    while an extension module initialises is not always an exception any more (pydantic's
    compiled core imports ``datetime`` as it starts; an interrupt there is a Rust panic
    and exit 1). Held, it costs at most the rest of the imports, a fraction of a second.
    Off the main thread signals are not ours to handle, and nothing is changed.
    """
    pending: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    except ValueError:  # imported off the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None
                      else signal.default_int_handler)
    if pending:
        raise KeyboardInterrupt


def lazy_command(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """The command ``module.function``, imported (under :func:`importing`) only when the
    command runs."""

    def run(args: argparse.Namespace) -> int:
        with importing():
            target = getattr(importlib.import_module(module), function)
        return int(target(args))

    run.__qualname__ = run.__name__ = f"{module}.{function}"
    return run
