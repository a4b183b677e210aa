"""An inverted index over one dimension of every rule, to find the values covering a value."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from itertools import chain
from typing import Generic, TypeVar

V = TypeVar("V", bound=Hashable)


class Dim(Generic[V]):
    """One dimension of every rule (applied-to, sources, destinations or services).

    Rules with equal values share a value id; an inverted index maps witnesses to the
    value ids containing them, so the supersets of a value are found from the index list
    of one witness instead of among every value. ``None`` is ANY, the superset of all.
    """

    def __init__(self, values: Iterable[V | None], *,
                 register: Callable[[V], Iterable[Hashable]],
                 witnesses: Callable[[V], list[tuple[Hashable, ...]]],
                 covers: Callable[[V | None, V | None], bool]) -> None:
        self.values: list[V | None] = []
        self.ids: list[int] = []
        self.rules_of: list[list[int]] = []  # rule orders per value id, ascending
        seen: dict[V | None, int] = {}
        for order, v in enumerate(values):
            vid = seen.get(v)
            if vid is None:
                vid = seen[v] = len(self.values)
                self.values.append(v)
                self.rules_of.append([])
            self.ids.append(vid)
            self.rules_of[vid].append(order)
        self.any_id = seen.get(None)
        self._register = register
        self._index: dict[Hashable, list[int]] | None = None
        self._witnesses = witnesses
        self._covers = covers
        self._supersets: dict[int, frozenset[int]] = {}
        self._counts: dict[int, int] = {}
        self._pairs: dict[tuple[int, int], bool] = {}

    @property
    def index(self) -> dict[Hashable, list[int]]:
        """Value ids by witness key, built the first time :meth:`supersets` needs it: a
        side of a large cluster registers every member endpoint (hundreds of millions
        of entries at 100,000 pods), which a lint that never asks for that dimension's
        supersets does not pay for."""
        if self._index is None:
            self._index = defaultdict(list)
            for vid, v in enumerate(self.values):
                if v is not None:
                    for key in set(self._register(v)):
                        self._index[key].append(vid)
        return self._index

    def covers(self, a: int, b: int) -> bool:
        """Whether value ``a`` covers value ``b`` (by id; remembered): the same answer as
        ``a in self.supersets(b)``, without finding every superset of ``b``."""
        found = self._pairs.get((a, b))
        if found is None:
            found = self._pairs[(a, b)] = a == b or self._covers(self.values[a],
                                                                 self.values[b])
        return found

    def _size(self, keys: tuple[Hashable, ...]) -> int:
        return sum(len(self.index.get(k, ())) for k in keys)

    def supersets(self, vid: int) -> frozenset[int]:
        """The value ids whose value covers value ``vid`` (itself included)."""
        found = self._supersets.get(vid)
        if found is not None:
            return found
        v = self.values[vid]
        if v is None:
            result = {vid}
        else:
            alternatives = self._witnesses(v)
            if alternatives:
                best = min(alternatives, key=self._size)
                candidates: Iterable[int] = set(chain.from_iterable(
                    self.index.get(k, ()) for k in best))
            else:
                candidates = range(len(self.values))
            result = {c for c in candidates if self._covers(self.values[c], v)}
            if self.any_id is not None:
                result.add(self.any_id)
        found = self._supersets[vid] = frozenset(result)
        return found

    def count(self, vid: int) -> int:
        """How many rules (anywhere in the order) have a value covering value ``vid``."""
        n = self._counts.get(vid)
        if n is None:
            n = self._counts[vid] = sum(len(self.rules_of[s]) for s in self.supersets(vid))
        return n

