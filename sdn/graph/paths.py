"""Paths through the topology graph: the segments and gateways a packet to an address
crosses, in the order it crosses them (what ``sdn path`` answers).

The topology graph (:mod:`sdn.graph.build`) is a forest: every port hangs off one segment,
every segment off at most one gateway, every Tier-1 off at most one Tier-0. So between two
of its nodes there is at most one path, and :func:`networkx.shortest_path` finds it. The
graph says where the wires go; whether a packet takes them is a routing question, and the
answers here follow the routing model of :class:`~sdn.graph.queries.TopologyIndex` (the one
traceflow walks), hop by hop:

* The destination is the port bound to the address when that port is on the segment whose
  subnet holds it (the source's own segment first, else the longest prefix of every
  segment subnet: :meth:`~sdn.graph.queries.TopologyIndex.segment_for_ip`); a segment's
  gateway address ends at the gateway, after the segment (``GATEWAY_INTERFACE``); an
  address of a segment no port has ends at that segment (``ARP_FAIL``, as traceflow says).
* A Tier-0 hands a packet down to a Tier-1 only for a prefix the Tier-1 advertises (the
  ``advertised`` attribute of the link); an address no segment holds, or one the Tier-0
  has no route down to, climbs to the Tier-0 and leaves through its uplink
  (``EXITS_NETWORK``). A segment without a gateway or a Tier-1 without a Tier-0 ends the
  climb there (``NO_ROUTE``).
* From outside (:func:`path_from_outside`) a packet is received on the uplink of the
  Tier-0 that routes the address inside; a LoadBalancer VIP is handed to the Tier-1 that
  hosts the load balancer (``via_tier1``), which then routes to the backend.

Each :class:`Hop` says how the packet goes on to the next one: the next hop's
:class:`~sdn.graph.build.Relation` to this one, read as the graph's edges read ("the next
hop is this hop's uplink"), and the prefix that carries it (the segment subnet it is
switched on, the connected or advertised prefix a gateway routes by, ``0.0.0.0/0`` for a
default route or the uplink). Route prefixes and hops are the ones traceflow reports for
the same packet; ``tests/sdn/graph/test_paths_match_traceflow.py`` holds them to that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from itertools import pairwise

import networkx as nx

from sdn.graph.build import Relation
from sdn.graph.queries import TopologyIndex
from sdn.model.segments import Segment

_DEFAULT = IPv4Network("0.0.0.0/0")


class PathStart(StrEnum):
    """Where a path begins."""

    SEGMENT_PORT = "SEGMENT_PORT"
    """At a segment port (a pod, or a node VM)."""
    UPLINK = "UPLINK"
    """Received from outside NSX on a Tier-0's uplink."""


class PathEnd(StrEnum):
    """Where a path ends (traceflow's words for the same outcome)."""

    SEGMENT_PORT = "SEGMENT_PORT"
    """At the port bound to the address."""
    GATEWAY_INTERFACE = "GATEWAY_INTERFACE"
    """At the gateway whose interface on the address's segment has the address."""
    ARP_FAIL = "ARP_FAIL"
    """On the address's segment, where no port has it."""
    EXITS_NETWORK = "EXITS_NETWORK"
    """Out through the Tier-0's uplink, to the physical network."""
    NO_ROUTE = "NO_ROUTE"
    """Nowhere further: a segment without a gateway, a Tier-1 without a Tier-0, or (from
    outside) no Tier-0 that routes the address inside."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One node of a path and how the packet leaves it.

    Attributes:
        path: The Policy path of the port, segment or gateway.
        kind: Its ``resource_type`` (``SegmentPort``, ``Segment``, ``Tier1``, ``Tier0``).
        relation: What the next hop is to this one (``uplink`` after the last hop: out
            through the Tier-0's uplink); None on a last hop that goes nowhere.
        prefix: The prefix that carries the packet to the next hop, when one does.
    """

    path: str
    kind: str
    relation: Relation | None = None
    prefix: IPv4Network | None = None


@dataclass(frozen=True, slots=True)
class TopologyPath:
    """The hops from a start to the address ``destination``, and how the path ends."""

    destination: IPv4Address
    start: PathStart
    end: PathEnd
    hops: tuple[Hop, ...]

    def nodes(self) -> list[str]:
        """The Policy paths of the hops, in order."""
        return [h.path for h in self.hops]


def _narrowest(prefixes: Iterable[IPv4Network], ip: IPv4Address) -> IPv4Network | None:
    """The longest of ``prefixes`` that holds ``ip``."""
    hits = [p for p in prefixes if ip in p]
    return max(hits, key=lambda p: p.prefixlen) if hits else None


