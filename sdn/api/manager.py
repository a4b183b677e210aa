"""The Manager API (``/api/v1``) that NSX clients still call: the node and its version,
the reverse proxy's health, the cluster's status, and segments and their ports seen as
the logical switches and logical ports NSX realizes them as.

Choices:

* The version is :data:`NSX_VERSION` (4.2.0, the NSX release NCP 4.2 pairs with, build 0:
  there is no real build), the same in ``/node`` and ``/node/version``.
* A logical port (switch) is a segment port (segment) by its realized id: the Policy
  object's ``unique_id``, as NSX realizes it, or, for documents without one, a UUID
  derived from its path (:func:`realized_id`), so the id stays the same as long as the
  object does. ``attachment.id`` is the segment port's own, so a client that finds its
  VIF's port by ``?attachment_id=`` gets the ``id`` to give a traceflow as ``lport_id``.
* The manager is one node, always ``STABLE``; its ids derive from the state's path.
"""

from __future__ import annotations

import socket
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from sdn.api.auth import Reader
from sdn.api.errors import not_found
from sdn.api.paging import Cursor, PageRequest, PageSize, SortAscending, SortBy, list_page
from sdn.api.policy_reads import json_response, view
from sdn.api.stateview import Documents, Snapshot, encode

NSX_VERSION = "4.2.0.0.0.0"
PORT_TYPE, SWITCH_TYPE = "SegmentPort", "Segment"
#: The NSX ``_create_user`` of what the Policy API realizes on the Manager side.
POLICY_USER = "nsx_policy"

router = APIRouter(prefix="/api/v1", tags=["manager"])


def realized_id(doc: dict[str, Any]) -> str:
    """The Manager-side id of a Policy object (see the module's doc)."""
    unique = doc.get("unique_id")
    if isinstance(unique, str) and unique:
        return unique
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "nsx-policy:" + str(doc["path"])))


def _tags(doc: dict[str, Any]) -> list[dict[str, str]]:
    return [dict(t) for t in doc.get("tags", [])]


def logical_port(port: dict[str, Any], switch_id: str) -> dict[str, Any]:
    """A segment port as NSX's ``LogicalPort``."""
    out: dict[str, Any] = {
        "resource_type": "LogicalPort",
        "id": realized_id(port),
        "display_name": port.get("display_name", port["id"]),
        "logical_switch_id": switch_id,
        "admin_state": port.get("admin_state", "UP"),
    }
    attachment = port.get("attachment")
    if attachment:
        context: dict[str, Any] = {"resource_type": "VifAttachmentContext",
                                   "vif_type": attachment.get("type", "INDEPENDENT")}
        if "context_id" in attachment:
            context["parent_vif_id"] = attachment["context_id"]
        if "traffic_tag" in attachment:
            context["traffic_tag"] = attachment["traffic_tag"]
        if "app_id" in attachment:
            context["app_id"] = attachment["app_id"]
        out["attachment"] = {"attachment_type": "VIF", "id": attachment["id"],
                             "context": context}
    if port.get("address_bindings"):
        out["address_bindings"] = [dict(b) for b in port["address_bindings"]]
    out["tags"] = _tags(port)
    out["_create_user"] = POLICY_USER
    out["_protection"] = "REQUIRE_OVERRIDE"
    return out


def logical_switch(segment: dict[str, Any]) -> dict[str, Any]:
    """A segment as NSX's ``LogicalSwitch`` (overlay, MTEP replication)."""
    return {"resource_type": "LogicalSwitch", "id": realized_id(segment),
            "display_name": segment.get("display_name", segment["id"]),
            "admin_state": "UP", "replication_mode": "MTEP",
            "tags": _tags(segment), "_create_user": POLICY_USER,
            "_protection": "REQUIRE_OVERRIDE"}


class ManagerView:
    """Logical switches and ports of one snapshot, by id, with the port of each
    attachment id (one per revision: :meth:`Snapshot.derived`)."""

    def __init__(self, snapshot: Snapshot) -> None:
        switches: dict[str, dict[str, Any]] = {}
        switch_of: dict[str, str] = {}
        for seg in snapshot.of_type(SWITCH_TYPE):
            ls = logical_switch(seg)
            switches[ls["id"]] = ls
            switch_of[seg["path"]] = ls["id"]
        ports: dict[str, dict[str, Any]] = {}
        self.port_path: dict[str, str] = {}
        self.by_attachment: dict[str, list[str]] = {}
        self.by_switch: dict[str, list[str]] = {}
        for port in snapshot.of_type(PORT_TYPE):
            switch_id = switch_of.get(port.get("parent_path", ""), "")
            lp = logical_port(port, switch_id)
            ports[lp["id"]] = lp
            self.port_path[lp["id"]] = port["path"]
            if "attachment" in lp:
                self.by_attachment.setdefault(lp["attachment"]["id"], []).append(lp["id"])
            self.by_switch.setdefault(switch_id, []).append(lp["id"])
        self.switches, self.ports = Documents(switches), Documents(ports)


