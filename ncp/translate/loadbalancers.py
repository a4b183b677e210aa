"""Services of ``type: LoadBalancer``: L4 virtual servers on the cluster's NSX LB service.

NCP's behaviour (reference 1.4):

* the cluster has an NSX LB service of the profile's ``lb_size`` (SMALL by default) on a
  Tier-1: the shared Tier-1, or in the two-tier topology a Tier-1 of its own (TKGI builds
  one segment and Tier-1 per cluster for the load balancer);
* every service gets one VIP, and every TCP/UDP service port an L4 virtual server on it
  with a pool whose members are the service's ready endpoints;
* the VIP is ``spec.loadBalancerIP`` when that is an address (it must be in one of the
  external pools and free) or the id of an external pool tagged
  ``ncp/owner=cluster:<cluster>`` to allocate from; otherwise it
  comes from the LB pools (``external_ip_pools_lb``), then the floating pools. A service
  keeps its VIP across syncs; a released VIP is held back like every other address;
* an LB service holds at most its size's virtual servers, pools and members
  (:data:`CAPACITY`; the first one also carries the two Ingress virtual servers when
  there are Ingresses); when the services do not fit NCP adds LB services (auto-scaling),
  unless ``max_l4_lb_service`` caps the number of virtual servers;
* what cannot be done is reported on the service as ``ncp/error.loadbalancer``:
  ``IP_POOL_NOT_FOUND``, ``IP_POOL_EXHAUSTED``, ``IP_ALREADY_ALLOCATED`` (a pinned address
  taken), ``SERVICE_LOADBALANCER_UNREALIZED`` (no capacity left). Other services keep
  working.

Placement is deterministic: services in (namespace, name) order; a virtual server stays on
the LB service it is on while it fits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import AddressValueError, IPv4Address, IPv4Network
from typing import Any

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.policyinputs import PodInfo
from ncp.translate.services import backend_members
from sdn.errors import Problem
from sdn.ipam import AddressAllocator, Hold, pool_address_ranges
from sdn.model import (
    Inventory,
    IpAllocation,
    IpPool,
    LBPool,
    LBPoolMember,
    LBService,
    LBVirtualServer,
    PolicyResource,
    ip_pool_path,
    lb_pool_path,
    lb_service_path,
    lb_virtual_server_path,
)
from sdn.model.lb import (
    CAPACITY,
    SOURCE_IP_PERSISTENCE,
    TCP_PROFILE,
    UDP_PROFILE,
    LBSnatTranslation,
)


@dataclass
class LoadBalancing:
    """The cluster's L4 load balancing, VIP allocations, and what failed."""

    objects: list[PolicyResource] = field(default_factory=list)
    pools: dict[str, IpPool] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    vips: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def refuse(self, svc: K8sObject, code: str, message: str) -> None:
        """A service that gets no load balancing: a problem on it, and the code for its
        ``ncp/error.loadbalancer`` annotation."""
        self.problems.append(Problem(code, f"Service/{svc.namespace}/{svc.name}", message))
        self.errors[f"{svc.namespace}/{svc.name}"] = code


