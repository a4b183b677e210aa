"""What a sync would change, for ``ncp sync --dry-run``: the NSX objects it would create,
update and delete, and the annotations (NCP's status on Kubernetes objects) it would
change, and the flows it would gain and lose (DESIGN.md "What-if and history",
:mod:`sdn.policy.whatif`). A careful operator reads this before letting a sync write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ncp.reconcile.diff import ObjectDiff
from sdn.policy.whatif import WhatIf

StatusKey = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True, order=True)
class AnnotationChange:
    """One status key on one Kubernetes object: ``old`` and ``new`` (None: absent)."""

    kind: str
    namespace: str
    name: str
    key: str
    old: str | None
    new: str | None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name,
                "key": self.key, "old": self.old, "new": self.new}


@dataclass
class Plan:
    """The changes a dry run found, each list sorted by kind and path."""

    created: list[tuple[str, str]] = field(default_factory=list)
    updated: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    annotations: list[AnnotationChange] = field(default_factory=list)
    #: The flows the write would gain and lose (none: nothing the firewall reads changes).
    reachability: WhatIf = field(default_factory=WhatIf)

    def changes_json(self) -> list[dict[str, str]]:
        """Each NSX object change as ``sdn apply --dry-run`` lists its own:
        ``{"action": "create"|"update"|"delete", "path", "resource_type"}``."""
        return [{"action": action, "path": path, "resource_type": kind}
                for action, items in (("create", self.created), ("update", self.updated),
                                      ("delete", self.deleted))
                for kind, path in items]


def plan_of(diff: ObjectDiff, stored_status: Mapping[StatusKey, Mapping[str, str]],
            wanted_status: Mapping[StatusKey, Mapping[str, str]]) -> Plan:
    """The plan behind ``diff`` and the status change from ``stored_status`` to
    ``wanted_status`` (both as the state's status table keeps them)."""
    changes: list[AnnotationChange] = []
    for key in sorted(set(stored_status) | set(wanted_status)):
        old, new = stored_status.get(key, {}), wanted_status.get(key, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changes.append(AnnotationChange(*key, name, old.get(name), new.get(name)))
    return Plan(created=sorted(diff.created_objects), updated=sorted(diff.updated_objects),
                deleted=sorted(diff.deleted_objects), annotations=changes)
