"""NSX's search query language (the Lucene query-string form NSX Manager's
``/policy/api/v1/search/query`` takes), parsed into a small tree and evaluated over objects'
JSON.

Why a parser of our own: clients build these strings (``resource_type:Segment AND
tags.scope:ncp\\/cluster``) and expect NSX's answers; a regular expression or a split on
``AND`` cannot get parentheses, quoting, escapes and precedence right.

What is understood (a small recursive descent, precedence from loosest to tightest):

* ``a OR b`` (also ``a || b``, and two clauses side by side: Lucene's default operator is
  OR), ``a AND b`` (also ``&&``), ``NOT a`` (also ``!a`` and ``-a``; ``+a`` is ``a``), and
  parentheses. Operators are upper-case words, as in Lucene (``and`` is a search term).
* ``field:value`` on a dotted path into the object (``tags.scope``, ``display_name``,
  ``address_bindings.ip_address``); lists are looked through at every level, so
  ``tags.scope:x AND tags.tag:y`` holds when *some* tag has scope x and *some* tag has
  value y, not necessarily the same one (how NSX's search index flattens arrays of
  objects: clients that need one tag filter the results themselves).
  ``field:(a OR b)`` applies the field to every bare term inside.
* a bare ``value`` matches any field; ``*:value`` is the same, ``*:*`` and ``*`` match
  every object; ``_exists_:field`` objects where the field has a value.
* values: ``*`` and ``?`` are wildcards (any run of characters, one character);
  ``"quoted values"`` are literal (no wildcards; ``\\"`` inside); a backslash makes the
  next character literal anywhere (``ncp\\/cluster``, ``k8s\\-cluster``, ``a\\*``).
  ``/`` and ``-`` inside a word need no escape (nsxlib escapes them; both forms work),
  and ``:`` inside a value (a MAC address after ``field:``) needs none either.
* matching is on the whole value, ignoring case (``display_name:web`` does not match
  ``web-1``; ``display_name:web*`` does). Numbers and booleans match their JSON text
  (``_revision:0``, ``marked_for_delete:false``).

Refused with :class:`QuerySyntaxError` (its message names the position): an empty query,
unbalanced parentheses or quotes, an operator without an operand, and Lucene features
this server does not evaluate (ranges ``[a TO b]``, boosts ``^``, fuzzy ``~``, regular
expressions): an answer that silently ignored them would be wrong, not approximate.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from pyroaring import BitMap

#: Characters that end a word (unless escaped).
_BREAKS = frozenset(" \t\r\n()\":")
#: What cannot follow a ``+``/``-`` prefix (there it is a word of its own).
_NOT_OPERAND = frozenset(" \t\r\n):")
#: Lucene syntax this evaluator refuses rather than misreads.
_UNSUPPORTED = {"[": "ranges", "]": "ranges", "{": "ranges", "}": "ranges",
                "^": "boosts", "~": "fuzzy or proximity searches"}
_OPERATORS = {"AND", "OR", "NOT"}


class QuerySyntaxError(ValueError):
    """A query this parser cannot read (the message says where and why)."""


@dataclass(frozen=True)
class Term:
    """``field:value`` (``field`` None: any field). ``literal`` is the lower-cased value
    when it has no wildcard (looked up directly), else None and ``regex`` decides."""

    field: str | None
    text: str
    literal: str | None
    regex: re.Pattern[str]
    #: The lower-cased text before the first wildcard (every match starts with it).
    head: str


@dataclass(frozen=True)
class Exists:
    """``_exists_:field``."""

    field: str


@dataclass(frozen=True)
class Not:
    """Every object the operand does not match."""

    operand: Node


@dataclass(frozen=True)
class And:
    """Objects every operand matches."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Objects some operand matches."""

    operands: tuple[Node, ...]


Node = Term | Exists | Not | And | Or


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD, PHRASE, LPAREN, RPAREN, COLON, AND, OR, NOT, PLUS
    chars: tuple[tuple[str, bool], ...]  # (character, escaped) for WORD and PHRASE
    start: int
    end: int

    @property
    def text(self) -> str:
        return "".join(c for c, _ in self.chars)


def _tokens(query: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Token("LPAREN" if c == "(" else "RPAREN", (), i, i + 1))
            i += 1
        elif c == ":":
            out.append(_Token("COLON", (), i, i + 1))
            i += 1
        elif c == '"':
            out.append(_phrase(query, i))
            i = out[-1].end
        elif query.startswith("&&", i) or query.startswith("||", i):
            out.append(_Token("AND" if c == "&" else "OR", (), i, i + 2))
            i += 2
        elif c == "!" or (c in "+-" and i + 1 < n and query[i + 1] not in _NOT_OPERAND):
            out.append(_Token("PLUS" if c == "+" else "NOT", (), i, i + 1))
            i += 1
        else:
            out.append(_word(query, i))
            i = out[-1].end
    return out


