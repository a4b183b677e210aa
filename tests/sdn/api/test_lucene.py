"""NSX's search query language (:mod:`sdn.api.lucene`): a table of queries with the
objects each selects, the refusals, and a property test against an independent oracle
(random objects, random query trees rendered to text with random spellings, evaluated by
brute force over the tree, not by the parser or the index)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.api.lucene import QuerySyntaxError, SearchIndex, parse

OBJECTS: list[dict[str, Any]] = [
    {"resource_type": "Segment", "display_name": "seg_k8s-cluster_default",
     "tags": [{"scope": "ncp/cluster", "tag": "k8s-cluster"},
              {"scope": "ncp/project", "tag": "default"}]},
    {"resource_type": "SegmentPort", "display_name": "default/frontend-0",
     "address_bindings": [{"ip_address": "172.16.0.2", "mac_address": "02:50:ac:10:00:02"}],
     "tags": [{"scope": "ncp/pod", "tag": "frontend-0"}, {"scope": "app", "tag": "guestbook"}]},
    {"resource_type": "SegmentPort", "display_name": "default/redis-master-0",
     "tags": [{"scope": "ncp/pod", "tag": "redis-master-0"}, {"scope": "app", "tag": "redis"}]},
    {"resource_type": "Group", "display_name": "Web Servers", "_revision": 3,
     "marked_for_delete": False, "description": "AND this"},
    {"resource_type": "Rule", "display_name": "allow web", "rule_id": 1966457191,
     "action": "ALLOW"},
]


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("resource_type:Segment", [0], id="field"),
    pytest.param("resource_type:segmentport", [1, 2], id="case-insensitive"),
    pytest.param("resource_type:Segment*", [0, 1, 2], id="trailing-wildcard"),
    pytest.param("resource_type:Seg?ent", [0], id="one-character-wildcard"),
    pytest.param("display_name:*frontend*", [1], id="inner-wildcard"),
    pytest.param("tags.scope:ncp\\/cluster", [0], id="escaped-slash"),
    pytest.param("tags.scope:ncp/cluster", [0], id="unescaped-slash"),
    pytest.param("tags.scope:ncp\\/cluster AND tags.tag:k8s\\-cluster", [0],
                 id="nsxlib-tag-query"),
    pytest.param("tags.scope:app AND tags.tag:redis", [2], id="tag-pair"),
    pytest.param("tags.scope:ncp\\/pod AND tags.tag:guestbook", [1],
                 id="scope-and-tag-of-different-tags"),
    pytest.param("resource_type:Group OR resource_type:Rule", [3, 4], id="or"),
    pytest.param("resource_type:Group || resource_type:Rule", [3, 4], id="or-symbol"),
    pytest.param("resource_type:Group resource_type:Rule", [3, 4], id="implicit-or"),
    pytest.param("resource_type:SegmentPort && NOT tags.tag:redis", [1], id="and-not"),
    pytest.param("resource_type:SegmentPort AND -tags.tag:redis", [1], id="minus"),
    pytest.param("!resource_type:SegmentPort", [0, 3, 4], id="bang"),
    pytest.param("resource_type:Rule OR resource_type:Group AND _revision:3", [3, 4],
                 id="and-binds-tighter"),
    pytest.param("(resource_type:Rule OR resource_type:Group) AND _revision:3", [3],
                 id="parentheses"),
    pytest.param("resource_type:(Group OR Rule)", [3, 4], id="field-group"),
    pytest.param("-(resource_type:Group OR resource_type:Rule)", [0, 1, 2],
                 id="negated-group"),
    pytest.param('display_name:"Web Servers"', [3], id="quoted"),
    pytest.param('display_name:"web*"', [], id="quoted-has-no-wildcard"),
    pytest.param("display_name:Web\\ Servers", [3], id="escaped-space"),
    pytest.param("display_name:web", [], id="whole-value"),
    pytest.param("guestbook", [1], id="bare-term"),
    pytest.param("*:guestbook", [1], id="any-field"),
    pytest.param("*", [0, 1, 2, 3, 4], id="everything"),
    pytest.param("*:*", [0, 1, 2, 3, 4], id="everything-fielded"),
    pytest.param("_revision:3", [3], id="number"),
    pytest.param("rule_id:1966457191", [4], id="large-number"),
    pytest.param("marked_for_delete:false", [3], id="boolean"),
    pytest.param("address_bindings.mac_address:02:50:ac:10:00:02", [1], id="colons-in-value"),
    pytest.param("address_bindings.ip_address:172.16.0.*", [1], id="nested-list-field"),
    pytest.param("_exists_:address_bindings", [1], id="exists"),
    pytest.param("_exists_:tags.tag", [0, 1, 2], id="exists-nested"),
    pytest.param("description:\"AND this\"", [3], id="operator-inside-quotes"),
    pytest.param("display_name:allow\\ web AND action:ALLOW", [4], id="escaped-then-and"),
    pytest.param("no_such_field:x", [], id="unknown-field"),
    pytest.param("and", [], id="lower-case-and-is-a-term"),
])
def test_queries_select_these_objects(query: str, expected: list[int]) -> None:
    assert sorted(SearchIndex(OBJECTS).select(parse(query))) == expected


@pytest.mark.parametrize(("query", "needle"), [
    pytest.param("", "empty", id="empty"),
    pytest.param("   ", "empty", id="blank"),
    pytest.param("(resource_type:Group", "not closed", id="unclosed-parenthesis"),
    pytest.param("resource_type:Group)", "unexpected", id="stray-parenthesis"),
    pytest.param('display_name:"open', "unterminated", id="unterminated-quote"),
    pytest.param("resource_type:Group AND", "ends", id="dangling-and"),
    pytest.param("OR resource_type:Group", "search term", id="leading-or"),
    pytest.param("NOT", "ends", id="bare-not"),
    pytest.param("_revision:[1 TO 5]", "ranges", id="range"),
    pytest.param("display_name:web^2", "boosts", id="boost"),
    pytest.param("display_name:web~", "fuzzy", id="fuzzy"),
    pytest.param("display_name:web\\", "backslash", id="trailing-backslash"),
    pytest.param("a:(b:c)", "field inside", id="field-in-field-group"),
    pytest.param("()", "search term", id="empty-group"),
])
def test_bad_queries_are_refused_with_a_reason(query: str, needle: str) -> None:
    with pytest.raises(QuerySyntaxError, match=needle):
        parse(query)


# --- the oracle: its own query tree, renderer and brute-force evaluation -----------------

FIELDS = ("resource_type", "display_name", "tags.scope", "tags.tag", "n", "flag", "a.b",
          "missing")
STAR, ONE = "*", "?"


@dataclass(frozen=True)
class QTerm:
    field: str | None
    parts: tuple[str, ...]  # literal strings and the wildcards STAR / ONE (as 1-tuples)
    wild: tuple[bool, ...]
    quoted: bool


@dataclass(frozen=True)
class QExists:
    field: str


@dataclass(frozen=True)
class QNot:
    operand: Any


@dataclass(frozen=True)
class QAnd:
    operands: tuple[Any, ...]


@dataclass(frozen=True)
class QOr:
    operands: tuple[Any, ...]


#: A small alphabet (special characters, case pairs, characters whose case folding
#: differs from lower-casing) so that random terms often match random values.
ALPHABET = "aA-/:* ?\"\\(!\u03a3\u03c3\u00df0"
TEXT = st.text(alphabet=ALPHABET, max_size=3)
VALUES = st.one_of(TEXT, st.integers(-3, 3), st.booleans(), st.none())


def objects() -> st.SearchStrategy[dict[str, Any]]:
    tags = st.lists(st.fixed_dictionaries({"scope": TEXT, "tag": TEXT}), max_size=3)
    return st.fixed_dictionaries({}, optional={
        "resource_type": st.sampled_from(["Segment", "Group", "Rule"]),
        "display_name": TEXT, "tags": tags, "n": VALUES, "flag": st.booleans(),
        "a": st.one_of(st.fixed_dictionaries({"b": st.lists(VALUES, max_size=3)}),
                       st.lists(st.fixed_dictionaries({"b": VALUES}), max_size=2)),
    })


def terms() -> st.SearchStrategy[Any]:
    field = st.one_of(st.none(), st.sampled_from(FIELDS))
    piece = st.one_of(st.tuples(st.text(alphabet=ALPHABET, min_size=1, max_size=2),
                                st.just(False)),
                      st.tuples(st.sampled_from([STAR, ONE]), st.just(True)))

    def build(f: str | None, pieces: list[tuple[str, bool]], quoted: bool) -> QTerm:
        if quoted:
            pieces = [(p, False) for p, wild in pieces if not wild]
        return QTerm(f, tuple(p for p, _ in pieces), tuple(w for _, w in pieces), quoted)

    unquoted = st.builds(build, field, st.lists(piece, min_size=1, max_size=2), st.just(False))
    quoted = st.builds(build, field, st.lists(piece, max_size=2), st.just(True))
    exists = st.builds(QExists, st.sampled_from((*FIELDS, "a", "tags")))
    return st.one_of(unquoted, quoted, exists)


def trees() -> st.SearchStrategy[Any]:
    return st.recursive(terms(), lambda inner: st.one_of(
        st.builds(QNot, inner),
        st.builds(lambda ops: QAnd(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda ops: QOr(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
    ), max_leaves=6)


def _escape(text: str) -> str:
    out = "".join(c if c.isalnum() and c.isascii() else "\\" + c for c in text)
    return "\\" + out if out in ("AND", "OR", "NOT") else out


def render(node: Any, spell: Iterator[int]) -> str:
    """The query text of a tree; ``spell`` picks among equivalent spellings."""
    if isinstance(node, QTerm):
        if node.quoted:
            body = '"' + "".join("\\" + c if c in '"\\' else c for c in "".join(node.parts)) + '"'
        else:
            pieces = zip(node.parts, node.wild, strict=True)
            body = "".join(p if w else _escape(p) for p, w in pieces)
        return body if node.field is None else f"{node.field}:{body}"
    if isinstance(node, QExists):
        return f"_exists_:{node.field}"
    if isinstance(node, QNot):
        return ("NOT ", "!", "-")[next(spell) % 3] + f"({render(node.operand, spell)})"
    ops = [f"({render(o, spell)})" for o in node.operands]
    joiners = (" AND ", " && ") if isinstance(node, QAnd) else (" OR ", " || ", " ")
    return joiners[next(spell) % len(joiners)].join(ops)


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value).casefold()
    return None


def _at(value: Any, path: list[str]) -> list[Any]:
    """The values at a dotted path, lists looked through (the oracle's own walk)."""
    if isinstance(value, list):
        return [v for item in value for v in _at(item, path)]
    if not path:
        return [] if value is None else [value]
    if isinstance(value, dict) and path[0] in value:
        return _at(value[path[0]], path[1:])
    return []


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    return [value]


def _matches(parts: tuple[str, ...], wild: tuple[bool, ...], text: str) -> bool:
    """Wildcard matching by dynamic programming over the term's pieces."""
    pattern: list[str | None] = []  # a character, or None for STAR, or "" for ONE
    for p, w in zip(parts, wild, strict=True):
        if w:
            pattern.append(None if p == STAR else "")
        else:
            pattern += list(p.casefold())
    reach = {0}
    for c in text:
        nxt: set[int] = set()
        for i in _closure(reach, pattern):
            if i < len(pattern):
                if pattern[i] is None:
                    nxt.add(i)
                elif pattern[i] == "" or pattern[i] == c:
                    nxt.add(i + 1)
        reach = nxt
    return len(pattern) in _closure(reach, pattern)


def _closure(reach: set[int], pattern: list[str | None]) -> set[int]:
    out, todo = set(reach), list(reach)
    while todo:
        i = todo.pop()
        if i < len(pattern) and pattern[i] is None and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return out


def oracle(node: Any, obj: dict[str, Any]) -> bool:
    if isinstance(node, QTerm):
        values = _scalars(obj) if node.field is None else _at(obj, node.field.split("."))
        texts = [t for v in values if (t := _text(v)) is not None]
        return any(_matches(node.parts, node.wild, t) for t in texts)
    if isinstance(node, QExists):
        return bool(_at(obj, node.field.split(".")))
    if isinstance(node, QNot):
        return not oracle(node.operand, obj)
    if isinstance(node, QAnd):
        return all(oracle(o, obj) for o in node.operands)
    return any(oracle(o, obj) for o in node.operands)


@settings(max_examples=400, deadline=None)
@given(st.lists(objects(), max_size=8), trees(), st.lists(st.integers(0, 5), min_size=20,
                                                         max_size=20))
def test_search_agrees_with_brute_force_oracle(objs: list[dict[str, Any]], tree: Any,
                                               spellings: list[int]) -> None:
    query = render(tree, iter(spellings * 10))
    found = sorted(SearchIndex(objs).select(parse(query)))
    assert found == [i for i, obj in enumerate(objs) if oracle(tree, obj)], query
