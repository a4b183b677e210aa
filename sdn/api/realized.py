"""Realized state, as NSX's Policy API answers it:
``/policy/api/v1/infra/realized-state/status?intent_path=`` (a
``ConsolidatedRealizedStatus``) and ``.../realized-entities?intent_path=`` (the
``GenericPolicyRealizedResource``\\ s of one intent object).

What realized means here: every object in the state is realized (the state *is* what
the emulated manager pushed), unless NCP's last sync recorded a problem on the
Kubernetes object it came from (``Store.problems``: an object it could not realize in
full, e.g. a Service without a VIP or a Namespace without its SNAT IP). Such an intent
is ``ERROR``, with each problem as an alarm (its code, the Kubernetes object, the
message). An object NCP rejected outright has no NSX object at all; asking for the
path NCP would have given it still answers ``ERROR`` with the problem, so a client can
ask why it is missing. A path that is neither an object nor the path of a rejected one
is 404.

How an intent path finds its Kubernetes object (our choice, from NCP's own naming):

* an object in the state: by its tags (``ncp/pod`` → ``Pod/NS/POD``,
  ``ncp/network_policy`` → ``NetworkPolicy/NS/NAME``, ``ncp/service`` →
  ``Service/NS/NAME``, ``ncp/project`` alone → ``Namespace/NS``) within its
  ``ncp/cluster``;
* a path not in the state: by NCP's ids, ``<kind>_<cluster>_<namespace>[_<name>...]``
  (Kubernetes and cluster names have no ``_``, so the split is exact) and a pod's port
  ``/infra/segments/seg_<cluster>_<namespace>/ports/<pod>``;
* a problem whose object is the intent path itself (NCP names shared NSX objects so).

Entity types follow NSX's realized entities (``RealizedLogicalSwitch``,
``RealizedLogicalPort``, ``RealizedLogicalRouter``, ``RealizedNSGroup``,
``RealizedFirewallSection``, ``RealizedFirewallRule``; a pool's subnet is
``IpBlockSubnet`` with its ``cidr`` and an allocation ``AllocationIpAddress`` with its
``allocation_ip``, the attributes NCP reads back); other kinds ``Realized<Type>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from sdn.api.auth import Reader
from sdn.api.errors import not_found
from sdn.api.policy_reads import json_response, view
from sdn.api.stateview import Snapshot, encode
from sdn.api.statistics import ENFORCEMENT_POINT
from sdn.errors import Problem
from sdn.model import IpPool
from sdn.store import Store
from sdn.store.codec import decode

_ENTITY_TYPES = {"Segment": "RealizedLogicalSwitch", "SegmentPort": "RealizedLogicalPort",
                 "Tier0": "RealizedLogicalRouter", "Tier1": "RealizedLogicalRouter",
                 "Group": "RealizedNSGroup", "SecurityPolicy": "RealizedFirewallSection",
                 "Rule": "RealizedFirewallRule", "IpAddressPoolBlockSubnet": "IpBlockSubnet",
                 "IpAddressPoolStaticSubnet": "IpBlockSubnet",
                 "IpAddressAllocation": "AllocationIpAddress"}
#: Which Kubernetes kind an NCP id prefix comes from (per object of a namespace).
_ID_KINDS = {"np": "NetworkPolicy", "vs": "Service", "pool": "Service", "lbvip": "Service",
             "svcsnat": "Service"}
_TAG_KINDS = (("ncp/pod", "Pod"), ("ncp/network_policy", "NetworkPolicy"),
              ("ncp/service", "Service"))


@dataclass(frozen=True)
class Owner:
    """The Kubernetes object an intent comes from: its cluster (None: any) and the names
    NCP's problems give it."""

    cluster: str | None
    names: frozenset[str]


