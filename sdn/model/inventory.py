"""The inventory: every NSX object of one manager, keyed by Policy path.

This is the aggregate root the engines read. It is a plain mapping with a revision number:
anything derived from it (the graph, IPAM usage) is computed from it and may be cached
against ``revision``.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Annotated, TypeVar

from pydantic import Field, TypeAdapter

from sdn.model.base import PolicyResource
from sdn.model.dfw import Group, SecurityPolicy, Service
from sdn.model.ipam import IpBlock, IpPool
from sdn.model.lb import (
    LBCookiePersistenceProfile,
    LBHttpProfile,
    LBPool,
    LBService,
    LBSourceIpPersistenceProfile,
    LBVirtualServer,
)
from sdn.model.nat import NatRule
from sdn.model.routing import Tier0, Tier1
from sdn.model.segments import Segment, SegmentPort

AnyResource = Annotated[
    Tier0 | Tier1 | Segment | SegmentPort | IpBlock | IpPool | NatRule | Group | SecurityPolicy
    | LBService | LBVirtualServer | LBPool | LBHttpProfile | LBCookiePersistenceProfile
    | LBSourceIpPersistenceProfile | Service,
    Field(discriminator="resource_type"),
]

#: Parses any stored or user-given object by its ``resource_type``.
RESOURCE_ADAPTER: TypeAdapter[AnyResource] = TypeAdapter(AnyResource)

#: The kinds the ``sdn show`` command knows, in the order a listing prints them, mapped to
#: their ``resource_type``. Kinds whose models arrive with later capabilities (groups,
#: security policies, load balancers) are listed so that scripts can already ask for them.
KINDS: dict[str, str] = {
    "tier-0s": "Tier0",
    "tier-1s": "Tier1",
    "segments": "Segment",
    "segment-ports": "SegmentPort",
    "ip-blocks": "IpAddressBlock",
    "ip-pools": "IpAddressPool",
    "nat-rules": "PolicyNatRule",
    "groups": "Group",
    "security-policies": "SecurityPolicy",
    "services": "Service",
    "lb-services": "LBService",
    "lb-virtual-servers": "LBVirtualServer",
    "lb-pools": "LBPool",
    "lb-app-profiles": "LBHttpProfile",
    "lb-cookie-persistence-profiles": "LBCookiePersistenceProfile",
    "lb-source-ip-persistence-profiles": "LBSourceIpPersistenceProfile",
}

R = TypeVar("R", bound=PolicyResource)


class Inventory(Mapping[str, PolicyResource]):
    """Objects by path, with typed listings and a revision for caches."""

    def __init__(self, objects: Iterable[PolicyResource] = (), *, revision: int = 0) -> None:
        self._objects: dict[str, PolicyResource] = {o.path: o for o in objects}
        self.revision = revision

    def __getitem__(self, path: str) -> PolicyResource:
        return self._objects[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def changed(self, upserts: Iterable[PolicyResource], deletes: Iterable[str] = (),
                ) -> Inventory:
        """A new inventory (revision 0): this one with ``upserts`` put and ``deletes``
        removed, copied rather than rebuilt object by object."""
        new = Inventory()
        new._objects = dict(self._objects)
        for path in deletes:
            new._objects.pop(path, None)
        new._objects.update((o.path, o) for o in upserts)
        return new

    def __contains__(self, path: object) -> bool:
        return path in self._objects

    # The mapping's views are the dict's own: Mapping's generic ones look every key up
    # again, and copying a 50,000-object inventory that way costs a write its time.
    def keys(self) -> KeysView[str]:
        return self._objects.keys()

    def values(self) -> ValuesView[PolicyResource]:
        return self._objects.values()

    def items(self) -> ItemsView[str, PolicyResource]:
        return self._objects.items()

    def of_type(self, cls: type[R]) -> list[R]:
        """Every object of one model class, sorted by path."""
        return sorted(
            (o for o in self._objects.values() if isinstance(o, cls)), key=lambda o: o.path
        )

    def by_resource_type(self, resource_type: str) -> list[PolicyResource]:
        """Every object with this ``resource_type``, sorted by path."""
        return sorted(
            (o for o in self._objects.values() if o.resource_type == resource_type),
            key=lambda o: o.path,
        )

    def children(self, parent_path: str) -> list[PolicyResource]:
        """Objects whose ``parent_path`` is ``parent_path``, sorted by path."""
        return sorted(
            (o for o in self._objects.values() if o.parent_path == parent_path),
            key=lambda o: o.path,
        )
