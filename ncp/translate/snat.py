"""SNAT IPs for NAT-mode namespaces (and the node network) from the external pools.

NCP gives each NAT namespace one IP from the floating pools (``fip_pool_ids``, used in
order, the next when one is full) and records it as ``ncp/snat_ip``. A namespace may ask
for a specific IP with ``ncp/static_snat_ip``; the answer is ``ncp/snat_ip_status``:

* ``IP_ALLOCATED_SUCCESSFULLY``: the IP is the namespace's;
* ``IP_ALREADY_ALLOCATED``: another owner has it (or it is held after a release);
* ``IP_NOT_IN_POOL``: it is in none of the cluster's floating pools (or not an address);
* ``IP_POOL_EXHAUSTED``: (dynamic requests) every pool is full.

A failed request gets no SNAT IP and no SNAT rule; there is no silent fallback to a
dynamic IP, since egress firewalls outside are usually opened for the pinned one.
Allocations carry ``ncp/cluster`` and ``ncp/project``, so several clusters share the
pools and each sync touches only its own allocations.

:class:`SnatPlanner` serves a full reconcile's requests; the incremental reconcile gives a
new namespace its IP alone. Both decide through the same functions: which allocation is a
namespace's (:func:`namespace_snat_allocation_id`, :func:`snat_allocation`), whether it
keeps the one it has (:func:`keeps_snat`), and which IP a dynamic request gets
(:func:`dynamic_snat`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address

from ncp.translate import naming
from ncp.translate.networks import held_back
from ncp.translate.settings import ClusterSettings
from sdn.ipam import AddressAllocator, Hold, pool_address_ranges
from sdn.model import (
    Inventory,
    IpAllocation,
    IpPool,
    PolicyResource,
    ip_pool_path,
)

OK = "IP_ALLOCATED_SUCCESSFULLY"
POOL_EXHAUSTED = "IP_POOL_EXHAUSTED"


@dataclass(frozen=True)
class SnatRequest:
    """One SNAT IP wanted: ``key`` is the namespace (or :data:`~ncp.translate.naming.
    NODE_SNAT_KEY` for the node network)."""

    key: str
    project: str | None
    static: str | None


@dataclass(frozen=True)
class SnatResult:
    """The outcome of one request."""

    address: IPv4Address | None
    pool_id: str | None
    status: str
    static: bool
    message: str = ""


def _request_order(req: SnatRequest) -> tuple[bool, str, bool]:
    """Static requests first, then by name, the node network's taking the place of a
    namespace called ``nodes`` (just before it): the order every state was served in
    before the node network had a key of its own."""
    node = req.key == naming.NODE_SNAT_KEY
    return req.static is None, naming.NODES if node else req.key, not node


def namespace_snat_allocation_id(cluster: str, namespace: str) -> str:
    """The id of a namespace's SNAT allocation in its floating pool."""
    return naming.ns_id("snat", cluster, namespace)


def node_snat_allocation_id(cluster: str) -> str:
    """The id of the node network's SNAT allocation in its floating pool."""
    return naming.cluster_id("snat", cluster, naming.NODES)


def snat_allocation(allocation_id: str, cluster: str, project: str | None,
                    address: IPv4Address) -> IpAllocation:
    """The floating pool's allocation of a SNAT IP, owned by the cluster (and project)."""
    return IpAllocation(id=allocation_id, allocation_ip=address,
                        tags=tuple(naming.base_tags(cluster, project)))


def keeps_snat(static: str | None, allocation: IpAllocation) -> bool:
    """Whether a namespace keeps the SNAT IP it holds: always, unless it now asks for
    another one (``ncp/static_snat_ip``)."""
    return static is None or static == str(allocation.allocation_ip)


def kept_snat(pool_id: str, allocation: IpAllocation, static: str | None) -> SnatResult:
    """The answer for a namespace that keeps its SNAT IP."""
    return SnatResult(allocation.allocation_ip, pool_id, OK, static is not None)


def dynamic_snat(pool_ids: Sequence[str],
                 lowest_free: Callable[[str], IPv4Address | None]) -> SnatResult:
    """A dynamic SNAT IP: the lowest free IP (``lowest_free(pool_id)``, which takes it) of
    the first floating pool with room, in ``fip_pool_ids`` order."""
    for pool_id in pool_ids:
        ip = lowest_free(pool_id)
        if ip is not None:
            return SnatResult(ip, pool_id, OK, False)
    return SnatResult(None, None, POOL_EXHAUSTED, False,
                      "no SNAT IP left in " + ", ".join(pool_ids))


