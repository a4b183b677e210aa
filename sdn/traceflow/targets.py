"""What ``--src`` and ``--dst`` mean, for ``traceflow``, ``explain`` and ``reach`` alike.

One resolver, so the three commands can never answer different questions:

* a **source** is a pod (``NS/POD``, ``CLUSTER/NS/POD``, a port path, or a pod's own
  address) or a client outside NSX (any other IPv4 address);
* a **target** is a pod, an address, or a Service (``svc:NS/NAME``: from a pod its cluster
  IP in the pod's cluster, from outside its LoadBalancer VIP);
* ``NS/POD`` is looked up within ``--cluster``; without it a name that several clusters
  use is ``AMBIGUOUS_POD`` (clusters share a state, not their pods);
* a destination address that is a **virtual server** (a cluster IP, a LoadBalancer VIP,
  an Ingress VIP) is translated as the load balancer translates it
  (:func:`service_legs`): one leg per member of the pool it selects (for an Ingress, the
  pool its LB rules pick for the HTTP request), the service port replaced by the member's
  port (the Service's target port). ``traceflow --all-backends`` walks each leg;
  ``explain`` and ``reach --dst`` judge each leg at the DFW.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address

from sdn.errors import SdnError
from sdn.model import LBPool, LBPoolMember, LBService, LBVirtualServer, SegmentPort
from sdn.model.values import port_bounds
from sdn.traceflow.l7 import HttpRequest, PoolChoice
from sdn.traceflow.walk import TraceContext


@dataclass(frozen=True)
class Source:
    """Where a flow starts: a pod's port, or (``port`` None) a client outside NSX."""

    text: str
    ip: IPv4Address
    port: SegmentPort | None = None

    @property
    def cluster(self) -> str | None:
        """The pod's cluster (None for an outside client)."""
        return self.port.tag("ncp/cluster") if self.port is not None else None

    @property
    def name(self) -> str:
        """How answers name the source: the pod's ``NS/POD``, else the address."""
        return (self.port.display_name or self.port.id) if self.port is not None \
            else str(self.ip)


@dataclass(frozen=True)
class Target:
    """Where a flow is addressed: ``ip`` and ``port`` as the packet carries them."""

    text: str
    ip: IPv4Address
    port: int | None
    pod: SegmentPort | None = None


@dataclass(frozen=True)
class Leg:
    """One backend a flow may reach: the address and port after load balancing."""

    name: str
    ip: IPv4Address
    port: int | None


@dataclass(frozen=True)
class Translation:
    """What the load balancer does with a flow to a virtual server."""

    virtual_server: LBVirtualServer
    choice: PoolChoice
    legs: tuple[Leg, ...]


def _address(text: str) -> IPv4Address | None:
    try:
        return IPv4Address(text)
    except AddressValueError:
        return None


def _bound(port: SegmentPort, what: str) -> IPv4Address:
    if not port.address_bindings:
        raise SdnError(f"the {what} port has no address", code="NO_ADDRESS",
                       obj=port.display_name or port.path)
    return port.address_bindings[0].ip_address


def resolve_source(ctx: TraceContext, text: str, cluster: str | None) -> Source:
    """``--src``: a pod by name (within ``cluster``) or by its address, else an outside
    client's address.

    Raises:
        NotFoundError: ``UNKNOWN_POD``, ``AMBIGUOUS_POD``,
            ``UNKNOWN_CLUSTER``.
    """
    ctx.check_cluster(cluster)
    ip = _address(text)
    if ip is None:
        port = ctx.port_by_name(text, cluster)
        return Source(text, _bound(port, "source"), port)
    owner = ctx.index.port_for_ip(ip)
    if owner is not None and owner.tag("ncp/pod"):
        return Source(text, ip, owner)
    return Source(text, ip)


def resolve_target(ctx: TraceContext, text: str, *, source: Source, cluster: str | None,
                   protocol: str, dport: int | None) -> Target:
    """``--dst``: ``NS/POD`` (within ``cluster``), an IPv4 address, or ``svc:NS/NAME``
    (the virtual server ``source`` reaches; ``dport`` picks among its ports, and may be
    left out when it has one).

    Raises:
        SdnError: ``UNKNOWN_SERVICE``, ``UNKNOWN_SERVICE_PORT``, ``BAD_ARGUMENT``, and the
            pod errors of :meth:`TraceContext.port_by_name`.
    """
    if text.startswith("svc:"):
        vs, port = _service(ctx, text, source, cluster, protocol, dport)
        return Target(text, vs.ip_address, port)
    ip = _address(text)
    if ip is not None:
        return Target(text, ip, dport, ctx.index.port_for_ip(ip))
    if "/" not in text:
        raise SdnError("--dst is NS/POD, an IPv4 address or svc:NS/NAME",
                       code="BAD_ARGUMENT", obj=text)
    pod = ctx.port_by_name(text, cluster)
    return Target(text, _bound(pod, "destination"), dport, pod)