@dataclass(frozen=True, slots=True)
class _Target:
    node: str  # the graph node the path runs to
    end: PathEnd
    segment: str | None = None  # GATEWAY_INTERFACE: the segment the interface is on


def _target(index: TopologyIndex, dst: IPv4Address, own_segment: str | None) -> _Target | None:
    """Where an address is in the topology (None: nowhere, it is outside)."""
    graph = index.graph
    seg: Segment | None = None
    if own_segment is not None:
        own = graph.nodes[own_segment]["obj"]
        if isinstance(own, Segment) and any(dst in s.network for s in own.subnets):
            seg = own
    if seg is None:
        seg = index.segment_for_ip(dst)
    if seg is None or seg.path not in graph:
        return None
    port = index.port_for_ip(dst)
    if port is not None and port.parent_path == seg.path and port.path in graph:
        return _Target(port.path, PathEnd.SEGMENT_PORT)
    gateway = seg.connectivity_path
    if (any(s.gateway_address.ip == dst for s in seg.subnets) and gateway is not None
            and graph.has_edge(seg.path, gateway)):
        return _Target(gateway, PathEnd.GATEWAY_INTERFACE, seg.path)
    return _Target(seg.path, PathEnd.ARP_FAIL)


def _link(graph: nx.DiGraph, u: str, v: str, dst: IPv4Address) -> Hop | None:
    """``u`` as a hop toward ``v``; None when ``u`` does not route ``dst`` that way (a
    Tier-0 going down to a Tier-1 that does not advertise it)."""
    edge = graph.edges[u, v]
    relation: Relation = edge["relation"]
    kind: str = graph.nodes[u]["kind"]
    prefix: IPv4Network | None = None
    if relation is Relation.DOWNLINK:
        prefix = _narrowest(edge["advertised"], dst)
        if prefix is None:
            return None
    elif relation is Relation.UPLINK:
        prefix = _DEFAULT
    elif relation is Relation.SEGMENT and kind != "SegmentPort":
        prefix = _narrowest(edge["subnets"], dst)  # the gateway's connected route
    elif relation is Relation.PORT:  # switched on the segment's subnet
        prefix = _narrowest((s.network for s in graph.nodes[u]["obj"].subnets), dst)
    return Hop(u, kind, relation, prefix)


def _down(graph: nx.DiGraph, start: str, target: _Target,
          dst: IPv4Address) -> tuple[list[Hop], str] | None:
    """The hops from ``start`` to the target along the graph, all but the last; and the
    last node. None when the graph has no path or a Tier-0 on it has no route down."""
    goal = target.segment or target.node
    try:
        nodes: list[str] = nx.shortest_path(graph, start, goal)
    except nx.NetworkXNoPath:
        return None
    if target.segment is not None:
        nodes.append(target.node)  # the gateway's interface on that segment
    hops: list[Hop] = []
    for u, v in pairwise(nodes):
        hop = _link(graph, u, v, dst)
        if hop is None:
            return None
        hops.append(hop)
    return hops, nodes[-1]


#: The relation a node's default way out has: a port's segment, a segment's gateway, a
#: Tier-1's Tier-0 (a Tier-0's is its uplink, outside the graph).
_UP = {"SegmentPort": Relation.SEGMENT, "Segment": Relation.GATEWAY, "Tier1": Relation.UPLINK}


def _up(graph: nx.DiGraph, node: str) -> str | None:
    """Where a packet that matches nothing closer goes from ``node`` (None: nowhere in the
    graph; for a Tier-0 that is its uplink)."""
    want = _UP.get(graph.nodes[node]["kind"])
    return next((str(n) for n, e in graph.adj[node].items() if e["relation"] is want), None)


def _climb(graph: nx.DiGraph, start: str, dst: IPv4Address,
           start_kind: PathStart) -> TopologyPath:
    """Up from ``start`` by default routes until a Tier-0 sends it out of its uplink, or
    nothing is above (``NO_ROUTE``)."""
    hops: list[Hop] = []
    node: str | None = start
    while node is not None:
        kind = graph.nodes[node]["kind"]
        if kind == "Tier0":
            hops.append(Hop(node, kind, Relation.UPLINK, _DEFAULT))
            return TopologyPath(dst, start_kind, PathEnd.EXITS_NETWORK, tuple(hops))
        above = _up(graph, node)
        if above is None:
            hops.append(Hop(node, kind))
            break
        link = _link(graph, node, above, dst)
        assert link is not None  # only downlinks can refuse
        hops.append(link)
        node = above
    return TopologyPath(dst, start_kind, PathEnd.NO_ROUTE, tuple(hops))


