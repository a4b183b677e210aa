"""Errors and problems with stable codes.

Two shapes, for two situations:

* :class:`Problem` is a value: one thing wrong with one named object. Validation collects
  every problem at once and returns them, so a user sees all of them in one run.
* :class:`SdnError` is raised when input cannot be interpreted at all (an unreadable state
  file, an unknown kind on the command line). It carries a stable ``code`` that scripts match.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one object: a stable code, the object's name, and why."""

    code: str
    obj: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.obj}: {self.message}"


class SdnError(Exception):
    """Base of every error the manager raises; ``code`` is stable for scripts."""

    code = "SDN_ERROR"

    def __init__(self, message: str, *, code: str | None = None, obj: str = "") -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.obj = obj

    def __str__(self) -> str:
        prefix = f"{self.code} {self.obj}: " if self.obj else f"{self.code}: "
        return prefix + super().__str__()


class InvalidModelError(SdnError):
    """Cross-object validation found problems; all of them are in ``problems``."""

    code = "INVALID_MODEL"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s):\n{lines}")


class ProblemsError(SdnError):
    """Input refused for every reason in ``problems``, kept in the order found (a file's
    lines in order, not sorted as text: line 10 after line 9)."""

    code = "INVALID_INPUT"

    def __init__(self, problems: list[Problem], *, obj: str = "") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s):\n{lines}", obj=obj)


class CandidateError(ProblemsError):
    """A candidate policy set (``sdn replay --candidate``) cannot be evaluated: it does not
    parse, or what it declares would not be realized in full."""

    code = "INVALID_CANDIDATE"


class FlowFileError(ProblemsError):
    """A flow file (``sdn replay --flows``) has lines that cannot be read: the whole file
    is refused, each bad line named ``FILE:LINE``."""

    code = "INVALID_FLOWS"


class NotFoundError(SdnError):
    """A path, id or name does not exist in the state."""

    code = "NOT_FOUND"


class ConflictError(SdnError):
    """The request clashes with what exists (duplicate id, profile in use, ...)."""

    code = "CONFLICT"


class ProfileError(SdnError):
    """A network profile is invalid, or an update breaks the profile update rules."""

    code = "INVALID_PROFILE"

    def __init__(self, message: str, *, code: str | None = None, obj: str = "",
                 problems: list[Problem] | None = None) -> None:
        super().__init__(message, code=code, obj=obj)
        self.problems = problems or []


class StateError(SdnError):
    """The state database cannot be opened, read or written."""

    code = "STATE_ERROR"


class TraceInputError(SdnError):
    """The trace cannot be placed in the topology (unknown source, bad packet)."""

    code = "TRACE_INPUT"


class DaemonError(SdnError):
    """A state's question daemon cannot start, serve or stop (``sdn daemon``)."""

    code = "DAEMON_FAILED"


class DataplaneError(SdnError):
    """This host cannot realize the state, or a realize failed on the way (``sdn
    realize``): ``DATAPLANE_NOT_ROOT``, ``DATAPLANE_TOOL_MISSING`` (``ip`` or ``nft``),
    ``DATAPLANE_KERNEL_FEATURE`` (br_netfilter, an nftables expression), all found before
    anything is made; ``DATAPLANE_APPLY_FAILED`` (a kernel command failed; the next
    realize rebuilds what the failed one touched)."""

    code = "DATAPLANE_FAILED"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C taken by a write transaction, with what became of the write (``outcome``:
    rolled back, or landed whole). The line a command prints comes from
    :func:`sdn.commandline.interrupted_line`, which knows every write of the command.

    A :class:`KeyboardInterrupt` still (so code that lets Ctrl-C pass lets this pass too).
    """

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def yaml_error_text(name: str, exc: BaseException) -> str:
    """A YAML syntax error in one line: ``"file line L column C: problem (context)"``
    (without ``file`` when ``name`` is empty, for a message whose object names it).

    PyYAML's own text spans several lines (with a caret under the spot); a user reading
    one ``error:`` line needs the file, the place and the problem. Works on any
    ``yaml.YAMLError`` through its attributes, so this module needs no YAML import.
    """
    mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["invalid YAML"])[0]
    context = getattr(exc, "context", None)
    detail = str(problem)
    if context:
        started = ""
        if context_mark is not None and (mark is None or context_mark.line != mark.line):
            started = f" started at line {context_mark.line + 1}"
        detail += f" ({context}{started})"
    mark = mark or context_mark
    where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
    return ": ".join(part for part in (" ".join(p for p in (name, where) if p), detail) if part)
