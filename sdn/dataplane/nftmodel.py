"""nftables rulesets as values: what :mod:`sdn.dataplane.nftgen` produces, what the
realizer records and diffs, and what tests interpret without parsing text.

Why structured and not text: the realizer keeps the applied ruleset of every namespace in
its record and diffs the next one against it (listing a chain from the kernel costs
0.28 s at 1,000 ports, the spike measured), the diff must know chains, sets and map
elements apart, and the tests decide flows over the structure with an interpreter of
their own. The text is rendered from the structure in one place (:meth:`Table.text`).

Shapes, all frozen and comparable:

* :class:`Match` one ``key [!=] value`` expression (``values`` of more than one item are
  an anonymous set ``{ a, b }``; ``@name`` is a named set);
* :class:`Rule` matches, then ``counter`` when it has a ``comment`` (every verdict rule
  of ours carries both: the live tracer names verdicts by comment), non-verdict
  ``statements``, then its ``verdict``;
* :class:`Chain` a name, its rules and, for a base chain, its ``hook`` declaration;
* :class:`NamedSet` a named set or verdict map with its elements as (key, value) pairs
  (value ``""`` in a set); a set's ``type`` never changes under the same name (names are
  digests of what they hold, or fixed for maps), which the diff relies on;
* :class:`Table` and :class:`Ruleset` (one namespace's tables).

Rendering pitfalls (spike): a ``comment "..."`` directly followed by ``}`` on one line is
a syntax error, and so is ``} }``: every rule and every closing brace gets a line of its
own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

#: nftables' longest comment (NFT_USERDATA_MAXLEN is 128 bytes with its terminator).
MAX_COMMENT = 127


def digest(text: str, length: int = 12) -> str:
    """A short stable digest: generated names (chains, sets) are ``<prefix>_<digest>``,
    prefixed because words like ``fwd`` are nft keywords."""
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def comment_for(kind: str, ident: str) -> str:
    """The comment naming an NSX object (``rule 1001``, ``nat <id>``, ``lb <id>``): the
    id itself when it fits nftables' 127 characters, else its head, ``~`` and a digest of
    the whole id (the tracer builds the same text from the ids it knows)."""
    text = f"{kind} {ident}".replace('"', "'")
    if len(text) <= MAX_COMMENT:
        return text
    tail = "~" + digest(ident, 10)
    return text[:MAX_COMMENT - len(tail)] + tail


@dataclass(frozen=True, slots=True)
class Match:
    """``key value``, ``key != value`` or ``key { v1, v2 }``."""

    key: str
    values: tuple[str, ...]
    negate: bool = False

    def text(self) -> str:
        value = self.values[0] if len(self.values) == 1 else "{ " + ", ".join(self.values) + " }"
        return f"{self.key} {'!= ' if self.negate else ''}{value}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: matches, ``counter`` (with a comment), statements, a verdict."""

    matches: tuple[Match, ...] = ()
    verdict: str = ""
    statements: tuple[str, ...] = ()
    comment: str = ""

    def text(self) -> str:
        parts = [m.text() for m in self.matches]
        if self.comment:
            parts.append("counter")
        parts += self.statements
        if self.verdict:
            parts.append(self.verdict)
        if self.comment:
            parts.append(f'comment "{self.comment}"')
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain; ``hook`` is a base chain's declaration (``type filter hook forward
    priority 0; policy accept;``), empty for a regular chain."""

    name: str
    rules: tuple[Rule, ...]
    hook: str = ""

    def body(self) -> list[str]:
        """The chain block (header, one rule per line, closing brace)."""
        lines = [f"  chain {self.name} {{"]
        if self.hook:
            lines.append(f"    {self.hook}")
        lines += [f"    {r.text()}" for r in self.rules]
        lines.append("  }")
        return lines


@dataclass(frozen=True, slots=True)
class NamedSet:
    """A named set (``map`` False) or verdict/data map with its elements."""

    name: str
    type: str
    elements: tuple[tuple[str, str], ...] = ()
    flags: str = ""
    map: bool = False

    def declaration(self) -> str:
        """``type ...; [flags ...;]`` as ``add set`` and the table block take it."""
        flags = f" flags {self.flags};" if self.flags else ""
        return f"type {self.type};{flags}"

    def element_text(self, key: str, value: str) -> str:
        return f"{key} : {value}" if self.map else key


@dataclass(frozen=True, slots=True)
class Table:
    """One table of one namespace."""

    family: str
    name: str
    sets: tuple[NamedSet, ...] = ()
    chains: tuple[Chain, ...] = ()

    @property
    def ref(self) -> str:
        """``family name`` as nft commands name the table."""
        return f"{self.family} {self.name}"

    def text(self) -> list[str]:
        """The whole table as an ``nft -f`` block (sets first: chains refer to them)."""
        lines = [f"table {self.ref} {{"]
        for s in self.sets:
            lines.append(f"  {'map' if s.map else 'set'} {s.name} {{")
            lines.append(f"    {s.declaration()}")
            if s.elements:
                lines.append("    elements = { " + ", ".join(
                    s.element_text(k, v) for k, v in s.elements) + " }")
            lines.append("  }")
        for c in self.chains:
            lines += c.body()
        lines.append("}")
        return lines


@dataclass(frozen=True)
class Ruleset:
    """Every table of ours in one namespace (sorted by family and name)."""

    tables: tuple[Table, ...] = ()

    def table(self, family: str, name: str) -> Table | None:
        """The table ``family name``, if the ruleset has it."""
        return next((t for t in self.tables if (t.family, t.name) == (family, name)), None)

    def to_json(self) -> list[dict[str, Any]]:
        """A JSON-ready value (the realizer's record keeps it)."""
        return [{"family": t.family, "name": t.name,
                 "sets": [{"name": s.name, "type": s.type, "flags": s.flags, "map": s.map,
                           "elements": [list(e) for e in s.elements]} for s in t.sets],
                 "chains": [{"name": c.name, "hook": c.hook,
                             "rules": [_rule_json(r) for r in c.rules]} for c in t.chains]}
                for t in self.tables]

    @classmethod
    def from_json(cls, obj: Any) -> Ruleset:
        """The ruleset :meth:`to_json` gave (``KeyError``/``TypeError``/``ValueError`` on
        anything else)."""
        return cls(tuple(Table(
            t["family"], t["name"],
            tuple(NamedSet(s["name"], s["type"], tuple((str(k), str(v)) for k, v in
                                                       s["elements"]), s["flags"],
                           bool(s["map"])) for s in t["sets"]),
            tuple(Chain(c["name"], tuple(_rule_of(r) for r in c["rules"]), c["hook"])
                  for c in t["chains"])) for t in obj))


def _rule_json(r: Rule) -> dict[str, Any]:
    return {"matches": [[m.key, list(m.values), m.negate] for m in r.matches],
            "verdict": r.verdict, "statements": list(r.statements), "comment": r.comment}


def _rule_of(obj: dict[str, Any]) -> Rule:
    return Rule(tuple(Match(str(k), tuple(str(v) for v in values), bool(neg))
                      for k, values, neg in obj["matches"]),
                str(obj["verdict"]), tuple(str(s) for s in obj["statements"]),
                str(obj["comment"]))


def ruleset(tables: list[Table]) -> Ruleset:
    """A ruleset of ``tables`` in canonical order."""
    return Ruleset(tuple(sorted(tables, key=lambda t: (t.family, t.name))))


__all__ = ["MAX_COMMENT", "Chain", "Match", "NamedSet", "Rule", "Ruleset", "Table",
           "comment_for", "digest", "ruleset"]