def owner_of(path: str, doc: dict[str, Any] | None) -> Owner:
    """Who owns ``path`` (see the module's doc)."""
    if doc is not None:
        tags = {t.get("scope"): t.get("tag") for t in doc.get("tags") or []}
        project = tags.get("ncp/project")
        names = {path}
        if project is not None:
            kinds = [(kind, tags[scope]) for scope, kind in _TAG_KINDS if tags.get(scope)]
            names |= ({f"{kind}/{project}/{name}" for kind, name in kinds} if kinds
                      else {f"Namespace/{project}"})
        return Owner(tags.get("ncp/cluster"), frozenset(names))
    return _owner_by_id(path)


def _owner_by_id(path: str) -> Owner:
    parts = path.strip("/").split("/")
    if len(parts) == 5 and parts[1] == "segments" and parts[3] == "ports":
        seg = parts[2].split("_")
        if len(seg) == 3 and seg[0] == "seg":
            return Owner(seg[1], frozenset({path, f"Pod/{seg[2]}/{parts[4]}"}))
    words = parts[-1].split("_")
    if len(words) < 3:
        return Owner(None, frozenset({path}))
    cluster, namespace = words[1], words[2]
    if len(words) == 3:
        return Owner(cluster, frozenset({path, f"Namespace/{namespace}"}))
    kinds = [_ID_KINDS[words[0]]] if words[0] in _ID_KINDS else sorted(set(_ID_KINDS.values()))
    return Owner(cluster, frozenset({path} | {f"{k}/{namespace}/{words[3]}" for k in kinds}))


class RealizedSource:
    """What realized state reads beside the snapshot, through its own read-only
    connection (on the server's one event loop): NCP's problems of the last syncs, by
    object (read again when the revision moves), and pool subnets' CIDRs (realized
    state in NSX 4.x, not part of the subnet's intent)."""

    def __init__(self, state: Path) -> None:
        self._store = Store.open_readonly(state)
        self._revision: int | None = None
        self._by_obj: dict[str, list[tuple[str, Problem]]] = {}

    def of(self, owner: Owner, revision: int) -> list[Problem]:
        if self._revision != revision:
            self._by_obj = {}
            for cluster, problem in self._store.problems():
                self._by_obj.setdefault(problem.obj, []).append((cluster, problem))
            self._revision = revision
        return [p for name in sorted(owner.names) for c, p in self._by_obj.get(name, [])
                if owner.cluster is None or c == owner.cluster]

    def subnet_cidr(self, path: str) -> str | None:
        """The CIDR of the pool subnet at ``path`` (``.../ip-subnets/<id>``), if any."""
        pool_path, _, subnet_id = path.partition("/ip-subnets/")
        for row in self._store.rows(paths=[pool_path]):
            pool = decode(row)
            if isinstance(pool, IpPool):
                for subnet in pool.subnets:
                    if subnet.id == subnet_id:
                        return str(subnet.cidr)
        return None

    def close(self) -> None:
        self._store.close()


def _source(request: Request) -> RealizedSource:
    found: RealizedSource = request.app.state.realized
    return found


def _alarm(problem: Problem) -> dict[str, Any]:
    return {"resource_type": "PolicyAlarmResource", "id": problem.code,
            "display_name": problem.code, "message": f"{problem.code} {problem.obj}: "
            f"{problem.message}", "source_reference": problem.obj}