def _phrase(query: str, start: int) -> _Token:
    chars: list[tuple[str, bool]] = []
    i = start + 1
    while i < len(query):
        c = query[i]
        if c == "\\":
            if i + 1 == len(query):
                break
            chars.append((query[i + 1], True))
            i += 2
        elif c == '"':
            return _Token("PHRASE", tuple(chars), start, i + 1)
        else:
            chars.append((c, False))
            i += 1
    raise QuerySyntaxError(f"unterminated quoted value at position {start}")


def _word(query: str, start: int) -> _Token:
    chars: list[tuple[str, bool]] = []
    i = start
    while i < len(query) and query[i] not in _BREAKS:
        c = query[i]
        if c == "\\":
            if i + 1 == len(query):
                raise QuerySyntaxError(f"a backslash ends the query at position {i}")
            chars.append((query[i + 1], True))
            i += 2
            continue
        if c in _UNSUPPORTED:
            raise QuerySyntaxError(f"{_UNSUPPORTED[c]} ({c!r} at position {i}) are not "
                                   "supported; escape the character to search for it")
        chars.append((c, False))
        i += 1
    text = "".join(c for c, _ in chars)
    escaped = any(e for _, e in chars)
    kind = text if text in _OPERATORS and not escaped else "WORD"
    return _Token(kind, tuple(chars) if kind == "WORD" else (), start, i)


def _term(field: str | None, chars: Sequence[tuple[str, bool]], *, wildcards: bool) -> Term:
    """The term matching ``chars`` (unescaped ``*``/``?`` are wildcards when
    ``wildcards``), lower-cased."""
    parts: list[str] = []
    head: list[str] = []
    literal = True
    for c, escaped in chars:
        if wildcards and not escaped and c in "*?":
            parts.append(".*" if c == "*" else ".")
            literal = False
        else:
            parts.append(re.escape(c.casefold()))
            if literal:
                head.append(c.casefold())
    text = "".join(c for c, _ in chars)
    return Term(field, text, text.casefold() if literal else None,
                re.compile("".join(parts), re.DOTALL), "".join(head))


class _Parser:
    """Recursive descent over the tokens (see the module's doc for the grammar)."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokens(query)
        self.pos = 0

    def peek(self, offset: int = 0) -> _Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> _Token:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError("the query ends where a search term was expected")
        self.pos += 1
        return tok

    def parse(self) -> Node:
        if not self.tokens:
            raise QuerySyntaxError("the query is empty")
        node = self.disjunction(None)
        tok = self.peek()
        if tok is not None:
            raise QuerySyntaxError(f"unexpected {self.query[tok.start:tok.end]!r} at "
                                   f"position {tok.start}")
        return node

    def disjunction(self, field: str | None) -> Node:
        operands = [self.conjunction(field)]
        while (tok := self.peek()) is not None and tok.kind != "RPAREN":
            if tok.kind == "OR":
                self.pos += 1
            operands.append(self.conjunction(field))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self, field: str | None) -> Node:
        operands = [self.negation(field)]
        while (tok := self.peek()) is not None and tok.kind == "AND":
            self.pos += 1
            operands.append(self.negation(field))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def negation(self, field: str | None) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == "NOT":
            self.pos += 1
            return Not(self.negation(field))
        if tok is not None and tok.kind == "PLUS":
            self.pos += 1
        return self.primary(field)

    def primary(self, field: str | None) -> Node:
        tok = self.take()
        if tok.kind == "LPAREN":
            node = self.disjunction(field)
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise QuerySyntaxError(f"the parenthesis at position {tok.start} is not "
                                       "closed")
            self.pos += 1
            return node
        nxt = self.peek()
        if tok.kind == "WORD" and nxt is not None and nxt.kind == "COLON" \
                and nxt.start == tok.end:
            if field is not None:
                raise QuerySyntaxError(f"a field inside {field}:(...) at position "
                                       f"{tok.start}")
            self.pos += 1
            return self.fielded(tok)
        return self.value(tok, field)

    def fielded(self, name: _Token) -> Node:
        field = name.text
        tok = self.take()
        if tok.kind == "LPAREN":
            self.pos -= 1
            return self.primary(None if field == "*" else field)
        if field == "_exists_":
            if tok.kind != "WORD":
                raise QuerySyntaxError(f"_exists_ needs a field name at position {tok.start}")
            return Exists(tok.text)
        return self.value(tok, None if field == "*" else field)

    def value(self, tok: _Token, field: str | None) -> Node:
        if tok.kind == "PHRASE":
            return _term(field, tok.chars, wildcards=False)
        if tok.kind != "WORD":
            raise QuerySyntaxError(f"a search term was expected at position {tok.start}, "
                                   f"not {self.query[tok.start:tok.end]!r}")
        chars = list(tok.chars)
        end = tok.end
        # a value may hold unescaped colons (a MAC address): words glued by ':' are one
        while (colon := self.peek()) is not None and colon.kind == "COLON" \
                and colon.start == end and field is not None:
            self.pos += 1
            chars.append((":", True))
            end = colon.end
            nxt = self.peek()
            if nxt is not None and nxt.kind == "WORD" and nxt.start == end:
                self.pos += 1
                chars += nxt.chars
                end = nxt.end
        return _term(field, chars, wildcards=True)


def parse(query: str) -> Node:
    """The tree of ``query``.

    Raises:
        QuerySyntaxError: the query cannot be read (see the module's doc).
    """
    return _Parser(query).parse()


def scalar_text(value: object) -> str | None:
    """How a JSON scalar is matched: its text, lower-cased (None: not a scalar)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, int | float):
        return str(value).casefold()
    return None