class StickyAddresses:
    """Addresses of one kind (``prefix``: LB VIPs, Service SNAT IPs) in the external pools,
    sticky per owner; other owners' allocations in the same pools are left alone."""

    def __init__(self, cluster: str, pools: Mapping[str, IpPool], holds: Sequence[Hold],
                 now: float, delay: float, prefix: str = "lbvip_") -> None:
        self.cluster = cluster
        self.prefix = prefix
        self.pools = dict(pools)
        self.now, self.delay = now, delay
        self.mine: dict[str, tuple[str, IpAllocation]] = {}
        for pid, pool in self.pools.items():
            for a in pool.allocations:
                if a.tag(naming.SCOPE_CLUSTER) == cluster and a.id.startswith(prefix):
                    self.mine[a.id] = (pid, a)
        self.kept: dict[str, tuple[str, IpAllocation]] = {}
        self.allocators = {
            pid: AddressAllocator(pool_address_ranges(p), used=[int(a.allocation_ip)
                                                            for a in p.allocations],
                                  holds=[h for h in holds if h.scope == p.path], now=now)
            for pid, p in self.pools.items()}

    def get(self, key: str, want: str | None, order: Sequence[str],
            project: str, service: str) -> tuple[IPv4Address | None, str]:
        """The VIP for ``key`` (an existing one when still right), or an error code."""
        existing = self.mine.get(key)
        ip_wanted: IPv4Address | None = None
        pool_wanted: str | None = None
        if want:
            try:
                ip_wanted = IPv4Address(want)
            except AddressValueError:
                pool_wanted = want
        if existing is not None:
            pid, alloc = existing
            if (ip_wanted is None or alloc.allocation_ip == ip_wanted) and (
                    pool_wanted is None or pid == pool_wanted):
                self.kept[key] = existing
                return alloc.allocation_ip, ""
        if pool_wanted is not None and pool_wanted not in self.pools:
            return None, "IP_POOL_NOT_FOUND"
        candidates = [pool_wanted] if pool_wanted else list(order)
        if ip_wanted is not None:
            for pid in self.pools:
                if self.allocators[pid].contains(ip_wanted):
                    if self.allocators[pid].take(ip_wanted):
                        return self._record(key, pid, ip_wanted, project, service), ""
                    return None, "IP_ALREADY_ALLOCATED"
            return None, "IP_POOL_NOT_FOUND"
        for pid in candidates:
            allocator = self.allocators.get(pid)
            ip = allocator.allocate() if allocator is not None else None
            if ip is not None:
                return self._record(key, pid, ip, project, service), ""
        return None, "IP_POOL_EXHAUSTED"

    def _record(self, key: str, pid: str, ip: IPv4Address, project: str,
                service: str) -> IPv4Address:
        tags = (*naming.base_tags(self.cluster, project), naming.tag(naming.SCOPE_SERVICE, service))
        self.kept[key] = (pid, IpAllocation(id=key, allocation_ip=ip, tags=tags))
        return ip

    def finish(self) -> tuple[dict[str, IpPool], list[Hold]]:
        """Pools with this cluster's VIP allocations replaced, and holds for released ones."""
        holds = [Hold(ip_pool_path(pid), IPv4Network(a.allocation_ip), self.now + self.delay)
                 for key, (pid, a) in self.mine.items() if self.kept.get(key) != (pid, a)]
        out = {}
        for pid, pool in self.pools.items():
            others = [a for a in pool.allocations
                      if not (a.tag(naming.SCOPE_CLUSTER) == self.cluster
                              and a.id.startswith(self.prefix))]
            mine = [a for p, a in self.kept.values() if p == pid]
            allocations = tuple(sorted(others + mine, key=lambda a: a.id))
            out[pool.path] = pool if allocations == pool.allocations else pool.model_copy(
                update={"allocations": allocations})
        return out, holds


def load_balancers(services: Sequence[K8sObject], slices: Sequence[K8sObject], *,
                   cluster: str, pods: Sequence[PodInfo], current: Inventory,
                   external_pools: Mapping[str, IpPool], lb_pool_ids: Sequence[str],
                   fip_pool_ids: Sequence[str], gateway: str, size: str,
                   max_virtual_servers: int | None, holds: Sequence[Hold], now: float,
                   delay: float, algorithm: str = "ROUND_ROBIN",
                   source_ip_persistence: bool = False,
                   reserved_virtual_servers: int = 0) -> LoadBalancing:
    """The cluster's LoadBalancer services as NSX L4 load balancing (module docstring).

    Each service in turn gets its VIP, then room for its virtual servers on an LB service;
    one that gets neither is reported and gives its VIP back, and the next one is tried.
    """
    out = LoadBalancing()
    wanted = sorted((s for s in services
                     if s.spec.get("type") == "LoadBalancer"),
                    key=lambda s: (s.namespace, s.name))
    vips = StickyAddresses(cluster, external_pools, holds, now, delay)
    lbs = _Placement.of_cluster(cluster, size, current, max_virtual_servers,
                                reserved_virtual_servers)
    order = [*lb_pool_ids, *[p for p in fip_pool_ids if p not in lb_pool_ids]]
    for svc in wanted:
        ports = _l4_ports(svc)
        if not ports:
            continue
        key = f"lbvip_{cluster}_{svc.namespace}_{svc.name}"
        vip, code = _service_vip(svc, key, vips, external_pools, order, cluster)
        if vip is None:
            out.refuse(svc, code, f"no VIP: {code} "
                       f"(loadBalancerIP {svc.spec.get('loadBalancerIP')!r})")
            continue
        members = backend_members(svc, slices, pods)
        servers = [_PortServer.of(svc, port, cluster, members) for port in ports]
        lb_id = lbs.place(servers)
        if lb_id is None:
            out.refuse(svc, "SERVICE_LOADBALANCER_UNREALIZED", lbs.no_room(len(servers)))
            vips.kept.pop(key, None)
            continue
        out.vips[f"{svc.namespace}/{svc.name}"] = str(vip)
        out.objects += _l4_objects(svc, vip, lb_id, servers, cluster, algorithm,
                                   source_ip_persistence)
    for lb_id in sorted(lbs.load):
        out.objects.append(LBService(id=lb_id, display_name=f"{cluster} load balancer",
                                     path=lb_service_path(lb_id), connectivity_path=gateway,
                                     size=lbs.size, tags=tuple(naming.base_tags(cluster))))
    out.pools, out.holds = vips.finish()
    return out


