"""The Traceflow API, Manager and Policy: inject a packet at a port, read what the
simulator observed.

* Manager: ``POST /api/v1/traceflows`` (also ``/api/v1/traceflow``, a path some
  clients use) with ``{"lport_id", "packet", "timeout"}`` answers 201 with the
  ``Traceflow``; ``GET /api/v1/traceflows`` (``?lport_id=``), ``GET .../{id}``,
  ``GET .../{id}/observations`` (paged; ``component_type``, ``component_name``,
  ``resource_type``, ``transport_node_name`` filters), ``DELETE .../{id}``.
* Policy: ``PUT /policy/api/v1/infra/traceflows/{id}`` with ``{"source_id" (a segment
  port's path, or its logical port id), "packet", "timeout"}`` (``segment_port_path``,
  the older name, is read too), then ``GET`` the config, ``.../status`` (a
  ``Traceflow``), ``.../observations``, ``DELETE``; ``GET .../traceflows`` lists them.

Choices where NSX leaves room (each one documented here):

* A trace runs when it is created (the simulator is synchronous): the answer to the
  POST or PUT is already ``FINISHED``; clients that poll ``operation_state`` stop at
  once. Observations are exactly ``sdn traceflow -o json``'s for the same port and
  packet (:mod:`sdn.api.tracing`), so ``acl_rule_id`` is the deciding rule's
  ``rule_id``; ``analysis`` holds the walk's one-line summary.
* Traceflows live in the server's memory (:class:`Traceflows`): one server's are not
  another's, a restart forgets them, and they are kept until deleted. A PUT on an
  existing Policy traceflow replaces it and traces again (``_revision`` + 1).
* Timeouts are kept as given (nothing waits): Manager in milliseconds (default 10,000),
  Policy in seconds (default 10, NSX's range 5-15 enforced).
* A source that is no segment port (an unknown ``lport_id`` or ``source_id``) is 404, as
  an unknown object; a body or packet that cannot be traced is 400 with NSX's
  field-validation code (255); an unknown traceflow is 404; a Manager DELETE of an
  unknown id is 404, a Policy DELETE of one succeeds (Policy deletes are idempotent).
  A DELETE answers ``{}`` (every answer of this API is JSON).
* Every run also counts a hit on each rule that decided it
  (:class:`~sdn.api.statistics.RuleHits`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sdn.api.auth import Reader, Writer
from sdn.api.errors import POLICY, not_found
from sdn.api.manager import manager_view, realized_id
from sdn.api.paging import Cursor, PageRequest, PageSize
from sdn.api.policy_reads import json_response, view
from sdn.api.stateview import Snapshot, encode
from sdn.api.statistics import RuleHits
from sdn.api.tracing import Tracer, bad_request, read_packet
from sdn.errors import SdnError
from sdn.traceflow import Trace

MANAGER = "Traceflow"
#: Policy timeouts, seconds (NSX's single-site range and default).
POLICY_TIMEOUT = (5, 10, 15)
#: Manager timeout default, milliseconds.
MANAGER_TIMEOUT = 10_000
#: Where Policy traceflows live.
INFRA = "/infra"


@dataclass
class TraceflowRun:
    """One traceflow: what was asked and what the walk observed."""

    id: str
    port_path: str
    lport_id: str
    request: dict[str, Any]
    trace: Trace
    user: str
    created: int
    modified: int
    revision: int = 0
    policy: bool = False

    def system_fields(self) -> dict[str, Any]:
        return {"_create_time": self.created, "_create_user": self.user,
                "_last_modified_time": self.modified, "_last_modified_user": self.user,
                "_protection": "NOT_PROTECTED", "_revision": self.revision,
                "_system_owned": False}

    def status(self) -> dict[str, Any]:
        """NSX's ``Traceflow``: the round's state and counters."""
        timeout = int(self.request["timeout"])
        ms = timeout * 1000 if self.policy else timeout
        return {"resource_type": "Traceflow", "id": self.id, "lport_id": self.lport_id,
                "operation_state": "FINISHED", "request_status": "SUCCESS",
                "counters": self.trace.counters(),
                "logical_counters": self.trace.counters(logical_only=True),
                "result_overflowed": False, "analysis": [self.trace.summary],
                "timeout": ms, **self.system_fields()}

    def config(self) -> dict[str, Any]:
        """NSX's Policy ``TraceflowConfig``: the request as stored."""
        out = {"resource_type": "TraceflowConfig", "id": self.id,
               "display_name": self.request.get("display_name") or self.id,
               "path": f"{INFRA}/traceflows/{self.id}", "relative_path": self.id,
               "parent_path": INFRA, "marked_for_delete": False, "overridden": False,
               "source_id": self.request["source_id"], "packet": self.request["packet"],
               "timeout": self.request["timeout"],
               "is_transient": bool(self.request.get("is_transient", False)),
               "tags": self.request.get("tags") or []}
        if self.request.get("description") is not None:
            out["description"] = self.request["description"]
        return {**out, **self.system_fields()}

    def observations(self) -> list[dict[str, Any]]:
        return [o.to_api() for o in self.trace.observations]


