"""Build a networkx view of an inventory, and cache it by revision.

The inventory is a flat mapping of Policy paths; questions such as "which gateways lie
between these two ports" are graph questions, so this module turns the topology part of an
inventory into a :class:`networkx.DiGraph` once and lets every engine walk it.

Nodes are Policy paths of the four topology kinds (``Tier0``, ``Tier1``, ``Segment``,
``SegmentPort``), each with the attribute ``kind`` (the ``resource_type``); the objects
themselves stay in the inventory (:func:`nodes_of` reads them from it by path).
Why not on the nodes: the graph is then plain data (paths, kinds, prefixes) that the
query index keeps per revision (:func:`graph_links`, :func:`graph_from_links`), so a
question that walks a few hops or a picture that counts ports parses only the objects
it names, not the ten thousand ports every node would need. Other kinds (IP blocks,
pools, NAT rules) are not part of the forwarding topology and are left out. Every link is
stored as two directed edges, one each way, so a path can be found from either end; the
``relation`` attribute reads "the target is the source's <relation>":

======================  =============  ===================================================
edge                    ``relation``   other attributes
======================  =============  ===================================================
Tier1 -> Tier0          ``uplink``     ``advertised``: the Tier-1's connected subnets when
Tier0 -> Tier1          ``downlink``   it advertises ``TIER1_CONNECTED``, else ``()``
gateway -> Segment      ``segment``    ``subnets`` (``IPv4Network``), ``gateway_addresses``
Segment -> gateway      ``gateway``    (``IPv4Interface``), both in the segment's order
Segment -> SegmentPort  ``port``       ``ips``: the port's bound addresses
SegmentPort -> Segment  ``segment``
======================  =============  ===================================================

Dangling references do not fail the build (:func:`sdn.model.checks.validate_inventory`
reports them); they shape the graph instead: a segment whose ``connectivity_path`` is None
or names no gateway is an isolated node, a Tier-1 whose ``tier0_path`` names no Tier-0 has
no uplink, and a port whose segment is missing is skipped altogether.

A pod's port (attachment ``CHILD``) rides on its node VM's port (``PARENT``): NCP tags the
pod's traffic with a VLAN on the node's vNIC. That is recorded as the node attribute
``parent_port`` on the child, not as an edge, because an edge would let shortest-path
search hop from a pod's segment straight to the node segment, skipping the gateways that
really route the packet. ``context_id`` is matched against a port's path, then the
attachment ``id`` of a ``PARENT`` port, then the ``id`` of a ``PARENT`` port; when nothing
matches ``parent_port`` is None.

Caching: :func:`graph_for` keeps the last few graphs keyed on ``(id(inventory),
inventory.revision)``; :func:`provide_graph` tells it where to get the graph of one
inventory instead of building it (the query index's saved graph of that revision). The
entry also holds the inventory itself, so that while it is cached the object cannot be
garbage-collected and its ``id`` cannot be handed to a new inventory.
The cache is bounded (four entries, least recently used evicted) because a long-running
process sees a new revision per change. Cached graphs are frozen (``networkx.freeze``):
they are shared, so nobody may mutate them. The cache trusts ``revision``: whoever changes
what an inventory holds must bump it.

networkx is imported by the functions that make a graph, not by this module: it costs a
tenth of a second to import, and most questions (``reach``, ``explain``,
``connectivity``) import this package for its lookups and never build a graph.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from enum import StrEnum
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any, TypeVar

from sdn.model.base import PolicyResource
from sdn.model.inventory import Inventory
from sdn.model.routing import Tier0, Tier1
from sdn.model.segments import Segment, SegmentPort

if TYPE_CHECKING:
    import networkx as nx

R = TypeVar("R", bound=PolicyResource)

#: How many graphs :func:`graph_for` keeps.
GRAPH_CACHE_SIZE = 4

#: The route advertisement that makes a Tier-1's segments visible on its Tier-0.
TIER1_CONNECTED = "TIER1_CONNECTED"


class Relation(StrEnum):
    """What the target of an edge is to its source."""

    UPLINK = "uplink"
    """Tier1 -> Tier0: the Tier-0 is the Tier-1's uplink."""
    DOWNLINK = "downlink"
    """Tier0 -> Tier1: the Tier-1 is one of the Tier-0's downlinks."""
    SEGMENT = "segment"
    """gateway -> Segment, and SegmentPort -> Segment."""
    GATEWAY = "gateway"
    """Segment -> the gateway its ``connectivity_path`` names."""
    PORT = "port"
    """Segment -> one of its SegmentPorts."""


