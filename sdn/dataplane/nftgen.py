"""The nftables tables of each namespace (placeholder replaced by the nft helper's module
at merge): this stand-in implements exactly the agreed interface with empty rulesets (no
tables), so :mod:`sdn.dataplane.realize` and its tests run before the generator lands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdn.dataplane.layout import Layout
from sdn.model import Inventory
from sdn.policy.firewall import Firewall


@dataclass(frozen=True)
class Ruleset:
    """One namespace's tables, as ``nft -f`` text per table name."""

    tables: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"tables": [list(t) for t in self.tables]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Ruleset:
        return cls(tuple((str(name), str(text)) for name, text in obj["tables"]))


def rulesets(inv: Inventory, layout: Layout, firewall: Firewall) -> dict[str, Ruleset]:
    """Namespace name -> that namespace's tables (none in this placeholder)."""
    return {}


def transaction(old: Ruleset | None, new: Ruleset | None) -> str:
    """The ``nft -f`` script taking a namespace from ``old`` to ``new`` ("" when equal)."""
    if old == new:
        return ""
    lines = [f"delete table {name}" for name, _ in (old.tables if old else ())]
    lines += [text for _, text in (new.tables if new else ())]
    return "\n".join(lines) + "\n"


def count(old: Ruleset | None, new: Ruleset | None) -> int:
    """Changed chains and elements between ``old`` and ``new``."""
    old_tables = set(old.tables) if old else set()
    new_tables = set(new.tables) if new else set()
    return len(old_tables ^ new_tables)