def _route(index: TopologyIndex, start: str, dst: IPv4Address, start_kind: PathStart,
           own_segment: str | None) -> TopologyPath:
    graph = index.graph
    target = _target(index, dst, own_segment)
    if target is not None:
        found = _down(graph, start, target, dst)
        if found is not None:
            hops, last = found
            hops.append(Hop(last, graph.nodes[last]["kind"]))
            return TopologyPath(dst, start_kind, target.end, tuple(hops))
    return _climb(graph, start, dst, start_kind)


def path_from_port(index: TopologyIndex, port_path: str, dst: IPv4Address) -> TopologyPath:
    """The path from a segment port to the address ``dst``.

    Args:
        index: The topology's index (its graph is :attr:`TopologyIndex.graph`).
        port_path: The source segment port.
        dst: The destination address (after any load balancer's translation).

    Returns:
        The path, the port first. A port that is not in the topology (its segment is
        missing) is a one-hop ``NO_ROUTE`` path.

    Examples:
        >>> from sdn.model import Inventory, Segment, SegmentSubnet, Tier1
        >>> from sdn.model import AddressBinding, SegmentPort
        >>> t1 = Tier1(id="t1", path="/infra/tier-1s/t1")
        >>> seg = Segment(id="s", path="/infra/segments/s", connectivity_path=t1.path,
        ...               subnets=(SegmentSubnet(gateway_address="10.0.0.1/24",
        ...                                      network="10.0.0.0/24"),))
        >>> a, b = (SegmentPort(id=n, path=f"{seg.path}/ports/{n}", parent_path=seg.path,
        ...         address_bindings=(AddressBinding(ip_address=ip,
        ...                                          mac_address="02:00:00:00:00:01"),))
        ...         for n, ip in (("a", "10.0.0.2"), ("b", "10.0.0.3")))
        >>> index = TopologyIndex(Inventory([t1, seg, a, b]))
        >>> p = path_from_port(index, a.path, IPv4Address("10.0.0.3"))
        >>> p.end.value, [h.kind for h in p.hops]
        ('SEGMENT_PORT', ['SegmentPort', 'Segment', 'SegmentPort'])
        >>> path_from_port(index, a.path, IPv4Address("8.8.8.8")).end.value  # no Tier-0
        'NO_ROUTE'
    """
    graph = index.graph
    if port_path not in graph:
        return TopologyPath(dst, PathStart.SEGMENT_PORT, PathEnd.NO_ROUTE,
                            (Hop(port_path, "SegmentPort"),))
    own = _up(graph, port_path)
    return _route(index, port_path, dst, PathStart.SEGMENT_PORT, own)


def path_from_outside(index: TopologyIndex, dst: IPv4Address, *,
                      via_tier1: str | None = None, vip: IPv4Address | None = None,
                      ) -> TopologyPath:
    """The path of a packet from outside NSX, received on a Tier-0's uplink, to ``dst``.

    Args:
        index: The topology's index.
        dst: The destination address (a LoadBalancer VIP's backend, after translation).
        via_tier1: The Tier-1 hosting the load balancer of the VIP the packet was sent to:
            the Tier-0 above it hands the VIP (``vip``, as a /32 it advertises) to it, and
            the Tier-1 routes on to ``dst``.
        vip: The VIP, with ``via_tier1``.

    Returns:
        The path, the Tier-0 first; ``NO_ROUTE`` without hops when no Tier-0 routes
        ``dst`` inside NSX (or when the load balancer's Tier-1 has no Tier-0: then the
        Tier-1 is the one hop).
    """
    graph = index.graph
    if via_tier1 is not None:
        up = _up(graph, via_tier1) if via_tier1 in graph else None
        if up is None:
            return TopologyPath(dst, PathStart.UPLINK, PathEnd.NO_ROUTE,
                                (Hop(via_tier1, "Tier1"),))
        first = Hop(up, "Tier0", Relation.DOWNLINK, IPv4Network(vip or dst))
        rest = _route(index, via_tier1, dst, PathStart.UPLINK, None)
        return TopologyPath(dst, PathStart.UPLINK, rest.end, (first, *rest.hops))
    found = []
    for t0 in sorted(n for n, kind in graph.nodes(data="kind") if kind == "Tier0"):
        path = _route(index, t0, dst, PathStart.UPLINK, None)
        if path.end is not PathEnd.EXITS_NETWORK:
            found.append(path)
    if len(found) != 1:
        return TopologyPath(dst, PathStart.UPLINK, PathEnd.NO_ROUTE, ())
    return found[0]


__all__ = ["Hop", "PathEnd", "PathStart", "TopologyPath", "path_from_outside",
           "path_from_port"]