class SnatPlanner:
    """Collects requests, then serves static ones before dynamic ones."""

    def __init__(self, *, settings: ClusterSettings, current: Inventory,
                 shared: Mapping[str, PolicyResource], holds: Sequence[Hold], now: float):
        self.settings = settings
        self.now = now
        self.holds = [h for h in holds if h.active(now)]
        self.requests: dict[str, SnatRequest] = {}
        self.pools: dict[str, IpPool] = {}
        for obj in list(current.values()) + list(shared.values()):
            if isinstance(obj, IpPool) and obj.tag(naming.SCOPE_EXTERNAL) == "true":
                self.pools[obj.id] = obj
        self.ours: dict[str, tuple[str, IpAllocation]] = {}
        for pool in self.pools.values():
            for alloc in pool.allocations:
                if self._is_ours(alloc):
                    self.ours[alloc.id] = (pool.id, alloc)
        self.kept: dict[str, tuple[str, IpAllocation]] = {}
        self.new: dict[str, tuple[str, IpAllocation]] = {}
        self.released: list[tuple[str, IPv4Address]] = []

    def _is_ours(self, alloc: IpAllocation) -> bool:
        """A SNAT allocation of this cluster (its LB VIPs share the pools)."""
        return alloc.tag(naming.SCOPE_CLUSTER) == self.settings.cluster and alloc.id.startswith(
            "snat_")

    def _alloc_id(self, key: str) -> str:
        if key == naming.NODE_SNAT_KEY:
            return node_snat_allocation_id(self.settings.cluster)
        return namespace_snat_allocation_id(self.settings.cluster, key)

    def request(self, req: SnatRequest) -> None:
        """Ask for a SNAT IP; answered by :meth:`allocate`."""
        self.requests[req.key] = req

    def allocate(self) -> dict[str, SnatResult]:
        """Serve every request; returns the result per key."""
        results: dict[str, SnatResult] = {}
        wanted: dict[str, SnatRequest] = {self._alloc_id(k): r for k, r in self.requests.items()}
        for alloc_id, (pool_id, alloc) in self.ours.items():
            req = wanted.get(alloc_id)
            keep = req is not None and pool_id in self.settings.fip_pool_ids and \
                keeps_snat(req.static, alloc)
            if keep:
                self.kept[alloc_id] = (pool_id, alloc)
            else:
                self.released.append((pool_id, alloc.allocation_ip))
        allocators = {
            pid: AddressAllocator(
                pool_address_ranges(pool),
                used=[int(a.allocation_ip) for a in pool.allocations],
                holds=[h for h in self.holds if h.scope == pool.path], now=self.now)
            for pid, pool in self.pools.items()
        }
        order = sorted(self.requests.values(), key=_request_order)
        for req in order:
            alloc_id = self._alloc_id(req.key)
            if alloc_id in self.kept:
                pool_id, alloc = self.kept[alloc_id]
                results[req.key] = kept_snat(pool_id, alloc, req.static)
                continue
            result = self._static(req, allocators) if req.static else self._dynamic(allocators)
            if result.address is not None and result.pool_id is not None:
                self.new[alloc_id] = (result.pool_id, snat_allocation(
                    alloc_id, self.settings.cluster, req.project, result.address))
            results[req.key] = result
        return results

    def _static(self, req: SnatRequest, allocators: Mapping[str, AddressAllocator]) -> SnatResult:
        assert req.static is not None
        try:
            ip = IPv4Address(req.static)
        except AddressValueError:
            return SnatResult(None, None, "IP_NOT_IN_POOL", True,
                              f"{naming.STATIC_SNAT_IP_ANNOTATION} {req.static!r} is not an "
                              "IPv4 address")
        for pool_id in self.settings.fip_pool_ids:
            allocator = allocators.get(pool_id)
            if allocator is None or not allocator.contains(ip):
                continue
            if allocator.take(ip):
                return SnatResult(ip, pool_id, OK, True)
            return SnatResult(None, None, "IP_ALREADY_ALLOCATED", True,
                              f"{ip} is already allocated (or held after a release)")
        return SnatResult(None, None, "IP_NOT_IN_POOL", True,
                          f"{ip} is in none of the pools {', '.join(self.settings.fip_pool_ids)}")

    def _dynamic(self, allocators: Mapping[str, AddressAllocator]) -> SnatResult:
        def lowest_free(pool_id: str) -> IPv4Address | None:
            allocator = allocators.get(pool_id)
            return allocator.allocate() if allocator is not None else None
        return dynamic_snat(self.settings.fip_pool_ids, lowest_free)

    def updated_pools(self) -> dict[str, IpPool]:
        """External pools with this cluster's allocations replaced; others untouched."""
        out = {}
        ours = {**self.kept, **self.new}
        for pid, pool in self.pools.items():
            others = [a for a in pool.allocations if not self._is_ours(a)]
            mine = [a for (p, a) in ours.values() if p == pid]
            allocations = tuple(sorted(others + mine, key=lambda a: a.id))
            if allocations != pool.allocations:
                out[pool.path] = pool.model_copy(update={"allocations": allocations})
            else:
                out[pool.path] = pool
        return out

    def released_holds(self) -> list[Hold]:
        """Released SNAT IPs, held back for the reallocation time."""
        return [held_back(ip_pool_path(pid), ip, now=self.now, settings=self.settings)
                for pid, ip in self.released]
