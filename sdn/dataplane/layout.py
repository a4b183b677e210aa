"""Where each NSX object of a state lives when it is realized on Linux: pure naming and
addressing, shared by everything in :mod:`sdn.dataplane`.

The picture (NSX's own, drawn with network namespaces):

* every **Tier-0 and Tier-1** gateway is a router namespace (``ip_forward`` on);
* every **segment** is a Linux bridge in the namespace of the gateway it attaches to
  (``connectivity_path``), carrying the segment's gateway addresses and NSX's virtual
  router MAC :data:`ROUTER_MAC` (the same on every downlink, as NSX's distributed router
  has it); a segment without a gateway gets a namespace of its own holding just its bridge;
* every **segment port** with an address binding is a namespace of its own (the pod, or
  the node for a node's port) with one interface :data:`POD_INTERFACE` carrying exactly
  the binding's IPv4 address and MAC and a default route to its subnet's gateway; its
  veth peer (the *host end*, where NSX's vNIC sits and where the DFW is enforced) is
  enslaved to the segment's bridge;
* every Tier-1 with a Tier-0 is joined to it by a **transit link**, a /31 from
  :data:`~sdn.graph.transit.TRANSIT` (100.64.0.0/16, NSX's own Tier-0/Tier-1 transit
  range): the Tier-0 end takes the even address, the Tier-1 end the odd one;
* one **outside** namespace stands for the physical network beyond the Tier-0 uplinks:
  a bridge :data:`OUTSIDE_BRIDGE` on :data:`UPLINK_NETWORK` to which every Tier-0's
  uplink is attached, and the address :data:`OUTSIDE_ADDRESS` that serves as the
  Tier-0s' upstream router, as an external client and as an external server.

Names are deterministic, so a second realize finds what the first made: every namespace
is ``sdn-<tag>-<kind>-<hash>`` where ``<tag>`` marks the owner (one state on this host,
:func:`owner_tag`), ``<kind>`` is ``p`` (port), ``r`` (gateway), ``s`` (a segment without
a gateway) or ``outside``, and ``<hash>`` is a digest of the object's Policy path.
Interface names fit Linux's 15 characters. Teardown removes exactly the namespaces whose
name starts with ``sdn-<tag>-``.

Choices where NSX is silent or different, named here (the simulator shares them):

* A port without an address binding, or whose segment is missing, is not realized
  (:attr:`Layout.skipped` says why); a port with several bindings is realized with the
  first (SpoofGuard then admits only that one).
* Container ports are not nested behind their node's parent VIF with a VLAN tag as on
  NSX: each is a port of its own on the segment (the tag changes nothing a packet meets).
* Transit /31s are chosen by a digest of the Tier-1's path, probing upward on a
  collision in path order (:mod:`sdn.graph.transit`, shared with the simulator): an
  address stays the same across realizes unless a Tier-1 added later collides with it in
  a lower slot.
* Tier-0 uplinks take addresses from :data:`UPLINK_NETWORK` in Tier-0 path order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Literal

from sdn.graph import TopologyIndex
from sdn.graph.transit import OUTSIDE_ADDRESS, UPLINK_NETWORK, transit_links
from sdn.model import (
    Inventory,
    LBService,
    LBVirtualServer,
    NatRule,
    Segment,
    SegmentPort,
    Tier0,
    Tier1,
)

#: The MAC NSX gives every downlink of its distributed router.
ROUTER_MAC = "02:50:56:56:44:52"
# UPLINK_NETWORK: the physical network the Tier-0 uplinks sit on, realized as a bridge in
# the outside namespace; OUTSIDE_ADDRESS: the outside namespace's address (upstream router
# of every Tier-0, external client and external server). Both live in sdn.graph.transit,
# shared with the simulator, whose observations name the upstream router as next hop.
#: The pod's one interface inside its namespace.
POD_INTERFACE = "eth0"
#: A Tier-1's end of its transit link, and a Tier-0's uplink, inside the router namespace.
TIER1_UPLINK = "uplink"
TIER0_UPLINK = "uplink"
#: The bridge in the outside namespace that every Tier-0 uplink is attached to.
OUTSIDE_BRIDGE = "phys"
#: Every name this module makes starts with this, then the owner tag.
PREFIX = "sdn"

RouterKind = Literal["tier0", "tier1", "isolated"]


def owner_tag(state: str | Path) -> str:
    """The owner mark of one state on this host: 6 hex digits of its absolute path, so
    two states realized side by side never share a namespace."""
    return _digest(str(Path(state).resolve()), 6)


def _digest(text: str, length: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def netns_prefix(tag: str) -> str:
    """What every namespace of the owner ``tag`` starts with (teardown's selector)."""
    return f"{PREFIX}-{tag}-"


@dataclass(frozen=True, slots=True)
class Router:
    """A namespace that routes: a Tier-0, a Tier-1, or the holder of a gateway-less
    segment's bridge (``isolated``, forwarding off)."""

    path: str
    kind: RouterKind
    netns: str


@dataclass(frozen=True, slots=True)
class Bridge:
    """A segment: a bridge in its gateway's namespace with the gateway addresses."""

    segment: str
    netns: str
    name: str
    addresses: tuple[IPv4Interface, ...]
    mac: str = ROUTER_MAC


@dataclass(frozen=True, slots=True)
class Port:
    """A segment port realized: its own namespace and interface, and the host end of its
    veth on the segment's bridge (where the DFW and SpoofGuard hold)."""

    path: str
    pod: str
    cluster: str | None
    netns: str
    interface: str
    ip: IPv4Interface
    mac: str
    gateway: IPv4Address | None
    segment: str
    host_netns: str
    host_interface: str
    bridge: str
    up: bool


@dataclass(frozen=True, slots=True)
class Link:
    """A veth between two namespaces: the ``a`` end has an address; the ``b`` end has one
    too (a transit link) or is enslaved to the bridge ``b_bridge`` (an uplink on the
    outside network)."""

    a_netns: str
    a_interface: str
    a_address: IPv4Interface
    b_netns: str
    b_interface: str
    b_address: IPv4Interface | None = None
    b_bridge: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A route in a namespace: ``prefix`` via a next-hop address."""

    netns: str
    prefix: IPv4Network
    via: IPv4Address


@dataclass(frozen=True, slots=True)
class Outside:
    """The namespace beyond the Tier-0 uplinks."""

    netns: str
    bridge: str
    addresses: tuple[IPv4Interface, ...]


@dataclass(frozen=True)
class Layout:
    """Every namespace, bridge, port, link and route of one realization (module docs).

    ``transit`` maps each Tier-1 joined to a Tier-0 to its own end's address (the
    address NSX's SNAT automap gives a load balancer's backends); ``uplinks`` each
    Tier-0 to its uplink address.
    """

    tag: str
    routers: dict[str, Router]
    bridges: dict[str, Bridge]
    ports: dict[str, Port]
    links: tuple[Link, ...]
    routes: tuple[Route, ...]
    outside: Outside
    transit: dict[str, IPv4Interface] = field(default_factory=dict)
    uplinks: dict[str, IPv4Interface] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def namespaces(self) -> list[str]:
        """Every namespace of the layout, sorted."""
        names = {r.netns for r in self.routers.values()}
        names |= {p.netns for p in self.ports.values()}
        names.add(self.outside.netns)
        return sorted(names)

    @classmethod
    def of(cls, inv: Inventory, tag: str, *, clusters: frozenset[str] | None = None,
           index: TopologyIndex | None = None) -> Layout:
        """The layout of ``inv`` for the owner ``tag``; with ``clusters``, only the
        segments and ports of those clusters (and the gateways they need)."""
        return _Builder(inv, tag, clusters, index or TopologyIndex(inv)).build()


class _Builder:
    """One layout's construction, in the order the module docstring draws it."""

    def __init__(self, inv: Inventory, tag: str, clusters: frozenset[str] | None,
                 index: TopologyIndex) -> None:
        self.inv, self.tag, self.clusters, self.index = inv, tag, clusters, index
        self.routers: dict[str, Router] = {}
        self.bridges: dict[str, Bridge] = {}
        self.ports: dict[str, Port] = {}
        self.skipped: dict[str, str] = {}
        self.links: list[Link] = []
        self.routes: list[Route] = []

    def netns(self, kind: str, path: str) -> str:
        return f"{netns_prefix(self.tag)}{kind}-{_digest(path, 10)}"

    def build(self) -> Layout:
        outside = Outside(f"{netns_prefix(self.tag)}outside", OUTSIDE_BRIDGE,
                          (OUTSIDE_ADDRESS,))
        for seg in sorted(self.inv.of_type(Segment), key=lambda s: s.path):
            if self._selected(seg.tag("ncp/cluster")):
                self._segment(seg)
        for lbs in sorted(self.inv.of_type(LBService), key=lambda s: s.path):
            # a real load balancer's VIPs live on its Tier-1, segments or not
            if lbs.size != "DLB" and lbs.connectivity_path \
                    and self._selected(lbs.tag("ncp/cluster")):
                self._router(lbs.connectivity_path)
        for port in sorted(self.inv.of_type(SegmentPort), key=lambda p: p.path):
            if self._selected(port.tag("ncp/cluster")):
                self._port(port)
        transit = self._transit_links()
        uplinks = self._uplinks(outside)
        return Layout(self.tag, self.routers, self.bridges, self.ports, tuple(self.links),
                      tuple(self.routes), outside, transit, uplinks, self.skipped)

    def _selected(self, cluster: str | None) -> bool:
        return self.clusters is None or cluster in self.clusters

    def _router(self, path: str) -> Router | None:
        """The router namespace of a gateway (with its Tier-0 for a Tier-1)."""
        if path in self.routers:
            return self.routers[path]
        gw = self.inv.get(path)
        if isinstance(gw, Tier1):
            self.routers[path] = Router(path, "tier1", self.netns("r", path))
            if gw.tier0_path is not None:
                self._router(gw.tier0_path)
        elif isinstance(gw, Tier0):
            self.routers[path] = Router(path, "tier0", self.netns("r", path))
        else:
            return None
        return self.routers[path]

    def _segment(self, seg: Segment) -> None:
        router = self._router(seg.connectivity_path) if seg.connectivity_path else None
        if router is None:
            router = Router(seg.path, "isolated", self.netns("s", seg.path))
            self.routers[seg.path] = router
            addresses: tuple[IPv4Interface, ...] = ()
        else:
            addresses = tuple(s.gateway_address for s in seg.subnets)
        self.bridges[seg.path] = Bridge(seg.path, router.netns, f"b{_digest(seg.path, 12)}",
                                        addresses)

    def _port(self, port: SegmentPort) -> None:
        bridge = self.bridges.get(port.parent_path)
        if bridge is None:
            self.skipped[port.path] = "its segment is not in the state"
            return
        if not port.address_bindings:
            self.skipped[port.path] = "it has no address binding"
            return
        binding = port.address_bindings[0]
        seg = self.inv[port.parent_path]
        assert isinstance(seg, Segment)
        subnet = next((s for s in seg.subnets if binding.ip_address in s.network), None)
        length = subnet.network.prefixlen if subnet is not None else 32
        gateway = subnet.gateway_address.ip if subnet is not None and bridge.addresses \
            else None
        project, pod = port.tag("ncp/project"), port.tag("ncp/pod")
        self.ports[port.path] = Port(
            path=port.path, pod=f"{project}/{pod}" if project and pod else port.display_name,
            cluster=port.tag("ncp/cluster"), netns=self.netns("p", port.path),
            interface=POD_INTERFACE, ip=IPv4Interface(f"{binding.ip_address}/{length}"),
            mac=str(binding.mac_address), gateway=gateway, segment=seg.path,
            host_netns=bridge.netns, host_interface=f"v{_digest(port.path, 12)}",
            bridge=bridge.name, up=port.admin_state == "UP")

    def _transit_links(self) -> dict[str, IPv4Interface]:
        """Each of the layout's Tier-1s with a Tier-0: its /31 (:mod:`sdn.graph.transit`,
        which the simulator shares), its link and both directions' routes as the
        gateways' routing tables say."""
        transit: dict[str, IPv4Interface] = {}
        for path, ends in sorted(transit_links(self.inv).items()):
            router = self.routers.get(path)
            t1 = self.inv[path]
            assert isinstance(t1, Tier1)
            t0 = self.routers.get(t1.tier0_path or "")
            if router is None or t0 is None:
                continue
            self.links.append(Link(t0.netns, f"d{_digest(path, 12)}", ends.tier0,
                                   router.netns, TIER1_UPLINK, ends.tier1))
            transit[path] = ends.tier1
        for path, t1_end in transit.items():
            self._gateway_routes(path, t1_end, transit)
        return transit

    def _gateway_routes(self, t1_path: str, t1_end: IPv4Interface,
                        transit: dict[str, IPv4Interface]) -> None:
        """A Tier-1's default toward its Tier-0, and the Tier-0's routes to what the
        Tier-1 advertises (its connected subnets, its SNAT addresses and LB VIPs)."""
        t1_netns = self.routers[t1_path].netns
        for route in self.index.routes(t1_path):
            if route.kind == "default":
                t0_end = IPv4Address(int(t1_end.ip) - 1)
                self.routes.append(Route(t1_netns, route.prefix, t0_end))
                t0_netns = self.routers[route.next_hop].netns
                for prefix in self._advertised(t1_path):
                    self.routes.append(Route(t0_netns, prefix, t1_end.ip))

    def _advertised(self, t1_path: str) -> list[IPv4Network]:
        """What a Tier-0 routes to a Tier-1: the Tier-0's ``tier1`` routes naming it, the
        Tier-1's SNAT translated addresses and its real load balancers' VIPs."""
        t1 = self.inv[t1_path]
        assert isinstance(t1, Tier1)
        found = [r.prefix for r in self.index.routes(t1.tier0_path or "")
                 if r.kind == "tier1" and r.next_hop == t1_path]
        found += [net for rule in self.inv.of_type(NatRule)
                  if rule.gateway_path == t1_path for net in _translated(rule)]
        services = {s.path for s in self.inv.of_type(LBService)
                    if s.connectivity_path == t1_path and s.size != "DLB"}
        found += [IPv4Network(f"{vs.ip_address}/32") for vs in self.inv.of_type(LBVirtualServer)
                  if vs.lb_service_path in services]
        return sorted(set(found), key=lambda n: (int(n.network_address), n.prefixlen))

    def _uplinks(self, outside: Outside) -> dict[str, IPv4Interface]:
        """Every Tier-0's uplink on the outside bridge, its default route to the outside
        address, and the outside's routes back to what each Tier-0 routes inward."""
        uplinks: dict[str, IPv4Interface] = {}
        hosts = (h for h in UPLINK_NETWORK.hosts() if h != OUTSIDE_ADDRESS.ip)
        for path in sorted(p for p, r in self.routers.items() if r.kind == "tier0"):
            address = IPv4Interface(f"{next(hosts)}/{UPLINK_NETWORK.prefixlen}")
            netns = self.routers[path].netns
            uplinks[path] = address
            self.links.append(Link(netns, TIER0_UPLINK, address, outside.netns,
                                   f"u{_digest(path, 12)}", b_bridge=outside.bridge))
            self.routes.append(Route(netns, IPv4Network("0.0.0.0/0"), OUTSIDE_ADDRESS.ip))
            inward = {r.prefix for r in self.routes if r.netns == netns}
            inward |= {net for rule in self.inv.of_type(NatRule)
                       if rule.gateway_path == path for net in _translated(rule)}
            for prefix in sorted(inward - {IPv4Network("0.0.0.0/0")},
                                 key=lambda n: (int(n.network_address), n.prefixlen)):
                self.routes.append(Route(outside.netns, prefix, address.ip))
        return uplinks


def _translated(rule: NatRule) -> list[IPv4Network]:
    """The addresses a SNAT rule translates to (what the outside must route back)."""
    if not rule.enabled or rule.action != "SNAT" or rule.translated_network is None:
        return []
    nets = []
    for item in str(rule.translated_network).split(","):
        first, _, last = item.strip().partition("-")
        if last:  # a range: every address of it
            nets += [IPv4Network(f"{IPv4Address(a)}/32")
                     for a in range(int(IPv4Address(first)), int(IPv4Address(last)) + 1)]
        else:
            nets.append(IPv4Network(first, strict=False))
    return nets
