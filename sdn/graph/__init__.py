"""The topology as a graph, and the lookups later stages need.

Entry points:

* :func:`graph_for`: the cached, frozen networkx view of an inventory (:func:`build_graph`
  builds an uncached, mutable one). Nodes are Policy paths with their kind; edges say how
  gateways, segments and ports are linked (:class:`Relation`); the objects stay in the
  inventory, so the graph is plain data a cache can keep (:func:`graph_links`,
  :func:`provide_graph`). :func:`linked_paths` and :func:`nodes_of` read it in path order
  (the topology picture is drawn from them).
* :class:`TopologyIndex`: which segment or port owns an address, each gateway's routing
  table (:class:`Route`), and the objects between two ports.
* :mod:`sdn.graph.paths`: the hops from a port (or a Tier-0's uplink) to an address, as
  ``sdn path`` shows them.
"""

from sdn.graph.build import (
    GRAPH_CACHE_SIZE,
    TIER1_CONNECTED,
    GraphLinks,
    Relation,
    build_graph,
    clear_graph_cache,
    graph_for,
    graph_from_links,
    graph_links,
    linked_paths,
    nodes_of,
    provide_graph,
)
from sdn.graph.queries import UPLINK, Route, RouteKind, TopologyIndex

__all__ = [
    "GRAPH_CACHE_SIZE",
    "TIER1_CONNECTED",
    "UPLINK",
    "GraphLinks",
    "Relation",
    "Route",
    "RouteKind",
    "TopologyIndex",
    "build_graph",
    "clear_graph_cache",
    "graph_for",
    "graph_from_links",
    "graph_links",
    "linked_paths",
    "nodes_of",
    "provide_graph",
]