def _l4_ports(svc: K8sObject) -> list[Any]:
    """The service ports an L4 virtual server can serve: TCP or UDP, with a number."""
    return [p for p in svc.spec.get("ports") or []
            if str(p.get("protocol") or "TCP").upper() in ("TCP", "UDP")
            and isinstance(p.get("port"), int)]


def _service_vip(svc: K8sObject, key: str, vips: StickyAddresses,
                 external_pools: Mapping[str, IpPool], order: Sequence[str],
                 cluster: str) -> tuple[IPv4Address | None, str]:
    """The service's VIP (``spec.loadBalancerIP``: an address or a pool id; else from the
    pools in ``order``), or an error code. A pool the service names must be tagged for
    this cluster: NCP only allocates from pools tagged for it."""
    want = str(svc.spec.get("loadBalancerIP") or "") or None
    named = external_pools.get(want) if want else None
    if named is not None and named.tag(naming.SCOPE_OWNER) != f"cluster:{cluster}":
        return None, "IP_POOL_NOT_FOUND"
    return vips.get(key, want, order, svc.namespace, svc.name)


@dataclass(frozen=True)
class _PortServer:
    """The virtual server and pool one service port needs, before they are placed.

    Attributes:
        ident: The id stem of the pool and the virtual server
            (``<cluster>_<namespace>_<name>_<port>_<protocol>``).
        port: The service port.
        protocol: ``TCP`` or ``UDP``.
        members: The pool's members (the ready endpoints).
    """

    ident: str
    port: Mapping[str, Any]
    protocol: str
    members: list[LBPoolMember]

    @classmethod
    def of(cls, svc: K8sObject, port: Mapping[str, Any], cluster: str,
           members: Callable[[Mapping[str, Any], str], list[LBPoolMember]]) -> _PortServer:
        """The service port's server, with the members ``members`` gives for it."""
        protocol = str(port.get("protocol") or "TCP").upper()
        ident = f"{cluster}_{svc.namespace}_{svc.name}_{port['port']}_{protocol}"
        return cls(ident, port, protocol, members(port, protocol))


