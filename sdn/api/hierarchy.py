"""NSX's hierarchical Policy API as values: an ``Infra`` tree read into the writes it
asks for, and the state drawn as such a tree. Pure (no web framework, no store).

The tree: each child sits in a wrapper named ``Child<Type>`` holding it under the key
``<Type>`` (``{"resource_type": "ChildGroup", "Group": {...}}``) with
``marked_for_delete``; an object's own children are its ``children``. A
``ChildResourceReference`` (``{"id", "target_type", "children"}``) stands for an
existing object, to reach its children without restating it (rules added to a security
policy; the ``default`` domain).

Writing (``PATCH /policy/api/v1/infra``): the wrappers taken are ``ChildDomain`` (only
the ``default`` domain, which cannot be deleted), ``ChildGroup``, ``ChildSecurityPolicy``
(its rules inline in ``rules`` or as ``ChildRule`` children), ``ChildRule``,
``ChildService`` and ``ChildResourceReference`` to the default domain or to a security
policy. Each object is a ``PATCH`` (created, or its fields merged), or a ``DELETE`` when
its wrapper is ``marked_for_delete``; parents come before their children, in the
body's order. Any other wrapper is refused (``UNSUPPORTED_KIND``), never skipped.

Reading (``GET /policy/api/v1/infra``): every object by its ``parent_path``; the
``default`` domain is drawn as a ``Domain``, a NAT section as a ``PolicyNat``, a
security policy's rules as ``ChildRule`` children (not ``rules``). ``filter=Type-A|B``
(or ``type_filter=A,B``) keeps the types listed, each reached through listed types
only, as NSX's examples list every type on the way (``Type-Domain|Group``);
``base_path`` draws the subtree of one object.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdn.api.write_ops import Write
from sdn.errors import Problem
from sdn.model import rule_path
from sdn.model.dfw import DOMAIN
from sdn.model.documents import ADMIN_KINDS

#: The wrappers a hierarchical write takes under infra, a domain, and a security policy.
_OBJECT_WRAPPERS = {"ChildGroup": "Group", "ChildSecurityPolicy": "SecurityPolicy",
                    "ChildService": "Service", "ChildRule": "Rule", "ChildDomain": "Domain"}


@dataclass
class _Reader:
    """Collects the writes and problems of one tree."""

    writes: list[Write] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, code: str, where: str, message: str) -> None:
        self.problems.append(Problem(code, where or "Infra", message))

    def children(self, node: Mapping[str, Any], where: str, parent: str) -> None:
        items = node.get("children") or []
        if not isinstance(items, list):
            self.problem("INVALID_VALUE", where, "children: not a list")
            return
        for n, child in enumerate(items):
            self.child(child, f"{where}.children[{n}]".lstrip("."), parent)

    def child(self, wrapper: Any, where: str, parent: str) -> None:
        if not isinstance(wrapper, Mapping):
            self.problem("INVALID_VALUE", where, "(object): not a JSON object")
            return
        kind = wrapper.get("resource_type")
        if kind == "ChildResourceReference":
            self.reference(wrapper, where, parent)
            return
        target = _OBJECT_WRAPPERS.get(str(kind))
        if target is None or not _fits(target, parent):
            self.problem("UNSUPPORTED_KIND", where, f"{kind!r} cannot be written under "
                         f"{parent} (hierarchical writes take {', '.join(_OBJECT_WRAPPERS)} "
                         "and ChildResourceReference)")
            return
        obj = wrapper.get(target)
        if not isinstance(obj, Mapping) or not isinstance(obj.get("id"), str):
            self.problem("MISSING_FIELD", where, f"{target}.id: the wrapper holds no "
                         f"{target} with an id")
            return
        ident = str(obj["id"])
        delete = wrapper.get("marked_for_delete") is True or obj.get("marked_for_delete") is True
        if target == "Domain":
            self.domain(ident, delete, obj, f"{where}.Domain")
            return
        path = rule_path(parent.rsplit("/", 1)[1], ident) if target == "Rule" \
            else ADMIN_KINDS[target](ident)
        body = {k: v for k, v in obj.items() if k != "children"}
        self.writes.append(Write("DELETE" if delete else "PATCH", target, path,
                                 None if delete else body))
        if target == "SecurityPolicy" and not delete:
            self.children(obj, f"{where}.SecurityPolicy", path)

    def domain(self, ident: str, delete: bool, obj: Mapping[str, Any], where: str) -> None:
        if ident != "default" or delete:
            self.problem("INVALID_VALUE", where, f"domain {ident!r}"
                         f"{' marked for delete' if delete else ''}: only the default "
                         "domain exists, and it stays")
            return
        self.children(obj, where, DOMAIN)

    def reference(self, ref: Mapping[str, Any], where: str, parent: str) -> None:
        target, ident = ref.get("target_type"), ref.get("id")
        if target == "Domain" and parent == "/infra":
            self.domain(str(ident), False, ref, where)
        elif target == "SecurityPolicy" and parent == DOMAIN and isinstance(ident, str):
            self.children(ref, where, ADMIN_KINDS["SecurityPolicy"](ident))
        else:
            self.problem("UNSUPPORTED_KIND", where, f"ChildResourceReference to "
                         f"{target!r} {ident!r} under {parent}: references reach the "
                         "default Domain (under infra) or a SecurityPolicy (under it)")


def _fits(kind: str, parent: str) -> bool:
    """Whether a ``kind`` object may sit under ``parent``."""
    if kind in ("Service", "Domain"):
        return parent == "/infra"
    if kind == "Rule":
        return "/security-policies/" in parent
    return parent == DOMAIN


def infra_writes(body: Any) -> tuple[list[Write], list[Problem]]:
    """The writes an ``Infra`` body asks for, in order, and every problem of its shape."""
    reader = _Reader()
    if not isinstance(body, Mapping):
        reader.problem("INVALID_VALUE", "Infra", "(object): the body is not a JSON object")
    elif body.get("resource_type", "Infra") != "Infra":
        reader.problem("INVALID_VALUE", "Infra", f"resource_type: {body['resource_type']!r} "
                       "is not 'Infra'")
    else:
        reader.children(body, "", "/infra")
    return reader.writes, reader.problems


def type_filter(filter_text: str | None, types_text: str | None) -> frozenset[str] | None:
    """The types a tree read keeps: ``filter=Type-A|B`` or ``type_filter=A,B`` (None:
    every type)."""
    wanted: set[str] = set()
    if filter_text and filter_text.startswith("Type-"):
        wanted |= {t for t in filter_text[len("Type-"):].split("|") if t}
    if types_text:
        wanted |= {t.strip() for t in types_text.split(",") if t.strip()}
    return frozenset(wanted) if wanted else None


def _container(path: str) -> dict[str, Any]:
    """An object the state does not store but NSX shows: the default domain, a gateway's
    NAT section."""
    parent, ident = path.rsplit("/", 1)
    kind = "Domain" if parent == "/infra/domains" else "PolicyNat"
    return {"resource_type": kind, "id": ident, "display_name": ident, "path": path,
            "parent_path": parent.rsplit("/", 1)[0] if kind == "PolicyNat" else "/infra"}


def infra_tree(docs: Iterable[Mapping[str, Any]], *, types: frozenset[str] | None = None,
               base_path: str = "/infra") -> dict[str, Any] | None:
    """The state as NSX's hierarchical read draws it (None: ``base_path`` names nothing)."""
    nodes: dict[str, dict[str, Any]] = {"/infra": {
        "resource_type": "Infra", "id": "infra", "display_name": "infra", "path": "/infra"}}
    under: dict[str, set[str]] = defaultdict(set)
    pending = [dict(d) for d in docs]
    for doc in pending:
        rules = doc.pop("rules", None) if doc.get("resource_type") == "SecurityPolicy" else None
        nodes[doc["path"]] = doc
        for rule in rules or ():
            nodes[rule["path"]] = dict(rule)
            under[doc["path"]].add(rule["path"])
    for path, doc in list(nodes.items()):
        if path == "/infra":
            continue
        under[str(doc.get("parent_path"))].add(path)
        missing = doc.get("parent_path")
        while isinstance(missing, str) and missing not in nodes:
            nodes[missing] = _container(missing)
            under[nodes[missing]["parent_path"]].add(missing)
            missing = nodes[missing]["parent_path"]
    if base_path not in nodes:
        return None

    def draw(path: str) -> dict[str, Any]:
        node = dict(nodes[path])
        kids = [draw(p) for p in sorted(under.get(path, ()))
                if types is None or nodes[p]["resource_type"] in types]
        if kids:
            node["children"] = [{"resource_type": f"Child{k['resource_type']}",
                                 k["resource_type"]: k, "marked_for_delete": False}
                                for k in kids]
        return node

    return draw(base_path)