def _parent_port_keys(ports: list[SegmentPort]) -> dict[str, str]:
    """Map every string a child's ``context_id`` may use to the parent port's path.

    Earlier sources win: paths, then PARENT attachment ids, then PARENT port ids, each in
    path order, so the answer is deterministic even when ids repeat across segments.
    """
    keys: dict[str, str] = {p.path: p.path for p in ports}
    parents = [p for p in ports if p.attachment is not None and p.attachment.type == "PARENT"]
    for p in parents:
        assert p.attachment is not None  # narrowed above; keeps mypy quiet
        keys.setdefault(p.attachment.id, p.path)
    for p in parents:
        keys.setdefault(p.id, p.path)
    return keys


def build_graph(inv: Inventory) -> nx.DiGraph:
    """Build the topology graph of an inventory (uncached; see :func:`graph_for`).

    Args:
        inv: The inventory to read.

    Returns:
        A new, mutable directed graph as described in the module docstring.

    Examples:
        >>> from sdn.model import Segment, SegmentSubnet, Tier1
        >>> t1 = Tier1(id="t1", path="/infra/tier-1s/t1")
        >>> seg = Segment(id="s", path="/infra/segments/s", connectivity_path=t1.path,
        ...               subnets=(SegmentSubnet(gateway_address="10.0.0.1/24",
        ...                                      network="10.0.0.0/24"),))
        >>> g = build_graph(Inventory([t1, seg]))
        >>> g.nodes[seg.path], g.edges[seg.path, t1.path]["relation"]
        ({'kind': 'Segment'}, <Relation.GATEWAY: 'gateway'>)
        >>> g.edges[t1.path, seg.path]["subnets"]
        (IPv4Network('10.0.0.0/24'),)
    """
    tier0s = inv.of_type(Tier0)
    tier1s = inv.of_type(Tier1)
    segments = inv.of_type(Segment)
    gateways = {g.path for g in tier0s} | {g.path for g in tier1s}
    segment_paths = {s.path for s in segments}
    ports = [p for p in inv.of_type(SegmentPort) if p.parent_path in segment_paths]

    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from((g.path, {"kind": g.resource_type}) for g in tier0s)
    graph.add_nodes_from((g.path, {"kind": g.resource_type}) for g in tier1s)
    graph.add_nodes_from((s.path, {"kind": s.resource_type}) for s in segments)

    connected: dict[str, list[IPv4Network]] = {}
    for seg in segments:
        gw = seg.connectivity_path
        if gw is None or gw not in gateways:
            continue  # isolated: nothing routes to it
        subnets = tuple(s.network for s in seg.subnets)
        addresses = tuple(s.gateway_address for s in seg.subnets)
        graph.add_edge(
            gw, seg.path, relation=Relation.SEGMENT, subnets=subnets, gateway_addresses=addresses
        )
        graph.add_edge(
            seg.path, gw, relation=Relation.GATEWAY, subnets=subnets, gateway_addresses=addresses
        )
        connected.setdefault(gw, []).extend(subnets)

    tier0_paths = {g.path for g in tier0s}
    for t1 in tier1s:
        if t1.tier0_path is None or t1.tier0_path not in tier0_paths:
            continue
        advertised = (
            tuple(connected.get(t1.path, ()))
            if TIER1_CONNECTED in t1.route_advertisement_types
            else ()
        )
        graph.add_edge(t1.path, t1.tier0_path, relation=Relation.UPLINK, advertised=advertised)
        graph.add_edge(t1.tier0_path, t1.path, relation=Relation.DOWNLINK, advertised=advertised)

    parent_keys = _parent_port_keys(ports)
    for port in ports:
        parent: str | None = None
        att = port.attachment
        if att is not None and att.type == "CHILD" and att.context_id is not None:
            parent = parent_keys.get(att.context_id)
        graph.add_node(port.path, kind=port.resource_type, parent_port=parent)
        ips = tuple(b.ip_address for b in port.address_bindings)
        graph.add_edge(port.parent_path, port.path, relation=Relation.PORT, ips=ips)
        graph.add_edge(port.path, port.parent_path, relation=Relation.SEGMENT, ips=ips)
    return graph


#: A graph as plain data: its nodes and its edges, each with its attributes, in order.
GraphLinks = tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, str, dict[str, Any]]]]


