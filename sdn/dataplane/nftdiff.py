"""One atomic ``nft -f`` script taking a namespace from one :class:`Ruleset` to another.

Why a diff against the recorded ruleset and not against the kernel: listing even one
chain makes nft load the whole cache (0.28 s at 1,000 ports), and a policy change must
cost far less than a second. ``nft -f`` applies a file as one transaction: a bad line
leaves the kernel as it was (spike section 4), so a script is all or nothing.

Per table, in this order (each step may refer to what the earlier ones made):

1. new sets and maps (with their elements), new chains declared (empty);
2. elements removed (and map elements whose verdict changed);
3. changed and removed chains flushed (a changed chain keeps its name and its counters'
   neighbours: only its rules are replaced);
4. elements added;
5. changed and new chains filled;
6. removed maps (their elements name chains), removed chains, then removed sets
   deleted (nothing refers to them any more).

A table new to the namespace is made with ``add table`` + ``delete table`` + its block
(so a table left behind by a crashed run is replaced, not merged into); a table that goes
is deleted the same guarded way. A base chain whose hook declaration changed, or a set
whose type changed, makes the whole table be replaced (the generator never does either).
"""

from __future__ import annotations

from collections.abc import Iterable

from sdn.dataplane.nftmodel import Chain, NamedSet, Ruleset, Table

#: Elements per ``add element`` / ``delete element`` line (keeps lines of bounded length).
ELEMENTS_PER_LINE = 500


def transaction(old: Ruleset | None, new: Ruleset | None) -> str:
    """The ``nft -f`` script from ``old`` to ``new`` ("" when they are equal; ``new``
    None removes our tables, ``old`` None makes every table of ``new`` afresh)."""
    before = _tables(old)
    after = _tables(new)
    lines: list[str] = []
    for key in sorted(before.keys() - after.keys()):
        lines += _drop(before[key])
    for key in sorted(after):
        if key not in before:
            lines += _fresh(after[key])
        elif before[key] != after[key]:
            lines += _change(before[key], after[key])
    return "\n".join(lines) + "\n" if lines else ""


def count(old: Ruleset | None, new: Ruleset | None) -> int:
    """How many chains, sets and elements ``transaction(old, new)`` creates, changes or
    deletes (a map element whose verdict changed counts once): 0 when equal."""
    before = _tables(old)
    after = _tables(new)
    total = 0
    for key in before.keys() | after.keys():
        a, b = before.get(key, Table(*key)), after.get(key, Table(*key))
        if a == b:
            continue
        old_chains, new_chains = _by_name(a.chains), _by_name(b.chains)
        total += sum(1 for n in old_chains.keys() | new_chains.keys()
                     if old_chains.get(n) != new_chains.get(n))
        old_sets, new_sets = _by_name(a.sets), _by_name(b.sets)
        for name in old_sets.keys() | new_sets.keys():
            s, t = old_sets.get(name), new_sets.get(name)
            total += int(s is None or t is None)
            olds, news = _elements(s), _elements(t)
            total += sum(1 for k in olds.keys() | news.keys() if olds.get(k) != news.get(k))
    return total


def _tables(rs: Ruleset | None) -> dict[tuple[str, str], Table]:
    return {(t.family, t.name): t for t in rs.tables} if rs is not None else {}


def _by_name(items: Iterable[Chain | NamedSet]) -> dict[str, Chain | NamedSet]:
    return {i.name: i for i in items}


def _elements(s: Chain | NamedSet | None) -> dict[str, str]:
    return dict(s.elements) if isinstance(s, NamedSet) else {}


def _drop(t: Table) -> list[str]:
    return [f"add table {t.ref}", f"delete table {t.ref}"]


def _fresh(t: Table) -> list[str]:
    return [*_drop(t), *t.text()]


def _element_lines(verb: str, t: Table, s: NamedSet, items: list[str]) -> list[str]:
    return [f"{verb} element {t.ref} {s.name} {{ " + ", ".join(
        items[i:i + ELEMENTS_PER_LINE]) + " }" for i in range(0, len(items), ELEMENTS_PER_LINE)]


def _change(a: Table, b: Table) -> list[str]:
    """The steps of the module docstring for one table present before and after."""
    old_chains = {c.name: c for c in a.chains}
    new_chains = {c.name: c for c in b.chains}
    old_sets = {s.name: s for s in a.sets}
    new_sets = {s.name: s for s in b.sets}
    if any(old_chains[n].hook != c.hook for n, c in new_chains.items() if n in old_chains) \
            or any((old_sets[n].type, old_sets[n].flags, old_sets[n].map)
                   != (s.type, s.flags, s.map) for n, s in new_sets.items() if n in old_sets):
        return _fresh(b)
    made_sets = [s for n, s in new_sets.items() if n not in old_sets]
    made_chains = [c for n, c in new_chains.items() if n not in old_chains]
    changed = [c for n, c in new_chains.items() if n in old_chains and old_chains[n] != c]
    gone_chains = [c for n, c in old_chains.items() if n not in new_chains]
    lines: list[str] = []
    for s in made_sets:
        lines.append(f"add {'map' if s.map else 'set'} {b.ref} {s.name} {{ {s.declaration()} }}")
        lines += _element_lines("add", b, s, [s.element_text(k, v) for k, v in s.elements])
    for c in made_chains:
        lines.append(f"add chain {b.ref} {c.name}" + (f" {{ {c.hook} }}" if c.hook else ""))
    additions: list[tuple[NamedSet, list[str]]] = []
    for name, s in new_sets.items():
        if name not in old_sets:
            continue
        olds, news = dict(old_sets[name].elements), dict(s.elements)
        removed = [k for k, v in olds.items() if news.get(k) != v]
        added = [s.element_text(k, v) for k, v in s.elements if olds.get(k) != v]
        lines += _element_lines("delete", b, s, removed)
        additions.append((s, added))
    lines += [f"flush chain {b.ref} {c.name}" for c in (*changed, *gone_chains)]
    for s, added in additions:
        lines += _element_lines("add", b, s, added)
    if changed or made_chains:
        lines.append(f"table {b.ref} {{")
        for c in (*changed, *made_chains):
            lines += Chain(c.name, c.rules).body()  # declared already: rules only
        lines.append("}")
    gone_sets = [s for n, s in old_sets.items() if n not in new_sets]
    lines += [f"delete map {b.ref} {s.name}" for s in gone_sets if s.map]
    lines += [f"delete chain {b.ref} {c.name}" for c in gone_chains]
    lines += [f"delete set {b.ref} {s.name}" for s in gone_sets if not s.map]
    return lines