@dataclass
class Traceflows:
    """The traceflows this server ran (Manager ones by id, Policy ones by id), and the
    rule hits they made."""

    manager: dict[str, TraceflowRun] = field(default_factory=dict)
    policy: dict[str, TraceflowRun] = field(default_factory=dict)
    hits: RuleHits = field(default_factory=RuleHits)


def _registry(request: Request) -> Traceflows:
    found: Traceflows = request.app.state.traceflows
    return found


def _tracer(request: Request) -> Tracer:
    found: Tracer = request.app.state.tracer
    return found


def _now() -> int:
    return int(time.time() * 1000)


def _port_doc(snapshot: Snapshot, path: str) -> dict[str, Any] | None:
    doc = snapshot.docs.get(path)
    return doc if doc is not None and doc.get("resource_type") == "SegmentPort" else None


def _bound_ip(doc: dict[str, Any]) -> IPv4Address | None:
    for binding in doc.get("address_bindings") or []:
        try:
            return IPv4Address(binding.get("ip_address"))
        except ValueError:
            continue
    return None


def _macs(snapshot: Snapshot) -> dict[str, str]:
    """Every port's address by its MAC (lower case), for a destination named by MAC."""
    out: dict[str, str] = {}
    for doc in snapshot.docs.values():
        if doc.get("resource_type") != "SegmentPort":
            continue
        for binding in doc.get("address_bindings") or []:
            if binding.get("mac_address") and binding.get("ip_address"):
                out.setdefault(str(binding["mac_address"]).lower(), str(binding["ip_address"]))
    return out


def _run(request: Request, snapshot: Snapshot, port_path: str, packet: object,
         module: str) -> Trace:
    """Walk ``packet`` from the port at ``port_path`` and count its rule hits."""
    macs = snapshot.derived("traceflow-macs", _macs) if _needs_macs(packet) else {}
    source_ip = _bound_ip(_port_doc(snapshot, port_path) or {})
    parsed = read_packet(packet, source_ip=source_ip, address_of_mac=macs, module=module)
    try:
        result = _tracer(request).run(snapshot.revision, port_path, parsed.spec)
    except SdnError as err:
        raise bad_request(str(err), module) from None
    _registry(request).hits.count(result, parsed.frame_size)
    return result


def _needs_macs(packet: object) -> bool:
    if not isinstance(packet, dict):
        return False
    ip = packet.get("ip_header")
    return not (isinstance(ip, dict) and ip.get("dst_ip") is not None)


def _observation_page(run: TraceflowRun, page: PageRequest,
                      filters: dict[str, str | None]) -> Response:
    """The observations of ``run`` as an NSX list (filtered, then paged)."""
    found = [o for o in run.observations()
             if all(value is None or o.get(name) == value for name, value in filters.items())]
    start = page.start()
    chosen = found[start:start + page.size()]
    out: dict[str, Any] = {"results": chosen, "result_count": len(found)}
    if start + len(chosen) < len(found):
        out["cursor"] = str(start + len(chosen))
    return json_response(encode(out))


