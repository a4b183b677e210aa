"""What the reconcile reads and writes of the manager's state.

The reconcile never opens a state: the CLI (``ncp sync``) and the runtime (``ncp run``)
open an :class:`sdn.store.Store` and hand it over. So the reconcile depends on this
protocol and on the storage format as values (:mod:`sdn.store.codec`), not on the
database (an import-linter contract keeps it so); ``Store`` satisfies it, and mypy checks
that where the CLI and the runtime pass one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from sdn.errors import Problem
from sdn.ipam import Hold
from sdn.model import Inventory
from sdn.store.codec import ChangeSet, ClusterRecord, StoredObject


class State(Protocol):
    """The state's reads and its one write (see :class:`sdn.store.Store` for each)."""

    @property
    def revision(self) -> int:
        """Bumped by every write that changes anything."""
        ...

    def cluster(self, name: str) -> ClusterRecord | None:
        """One synced cluster, or None."""
        ...

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Every network profile, as its JSON document, by name."""
        ...

    def inventory(self) -> Inventory:
        """Every object, parsed and validated."""
        ...

    def rows(self, *, paths: Iterable[str] | None = None) -> Iterator[StoredObject]:
        """Every stored row (split pools whole again), or those of ``paths``, in path
        order."""
        ...

    def split_pools(self) -> set[str]:
        """Paths of the pools stored split."""
        ...

    def holds(self) -> list[Hold]:
        """Every hold, active or not."""
        ...

    def problems(self, cluster: str | None = None, *,
                 table: str = "problems") -> list[tuple[str, Problem]]:
        """Problems (or, with ``table="findings"``, lint findings) of the last sync."""
        ...

    def status(self, cluster: str | None = None,
               ) -> list[tuple[str, str, str, str, dict[str, str]]]:
        """NCP's status per Kubernetes object: (cluster, kind, namespace, name, values)."""
        ...

    def k8s_object_rows(self, cluster: str) -> list[tuple[str, str, str, str]]:
        """The kept Kubernetes objects as stored: (kind, namespace, name, body), sorted."""
        ...

    def apply(self, changes: ChangeSet) -> int:
        """Write ``changes`` in one transaction; returns the new revision."""
        ...
