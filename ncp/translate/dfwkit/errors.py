"""How a policy's errors are found, collected and reported.

A policy translator checks a policy part by part and raises :class:`PolicyInputError` for
what it cannot translate. The error does not know the policy's name (the part being parsed
does not), so it is raised and caught inside the translators: :func:`translate_each` gives
every error of a policy the policy's name, as one :class:`~sdn.errors.Problem` each, and the
policy yields no objects (a half-applied policy is worse than none: it could allow what the
author meant to restrict), while the other policies are translated as usual.

:class:`ErrorCollector` lets a translator keep parsing after a failure, so that a user sees
every error of a policy in one run instead of fixing them one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from ncp.errors import PluginError
from ncp.objects import K8sObject
from ncp.translate.policyinputs import PolicyTranslation
from sdn.errors import Problem
from sdn.model import Group, SecurityPolicy
from sdn.model.reporting import field_location

__all__ = [
    "ErrorCollector",
    "PolicyInputError",
    "PolicyInputErrors",
    "nsx_error_messages",
    "translate_each",
]

T = TypeVar("T")
D = TypeVar("D")


class PolicyInputError(PluginError):
    """One thing wrong with one policy, with its stable ``code`` and ``message``.

    A branch of ncp's error tree of its own (see :mod:`ncp.errors`), not an
    :class:`~ncp.errors.NcpError`: it never stops a run. The translators catch it and
    :func:`translate_each` reports it as a problem named after the policy
    (:meth:`problems_for`), so none reaches the command line (one that did would be a bug
    there, exit 70, as for any uncaught exception).
    """

    code = "INVALID_POLICY"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def errors(self) -> tuple[PolicyInputError, ...]:
        """Every error this one stands for (itself; see :class:`PolicyInputErrors`)."""
        return (self,)

    def problems_for(self, obj: str) -> list[Problem]:
        """Each error as a problem of the policy named ``obj`` (``NetworkPolicy/N/P``)."""
        return [Problem(e.code, obj, e.message) for e in self.errors]


class PolicyInputErrors(PolicyInputError):
    """Several things wrong with one policy, each reported as its own problem."""

    def __init__(self, errors: Sequence[PolicyInputError]) -> None:
        super().__init__(errors[0].code, errors[0].message)
        self._errors = tuple(e for err in errors for e in err.errors)

    @property
    def errors(self) -> tuple[PolicyInputError, ...]:
        return self._errors


class ErrorCollector:
    """Collects a policy's errors so that one run reports all of them: each part is
    parsed with :meth:`attempt`, which keeps going after a failure with a stand-in value;
    :meth:`check` raises them all at the end."""

    def __init__(self) -> None:
        self.errors: list[PolicyInputError] = []

    def attempt(self, default: D, parse: Callable[..., T], *args: Any) -> T | D:
        """``parse(*args)``, or ``default`` after recording its error."""
        try:
            return parse(*args)
        except PolicyInputError as err:
            self.errors.append(err)
            return default

    def check(self) -> None:
        """Raise every error collected (one :class:`PolicyInputErrors`), if any."""
        if self.errors:
            raise PolicyInputErrors(self.errors)


def nsx_error_messages(err: ValidationError) -> list[str]:
    """One message per field of the NSX objects that validation refused, for translated
    input (each becomes its own problem)."""
    return [f"the NSX objects would be invalid: {field_location(e.get('loc', ()))}: "
            f"{e.get('msg', '')}" for e in err.errors(include_url=False)]


def translate_each(
    objects: Sequence[K8sObject], *, key: Callable[[K8sObject], tuple[str, str]],
    name: Callable[[K8sObject], str],
    translate: Callable[[K8sObject], tuple[Sequence[Group], Sequence[SecurityPolicy]]],
) -> PolicyTranslation:
    """Translate policy objects one by one in ``key`` order (then source): a repeated key
    is DUPLICATE_OBJECT (the first is kept); a bad object becomes a problem on it and
    yields nothing, the others are translated."""
    groups: list[Group] = []
    out: list[SecurityPolicy] = []
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for obj in sorted(objects, key=lambda o: (*key(o), o.source)):
        where = name(obj)
        if key(obj) in seen:
            problems.append(Problem("DUPLICATE_OBJECT", where,
                                    f"given again in {obj.source}; the first is kept"))
            continue
        seen.add(key(obj))
        try:
            got_groups, got_policies = translate(obj)
        except PolicyInputError as err:
            problems += err.problems_for(where)
            continue
        except ValidationError as err:
            problems += [Problem("INVALID_POLICY", where, m) for m in nsx_error_messages(err)]
            continue
        groups += got_groups
        out += got_policies
    return PolicyTranslation(tuple(groups), tuple(out), tuple(sorted(problems)))
