"""Objects a network admin writes by hand, in NSX's own JSON/YAML shape.

An admin declares groups, security policies and named services the way the NSX Policy API takes them
(``resource_type``, ``id``, ``display_name``, ``expression``, ``category``,
``sequence_number``, ``rules`` ...). What NSX derives is derived here too, so a document
may leave it out: ``path`` and ``parent_path`` from the id, a rule's ``path`` from its
policy, a missing ``rule_id`` from the rule's path (a stable number, as ``ncp`` does), and
``display_name`` from the id. Every problem of every document is reported at once, named
by the object's id and the field's dotted path.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from sdn.errors import Problem
from sdn.model.base import PolicyResource
from sdn.model.dfw import DOMAIN, group_path, rule_path, security_policy_path, service_path
from sdn.model.inventory import RESOURCE_ADAPTER
from sdn.model.reporting import validation_problems

#: The kinds an admin may declare, and how their paths are derived.
ADMIN_KINDS = {"Group": group_path, "SecurityPolicy": security_policy_path,
               "Service": service_path}
#: Their parents' paths.
ADMIN_PARENTS = {"Group": DOMAIN, "SecurityPolicy": DOMAIN, "Service": "/infra"}


def _rule_id(path: str) -> int:
    return (zlib.crc32(path.encode()) & 0x7FFFFFFF) or 1


def _complete(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document with NSX's derived fields filled in."""
    out = dict(doc)
    ident = str(out.get("id", ""))
    out.setdefault("display_name", ident)
    out.setdefault("path", ADMIN_KINDS[str(out["resource_type"])](ident))
    out.setdefault("parent_path", ADMIN_PARENTS[str(out["resource_type"])])
    if out["resource_type"] == "SecurityPolicy":
        rules = []
        for position, raw in enumerate(out.get("rules") or [], start=1):
            rule = dict(raw) if isinstance(raw, Mapping) else raw
            if isinstance(rule, dict):
                rule.setdefault("resource_type", "Rule")
                rid = str(rule.get("id", ""))
                rule.setdefault("display_name", rid)
                rule.setdefault("path", rule_path(ident, rid))
                rule.setdefault("parent_path", out["path"])
                rule.setdefault("sequence_number", 10 * position)
                if not rule.get("rule_id"):
                    rule["rule_id"] = _rule_id(str(rule["path"]))
            rules.append(rule)
        out["rules"] = rules
    return out


def parse_admin_objects(docs: Sequence[Any], *, source: str = "") -> tuple[
        list[PolicyResource], list[Problem]]:
    """Validate admin documents; returns the objects and every problem found."""
    objects: list[PolicyResource] = []
    problems: list[Problem] = []
    for i, doc in enumerate(docs):
        name = f"{source}#{i}" if source else f"#{i}"
        if not isinstance(doc, Mapping) or doc.get("resource_type") not in ADMIN_KINDS:
            kind = doc.get("resource_type") if isinstance(doc, Mapping) else type(doc).__name__
            problems.append(Problem("UNSUPPORTED_KIND", name,
                                    f"{kind!r}: only {', '.join(ADMIN_KINDS)} can be applied"))
            continue
        name = f"{doc['resource_type']}/{doc.get('id', name)}"
        complete = _complete(doc)
        kind = str(doc["resource_type"])
        derived = {"path": ADMIN_KINDS[kind](str(doc.get("id", ""))),
                   "parent_path": ADMIN_PARENTS[kind]}
        misplaced = [Problem("INVALID_VALUE", name, f"{key}: {complete[key]!r} is not "
                             f"{want!r}: NSX derives it from the id (leave it out)")
                     for key, want in derived.items() if complete[key] != want]
        try:
            obj = RESOURCE_ADAPTER.validate_python(complete)
        except ValidationError as err:
            problems += misplaced + validation_problems(err, name)
            continue
        problems += misplaced
        if not misplaced:
            objects.append(obj)
    return objects, problems
