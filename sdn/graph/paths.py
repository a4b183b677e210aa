"""Paths through the topology graph: the segments and gateways a packet to an address
crosses, in the order it crosses them (what ``sdn path`` answers).

The path is a walk along the graph's links (:mod:`sdn.graph.build`), each step decided by
what the link carries:

* a port hands the packet to its segment (``segment`` link);
* a segment whose subnet holds the address switches it there: to the port bound to it
  (``port`` link; ``SEGMENT_PORT``), else to the gateway whose interface it is
  (``GATEWAY_INTERFACE``), else nowhere (``ARP_FAIL``); any other address goes to the
  segment's gateway (``gateway`` link);
* a gateway follows the link with the longest prefix holding the address: a connected
  segment's subnets (``segment`` links, whose ``subnets`` the edge carries), then the
  prefixes a Tier-1 advertises to its Tier-0 (``downlink`` links, ``advertised``); else
  its default: a Tier-1's ``uplink`` to its Tier-0, a Tier-0's uplink out of NSX
  (``EXITS_NETWORK``). A segment without a gateway, or a Tier-1 without a Tier-0 and no
  connected subnet for the address, ends the walk (``NO_ROUTE``).

Ties go to a connected segment before a Tier-1's prefix, then to the first link in path
order: the rules of :class:`~sdn.graph.queries.TopologyIndex`'s routing tables, which
traceflow walks. The two are separate implementations of one routing model (links and
their prefixes here, one longest-prefix table per gateway there), and
``tests/sdn/graph/test_paths*.py`` hold them to the same hops and route prefixes. The graph
is a forest (every port hangs off one segment, every segment off at most one gateway,
every Tier-1 off at most one Tier-0), so between two ports the walk, where routing lets it
through, is the one path the wires allow (:meth:`TopologyIndex.port_path_between`).

From outside (:func:`path_from_outside`) the packet is received on the uplink of the
Tier-0 that routes the address inside (not by its uplink); a LoadBalancer VIP goes to the
Tier-1 that hosts the load balancer (``via_tier1``), which routes on to the backend.

Each :class:`Hop` says how the packet goes on: the next hop's :class:`Relation` to this
one, read as the graph's edges read ("the next hop is this hop's uplink"), and the prefix
that carries it (the subnet it is switched on, the connected or advertised prefix a
gateway routes by, ``0.0.0.0/0`` for a default route or the uplink).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network

import networkx as nx

from sdn.graph.build import Relation, nodes_of
from sdn.graph.queries import TopologyIndex
from sdn.model.routing import Tier0
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
        next: The next hop's path (None after the last hop).
    """

    path: str
    kind: str
    relation: Relation | None = None
    prefix: IPv4Network | None = None
    next: str | None = field(default=None, compare=False, repr=False)


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
    """The longest of ``prefixes`` that holds ``ip`` (the first of equals)."""
    best: IPv4Network | None = None
    for p in prefixes:
        if ip in p and (best is None or p.prefixlen > best.prefixlen):
            best = p
    return best


#: The relation of a node's way up: a port's segment, a segment's gateway, a Tier-1's
#: Tier-0 (a Tier-0's way up is its uplink, outside the graph).
_UP = {"SegmentPort": Relation.SEGMENT, "Segment": Relation.GATEWAY, "Tier1": Relation.UPLINK}


def _up(graph: nx.DiGraph, node: str) -> str | None:
    """The node above ``node`` (None: nothing in the graph; for a Tier-0, its uplink)."""
    want = _UP.get(graph.nodes[node]["kind"])
    return next((str(n) for n, e in graph.adj[node].items() if e["relation"] is want), None)


