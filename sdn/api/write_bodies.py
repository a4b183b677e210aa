"""A client's request body as the admin document ``sdn apply`` validates.

Clients send back what they read: an NSX GET body carries system fields, read-only
fields, nulls and fields of NSX's schema this model does not keep. Refusing them would
break every read-modify-write client, so before validation (which is ``sdn apply``'s,
:func:`sdn.model.documents.parse_admin_objects`) a body is cleaned:

* ``_revision`` is taken out and returned (the write checks it); every other field
  starting with ``_`` (``_create_time``, ``_protection``, ``_links``, ``_schema``...) and
  NSX's other system fields (:data:`SYSTEM_FIELDS`) are dropped, at every level;
* a null is an absent field (``"description": null``, a rule's ``"tag": null``);
* a missing ``resource_type`` is the kind the URL names; a different one is refused;
* ``id`` may be left out (the URL names it); a different one is refused;
* fields of NSX's schema this model does not keep (:data:`IGNORED`: a policy's
  ``locked``, a rule's ``notes``, ``tag`` and ``profiles``...) are accepted and not
  stored; a GET afterwards does not show them;
* expression items and service entries are NSX child objects with ids and paths of
  their own when read; only their criteria are kept (an entry keeps its ``id``).

Every other field is validated as ``sdn apply`` validates it: an unknown field is
``UNKNOWN_FIELD``, a wrong value ``INVALID_VALUE``... Nothing here decides a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sdn.errors import Problem

#: NSX system fields without a leading ``_`` (read-only everywhere).
SYSTEM_FIELDS = frozenset({
    "relative_path", "unique_id", "marked_for_delete", "overridden", "realization_id",
    "remote_path", "owner_id", "origin_site_id", "children", "is_default"})

#: Fields of NSX's schema, per kind, that this model does not keep: accepted, not stored.
IGNORED: dict[str, frozenset[str]] = {
    "Group": frozenset({"group_type", "extended_expression", "state", "reference",
                        "member_group_type"}),
    "SecurityPolicy": frozenset({
        "locked", "lock_modified_by", "lock_modified_time", "comments", "scheduler_path",
        "connectivity_strategy", "application_connectivity_strategy", "logging_enabled",
        "internal_sequence_number", "rule_count", "connectivity_preference",
        "schedule_path"}),
    "Rule": frozenset({"notes", "tag", "log_label", "profiles", "internal_sequence_number",
                       "is_default", "context_profiles"}),
    "Service": frozenset(),
}

#: What a child object (an expression item, a service entry) carries when read but is
#: not part of its criteria.
_CHILD_FIELDS = frozenset({"path", "parent_path", "display_name", "description", "tags"})


@dataclass(frozen=True)
class CleanBody:
    """A body ready for validation: the document, the ``_revision`` it carried (None:
    none), and the problems found on the way (a wrong ``resource_type`` or ``id``)."""

    document: dict[str, Any]
    revision: int | None
    problems: tuple[Problem, ...] = ()


def _strip(value: Any, extra: frozenset[str] = frozenset()) -> Any:
    """``value`` without system fields, nulls and ``extra`` keys, at every level."""
    if isinstance(value, Mapping):
        return {k: _strip(v) for k, v in value.items()
                if v is not None and not str(k).startswith("_") and k not in SYSTEM_FIELDS
                and k not in extra}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _expression(items: Any) -> Any:
    """Expression items with their criteria only (nested expressions too)."""
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if isinstance(item, dict):
            item = {k: v for k, v in item.items() if k not in _CHILD_FIELDS and k != "id"}
            if isinstance(item.get("expressions"), list):
                item["expressions"] = _expression(item["expressions"])
        out.append(item)
    return out


def _entries(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    return [{k: v for k, v in item.items() if k not in _CHILD_FIELDS}
            if isinstance(item, dict) else item for item in items]


def _revision(body: Mapping[str, Any]) -> int | None:
    value = body.get("_revision")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def clean_rule(body: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's fields as the model keeps them (see the module docstring)."""
    rule: dict[str, Any] = _strip(body, IGNORED["Rule"])
    if "service_entries" in rule:
        rule["service_entries"] = _entries(rule["service_entries"])
    return rule


def clean_body(body: Any, kind: str, ident: str) -> CleanBody:
    """The admin document of ``body``, a ``kind`` object that the URL names ``ident``
    (a body that is not a JSON object is a problem, and an empty document)."""
    if not isinstance(body, Mapping):
        return CleanBody({"resource_type": kind, "id": ident}, None,
                         (Problem("INVALID_VALUE", f"{kind}/{ident}",
                                  "(object): the body is not a JSON object"),))
    problems: list[Problem] = []
    name = f"{kind}/{ident}"
    doc: dict[str, Any] = _strip(body, IGNORED.get(kind, frozenset()))
    given = doc.setdefault("resource_type", kind)
    if given != kind:
        problems.append(Problem("INVALID_VALUE", name, f"resource_type: {given!r} is not "
                                f"{kind!r}, the kind this URL names"))
        doc["resource_type"] = kind
    if doc.setdefault("id", ident) != ident:
        problems.append(Problem("INVALID_VALUE", name, f"id: {doc['id']!r} is not "
                                f"{ident!r}, the id in the URL"))
        doc["id"] = ident
    if "expression" in doc:
        doc["expression"] = _expression(doc["expression"])
    if "service_entries" in doc:
        doc["service_entries"] = _entries(doc["service_entries"])
    if isinstance(doc.get("rules"), list):
        doc["rules"] = [clean_rule(r) if isinstance(r, Mapping) else r for r in doc["rules"]]
    return CleanBody(doc, _revision(body), tuple(problems))