def resolve(value: object, parts: Sequence[str]) -> list[object]:
    """The values at a dotted path (split in ``parts``), lists looked through at every
    level (a list at the end gives its items). Level by level rather than recursively:
    it runs once per object per indexed field, 100,000 times at 10,000 pods."""
    level = _flat([value], [])
    for key in parts:
        level = _flat([item.get(key) for item in level if isinstance(item, dict)], [])
    return level


def _flat(items: list[object], out: list[object]) -> list[object]:
    """``items`` without None, nested lists spread in place (appended to ``out``)."""
    for item in items:
        if isinstance(item, list | tuple):
            _flat(list(item), out)
        elif item is not None:
            out.append(item)
    return out


def leaves(value: object) -> Iterator[str]:
    """The matched text of every scalar in a JSON value (what a bare term searches)."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from leaves(item)
    else:
        text = scalar_text(value)
        if text is not None:
            yield text


class _FieldIndex:
    """One field's values, each with the ids of the objects holding it."""

    def __init__(self, by_value: dict[str, BitMap], present: BitMap) -> None:
        self.by_value = by_value
        self.present = present
        self._sorted: list[str] | None = None

    def matching(self, term: Term) -> BitMap:
        if term.literal is not None:
            return BitMap(self.by_value.get(term.literal, ()))
        if self._sorted is None:
            self._sorted = sorted(self.by_value)
        # only values starting with the pattern's literal head can match: bisect to them
        found = BitMap()
        for value in itertools.takewhile(
                lambda v: v.startswith(term.head),
                itertools.islice(self._sorted, bisect.bisect_left(self._sorted, term.head),
                                 None)):
            if term.regex.fullmatch(value):
                found |= self.by_value[value]
        return found


class SearchIndex:
    """Objects indexed by field and value, so a query costs set operations on the values
    it names instead of a walk over every object (10,000 pods: some 100,000 objects).

    A field is indexed the first time a query names it (one pass over the objects), so
    memory and time go to the fields clients search (``resource_type``, ``tags.scope``,
    ``display_name``, ...); a bare term indexes every value of every object once. The
    caller builds one index per state revision; ids are positions in ``objects``.
    """

    def __init__(self, objects: Sequence[Mapping[str, object]]) -> None:
        self.objects = objects
        self.universe = BitMap(range(len(objects)))
        self._fields: dict[str | None, _FieldIndex] = {}

    def field(self, name: str | None) -> _FieldIndex:
        """The index of one field (None: every value of every field), built on first use."""
        found = self._fields.get(name)
        if found is not None:
            return found
        ids_of: dict[str, list[int]] = {}
        present: list[int] = []
        parts = name.split(".") if name is not None else []
        for i, obj in enumerate(self.objects):
            values = leaves(obj) if name is None else resolve(obj, parts)
            for value in values:
                if not present or present[-1] != i:
                    present.append(i)
                text = value if name is None else scalar_text(value)
                if isinstance(text, str):
                    ids = ids_of.get(text)
                    if ids is None:
                        ids_of[text] = [i]
                    elif ids[-1] != i:
                        ids.append(i)
        # lists first, bitmaps once at the end: most values (ids, paths, pod names) are
        # held by one object, and a bitmap per add costs several times a list's
        by_value = {text: BitMap(ids) for text, ids in ids_of.items()}
        found = self._fields[name] = _FieldIndex(by_value, BitMap(present))
        return found

    def select(self, node: Node) -> BitMap:
        """The ids of the objects ``node`` matches."""
        if isinstance(node, Term):
            return self.field(node.field).matching(node)
        if isinstance(node, Exists):
            return BitMap(self.field(node.field).present)
        if isinstance(node, Not):
            return self.universe - self.select(node.operand)
        if isinstance(node, And):
            found = self.select(node.operands[0])
            for operand in node.operands[1:]:
                if not found:
                    break
                found &= self.select(operand)
            return found
        return BitMap.union(BitMap(), *(self.select(o) for o in node.operands))


__all__ = ["And", "Exists", "Node", "Not", "Or", "QuerySyntaxError", "SearchIndex", "Term",
           "leaves", "parse", "resolve", "scalar_text"]
