"""Why a group holds a port: the criterion of the group's expression that selects it.

``sdn policies --pod`` and ``sdn show groups --member`` say which groups hold a pod; a
reader then asks *why* (which label, which namespace, which CIDR). The compiled firewall
answers "whether" from member sets; this answers "why" by evaluating the group's
expression on the one port, as :mod:`sdn.policy.membership` re-decides a relabelled pod:
the first AND-term (NSX: AND binds tighter than OR) whose criteria all hold, each
criterion written as a reader would: ``app=web`` (a pod label: the port's tag),
``namespace tag project=shop`` (the segment's tag), ``address in 10.0.0.0/8``, ``port
<path>`` / ``segment <path>``, ``group <id> (app=web)`` for an included group.

Assumption (named): the member sets come from the compiler and the reasons from here; the
two read the same criteria the same way (tested on the sample topologies), and a port a
member set holds for which no term holds here gets no reason (``None``) rather than a
made-up one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

from sdn.model import (
    Condition,
    Group,
    IPAddressExpression,
    NestedExpression,
    PathExpression,
)
from sdn.policy.compiler import _networks, expression_terms
from sdn.policy.membership import condition_holds


@dataclass(frozen=True)
class PortFacts:
    """What membership reads of one port: its tags, its segment's tags, its address and
    paths."""

    tags: frozenset[tuple[str, str]]
    segment_tags: frozenset[tuple[str, str]]
    ip: IPv4Address
    path: str
    segment_path: str

    def holds(self, cond: Condition) -> bool:
        """Whether a tag condition holds for the port (or its segment)."""
        tags = self.tags if cond.on_ports else self.segment_tags
        return condition_holds(cond, set(tags), {s for s, _ in tags})


def _condition_text(cond: Condition) -> str:
    values = cond.tag_values
    shown = "|".join(values)
    where = "" if cond.on_ports else "namespace tag "
    if cond.scope_operator == "NOTEQUALS":
        return f"{where}no tag {cond.scope}"
    if cond.operator == "EQUALS":
        return f"{where}has tag {cond.scope}" if values == ("",) \
            else f"{where}{cond.scope}={values[0]}"
    if cond.operator == "NOTEQUALS":
        return f"{where}{cond.scope}!={values[0]}"
    return f"{where}{cond.scope} {'in' if cond.operator == 'IN' else 'not in'} ({shown})"


class Reasons:
    """Reasons for one port, over the inventory's groups (``group`` finds one by path)."""

    def __init__(self, port: PortFacts, group: Callable[[str], Group | None]) -> None:
        self.port = port
        self._group = group
        self._memo: dict[str, str | None] = {}

    def why(self, path: str) -> str | None:
        """Why group ``path`` holds the port (None: it does not, or not by a criterion
        read here; a missing or cyclic group holds nothing)."""
        if path in self._memo:
            return self._memo[path]
        self._memo[path] = None  # a cycle holds nothing (as the compiler)
        group = self._group(path)
        found = self.expression(group.expression) if group is not None else None
        self._memo[path] = found
        return found

    def expression(self, items: Sequence[object]) -> str | None:
        """The first AND-term that holds, its criteria joined by ``and``."""
        for term in expression_terms(items):
            parts = [self.criterion(c) for c in term]
            if all(p is not None for p in parts):
                return " and ".join(p for p in parts if p)
        return None

    def criterion(self, c: object) -> str | None:
        """Why one criterion holds, else None."""
        if isinstance(c, Condition):
            return _condition_text(c) if c.evaluated and self.port.holds(c) else None
        if isinstance(c, IPAddressExpression):
            hit = next((n for n in _networks(c.ip_addresses) if self.port.ip in n), None)
            return f"address in {hit}" if hit is not None else None
        if isinstance(c, PathExpression):
            return self._paths(c.paths)
        if isinstance(c, NestedExpression):
            inner = self.expression(c.expressions)
            return f"({inner})" if inner is not None else None
        return None

    def _paths(self, paths: Sequence[str]) -> str | None:
        for p in paths:
            if p == self.port.path:
                return f"port {p}"
            if p == self.port.segment_path:
                return f"segment {p}"
            inner = self.why(p)
            if inner is not None:
                return f"group {p.rsplit('/', 1)[-1]} ({inner})"
        return None


def nested_groups(group: Group, find: Callable[[str], Group | None]) -> list[str]:
    """The groups ``group`` includes by path, directly or through included ones (sorted;
    a cycle stops where it closes; ``find`` gives a group by path, None when missing)."""
    seen: set[str] = set()
    todo = [group]
    while todo:
        g = todo.pop()
        for path in _included(g.expression):
            inner = find(path)
            if inner is not None and path not in seen and path != group.path:
                seen.add(path)
                todo.append(inner)
    return sorted(seen)


def _included(items: Sequence[object]) -> list[str]:
    out: list[str] = []
    for c in items:
        if isinstance(c, PathExpression):
            out += [p for p in c.paths if "/groups/" in p]
        elif isinstance(c, NestedExpression):
            out += _included(c.expressions)
    return out
