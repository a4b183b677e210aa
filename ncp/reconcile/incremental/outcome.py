"""What an incremental batch comes to: applied (:class:`Applied`) or left to the full
reconcile (:class:`Declined`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sdn.errors import Problem

#: A pod by (namespace, name).
PodKey = tuple[str, str]


@dataclass(frozen=True)
class Declined:
    """The batch needs the full reconcile: ``code`` says why in a word (counted by
    ``ncp_incremental_declined_total``), ``detail`` in a sentence (logged)."""

    code: str
    detail: str


@dataclass
class Applied:
    """What one incremental batch did."""

    revision: int
    #: The pods whose annotation NCP wants changed: the new annotation, or None (remove).
    annotations: dict[PodKey, dict[str, str] | None] = field(default_factory=dict)
    #: The new namespaces' annotations.
    namespace_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The problems of the objects in ``covered`` now (every other object's are as they
    #: were): the changed objects that have or had a problem.
    problems: list[Problem] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    written: bool = False
    pods: int = 0
    namespaces: int = 0
