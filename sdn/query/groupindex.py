"""Which groups hold which endpoints, read from whichever firewall a question holds.

Why: ``sdn policies`` and ``sdn show groups --member/--members`` ask membership of a few
groups or of one endpoint. The firewall records (:mod:`sdn.query.records`) keep each
group's member-set number (``groups``, by path) and the groups sharing each set
(``sets``, by number), and every endpoint carries the numbers of its sets: a pod's groups
are a lookup of its few numbers, a rule's applied-to groups a lookup of their paths,
without reading 16,000 groups at 10,000 pods. A firewall compiled in this process (the
first reader of a revision) answers the same from memory.
"""

from __future__ import annotations

from collections.abc import Iterable

from sdn.policy.compiler import CompiledDfw, Endpoint
from sdn.policy.firewall import Firewall
from sdn.query.records import GroupSet, StoredFirewall, group_sets, holders

#: Where NCP and an admin's ``sdn apply`` put groups: an id alone is looked for here first.
DEFAULT_GROUPS = "/infra/domains/default/groups/"


class GroupIndex:
    """Group membership of one firewall (see the module's doc)."""

    def __init__(self, dfw: Firewall) -> None:
        self.dfw = dfw
        self._all: dict[str, GroupSet] | None = None
        if not isinstance(dfw, (StoredFirewall, CompiledDfw)):
            raise TypeError(f"no groups in a {type(dfw).__name__}")

    def _every(self) -> dict[str, GroupSet]:
        if self._all is None:
            if isinstance(self.dfw, StoredFirewall):
                self._all = self.dfw.group_sets()
            else:
                assert isinstance(self.dfw, CompiledDfw)
                self._all = group_sets(self.dfw)
        return self._all

    def sets(self, paths: Iterable[str]) -> dict[str, GroupSet]:
        """Those of the groups ``paths`` that exist, by path."""
        wanted = sorted(set(paths))
        if isinstance(self.dfw, StoredFirewall) and self._all is None:
            return self.dfw.group_sets(wanted)
        every = self._every()
        return {p: every[p] for p in wanted if p in every}

    def holding(self, numbers: Iterable[int]) -> list[str]:
        """The paths of the groups whose member set is one of ``numbers``, sorted."""
        wanted = sorted(set(numbers))
        if isinstance(self.dfw, StoredFirewall):
            found = self.dfw.holders(wanted)
            return sorted(p for paths in found.values() for p in paths)
        by_number = holders(self._every())
        return sorted(p for n in wanted for p in by_number.get(n, ()))

    def find(self, text: str) -> list[str]:
        """The paths of the groups named ``text``: its path, else the default domain's
        group of that id, else every group of that id in any domain."""
        for path in (text, DEFAULT_GROUPS + text):
            if self.sets([path]):
                return [path]
        return sorted(p for p in self._every() if p.rsplit("/", 1)[-1] == text)

    def members(self, number: int) -> list[Endpoint]:
        """The endpoints of member set ``number``, by index."""
        if isinstance(self.dfw, StoredFirewall):
            return [ep for ep in self.dfw.every_endpoint()
                    if ep.classes is not None and number in ep.classes]
        assert isinstance(self.dfw, CompiledDfw)
        classes = self.dfw.classes
        return [ep for i, ep in enumerate(self.dfw.endpoints) if number in classes[i]]