@dataclass
class _Placement:
    """Which LB service each virtual server goes on, and how full each one is.

    Attributes:
        cluster: The cluster (LB service ids are derived from it).
        size: The LB services' size (``SMALL``, ``MEDIUM``, ``LARGE``).
        capacity: Virtual servers, pools and members an LB service of that size holds.
        max_virtual_servers: ``max_l4_lb_service``: the cap on virtual servers (None: none).
        placed: Virtual server id -> the LB service it is on now (from the state).
        load: LB service id -> [virtual servers, pools, members] placed on it in this run.
        total: Virtual servers placed in this run.
    """

    cluster: str
    size: str
    capacity: tuple[int, int, int]
    max_virtual_servers: int | None
    placed: dict[str, str]
    load: dict[str, list[int]] = field(default_factory=dict)
    total: int = 0

    @classmethod
    def of_cluster(cls, cluster: str, size: str, current: Inventory,
                   max_virtual_servers: int | None, reserved: int) -> _Placement:
        """The placement at the start of a run: the cluster's virtual servers where the
        state has them, and ``reserved`` virtual servers (the Ingress's HTTP and HTTPS
        ones) first on the first LB service."""
        size = size.upper()
        placed = {vs.id: vs.lb_service_path.rsplit("/", 1)[-1]
                  for vs in current.of_type(LBVirtualServer)
                  if vs.tag(naming.SCOPE_CLUSTER) == cluster and vs.id.startswith("l4vs_")}
        out = cls(cluster, size, CAPACITY.get(size, CAPACITY["SMALL"]), max_virtual_servers,
                  placed)
        if reserved:
            out.load[_lb_id(cluster, 0)] = [reserved, 0, 0]
        return out

    def place(self, servers: Sequence[_PortServer]) -> str | None:
        """The LB service one service's virtual servers go on, or None when
        ``max_l4_lb_service`` or every LB service's capacity leaves no room."""
        if (self.max_virtual_servers is not None
                and self.total + len(servers) > self.max_virtual_servers):
            return None
        vs_cap, pool_cap, member_cap = self.capacity
        lb_id = _place(servers, self.placed, self.load, self.cluster, vs_cap, pool_cap,
                       member_cap, sum(len(s.members) for s in servers))
        if lb_id is not None:
            self.total += len(servers)
        return lb_id

    def no_room(self, count: int) -> str:
        """Why ``count`` virtual servers found no LB service."""
        return (f"no LB service has room for its {count} virtual server(s) ({self.size} "
                f"holds {self.capacity[0]}; max_l4_lb_service {self.max_virtual_servers})")


def _l4_objects(svc: K8sObject, vip: IPv4Address, lb_id: str, servers: Sequence[_PortServer],
                cluster: str, algorithm: str,
                source_ip_persistence: bool) -> list[PolicyResource]:
    """The pool and the virtual server of every port of a placed service."""
    tags = (*naming.base_tags(cluster, svc.namespace), naming.tag(naming.SCOPE_SERVICE, svc.name))
    objects: list[PolicyResource] = []
    for server in servers:
        ident, port, protocol = server.ident, server.port, server.protocol
        pool = LBPool(id=f"l4pool_{ident}", display_name=f"{svc.namespace}/{svc.name}:"
                      f"{port['port']}", path=lb_pool_path(f"l4pool_{ident}"),
                      members=tuple(server.members), tags=tags,
                      algorithm=algorithm,
                      snat_translation=LBSnatTranslation(type="LBSnatAutoMap"))
        objects += [pool, LBVirtualServer(
            id=f"l4vs_{ident}", display_name=pool.display_name,
            path=lb_virtual_server_path(f"l4vs_{ident}"), ip_address=vip,
            ports=(str(port["port"]),), lb_service_path=lb_service_path(lb_id),
            pool_path=pool.path, tags=(*tags, naming.tag(naming.SCOPE_SERVICE_PORT,
                                                         f"{port['port']}/{protocol}")),
            lb_persistence_profile_path=SOURCE_IP_PERSISTENCE if source_ip_persistence
            else None,
            application_profile_path=UDP_PROFILE if protocol == "UDP" else TCP_PROFILE)]
    return objects


def _place(servers: Sequence[_PortServer], placed: Mapping[str, str],
           load: dict[str, list[int]], cluster: str, vs_cap: int, pool_cap: int,
           member_cap: int, members: int) -> str | None:
    """The LB service a service's virtual servers go on: where they are if they still
    fit, else the first with room, else a new one (auto-scaling)."""
    n = len(servers)

    def fits(lb: str) -> bool:
        v, p, m = load.get(lb, [0, 0, 0])
        return v + n <= vs_cap and p + n <= pool_cap and m + members <= member_cap

    current = {placed[f"l4vs_{s.ident}"] for s in servers if f"l4vs_{s.ident}" in placed}
    choices = sorted(current) if len(current) == 1 else []
    choices += [*sorted(load), _lb_id(cluster, len(load))]
    for lb in choices:
        if fits(lb):
            v, p, m = load.setdefault(lb, [0, 0, 0])
            load[lb] = [v + n, p + n, m + members]
            return lb
    return None


def _lb_id(cluster: str, index: int) -> str:
    return naming.cluster_id("lb", cluster) + (f"-{index}" if index else "")