def graph_links(graph: nx.DiGraph) -> GraphLinks:
    """``graph``'s nodes and edges with their attributes, in the graph's order: what
    :func:`graph_from_links` builds the same graph from (the query index saves these,
    no networkx class, so a file never holds more than paths, kinds and prefixes)."""
    return list(graph.nodes(data=True)), list(graph.edges(data=True))


def graph_from_links(links: GraphLinks) -> nx.DiGraph:
    """The graph :func:`graph_links` described (mutable; same nodes, edges, attributes
    and order, so every walk and picture reads it as it reads the original)."""
    import networkx as nx

    nodes, edges = links
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return graph


# (id(inventory), revision) -> (inventory, frozen graph); most recently used last. The
# inventory is held so its id cannot be reused while the entry lives.
_cache: OrderedDict[tuple[int, int], tuple[Inventory, nx.DiGraph]] = OrderedDict()
# (id(inventory), revision) -> (inventory, where its graph comes from): see provide_graph.
_providers: OrderedDict[tuple[int, int], tuple[Inventory, Callable[[], nx.DiGraph]]] = \
    OrderedDict()
_cache_lock = threading.Lock()


def provide_graph(inv: Inventory, provider: Callable[[], nx.DiGraph]) -> None:
    """Let :func:`graph_for` take the graph of ``inv`` at its current revision from
    ``provider`` (called once, when the graph is first asked for) instead of building
    it: the query index hands the graph it keeps for the revision this way. The provider
    must return the graph :func:`build_graph` would build from ``inv``."""
    with _cache_lock:
        _providers[(id(inv), inv.revision)] = (inv, provider)
        while len(_providers) > GRAPH_CACHE_SIZE:
            _providers.popitem(last=False)


def graph_for(inv: Inventory) -> nx.DiGraph:
    """The frozen topology graph of ``inv`` at its current revision, built at most once.

    Repeated calls with the same inventory object and revision return the same graph
    object; a new revision builds a new graph. See the module docstring for the cache.

    Args:
        inv: The inventory to read.

    Returns:
        A frozen (read-only) graph shared between callers.

    Examples:
        >>> inv = Inventory()
        >>> graph_for(inv) is graph_for(inv)
        True
    """
    key = (id(inv), inv.revision)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit[1]
        provided = _providers.get(key)
    import networkx as nx

    # Build outside the lock so other inventories are not held up; if another thread
    # finished the same key meanwhile, return its graph so every caller shares one object.
    graph = nx.freeze(provided[1]() if provided is not None else build_graph(inv))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit[1]
        _cache[key] = (inv, graph)
        while len(_cache) > GRAPH_CACHE_SIZE:
            _cache.popitem(last=False)
    return graph


def linked_paths(graph: nx.DiGraph, path: str, relation: Relation) -> list[str]:
    """The paths ``path`` links to by ``relation``, in path order (the order the edges
    were added in): a Tier-0's ``downlink`` Tier-1s, a gateway's ``segment`` segments, a
    segment's ``port`` ports, ... A path not in the graph links to nothing.

    Examples:
        >>> from sdn.model import Segment, Tier1
        >>> t1 = Tier1(id="t1", path="/infra/tier-1s/t1")
        >>> segs = [Segment(id=n, path=f"/infra/segments/{n}", connectivity_path=t1.path)
        ...         for n in ("b", "a")]
        >>> linked_paths(build_graph(Inventory([t1, *segs])), t1.path, Relation.SEGMENT)
        ['/infra/segments/a', '/infra/segments/b']
    """
    if path not in graph:
        return []
    return [n for n, edge in graph.adj[path].items() if edge["relation"] is relation]


def nodes_of(graph: nx.DiGraph, inv: Inventory, cls: type[R]) -> list[R]:
    """The ``cls`` objects of ``inv`` that are nodes of the graph, in path order (only
    the nodes of ``cls``'s kind are looked up)."""
    kind = cls.model_fields["resource_type"].default
    return [obj for n, k in graph.nodes(data="kind")
            if k == kind and isinstance(obj := inv.get(n), cls)]


def clear_graph_cache() -> None:
    """Forget every cached graph and provider (and release the inventories they hold)."""
    with _cache_lock:
        _cache.clear()
        _providers.clear()


__all__ = [
    "GRAPH_CACHE_SIZE",
    "TIER1_CONNECTED",
    "GraphLinks",
    "Relation",
    "build_graph",
    "clear_graph_cache",
    "graph_for",
    "graph_from_links",
    "graph_links",
    "linked_paths",
    "nodes_of",
    "provide_graph",
]
