"""What the policy translators read besides the policies, and what they return.

A NetworkPolicy (or an admin policy) mostly translates to tag conditions that NSX evaluates
against the inventory, so the translators need no pods at all for that. Two things do need
the cluster's current state, and these small values carry exactly that much of it:

* **named ports** (``port: http``) are not expressible as an NSX tag condition; NCP resolves
  them against the container ports of the pods that would receive the traffic and writes the
  numbers, so the translators need each pod's ports, labels, namespace, address and the path
  of its segment port (:class:`PodInfo`);
* **namespace selectors** are evaluated in Python for the same resolution and for the
  ``TOO_MANY_NAMESPACES`` lint, so they need each namespace's labels (:class:`NamespaceInfo`).

They are plain frozen dataclasses, not K8s objects, so the translators stay pure and the
caller decides what a pod "is" (a generated replica, a real Pod, one with or without a port).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, overload

from sdn.errors import Problem
from sdn.model import Group, SecurityPolicy

__all__ = ["NamespaceInfo", "PodInfo", "PolicyTranslation", "Tracked"]


@dataclass(frozen=True)
class PodInfo:
    """One pod as the policy translators see it.

    Attributes:
        namespace: The pod's namespace.
        name: The pod's name.
        port_path: Policy path of the pod's segment port (``""`` when it has none: such a
            pod is never a member of a resolved named-port group).
        ip: The pod's address (``""`` when it has none).
        labels: The pod's labels (the tags on its port).
        container_ports: ``(name, protocol, number)`` of every container port; ``name`` is
            ``""`` for an unnamed port and ``protocol`` one of ``TCP``, ``UDP``, ``SCTP``.
    """

    namespace: str
    name: str
    port_path: str
    ip: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    container_ports: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class NamespaceInfo:
    """One namespace: its name and labels (the tags on its segment)."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class PolicyTranslation:
    """The NSX objects for a set of policies, and what was wrong with the rest.

    Attributes:
        groups: Every group the policies' rules and scopes refer to.
        policies: The security policies, with their rules inline.
        problems: One problem per rejected policy (a rejected policy has no objects here).
    """

    groups: tuple[Group, ...] = ()
    policies: tuple[SecurityPolicy, ...] = ()
    problems: tuple[Problem, ...] = ()


T = TypeVar("T")


class Tracked(Sequence[T]):
    """A sequence that remembers whether anyone looked at it (``read``).

    The translators read the cluster's pods only to resolve named ports, and its
    namespaces only for named ports behind namespace selectors and for the
    ``TOO_MANY_NAMESPACES`` lint, so most clusters' firewalls depend on neither. The
    incremental reconcile uses this to know whether a pod or a new namespace can alter
    the firewall (it recomputes everything when one could).
    """

    def __init__(self, items: Sequence[T]) -> None:
        self._items = items
        self.read = False

    def __len__(self) -> int:
        self.read = True
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        self.read = True
        return self._items[index]

    def __iter__(self) -> Iterator[T]:
        self.read = True
        return iter(self._items)
