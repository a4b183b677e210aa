"""Errors of the container plugin, each with a stable ``code``.

Bad *objects* are not exceptions: they become :class:`~sdn.errors.Problem` values and the
rest of the cluster is still realized (inside the policy translators a ``PolicyInputError``
carries one until the policy's name is added). Exceptions are for what stops a whole run or
a whole request, in two branches, because their callers answer them differently::

    PluginError                   every error ncp raises; ``code`` is stable
    |-- NcpError                  input that makes the run unusable (a config or profile
    |   |                         that cannot be read or breaks the update rules, input
    |   |                         not read in full); ``problems`` lists every reason.
    |   |                         ``ncp`` prints them and exits 2, nothing written
    |   |-- ConfigError, InconsistentResultError, UnusableInputError
    |   `-- IncompleteInputError          (ncp.reconcile.completeness)
    |-- PolicyInputError          one thing wrong with one policy (ncp.translate.dfwkit.errors):
    |   |                         the policy translators report it as a Problem named after
    |   |                         the policy and go on, so none reaches the command line
    |   |                         (one that did would be a bug there: exit 70)
    |   `-- PolicyInputErrors     several things wrong with one policy, each its own Problem
    `-- KubeError                 a Kubernetes API request failed (ncp.sources.kube):
        |                         not the input's fault; ``ncp run``'s loops retry it, so
        |                         none reaches the command line (one that did would be a
        |                         bug there: exit 70, not an input error's 2)
        `-- KubeGoneError, KubeConflictError, KubeNotFoundError, KubeUnavailableError
"""

from __future__ import annotations

from sdn.errors import Problem


class PluginError(Exception):
    """The root of ncp's errors: whatever ncp raises on purpose has a stable ``code``."""

    code = "NCP_ERROR"


class NcpError(PluginError):
    """Input that makes the whole run unusable; ``problems`` holds every reason."""

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