def _service(ctx: TraceContext, text: str, source: Source, cluster: str | None,
             protocol: str, dport: int | None) -> tuple[LBVirtualServer, int]:
    """A Service's virtual server as ``source`` reaches it, and the port to use."""
    ns, _, name = text.removeprefix("svc:").partition("/")
    home = source.cluster or cluster

    def reachable(vs: LBVirtualServer) -> bool:
        if home is not None and vs.tag("ncp/cluster") != home:
            return False
        if source.port is not None:
            return True
        lbs = ctx.inventory.get(vs.lb_service_path)
        return isinstance(lbs, LBService) and lbs.size != "DLB"
    found = sorted((vs for vs in ctx.inventory.of_type(LBVirtualServer)
                    if vs.tag("ncp/project") == ns and vs.tag("ncp/service") == name
                    and vs.protocol == protocol and reachable(vs)), key=lambda v: v.path)
    if not found:
        raise SdnError(f"no {protocol} virtual server for service {ns}/{name}"
                       f"{' in cluster ' + home if home else ''} (is it synced, and not "
                       "headless?)", code="UNKNOWN_SERVICE", obj=text)
    clusters = sorted({vs.tag("ncp/cluster") or "?" for vs in found})
    if len(clusters) > 1:
        raise SdnError(f"service {ns}/{name} exists in clusters {', '.join(clusters)}; pick "
                       "one with --cluster", code="AMBIGUOUS_SERVICE", obj=text)
    ports = sorted({n for vs in found for p in vs.ports for n in _numbers(p)})
    port = dport if dport is not None else (ports[0] if len(ports) == 1 else None)
    if port not in ports:
        raise SdnError(f"service {ns}/{name} serves {protocol} ports {ports}; pick one "
                       "with --dport", code="UNKNOWN_SERVICE_PORT", obj=text)
    vs = next(v for v in found if any(port in _numbers(p) for p in v.ports))
    return vs, port


def _numbers(port: str) -> range:
    lo, hi = port_bounds(port)
    return range(lo, hi + 1)


def virtual_server_hit(ctx: TraceContext, source: Source, ip: IPv4Address, port: int | None,
                       protocol: str) -> tuple[LBVirtualServer, LBPool | None] | None:
    """The virtual server a flow from ``source`` to ``ip:port`` hits, as the walk finds
    it: a pod reaches its own cluster's virtual servers, an outside client only those on
    a real (non-distributed) LB service."""
    if port is None:
        return None
    if source.port is not None:
        return ctx.virtual_server(source.cluster, ip, port, protocol)
    return ctx.outside_vips.get((ip, port, protocol))


def _member_name(ctx: TraceContext, member: LBPoolMember, cluster: str | None) -> str:
    owner = ctx.index.port_for_ip(member.ip_address)
    if owner is not None and (cluster is None or owner.tag("ncp/cluster") == cluster):
        return owner.display_name or owner.id
    return member.display_name or str(member.ip_address)


def service_legs(ctx: TraceContext, source: Source, target: Target, protocol: str,
                 http: HttpRequest | None = None) -> Translation | None:
    """The load balancer's translation of a flow to ``target`` (None: no virtual server
    there, the flow goes to ``target`` itself)."""
    hit = virtual_server_hit(ctx, source, target.ip, target.port, protocol)
    if hit is None:
        return None
    vs, pool = hit
    choice = ctx.choose(vs, pool, http)
    members = choice.pool.members if choice.pool is not None else ()
    legs = tuple(Leg(_member_name(ctx, m, vs.tag("ncp/cluster")), m.ip_address,
                     int(m.port) if m.port else target.port) for m in members)
    return Translation(vs, choice, legs)


__all__ = ["Leg", "Source", "Target", "Translation", "resolve_source", "resolve_target",
           "service_legs", "virtual_server_hit"]
