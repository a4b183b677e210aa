"""Per-service SNAT: a Service annotated ``ncp/snat_pool`` egresses from its own IP.

NCP's behaviour (reference 1.2, "SNAT per service"): the backend pods of a Service whose
annotation ``ncp/snat_pool`` names an external IP pool (by id or display name) leave the
cluster translated to one IP from that pool, by a SNAT rule that outranks their namespace's
(sequence 900 against 1000) on the gateway that does the namespace's SNAT. The pool must be
tagged ``ncp/owner=cluster:<cluster>``. A pod in two such services gets one working rule:
the first service in (namespace, name) order keeps it, the later one is told. Errors go to
the Service as ``ncp/error.snat``: ``IP_POOL_NOT_FOUND``, ``IP_POOL_NOT_UNIQUE``,
``POOL_ACCESS_DENIED``, ``IP_POOL_EXHAUSTED``, ``SNAT_RULE_OVERLAPPED``. A service with no
backend pod gets no rule (and holds no IP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.loadbalancers import StickyAddresses
from ncp.translate.policyinputs import PodInfo
from ncp.translate.services import backend_pods
from sdn.errors import Problem
from sdn.ipam import Hold
from sdn.model import IpPool, NatRule, nat_rule_path
from sdn.model.nat import SERVICE_SNAT_PRIORITY


@dataclass
class ServiceSnat:
    """The rules, pool updates, holds and errors of per-service SNAT."""

    rules: list[NatRule] = field(default_factory=list)
    pools: dict[str, IpPool] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)


def _find_pool(name: str, pools: Mapping[str, IpPool]) -> tuple[str | None, str]:
    if name in pools:
        return name, ""
    named = [pid for pid, p in pools.items() if p.display_name == name]
    if len(named) > 1:
        return None, "IP_POOL_NOT_UNIQUE"
    return (named[0], "") if named else (None, "IP_POOL_NOT_FOUND")


def service_snat(services: Sequence[K8sObject], slices: Sequence[K8sObject], *, cluster: str,
                 pods: Sequence[PodInfo],
                 external_pools: Mapping[str, IpPool], gateway: str, holds: Sequence[Hold],
                 now: float, delay: float) -> ServiceSnat:
    """SNAT rules for the annotated services (see the module docstring)."""
    out = ServiceSnat()
    sticky = StickyAddresses(cluster, external_pools, holds, now, delay, prefix="svcsnat_")
    claimed: dict[str, str] = {}  # pod IP -> the service whose rule has it
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        annotations = svc.annotations
        wanted = annotations.get(naming.SNAT_POOL_ANNOTATION)
        if not wanted:
            continue
        name = f"{svc.namespace}/{svc.name}"

        def fail(code: str, message: str, svc: K8sObject = svc, name: str = name) -> None:
            out.problems.append(Problem(code, f"Service/{name}", message))
            out.errors[(svc.namespace, svc.name)] = code

        pool_id, code = _find_pool(str(wanted), external_pools)
        if pool_id is None:
            fail(code, f"{naming.SNAT_POOL_ANNOTATION} {wanted!r}: {code}")
            continue
        owner = external_pools[pool_id].tag(naming.SCOPE_OWNER)
        if owner != f"cluster:{cluster}":
            fail("POOL_ACCESS_DENIED", f"pool {pool_id} is not tagged "
                                       f"{naming.SCOPE_OWNER}=cluster:{cluster}")
            continue
        backends = sorted({str(p.ip) for p in backend_pods(svc, slices, pods)})
        mine = [ip for ip in backends if ip not in claimed]
        if len(mine) < len(backends):
            taken = sorted(set(backends) - set(mine))
            fail("SNAT_RULE_OVERLAPPED", f"pods {', '.join(taken)} already egress through "
                                         f"{claimed[taken[0]]}'s SNAT rule")
        if not mine:
            continue
        key = f"svcsnat_{cluster}_{svc.namespace}_{svc.name}"
        ip, code = sticky.get(key, None, [pool_id], svc.namespace, svc.name)
        if ip is None:
            fail(code, f"no SNAT IP left in {pool_id}")
            continue
        for backend in mine:
            claimed[backend] = name
        rid = key.replace("svcsnat_", "snat-svc_")
        out.rules.append(NatRule(
            id=rid, display_name=f"{name} egress", path=nat_rule_path(gateway, rid),
            parent_path=f"{gateway}/nat/USER",
            tags=(*naming.base_tags(cluster, svc.namespace),
                  naming.tag(naming.SCOPE_SERVICE, svc.name)),
            action="SNAT", source_network=",".join(mine), translated_network=str(ip),
            sequence_number=SERVICE_SNAT_PRIORITY))
    out.pools, out.holds = sticky.finish()
    return out