class TraceflowRequest(BaseModel):
    """NSX's Manager ``TraceflowRequest`` as read here (other fields are accepted and
    unused). The packet is read by :func:`~sdn.api.tracing.read_packet`."""

    model_config = ConfigDict(extra="allow")

    lport_id: str
    packet: dict[str, Any]
    #: Milliseconds.
    timeout: int = Field(default=MANAGER_TIMEOUT, ge=1)


class TraceflowConfig(BaseModel):
    """NSX's Policy ``TraceflowConfig`` as read here (``segment_port_path``, the older
    name of ``source_id``, is read as it)."""

    model_config = ConfigDict(extra="allow")

    source_id: str
    packet: dict[str, Any]
    #: Seconds.
    timeout: int = Field(default=POLICY_TIMEOUT[1], ge=POLICY_TIMEOUT[0], le=POLICY_TIMEOUT[2])
    display_name: str | None = None
    description: str | None = None
    is_transient: bool = False
    tags: list[dict[str, Any]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_source_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source_id" not in data and "segment_port_path" in data:
            return {**data, "source_id": data["segment_port_path"]}
        return data


Filter = Annotated[str | None, Query()]


def _port_by_lport(snapshot: Snapshot, lport_id: str) -> str:
    """The segment port path of a logical port id (404 when it names none)."""
    found = manager_view(snapshot).port_path.get(lport_id)
    if found is None:
        raise not_found(f"lport_id {lport_id}")
    return found


def _port_by_source(snapshot: Snapshot, source: str) -> str:
    """The segment port a Policy ``source_id`` names: its path, or its logical port id
    (404 when it names none)."""
    path = source.rstrip("/")
    if _port_doc(snapshot, path) is not None:
        return path
    found = manager_view(snapshot).port_path.get(source)
    if found is None:
        raise not_found(f"source_id {source} (a segment port)")
    return found


def _manager_run(registry: Traceflows, traceflow_id: str) -> TraceflowRun:
    found = registry.manager.get(traceflow_id)
    if found is None:
        raise not_found(traceflow_id)
    return found


def _policy_run(registry: Traceflows, traceflow_id: str) -> TraceflowRun:
    found = registry.policy.get(traceflow_id)
    if found is None:
        raise not_found(f"{INFRA}/traceflows/{traceflow_id}")
    return found


async def create_manager(request: Request, user: Writer, body: TraceflowRequest) -> Response:
    """Run a traceflow from a logical port (NSX's ``TraceflowRequest``); 201 with the
    finished ``Traceflow``."""
    snapshot = view(request)
    port_path = _port_by_lport(snapshot, body.lport_id)
    result = _run(request, snapshot, port_path, body.packet, MANAGER)
    now = _now()
    run = TraceflowRun(str(uuid.uuid4()), port_path, body.lport_id,
                       {"timeout": body.timeout}, result, user.name, now, now)
    _registry(request).manager[run.id] = run
    return json_response(encode(run.status()), 201)


async def list_manager(request: Request, _user: Reader,
                       lport_id: Annotated[str | None, Query()] = None) -> Response:
    """Every Manager traceflow of this server (``lport_id``: from that port only)."""
    runs = [r.status() for r in _registry(request).manager.values()
            if lport_id is None or r.lport_id == lport_id]
    return json_response(encode({"results": runs, "result_count": len(runs)}))


async def get_manager(request: Request, _user: Reader, traceflow_id: str) -> Response:
    """One Manager traceflow's state and counters."""
    return json_response(encode(_manager_run(_registry(request), traceflow_id).status()))


async def delete_manager(request: Request, _user: Writer, traceflow_id: str) -> Response:
    """Forget a Manager traceflow (a later GET is 404)."""
    registry = _registry(request)
    _manager_run(registry, traceflow_id)
    del registry.manager[traceflow_id]
    return json_response(b"{}")


async def put_policy(request: Request, user: Writer, traceflow_id: str,
                     body: TraceflowConfig) -> Response:
    """Create (or replace, tracing again) a Policy traceflow (NSX's ``TraceflowConfig``)."""
    snapshot = view(request)
    port_path = _port_by_source(snapshot, body.source_id)
    result = _run(request, snapshot, port_path, body.packet, POLICY)
    registry = _registry(request)
    before = registry.policy.get(traceflow_id)
    now = _now()
    doc = _port_doc(snapshot, port_path) or {"path": port_path}
    stored = body.model_dump(include={"source_id", "packet", "timeout", "is_transient",
                                      "display_name", "description", "tags"})
    run = TraceflowRun(traceflow_id, port_path, realized_id(doc), stored, result,
                       before.user if before else user.name,
                       before.created if before else now, now,
                       before.revision + 1 if before else 0, policy=True)
    registry.policy[traceflow_id] = run
    return json_response(encode(run.config()))


async def list_policy(request: Request, _user: Reader) -> Response:
    """Every Policy traceflow config of this server, by id."""
    registry = _registry(request)
    runs = [registry.policy[k].config() for k in sorted(registry.policy)]
    return json_response(encode({"results": runs, "result_count": len(runs)}))


async def get_policy(request: Request, _user: Reader, traceflow_id: str) -> Response:
    """One Policy traceflow's config."""
    return json_response(encode(_policy_run(_registry(request), traceflow_id).config()))


async def policy_status(request: Request, _user: Reader, traceflow_id: str) -> Response:
    """One Policy traceflow's state and counters (a ``Traceflow``)."""
    return json_response(encode(_policy_run(_registry(request), traceflow_id).status()))


async def delete_policy(request: Request, _user: Writer, traceflow_id: str) -> Response:
    """Delete a Policy traceflow (nothing to delete is no error)."""
    _registry(request).policy.pop(traceflow_id, None)
    return json_response(b"{}")


def _observations_handler(find: Callable[[Traceflows, str], TraceflowRun]) -> Any:
    """The observations route of a Manager or Policy traceflow (``find`` looks it up)."""
    async def observations(
            request: Request, _user: Reader, traceflow_id: str,
            cursor: Cursor = None, page_size: PageSize = None,
            component_type: Filter = None, component_name: Filter = None,
            resource_type: Filter = None, transport_node_name: Filter = None,
    ) -> Response:
        run = find(_registry(request), traceflow_id)
        return _observation_page(run, PageRequest(cursor, page_size), {
            "component_type": component_type, "component_name": component_name,
            "resource_type": resource_type, "transport_node_name": transport_node_name})

    observations.__doc__ = "A traceflow's observations (NSX's list, filtered and paged)."
    return observations


def build_router() -> APIRouter:
    """The Manager and Policy traceflow routes."""
    router = APIRouter(tags=["traceflow"])
    for base in ("/api/v1/traceflows", "/api/v1/traceflow"):
        router.add_api_route(base, create_manager, methods=["POST"], status_code=201,
                             name=f"create {base}", operation_id=f"create{_op(base)}")
        router.add_api_route(base, list_manager, methods=["GET"], name=f"list {base}",
                             operation_id=f"list{_op(base)}")
        router.add_api_route(base + "/{traceflow_id}", get_manager, methods=["GET"],
                             name=f"get {base}", operation_id=f"get{_op(base)}")
        router.add_api_route(base + "/{traceflow_id}", delete_manager, methods=["DELETE"],
                             name=f"delete {base}", operation_id=f"delete{_op(base)}")
        router.add_api_route(base + "/{traceflow_id}/observations",
                             _observations_handler(_manager_run),
                             methods=["GET"], name=f"observations {base}",
                             operation_id=f"observations{_op(base)}")
    policy = "/policy/api/v1/infra/traceflows"
    router.add_api_route(policy, list_policy, methods=["GET"])
    router.add_api_route(policy + "/{traceflow_id}", put_policy, methods=["PUT"])
    router.add_api_route(policy + "/{traceflow_id}", get_policy, methods=["GET"])
    router.add_api_route(policy + "/{traceflow_id}", delete_policy, methods=["DELETE"])
    router.add_api_route(policy + "/{traceflow_id}/status", policy_status, methods=["GET"])
    router.add_api_route(policy + "/{traceflow_id}/observations",
                         _observations_handler(_policy_run), methods=["GET"])
    return router


def _op(base: str) -> str:
    return "ManagerTraceflows" if base.endswith("s") else "ManagerTraceflow"
