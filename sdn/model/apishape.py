"""Objects as NSX 4.x's Policy API returns them: the model's fields plus NSX's system
fields, and IP pools' subnets and allocations as the child resources NSX has.

Why one module: ``sdn show -o json`` and the NSX API (``sdn serve``) must print the same
objects, byte for byte, so both call these functions. They are pure: the store keeps each
object's revision and create/modify stamps (:class:`ObjectMeta`, one per Policy path,
children included) and hands them in.

System fields, and the choices where NSX leaves the value to the deployment:

* ``_revision`` (0 at creation, +1 per change of that object: the store's count),
  ``_create_time`` / ``_last_modified_time`` (epoch milliseconds), ``_create_user`` /
  ``_last_modified_user``: NCP's writes are made as NCP's principal identity, named
  ``ncp-<cluster>`` (:func:`ncp_principal`: NCP authenticates with one principal identity
  per cluster; NSX shows that identity's name; the name itself is the installer's choice,
  this one is ours), everything else as ``admin``.
* ``_protection``: ``REQUIRE_OVERRIDE`` for NCP's objects (those tagged ``ncp/cluster``:
  NCP's principal identity creates protected objects, which an admin changes only with
  ``X-Allow-Overwrite: true``), ``NOT_PROTECTED`` for the admin's own.
* ``_system_owned``, ``marked_for_delete``, ``overridden``: false (nothing here is the
  system's, pending deletion, or overridden by a global manager).
* ``relative_path``: the id. ``unique_id``: a UUID (version 5) of the path, so it is
  stable across reads, syncs and states; ``realization_id`` is the same UUID, as NSX
  gives most Policy objects.
* ``display_name``: NSX defaults it to the id; an object stored without one shows its id.

Fields NSX does not have are left out of the shapes: an IP pool's ``subnets`` and
``allocations`` (NSX serves them as ``.../ip-subnets`` and ``.../ip-allocations``:
:func:`pool_subnets`, :func:`pool_allocations`), and a block subnet's ``cidr`` (NSX 4.x
reports it in the subnet's realized state, not in the intent).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sdn.model.base import PolicyResource, Tag
from sdn.model.dfw import SecurityPolicy
from sdn.model.ipam import IpPool, IpPoolBlockSubnet, ip_allocation_path, ip_subnet_path

#: The tag scope that marks NCP's objects (its ownership identity).
CLUSTER_SCOPE = "ncp/cluster"
#: The user the admin's writes are made as (``sdn apply``, the API's admin).
ADMIN_USER = "admin"
#: Where every ``unique_id`` is derived from (a fixed namespace: stable UUIDs).
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://nsx-manager/policy/api/v1")
#: The ``sdn show`` kinds of IP pools' children (NSX's ``ip-subnets``, ``ip-allocations``).
POOL_CHILD_KINDS = ("ip-subnets", "ip-allocations")
#: Fields NSX 4.x has no place for in an object's intent (module docs).
_POOL_CHILDREN: set[str] = {"subnets", "allocations"}


def ncp_principal(cluster: str) -> str:
    """The principal identity NCP of ``cluster`` writes as (module docs)."""
    return f"ncp-{cluster}"


def writer_of(tags: tuple[Tag, ...]) -> str:
    """Who writes an object with these tags when the write names no user: NCP's principal
    identity for NCP's objects, the admin otherwise."""
    cluster = next((t.tag for t in tags if t.scope == CLUSTER_SCOPE), None)
    return ncp_principal(cluster) if cluster else ADMIN_USER


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """What the store knows of one object beyond its fields: its revision and who made
    and last changed it, when (epoch milliseconds)."""

    revision: int
    created: int
    created_by: str
    modified: int
    modified_by: str


def unique_id(path: str) -> str:
    """The object's stable UUID (version 5 of its Policy path)."""
    return str(uuid.uuid5(_UUID_NAMESPACE, path))


def unknown_meta(tags: tuple[Tag, ...]) -> ObjectMeta:
    """The stamps of an object the store has none for (a state read before its first
    write by this version): revision 0, time 0, its writer by its tags."""
    user = writer_of(tags)
    return ObjectMeta(0, 0, user, 0, user)


def system_fields(path: str, object_id: str, tags: tuple[Tag, ...],
                  meta: ObjectMeta | None) -> dict[str, Any]:
    """NSX's system fields of one object, in the order NSX prints them."""
    m = meta if meta is not None else unknown_meta(tags)
    uid = unique_id(path)
    protected = _owned(tags)
    return {
        "relative_path": object_id, "unique_id": uid, "realization_id": uid,
        "marked_for_delete": False, "overridden": False,
        "_create_time": m.created, "_create_user": m.created_by,
        "_last_modified_time": m.modified, "_last_modified_user": m.modified_by,
        "_system_owned": False,
        "_protection": "REQUIRE_OVERRIDE" if protected else "NOT_PROTECTED",
        "_revision": m.revision,
    }