@dataclass(frozen=True)
class Realization:
    """One intent path's realization: its document (None: rejected) and problems."""

    path: str
    doc: dict[str, Any] | None
    problems: list[Problem]
    #: Realized attributes (name, value), e.g. a pool subnet's ``cidr``.
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def state(self) -> str:
        return "ERROR" if self.problems else "REALIZED"

    def entity(self) -> dict[str, Any]:
        """NSX's ``GenericPolicyRealizedResource`` of the intent."""
        doc = self.doc or {}
        kind = str(doc.get("resource_type", ""))
        entity_type = _ENTITY_TYPES.get(kind, f"Realized{kind}" if kind else "Unrealized")
        ident = str(doc.get("id") or self.path.rsplit("/", 1)[-1])
        out: dict[str, Any] = {
            "resource_type": "GenericPolicyRealizedResource", "id": ident,
            "display_name": doc.get("display_name", ident),
            "path": f"{ENFORCEMENT_POINT}/realized-entities/{ident}",
            "entity_type": entity_type, "intent_paths": [self.path], "state": self.state,
            "runtime_status": "UNKNOWN", "alarms": [_alarm(p) for p in self.problems]}
        if self.doc is not None:
            out["realization_specific_identifier"] = str(doc.get("unique_id") or ident)
        if self.attributes:
            out["extended_attributes"] = [{"key": key, "data_type": "STRING",
                                           "multivalue": False, "values": [value]}
                                          for key, value in self.attributes]
        return out

    def status(self) -> dict[str, Any]:
        """NSX's ``ConsolidatedRealizedStatus`` of the intent."""
        consolidated = {"consolidated_status": "ERROR" if self.problems else "SUCCESS"}
        point: dict[str, Any] = {"enforcement_point_id": "default",
                                 "enforcement_point_path": ENFORCEMENT_POINT,
                                 "consolidated_status": consolidated}
        out: dict[str, Any] = {"intent_path": self.path, "publish_status": self.state,
                               "consolidated_status": consolidated,
                               "consolidated_status_per_enforcement_point": [point]}
        if self.doc is not None:
            out["intent_version"] = str(self.doc.get("_revision", 0))
        if self.problems:
            first = self.problems[0]
            point["alarm"] = {"error_id": first.code, "message": _alarm(first)["message"]}
            out["publish_status_error_message"] = "; ".join(_alarm(p)["message"]
                                                            for p in self.problems)
        return out


def realization(request: Request, intent_path: str) -> Realization:
    """The realization of ``intent_path`` (404 when it names nothing, see the doc)."""
    snapshot: Snapshot = view(request)
    path = intent_path.rstrip("/") or intent_path
    doc = snapshot.docs.get(path)
    source = _source(request)
    problems = source.of(owner_of(path, doc), snapshot.revision)
    if doc is None and not problems:
        raise not_found(path)
    return Realization(path, doc, problems, _attributes(source, path, doc))


def _attributes(source: RealizedSource, path: str, doc: dict[str, Any] | None
                ) -> tuple[tuple[str, str], ...]:
    """The realized attributes NCP reads back: a pool subnet's ``cidr`` (from the
    model), an allocation's ``allocation_ip``."""
    if doc is None:
        return ()
    entity_type = _ENTITY_TYPES.get(str(doc.get("resource_type")))
    if entity_type == "IpBlockSubnet":
        cidr = doc.get("cidr") or source.subnet_cidr(path)
        return (("cidr", str(cidr)),) if cidr else ()
    if entity_type == "AllocationIpAddress" and doc.get("allocation_ip"):
        return (("allocation_ip", str(doc["allocation_ip"])),)
    return ()


IntentPath = Annotated[str, Query(min_length=1)]


async def realized_status(request: Request, _user: Reader, intent_path: IntentPath
                          ) -> Response:
    """The consolidated realized status of one intent object."""
    return json_response(encode(realization(request, intent_path).status()))


async def realized_entities(request: Request, _user: Reader, intent_path: IntentPath
                            ) -> Response:
    """The realized entities of one intent object."""
    entity = realization(request, intent_path).entity()
    return json_response(encode({"results": [entity], "result_count": 1}))


def build_router() -> APIRouter:
    """The two realized-state routes."""
    router = APIRouter(tags=["realized-state"])
    base = "/policy/api/v1/infra/realized-state"
    router.add_api_route(base + "/status", realized_status, methods=["GET"])
    router.add_api_route(base + "/realized-entities", realized_entities, methods=["GET"])
    return router


__all__ = ["Owner", "Realization", "RealizedSource", "build_router", "owner_of"]
