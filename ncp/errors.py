"""Errors of the container plugin, each with a stable ``code``.

Bad *objects* are not exceptions: they become :class:`~sdn.errors.Problem` values and the
rest of the cluster is still realized. Exceptions are for input that makes the whole run
unusable (a config or profile that cannot be read or breaks the update rules).
"""

from __future__ import annotations

from sdn.errors import Problem


class NcpError(Exception):
    """Base of the plugin's errors."""

    code = "NCP_ERROR"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(NcpError):
    """The cluster settings cannot be used; nothing was written."""

    code = "INVALID_CONFIG"


class InconsistentResultError(NcpError):
    """Provisioning produced a state that fails the cross-object checks: a bug in ncp.

    Raised before anything is written, so the stored state stays consistent."""

    code = "INCONSISTENT_RESULT"


class UnusableInputError(NcpError):
    """The run's inputs conflict with the state (profile rules, shared objects)."""

    code = "UNUSABLE_INPUT"