def _named(data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("display_name"):
        data["display_name"] = data["id"]
    return data


def api_object(obj: PolicyResource, metas: Mapping[str, ObjectMeta]) -> dict[str, Any]:
    """``obj`` as NSX's API returns it: its own fields (an IP pool without its children),
    a security policy's rules each with their own system fields, then the system fields.
    ``metas`` holds the stamps of the object and its rules by path (missing ones read as
    :func:`unknown_meta`)."""
    data = obj.model_dump(mode="json", exclude_none=True,
                          exclude=_POOL_CHILDREN if isinstance(obj, IpPool) else None)
    if isinstance(obj, SecurityPolicy):
        data["rules"] = [api_object(rule, metas) | _inherited(rule.tags, obj.tags)
                         for rule in obj.rules]
    return _named(data) | system_fields(obj.path, obj.id, obj.tags, metas.get(obj.path))


def _inherited(own: tuple[Tag, ...], parent: tuple[Tag, ...]) -> dict[str, Any]:
    """A child without an owner tag of its own is protected as its parent is."""
    if _owned(own) or not _owned(parent):
        return {}
    return {"_protection": "REQUIRE_OVERRIDE"}


def _owned(tags: tuple[Tag, ...]) -> bool:
    return any(t.scope == CLUSTER_SCOPE and t.tag for t in tags)


def pool_subnets(pool: IpPool, metas: Mapping[str, ObjectMeta]) -> list[dict[str, Any]]:
    """The pool's subnets as NSX's ``.../ip-pools/{id}/ip-subnets`` lists them
    (``IpAddressPoolBlockSubnet`` without the realized ``cidr``, or
    ``IpAddressPoolStaticSubnet``), in the pool's order."""
    out = []
    for subnet in pool.subnets:
        path = ip_subnet_path(pool.path, subnet.id)
        data = subnet.model_dump(mode="json", exclude_none=True,
                                 exclude={"cidr"} if isinstance(subnet, IpPoolBlockSubnet)
                                 else None)
        out.append(_child(data, path, pool, subnet.id, (), metas))
    return out


def pool_allocations(pool: IpPool, metas: Mapping[str, ObjectMeta]) -> list[dict[str, Any]]:
    """The pool's allocations as NSX's ``.../ip-pools/{id}/ip-allocations`` lists them
    (``IpAddressAllocation``), in the pool's order."""
    return [_child(a.model_dump(mode="json", exclude_none=True),
                   ip_allocation_path(pool.path, a.id), pool, a.id, a.tags, metas)
            for a in pool.allocations]


def _child(data: dict[str, Any], path: str, pool: IpPool, child_id: str,
           tags: tuple[Tag, ...], metas: Mapping[str, ObjectMeta]) -> dict[str, Any]:
    """A pool's child in NSX's shape: the common fields NSX gives every Policy object
    (``display_name`` the id, ``path``, ``parent_path`` the pool), its own, the system
    fields (protected as its own tags, else as the pool, say)."""
    resource_type = data.pop("resource_type")
    own = {k: v for k, v in data.items() if k not in ("id", "tags")}
    marks = tags or pool.tags
    meta = metas.get(path) or unknown_meta(marks)
    return {"resource_type": resource_type, "id": child_id, "display_name": child_id,
            "path": path, "parent_path": pool.path, "tags": [t.model_dump() for t in tags],
            **own} | system_fields(path, child_id, marks, meta)


def child_paths(obj: PolicyResource) -> list[str]:
    """The paths of the child resources an object holds inline (a security policy's
    rules, an IP pool's subnets and allocations): each has stamps of its own."""
    if isinstance(obj, SecurityPolicy):
        return [r.path for r in obj.rules]
    if isinstance(obj, IpPool):
        return [*(ip_subnet_path(obj.path, s.id) for s in obj.subnets),
                *(ip_allocation_path(obj.path, a.id) for a in obj.allocations)]
    return []


__all__ = ["ADMIN_USER", "CLUSTER_SCOPE", "POOL_CHILD_KINDS", "ObjectMeta", "api_object",
           "child_paths", "ncp_principal", "pool_allocations", "pool_subnets", "system_fields",
           "unique_id", "unknown_meta", "writer_of"]