def _route(graph: nx.DiGraph, gateway: str, dst: IPv4Address) -> Hop | None:
    """How ``gateway`` routes ``dst``: the longest prefix among its links (a connected
    segment's subnets before a Tier-1's advertised prefixes, each in path order), else its
    default (a Tier-1's uplink to its Tier-0, a Tier-0's own uplink). None: no route."""
    kind: str = graph.nodes[gateway]["kind"]
    best: Hop | None = None
    for rel, attr in ((Relation.SEGMENT, "subnets"), (Relation.DOWNLINK, "advertised")):
        for nxt, edge in graph.adj[gateway].items():
            if edge["relation"] is not rel:
                continue
            prefix = _narrowest(edge[attr], dst)
            if prefix is not None and (best is None or best.prefix is None
                                       or prefix.prefixlen > best.prefix.prefixlen):
                best = Hop(gateway, kind, rel, prefix, str(nxt))
    if best is not None:
        return best
    if kind == "Tier0":
        return Hop(gateway, kind, Relation.UPLINK, _DEFAULT)
    up = _up(graph, gateway)
    return Hop(gateway, kind, Relation.UPLINK, _DEFAULT, up) if up is not None else None


def _on_segment(index: TopologyIndex, segment: Segment, dst: IPv4Address,
                hops: list[Hop]) -> PathEnd:
    """Switch on the segment that holds ``dst``: to the port bound to it, else to the
    gateway whose interface it is, else nowhere (ARP fails)."""
    graph = index.graph
    prefix = _narrowest((s.network for s in segment.subnets), dst)
    port = index.port_for_ip(dst)
    if port is not None and port.parent_path == segment.path and port.path in graph:
        hops += [Hop(segment.path, "Segment", Relation.PORT, prefix, port.path),
                 Hop(port.path, "SegmentPort")]
        return PathEnd.SEGMENT_PORT
    gateway = _up(graph, segment.path)
    if gateway is not None and any(s.gateway_address.ip == dst for s in segment.subnets):
        hops += [Hop(segment.path, "Segment", Relation.GATEWAY, None, gateway),
                 Hop(gateway, graph.nodes[gateway]["kind"])]
        return PathEnd.GATEWAY_INTERFACE
    hops.append(Hop(segment.path, "Segment"))
    return PathEnd.ARP_FAIL


def _walk(index: TopologyIndex, start: str, dst: IPv4Address, start_kind: PathStart,
          first: tuple[Hop, ...] = ()) -> TopologyPath:
    """Follow the graph's links from ``start`` (a port, a segment or a gateway) the way
    the packet to ``dst`` goes, until it reaches it, leaves, or has nowhere to go."""
    graph = index.graph
    hops = list(first)
    node = start
    for _ in range(len(graph)):  # a forest: no node twice, so this bound is never reached
        kind = graph.nodes[node]["kind"]
        obj = index.inventory.get(node) if kind == "Segment" else None
        if isinstance(obj, Segment) and any(dst in s.network for s in obj.subnets):
            end = _on_segment(index, obj, dst, hops)
            return TopologyPath(dst, start_kind, end, tuple(hops))
        if kind in ("SegmentPort", "Segment"):
            above = _up(graph, node)
            hop = Hop(node, kind, _UP[kind], None, above) if above is not None else None
        else:
            hop = _route(graph, node, dst)
        if hop is None:
            break
        hops.append(hop)
        if hop.next is None:  # a Tier-0's uplink
            return TopologyPath(dst, start_kind, PathEnd.EXITS_NETWORK, tuple(hops))
        node = hop.next
    hops.append(Hop(node, graph.nodes[node]["kind"]))
    return TopologyPath(dst, start_kind, PathEnd.NO_ROUTE, tuple(hops))


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
    if port_path not in index.graph:
        return TopologyPath(dst, PathStart.SEGMENT_PORT, PathEnd.NO_ROUTE,
                            (Hop(port_path, "SegmentPort"),))
    return _walk(index, port_path, dst, PathStart.SEGMENT_PORT)


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
        vip_route = Hop(up, "Tier0", Relation.DOWNLINK, IPv4Network(vip or dst), via_tier1)
        return _walk(index, via_tier1, dst, PathStart.UPLINK, (vip_route,))
    entries = [t0 for t0 in nodes_of(graph, index.inventory, Tier0)
               if (route := _route(graph, t0.path, dst)) is not None and route.next is not None]
    if len(entries) != 1:
        return TopologyPath(dst, PathStart.UPLINK, PathEnd.NO_ROUTE, ())
    return _walk(index, entries[0].path, dst, PathStart.UPLINK)


__all__ = ["Hop", "PathEnd", "PathStart", "TopologyPath", "path_from_outside",
           "path_from_port"]
