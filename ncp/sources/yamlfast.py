"""A faster way from libyaml's node graph to plain values, with PyYAML's exact answers.

PyYAML with libyaml (``CSafeLoader``) parses and composes in C, but builds the values in
Python through a general constructor (a dispatch, a generator and bookkeeping per node); at
100,000 manifests that was most of the time of reading them. :class:`FastLoader` builds
maps, sequences and strings directly and hands every other node to the safe constructor's
own function for its tag (numbers, booleans, null, timestamps, ...), so each value is the
one ``yaml.safe_load`` gives. Anything unusual (a merge key ``<<``, a key that is not
hashable, a recursive alias, a tag outside the core set) makes the document fall back to
the safe constructor whole, errors included.

Two more costs go at full scale (100,000 manifests, millions of nodes):

* libyaml's composer asks Python for every node's tag (``resolve``: a few regular
  expressions per plain scalar). The answer depends only on the scalar's text and how it
  was quoted (the safe loader has no path resolvers), so it is remembered per
  ``(text, implicit)``.
* Keeping each built node by identity is only needed for aliases (one object for each
  anchored node, and recursion found). A text without ``&`` has no anchor, so no alias
  either (an alias to an unknown anchor is a composer error before anything is built):
  its documents are built without that bookkeeping.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["FastLoader"]

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_SCALARS = frozenset({
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:timestamp",
})


class _Fallback(Exception):
    """The document needs the general constructor."""


#: Remembered tags of plain and quoted scalars, by (text, implicit); emptied when full.
_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}
_RESOLVED_LIMIT = 200_000


class FastLoader(_Base):  # type: ignore[misc]
    """``CSafeLoader`` (``SafeLoader`` without libyaml) with a fast ``construct_document``
    and remembered scalar tags."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        if isinstance(stream, str):
            self._anchors = "&" in stream
        else:  # bytes, or a file read as it goes: assume anchors
            self._anchors = not isinstance(stream, bytes) or b"&" in stream

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode or self.yaml_path_resolvers:
            tag: str = super().resolve(kind, value, implicit)
            return tag
        key = (value, implicit)
        found = _RESOLVED.get(key)
        if found is None:
            found = super().resolve(kind, value, implicit)
            if len(_RESOLVED) >= _RESOLVED_LIMIT:
                _RESOLVED.clear()
            _RESOLVED[key] = found
        return found

    def construct_document(self, node: Node) -> Any:
        try:
            return (_Builder(self) if self._anchors else _TreeBuilder(self)).build(node)
        except _Fallback:
            return super().construct_document(node)


class _Builder:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.done: dict[int, Any] = {}
        self.busy: set[int] = set()

    def build(self, node: Node) -> Any:
        tag = node.tag
        if tag == _STR and type(node) is ScalarNode:
            return node.value
        key = id(node)
        if key in self.done:
            return self.done[key]
        if key in self.busy:
            raise _Fallback  # a recursive structure
        if type(node) is ScalarNode:
            construct = self.loader.yaml_constructors.get(tag)
            if tag not in _SCALARS or construct is None:
                raise _Fallback
            value = construct(self.loader, node)
        elif type(node) is MappingNode and tag == _MAP:
            self.busy.add(key)
            value = self._mapping(node)
            self.busy.discard(key)
        elif type(node) is SequenceNode and tag == _SEQ:
            self.busy.add(key)
            value = [self.build(item) for item in node.value]
            self.busy.discard(key)
        else:
            raise _Fallback
        self.done[key] = value
        return value

    def _mapping(self, node: MappingNode) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise _Fallback
            key = self.build(key_node)
            if type(key) is not str and not isinstance(key, Hashable):
                raise _Fallback
            out[key] = self.build(value_node)
        return out


class _TreeBuilder(_Builder):
    """:class:`_Builder` for a document without anchors: every node is reached once, so
    nothing is kept by identity."""

    def build(self, node: Node) -> Any:
        tag = node.tag
        if type(node) is ScalarNode:
            if tag == _STR:
                return node.value
            construct = self.loader.yaml_constructors.get(tag)
            if tag not in _SCALARS or construct is None:
                raise _Fallback
            return construct(self.loader, node)
        if type(node) is MappingNode and tag == _MAP:
            return self._mapping(node)
        if type(node) is SequenceNode and tag == _SEQ:
            return [self.build(item) for item in node.value]
        raise _Fallback
