"""Ingress: the cluster's shared HTTP and HTTPS L7 virtual servers.

NCP's behaviour (reference 1.5): all Ingresses of a cluster share one IP (the profile's
``ingress_ip``, else one from the LB pools, then the floating pools), with one L7 virtual
server for Ingresses without TLS (HTTP, port 80) and one for those with TLS (HTTPS, 443,
TLS ended at the load balancer), both on the cluster's first LB service. Every Ingress rule
(host and path) becomes an LB rule on its virtual server selecting a pool per backend
service port, whose members are that service's ready endpoints.

Rule order follows NCP's documented pitfall: the Ingress created first wins (here:
``metadata.creationTimestamp``, then namespace and name, since manifests on disk may have
no timestamp); a host and path already served by an earlier Ingress is an error on the
later one (``ncp/error.loadbalancer: DUPLICATE_HOST_PATH``), and a backend service or port
that does not exist is ``BACKEND_NOT_FOUND``. The rest of the Ingress is still served.
Paths match as prefixes (``pathType`` Exact as equality; ``ncp/use-regex: "True"`` as a
regular expression); host matching is exact (NCP 3.2+ matches hosts by regex, so an
earlier ``example.com`` may also take ``api.example.com``: not modelled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.policyinputs import PodInfo
from ncp.translate.services import backend_members
from ncp.translate.settings import L7Settings
from sdn.errors import Problem
from sdn.model import (
    LBPool,
    LBVirtualServer,
    PolicyResource,
    lb_pool_path,
    lb_virtual_server_path,
)
from sdn.model.lb import (
    HTTP_PROFILE,
    LBCookiePersistenceProfile,
    LBHttpProfile,
    LBRule,
    LBRuleAction,
    LBRuleCondition,
    LBSessionCookieTime,
    LBSourceIpPersistenceProfile,
    lb_app_profile_path,
    lb_persistence_profile_path,
)


@dataclass
class IngressObjects:
    """The L7 virtual servers and pools, and what could not be served."""

    objects: list[PolicyResource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    served: list[tuple[str, str]] = field(default_factory=list)


def is_nsx_ingress(ing: K8sObject) -> bool:
    """Ingresses NCP serves: class ``nsx`` (annotation or ``ingressClassName``), or no
    class at all (NCP's ``default_ingress_class_nsx``). Others belong to another
    controller and are never touched."""
    cls = ing.annotations.get(naming.INGRESS_CLASS_ANNOTATION) or \
        ing.spec.get("ingressClassName")
    return cls in (None, "", "nsx")


def _order(ing: K8sObject) -> tuple[str, str, str]:
    stamp = str(ing.metadata.get("creationTimestamp") or "")
    return stamp, ing.namespace, ing.name


def _conditions(host: str | None, path: str, path_type: str,
                regex: bool) -> tuple[LBRuleCondition, ...]:
    out = []
    if host:
        out.append(LBRuleCondition(type="LBHttpRequestHeaderCondition", header_name="Host",
                                   header_value=host, match_type="EQUALS"))
    match = "REGEX" if regex else ("EQUALS" if path_type == "Exact" else "STARTS_WITH")
    out.append(LBRuleCondition(type="LBHttpRequestUriCondition", uri=path or "/",
                               match_type=match))
    return tuple(out)


def ingresses(objects: Sequence[K8sObject], services: Sequence[K8sObject],
              slices: Sequence[K8sObject], *, cluster: str, pods: Sequence[PodInfo],
              vip: str, lb_service: str, l7: L7Settings | None = None) -> IngressObjects:
    """The cluster's L7 load balancing for ``objects`` (see the module docstring)."""
    out = IngressObjects()
    app_profile, persistence = _profiles(cluster, l7 or L7Settings(), out)
    by_name = {(s.namespace, s.name): s for s in services}
    rules: dict[bool, list[LBRule]] = {False: [], True: []}
    seen: dict[tuple[bool, str, str], str] = {}
    pools: dict[str, LBPool] = {}
    for ing in sorted(objects, key=_order):
        spec = ing.spec
        annotations = ing.annotations
        tls = bool(spec.get("tls"))
        regex = naming.annotation_flag(annotations, naming.USE_REGEX_ANNOTATION)
        where = f"Ingress/{ing.namespace}/{ing.name}"
        entries: list[tuple[str | None, str, str, Mapping[str, Any]]] = []
        for rule in spec.get("rules") or []:
            for p in ((rule.get("http") or {}).get("paths") or []):
                entries.append((rule.get("host"), str(p.get("path") or "/"),
                                str(p.get("pathType") or "Prefix"), p.get("backend") or {}))
        default = spec.get("defaultBackend")
        if default:
            entries.append((None, "/", "Prefix", default))
        landed = 0
        for host, path, path_type, backend in entries:
            svc_ref = backend.get("service") or {}
            svc = by_name.get((ing.namespace, str(svc_ref.get("name"))))
            port = (svc_ref.get("port") or {})
            svc_port = _service_port(svc, port) if svc is not None else None
            if svc is None or svc_port is None:
                out.problems.append(Problem("BACKEND_NOT_FOUND", where,
                                            f"backend {svc_ref.get('name')}:{port} does not "
                                            "exist"))
                out.errors[(ing.namespace, ing.name)] = "BACKEND_NOT_FOUND"
                continue
            key = (tls, host or "*", path)
            if key in seen:
                out.problems.append(Problem("DUPLICATE_HOST_PATH", where,
                                            f"{host or '*'}{path} is already served by "
                                            f"{seen[key]}"))
                out.errors[(ing.namespace, ing.name)] = "DUPLICATE_HOST_PATH"
                continue
            seen[key] = where
            ident = f"{cluster}_{ing.namespace}_{svc.name}_{svc_port['port']}"
            pool = pools.get(ident)
            if pool is None:
                members = backend_members(svc, slices, pods)(svc_port, "TCP")
                pool = LBPool(id=f"l7pool_{ident}", path=lb_pool_path(f"l7pool_{ident}"),
                              display_name=f"{ing.namespace}/{svc.name}:{svc_port['port']}",
                              members=tuple(members), tags=(
                                  *naming.base_tags(cluster, ing.namespace),
                                  naming.tag(naming.SCOPE_SERVICE, svc.name)))
                pools[ident] = pool
            rules[tls].append(LBRule(
                display_name=f"{ing.namespace}/{ing.name} {host or '*'}{path}",
                match_conditions=_conditions(host, path, path_type, regex),
                actions=(LBRuleAction(pool_id=pool.path),)))
            landed += 1
        if landed:  # an Ingress none of whose rules is served gets no address
            out.served.append((ing.namespace, ing.name))
    out.objects += sorted(pools.values(), key=lambda p: p.id)
    for tls, port, kind in ((False, "80", "http"), (True, "443", "https")):
        vs_id = naming.cluster_id("l7vs", cluster, kind)
        out.objects.append(LBVirtualServer(
            id=vs_id, display_name=f"{cluster} ingress {kind}",
            path=lb_virtual_server_path(vs_id), ip_address=vip, ports=(port,),
            lb_service_path=lb_service, pool_path="", application_profile_path=app_profile,
            lb_persistence_profile_path=persistence,
            rules=tuple(rules[tls]), tags=tuple(naming.base_tags(cluster))))
    return out


def _profiles(cluster: str, l7: L7Settings, out: IngressObjects) -> tuple[str, str | None]:
    """The application and persistence profiles of the Ingress virtual servers: the
    built-in HTTP profile unless ``x_forwarded_for`` or the header sizes and timeout are
    set, and a cookie or source-IP persistence profile when the profile asks for one
    (NCP's defaults: cookie ``NSXLB``, and NSX's 300 s source-IP timeout)."""
    app = HTTP_PROFILE
    tags = tuple(naming.base_tags(cluster))
    if l7.custom_http:
        ident = naming.cluster_id("http", cluster)
        app = lb_app_profile_path(ident)
        out.objects.append(LBHttpProfile(
            id=ident, path=app, display_name=f"{cluster} ingress HTTP", tags=tags,
            x_forwarded_for=l7.x_forwarded_for, request_header_size=l7.request_header_size,
            response_header_size=l7.response_header_size,
            response_timeout=l7.response_timeout))
    if l7.persistence is None:
        return app, None
    ident = naming.cluster_id("persistence", cluster)
    path = lb_persistence_profile_path(ident)
    name = f"{cluster} ingress {l7.persistence} persistence"
    if l7.persistence == "cookie":
        out.objects.append(LBCookiePersistenceProfile(
            id=ident, path=path, display_name=name, tags=tags,
            cookie_time=(LBSessionCookieTime(cookie_max_idle=l7.persistence_timeout)
                         if l7.persistence_timeout else None)))
    else:
        out.objects.append(LBSourceIpPersistenceProfile(
            id=ident, path=path, display_name=name, tags=tags,
            timeout=l7.persistence_timeout or 300))
    return app, path


def _service_port(svc: K8sObject, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The service port an Ingress backend names (by number or name)."""
    for p in svc.spec.get("ports") or []:
        if ("number" in ref and p.get("port") == ref["number"]) or (
                "name" in ref and p.get("name") == ref["name"]):
            return dict(p)
    return None
