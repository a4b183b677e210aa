"""The common shape of every NSX Policy object.

Field names follow the NSX-T Policy API (``id``, ``display_name``, ``path``,
``parent_path``, ``resource_type``, ``tags: [{scope, tag}]``) so that ``sdn show -o json``
prints what the real API returns and scripts written against NSX read it unchanged.
Models are frozen: a change is a new object, which keeps diffs and caches honest.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationInfo,
    model_validator,
)

#: NSX limits on tags (reference: NCP limits page, section 5 of nsx-ncp.md).
MAX_TAGS = 30
MAX_TAG_SCOPE = 128
MAX_TAG_VALUE = 256

#: NSX ids: letters, digits, '_', '.', '-'. A pattern (checked in pydantic-core, not in a
#: Python validator) because every stored object is validated on load.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$"

NsxId = Annotated[str, Field(pattern=ID_PATTERN)]
#: An id that may be left empty (service entries inside a rule).
OPTIONAL_ID_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9_.\-]{0,254})?$"
OptionalNsxId = Annotated[str, Field(pattern=OPTIONAL_ID_PATTERN)]

#: NSX's limits on names (Policy API schema).
MAX_DISPLAY_NAME = 255
MAX_DESCRIPTION = 1024


class NsxModel(BaseModel):
    """Base of all models: frozen, unknown fields rejected, JSON names as NSX's API."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SharedLeaf(NsxModel):
    """A small model of string fields (and lists of strings) that, read from JSON, is a
    shared instance.

    Every stored object is validated on load, and a large state holds millions of the
    same few leaves (the cluster's and the version's tags, a namespace's tag condition,
    ``AND``). They are frozen, so one instance per distinct JSON mapping (same fields, same
    order) serves every object; the table is emptied when it reaches
    ``_SHARED_LIMIT`` entries. Built in Python (``Tag(...)``), a leaf is its own instance.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _shared(cls, data: Any, handler: ModelWrapValidatorHandler[SharedLeaf],
                info: ValidationInfo) -> SharedLeaf:
        if type(data) is not dict or info.mode != "json":  # instances first: most calls
            return handler(data)
        items: list[tuple[str, object]] = []
        for name, v in data.items():
            if type(v) is list and all(type(x) is str for x in v):
                items.append((name, (list, *v)))  # apart from a string field's key
            elif type(v) is str:
                items.append((name, v))
            else:
                return handler(data)
        key = (cls, tuple(items))
        found = _SHARED.get(key)
        if found is None:
            found = handler(data)
            if len(_SHARED) >= _SHARED_LIMIT:
                _SHARED.clear()
            _SHARED[key] = found
        return found


_SHARED: dict[tuple[type, tuple[tuple[str, object], ...]], SharedLeaf] = {}
_SHARED_LIMIT = 1_000_000


class Tag(SharedLeaf):
    """An NSX tag. NCP's ownership identity is a set of these (``ncp/cluster`` ...)."""

    scope: str = Field(default="", max_length=MAX_TAG_SCOPE)
    tag: str = Field(default="", max_length=MAX_TAG_VALUE)


class PolicyResource(NsxModel):
    """Fields every Policy object has. Subclasses pin ``resource_type`` with a Literal."""

    resource_type: str
    id: NsxId
    display_name: str = Field(default="", max_length=MAX_DISPLAY_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    path: str
    parent_path: str = "/infra"
    tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)

    def tag(self, scope: str) -> str | None:
        """The value of the first tag with ``scope``, or None."""
        for t in self.tags:
            if t.scope == scope:
                return t.tag
        return None

    def references(self) -> dict[str, str]:
        """Paths this object points at, by field name; used by the cross-object checks."""
        return {}

    def to_api(self) -> dict[str, Any]:
        """The object as NSX's API returns it (JSON-compatible types)."""
        return self.model_dump(mode="json", exclude_none=True)


def tags_from(pairs: dict[str, str] | list[tuple[str, str]]) -> tuple[Tag, ...]:
    """Build a tag tuple from scope/value pairs, keeping their order."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return tuple(Tag(scope=s, tag=v) for s, v in items)
