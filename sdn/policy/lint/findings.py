"""What the lint reports: :class:`Finding`, its severities and codes, and their order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sdn.policy.lint.witness import Witness

ERROR = "error"
WARNING = "warning"
INFO = "info"

#: Severities, most severe first: ``error`` when the firewall's answer is an accident
#: (NSX leaves it undefined), ``warning`` when a rule's intent is lost, ``info`` for
#: what is merely redundant or unused.
SEVERITIES = (ERROR, WARNING, INFO)

SHADOWED_RULE = "SHADOWED_RULE"
CONFLICTING_SAME_PRIORITY = "CONFLICTING_SAME_PRIORITY"
EMPTY_GROUP = "EMPTY_GROUP"
UNUSED_GROUP = "UNUSED_GROUP"
RULE_MATCHES_NOTHING = "RULE_MATCHES_NOTHING"


@dataclass(frozen=True)
class Finding:
    """One thing a reviewer should look at: a stable code, a severity, the object, why.

    ``related`` holds the paths of the other objects the finding is about, so a reader
    (or a test) need not take them out of the message: the shadowing rule
    (``SHADOWED_RULE``), the other rule of the pair (``CONFLICTING_SAME_PRIORITY``; its
    security policy is its parent), the groups that leave a rule nothing to match
    (``RULE_MATCHES_NOTHING``: the applied-to groups, or the empty source or destination
    groups, or the applied-to and the side it cannot see), the objects using an empty
    group (``EMPTY_GROUP``, all of them, sorted; the message shows three). Empty when
    there is none (``UNUSED_GROUP``, NCP's limit warnings).
    """

    code: str
    severity: str  # one of SEVERITIES
    path: str
    message: str
    related: tuple[str, ...] = ()
    #: A flow proving it (``SHADOWED_RULE``, ``CONFLICTING_SAME_PRIORITY``): see
    #: :mod:`sdn.policy.lint.witness`; None for the other codes, or when no flow could be
    #: built.
    witness: Witness | None = None


def finding_key(f: Finding) -> tuple[int, str, str, str]:
    """The deterministic order of findings: most severe first, then code, object, message."""
    return (SEVERITIES.index(f.severity), f.code, f.path, f.message)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in :func:`finding_key` order, duplicates removed."""
    return sorted(set(findings), key=finding_key)