def manager_view(snapshot: Snapshot) -> ManagerView:
    """The Manager-side view of ``snapshot`` (built once per revision)."""
    return snapshot.derived("manager", ManagerView)


def _page(cursor: str | None, page_size: int | None, sort_by: str | None,
          sort_ascending: bool) -> PageRequest:
    return PageRequest(cursor, page_size, sort_by, sort_ascending)


@router.get("/logical-ports")
async def list_logical_ports(
        request: Request, _user: Reader, cursor: Cursor = None, page_size: PageSize = None,
        sort_by: SortBy = None, sort_ascending: SortAscending = True,
        attachment_id: Annotated[str | None, Query()] = None,
        logical_switch_id: Annotated[str | None, Query()] = None) -> Response:
    """Segment ports as logical ports; ``attachment_id`` or ``logical_switch_id`` filter."""
    mv = manager_view(view(request))
    keys = list(mv.ports.docs)
    listing = "all"
    if attachment_id is not None:
        keys, listing = mv.by_attachment.get(attachment_id, []), f"attachment:{attachment_id}"
    if logical_switch_id is not None:
        wanted = set(mv.by_switch.get(logical_switch_id, []))
        keys = [k for k in keys if k in wanted]
        listing += f"/switch:{logical_switch_id}"
    page = _page(cursor, page_size, sort_by, sort_ascending)
    return json_response(list_page(mv.ports, listing, keys, page))


def _one(documents: Documents, key: str) -> Response:
    body = documents.body(key)
    if body is None:
        raise not_found(key)
    return json_response(body)


@router.get("/logical-ports/{lport_id}")
async def get_logical_port(request: Request, _user: Reader, lport_id: str) -> Response:
    return _one(manager_view(view(request)).ports, lport_id)


@router.get("/logical-switches")
async def list_logical_switches(
        request: Request, _user: Reader, cursor: Cursor = None, page_size: PageSize = None,
        sort_by: SortBy = None, sort_ascending: SortAscending = True) -> Response:
    """Segments as logical switches."""
    mv = manager_view(view(request))
    page = _page(cursor, page_size, sort_by, sort_ascending)
    return json_response(list_page(mv.switches, "all", list(mv.switches.docs), page))


@router.get("/logical-switches/{switch_id}")
async def get_logical_switch(request: Request, _user: Reader, switch_id: str) -> Response:
    return _one(manager_view(view(request)).switches, switch_id)


def _node_ids(request: Request) -> tuple[str, str]:
    """The node's and the cluster's ids: stable for one state file."""
    state = str(request.app.state.view.state.resolve())
    return (str(uuid.uuid5(uuid.NAMESPACE_URL, "nsx-node:" + state)),
            str(uuid.uuid5(uuid.NAMESPACE_URL, "nsx-cluster:" + state)))


@router.get("/node")
async def node(request: Request, _user: Reader) -> Response:
    """The manager node's properties (NSX's ``NodeProperties``)."""
    host = socket.gethostname()
    node_id, _ = _node_ids(request)
    return json_response(encode({
        "node_uuid": node_id, "hostname": host, "fully_qualified_domain_name": host,
        "node_version": NSX_VERSION, "product_version": NSX_VERSION,
        "export_type": "UNRESTRICTED", "_schema": "NodeProperties",
        "_self": {"href": "/node", "rel": "self"}}))


@router.get("/node/version")
async def node_version(_user: Reader) -> Response:
    """The node's and the product's version (4.x)."""
    return json_response(encode({"node_version": NSX_VERSION,
                                 "product_version": NSX_VERSION}))


@router.get("/reverse-proxy/node/health")
async def health(_user: Reader) -> Response:
    """Whether the API answers (some clients mark a manager down without it)."""
    return json_response(b'{"healthy":true}')


@router.get("/cluster/status")
async def cluster_status(request: Request, _user: Reader) -> Response:
    """One manager node, stable (NSX's ``ClusterStatus``)."""
    node_id, cluster_id = _node_ids(request)
    return json_response(encode({
        "cluster_id": cluster_id,
        "mgmt_cluster_status": {"status": "STABLE",
                                "online_nodes": [{"uuid": node_id}]},
        "control_cluster_status": {"status": "STABLE"},
        "detailed_cluster_status": {"cluster_id": cluster_id, "overall_status": "STABLE",
                                    "groups": []}}))
