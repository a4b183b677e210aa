"""An :class:`~sdn.model.Inventory` that parses objects only when they are asked for.

Why: parsing (validating) every stored object is most of what a question used to cost
(10,000 ports, 16,000 groups, 15,000 security policies: seconds), and most questions read
a few kinds only: a traceflow whose firewall comes compiled from the index needs ports,
segments and gateways, never a group or a security policy; ``sdn ipam`` needs blocks and
pools. This inventory knows every path and its type up front (one cheap query) and parses
a whole kind the first time it is listed, one object the first time it is looked up, so
every answer is the one the fully parsed inventory gives.

It reads through a pinned (snapshot) read-only store, so everything it parses belongs to
one revision; the first reader of a revision checked that every row of it parses
(:mod:`sdn.query.index`), which is why a lazy reader need not parse the rest to know.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, ValuesView
from typing import get_args

from pydantic import ValidationError

from sdn.model import Inventory, PolicyResource
from sdn.model.inventory import AnyResource, R
from sdn.store import Store, StoredObject
from sdn.store.codec import decode, invalid_objects_error

#: Every model class a stored object can be, with its ``resource_type``.
_MODELS: tuple[tuple[type[PolicyResource], str], ...] = tuple(
    (cls, str(cls.model_fields["resource_type"].default))
    for cls in get_args(get_args(AnyResource)[0]))


def resource_types(cls: type) -> list[str] | None:
    """The ``resource_type``\\ s whose objects are instances of ``cls`` (None: unknown,
    so every kind must be parsed to answer)."""
    found = [rt for model, rt in _MODELS if issubclass(model, cls)]
    return found or None


class LazyInventory(Inventory):
    """The objects of one pinned store, parsed on first use (see the module's doc)."""

    def __init__(self, store: Store, revision: int) -> None:
        super().__init__((), revision=revision)
        self._store = store
        self._catalog: dict[str, str] | None = None
        self._parsed_kinds: set[str] = set()

    @property
    def _types(self) -> dict[str, str]:
        """Every path and its type, read the first time the whole list is needed (a
        lookup by path does not need it)."""
        if self._catalog is None:
            self._catalog = dict(self._store.catalog())
        return self._catalog

    def _parse_kind(self, resource_type: str) -> None:
        if resource_type in self._parsed_kinds:
            return
        for row in self._store.rows(resource_type=resource_type):
            if row.path not in self._objects:
                self._objects[row.path] = self._decode(row)
        self._parsed_kinds.add(resource_type)

    def _parse_all(self) -> None:
        for rt in sorted(set(self._types.values()) - self._parsed_kinds):
            self._parse_kind(rt)

    def _parse_one(self, path: str) -> PolicyResource | None:
        for row in self._store.rows(paths=[path]):
            self._objects[row.path] = self._decode(row)
        return self._objects.get(path)

    @staticmethod
    def _decode(row: StoredObject) -> PolicyResource:
        try:
            return decode(row)
        except ValidationError:
            raise invalid_objects_error([row.path]) from None

    def __getitem__(self, path: str) -> PolicyResource:
        found = self._objects.get(path)
        if found is None and (self._catalog is None or path in self._catalog):
            found = self._parse_one(path)
        if found is None:
            raise KeyError(path)
        return found

    def __contains__(self, path: object) -> bool:
        if self._catalog is None and isinstance(path, str):
            return path in self._objects or self._parse_one(path) is not None
        return path in self._types

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def values(self) -> ValuesView[PolicyResource]:
        """Every object, in path order (all parsed at once, not one query each)."""
        self._parse_all()
        return super().values()

    def items(self) -> ItemsView[str, PolicyResource]:
        """Every ``(path, object)``, in path order (all parsed at once)."""
        self._parse_all()
        return super().items()

    def of_type(self, cls: type[R]) -> list[R]:
        kinds = resource_types(cls)
        if kinds is None:
            self._parse_all()
        else:
            for rt in kinds:
                self._parse_kind(rt)
        return super().of_type(cls)

    def by_resource_type(self, resource_type: str) -> list[PolicyResource]:
        self._parse_kind(resource_type)
        return super().by_resource_type(resource_type)

    def children(self, parent_path: str) -> list[PolicyResource]:
        self._parse_all()
        return super().children(parent_path)
