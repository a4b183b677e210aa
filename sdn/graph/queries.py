"""Lookups over one inventory revision: which segment or port owns an IP, how a gateway
routes it, and which objects lie between two ports.

:class:`TopologyIndex` is built once from an :class:`~sdn.model.Inventory` and then only
answers questions; it does no I/O and never changes. Traceflow asks these questions for every
hop of every packet, so the answers must be cheap.

Longest-prefix match. Every table that maps prefixes to values (the segment subnets, and one
routing table per gateway) is a dict per prefix length, ``{prefixlen: {network_int:
value}}``, plus the prefix lengths present, longest first. A lookup masks the address with
each present length in turn and stops at the first hit, so it costs at most 33 dict probes
and usually a handful (a topology has few distinct lengths: /24 pod subnets, a node subnet,
the default route). Building is one dict insert per prefix. The alternatives were worse in
Python: a binary trie walks up to 32 nodes in interpreted code per lookup, and a sorted
interval list with ``bisect`` cannot answer nested prefixes without extra bookkeeping. When
two objects claim the same prefix the first one in path order keeps it, so answers are
deterministic even for an inconsistent inventory (which the model checks report).

Routing tables (an approximation of NSX's, enough to walk packets):

* A Tier-1 has a ``connected`` route for every subnet of every segment attached to it (next
  hop: the segment's path) and, when its ``tier0_path`` names a Tier-0, a ``default`` route
  ``0.0.0.0/0`` toward that Tier-0.
* A Tier-0 has ``connected`` routes for segments attached to it directly and ``tier1``
  routes (next hop: the Tier-1's path) for the segment subnets of each Tier-1 linked to it
  that advertises ``TIER1_CONNECTED``; NAT, LB VIP and static-route advertisement are not
  modelled. A connected route wins over a Tier-1's route for the same prefix.
* A Tier-0 has no learned default route. Its uplink to the physical network is modelled as
  an ``uplink`` route ``0.0.0.0/0`` with next hop ``"uplink"``: traffic to a prefix nobody
  inside knows leaves the topology there, so :meth:`TopologyIndex.route` on a Tier-0 always
  answers.

The graph (for :meth:`TopologyIndex.port_path_between`) comes from
:func:`sdn.graph.build.graph_for` and is built on first use, since address lookups alone
do not need it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from ipaddress import AddressValueError, IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from sdn.errors import NotFoundError, SdnError
from sdn.graph.build import TIER1_CONNECTED, graph_for
from sdn.model.inventory import Inventory
from sdn.model.routing import Tier0, Tier1
from sdn.model.segments import Segment, SegmentPort

if TYPE_CHECKING:  # imported where a path is searched (see sdn.graph.build)
    import networkx as nx

#: How a route was learned: a directly attached segment, a Tier-1's advertisement, a
#: Tier-1's default toward its Tier-0, or the Tier-0's uplink to the physical network.
RouteKind = Literal["connected", "tier1", "default", "uplink"]

#: The next hop of a Tier-0's uplink route: the physical network outside the topology.
UPLINK = "uplink"

_DEFAULT = IPv4Network("0.0.0.0/0")
_MASKS = tuple((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in range(33))

V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a gateway's routing table.

    Attributes:
        prefix: The destination prefix.
        next_hop: A segment path (connected), a Tier-1 path (tier1), a Tier-0 path
            (default) or :data:`UPLINK` (uplink).
        kind: How the route was learned (:data:`RouteKind`).
        gateway: The path of the gateway whose table holds the route.
    """

    prefix: IPv4Network
    next_hop: str
    kind: RouteKind
    gateway: str


class PrefixLookup(Protocol[V_co]):
    """What a walk asks of a prefix table: built in memory (:class:`_PrefixTable`) or
    read record by record from the query index (:mod:`sdn.query.lookup_records`)."""

    def lookup(self, address: int) -> V_co | None:
        """The value of the longest prefix containing ``address``, or None."""

    def entries(self) -> Iterator[tuple[IPv4Network, V_co]]:
        """Every stored prefix with its value, in no particular order."""

    def values(self) -> Iterator[V_co]:
        """Every stored value, in no particular order."""


class _PrefixTable(Generic[V]):
    """Longest-prefix match over IPv4 prefixes: one dict per prefix length."""

    __slots__ = ("_by_len", "_lens")

    def __init__(self) -> None:
        self._by_len: dict[int, dict[int, tuple[IPv4Network, V]]] = {}
        self._lens: tuple[int, ...] = ()  # prefix lengths present, longest first

    def add(self, prefix: IPv4Network, value: V) -> None:
        """Insert ``value`` for ``prefix`` unless the prefix is already taken."""
        bucket = self._by_len.get(prefix.prefixlen)
        if bucket is None:
            bucket = self._by_len[prefix.prefixlen] = {}
            self._lens = tuple(sorted(self._by_len, reverse=True))
        bucket.setdefault(int(prefix.network_address), (prefix, value))

    def lookup(self, address: int) -> V | None:
        """The value of the longest prefix containing ``address``, or None."""
        for length in self._lens:
            hit = self._by_len[length].get(address & _MASKS[length])
            if hit is not None:
                return hit[1]
        return None

    def entries(self) -> Iterator[tuple[IPv4Network, V]]:
        """Every stored prefix with its value, in no particular order."""
        for bucket in self._by_len.values():
            yield from bucket.values()

    def values(self) -> Iterator[V]:
        """Every stored value, in no particular order."""
        for _, value in self.entries():
            yield value


def _address(ip: IPv4Address | str) -> int:
    """``ip`` as an integer; a string that is no IPv4 address cannot be interpreted."""
    if isinstance(ip, IPv4Address):
        return int(ip)
    try:
        return int(IPv4Address(ip))
    except AddressValueError as e:
        raise SdnError(f"not an IPv4 address: {ip!r}", code="INVALID_ADDRESS", obj=str(ip)) from e


@dataclass(frozen=True)
class RoutingTables:
    """An index's lookups as plain data: the segment owning each subnet and the port
    owning each address (by path), and each gateway's routing table. Built from an
    inventory they are dicts and :class:`_PrefixTable`\\ s; the query index hands back
    mappings and tables that read one record per probe instead (25,000 routes on the
    Tier-0 at 100,000 pods, of which a walk asks two or three)."""

    segments: PrefixLookup[str]
    ports: Mapping[int, str]
    routes: Mapping[str, PrefixLookup[Route]]


def _build_tables(inv: Inventory) -> RoutingTables:
    """Every gateway's routes (connected subnets, Tier-1 advertisements, defaults), the
    segment of every subnet and the port of every address, read from ``inv``."""
    tier0s = {g.path: g for g in inv.of_type(Tier0)}
    tier1s = {g.path: g for g in inv.of_type(Tier1)}
    segments = inv.of_type(Segment)
    segment_paths = {s.path for s in segments}

    by_subnet: _PrefixTable[str] = _PrefixTable()
    connected: dict[str, list[Route]] = {gw: [] for gw in (*tier0s, *tier1s)}
    for seg in segments:
        gw = seg.connectivity_path
        for sub in seg.subnets:
            by_subnet.add(sub.network, seg.path)
            if gw is not None and gw in connected:
                connected[gw].append(Route(sub.network, seg.path, "connected", gw))

    tables: dict[str, _PrefixTable[Route]] = {}
    for path, routes in connected.items():
        table: _PrefixTable[Route] = _PrefixTable()
        for route in routes:
            table.add(route.prefix, route)
        tables[path] = table
    for t1 in tier1s.values():
        if t1.tier0_path is None or t1.tier0_path not in tier0s:
            continue
        tables[t1.path].add(_DEFAULT, Route(_DEFAULT, t1.tier0_path, "default", t1.path))
        if TIER1_CONNECTED in t1.route_advertisement_types:
            t0_table = tables[t1.tier0_path]
            for r in connected[t1.path]:
                t0_table.add(r.prefix, Route(r.prefix, t1.path, "tier1", t1.tier0_path))
    for t0 in tier0s:
        tables[t0].add(_DEFAULT, Route(_DEFAULT, UPLINK, "uplink", t0))

    ports: dict[int, str] = {}
    for port in inv.of_type(SegmentPort):
        if port.parent_path not in segment_paths:
            continue  # as in the graph: a port without its segment is not in the topology
        for binding in port.address_bindings:
            ports.setdefault(int(binding.ip_address), port.path)
    return RoutingTables(by_subnet, ports, tables)


class TopologyIndex:
    """Address, routing and path lookups over one inventory revision.

    Args:
        inv: The inventory to index. The index reflects ``inv`` as it is now; build a new
            index for a new revision.
        tables: The lookups of an index of this same revision (:attr:`tables`, as a
            cache kept them); without them they are read from ``inv``.

    Examples:
        >>> from sdn.model import Segment, SegmentSubnet, Tier1
        >>> t1 = Tier1(id="t1", path="/infra/tier-1s/t1")
        >>> seg = Segment(id="s", path="/infra/segments/s", connectivity_path=t1.path,
        ...               subnets=(SegmentSubnet(gateway_address="10.0.0.1/24",
        ...                                      network="10.0.0.0/24"),))
        >>> index = TopologyIndex(Inventory([t1, seg]))
        >>> index.segment_for_ip("10.0.0.7").path
        '/infra/segments/s'
        >>> index.route(t1.path, "10.0.0.7").next_hop
        '/infra/segments/s'
        >>> index.route(t1.path, "8.8.8.8") is None  # no Tier-0, so no default route
        True
    """

    def __init__(self, inv: Inventory, tables: RoutingTables | None = None) -> None:
        self._inv = inv
        #: The inventory revision this index was built from.
        self.revision = inv.revision
        self._tables_of = tables if tables is not None else _build_tables(inv)

    @property
    def tables(self) -> RoutingTables:
        """What the index knows, as plain data (paths, prefixes, routes) that a cache
        can keep per revision and hand back as ``TopologyIndex(inv, tables)``."""
        return self._tables_of

    @property
    def inventory(self) -> Inventory:
        """The inventory the index is of (the graph's nodes are its objects' paths)."""
        return self._inv

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The frozen topology graph (:func:`sdn.graph.build.graph_for`), built on first use."""
        return graph_for(self._inv)

    def segment_for_ip(self, ip: IPv4Address | str) -> Segment | None:
        """The segment whose subnet contains ``ip``; the longest prefix wins when they nest.

        Args:
            ip: An IPv4 address.

        Returns:
            The segment, or None when no segment subnet contains ``ip``.

        Raises:
            SdnError: ``INVALID_ADDRESS`` when ``ip`` is not an IPv4 address.
        """
        path = self._tables_of.segments.lookup(_address(ip))
        found = self._inv.get(path) if path is not None else None
        return found if isinstance(found, Segment) else None

    def port_for_ip(self, ip: IPv4Address | str) -> SegmentPort | None:
        """The port that has ``ip`` in its ``address_bindings``.

        Args:
            ip: An IPv4 address.

        Returns:
            The port (the first in path order if several claim ``ip``), or None.

        Raises:
            SdnError: ``INVALID_ADDRESS`` when ``ip`` is not an IPv4 address.
        """
        path = self._tables_of.ports.get(_address(ip))
        found = self._inv.get(path) if path is not None else None
        return found if isinstance(found, SegmentPort) else None

    def _table(self, gateway_path: str) -> PrefixLookup[Route]:
        table = self._tables_of.routes.get(gateway_path)
        if table is None:
            raise NotFoundError(f"no Tier-0 or Tier-1 at {gateway_path}", obj=gateway_path)
        return table

    def route(self, gateway_path: str, ip: IPv4Address | str) -> Route | None:
        """The route ``gateway_path`` uses for ``ip`` (longest-prefix match).

        Args:
            gateway_path: The path of a Tier-0 or Tier-1.
            ip: The destination address.

        Returns:
            The matching route, or None when the gateway has none (a Tier-1 without a
            Tier-0 and no connected subnet for ``ip``). A Tier-0 always answers, with its
            uplink route at worst.

        Raises:
            NotFoundError: ``gateway_path`` is not a gateway of the inventory.
            SdnError: ``INVALID_ADDRESS`` when ``ip`` is not an IPv4 address.
        """
        return self._table(gateway_path).lookup(_address(ip))

    def routes(self, gateway_path: str) -> list[Route]:
        """The routing table of a gateway, longest prefix first, then by address.

        Args:
            gateway_path: The path of a Tier-0 or Tier-1.

        Returns:
            Every route of the gateway.

        Raises:
            NotFoundError: ``gateway_path`` is not a gateway of the inventory.
        """
        return sorted(
            self._table(gateway_path).values(),
            key=lambda r: (-r.prefix.prefixlen, int(r.prefix.network_address)),
        )

    def port_path_between(self, src_port_path: str, dst_port_path: str) -> list[str]:
        """The node paths from one port to another along the topology graph.

        The path runs port, segment, gateway(s), segment, port; it never goes through
        another port, and a child port's parent is not a shortcut (see
        :mod:`sdn.graph.build`). Links are followed whatever the route advertisement says:
        this is where the wires go, :meth:`route` is whether packets are routed there.

        Args:
            src_port_path: The path of the source segment port.
            dst_port_path: The path of the destination segment port.

        Returns:
            The shortest path, both ends included (``[src]`` when both are the same port),
            or ``[]`` when the ports are not connected.

        Raises:
            NotFoundError: Either path is not a segment port in the topology.
        """
        import networkx as nx

        graph = self.graph
        for path in (src_port_path, dst_port_path):
            if path not in graph or graph.nodes[path]["kind"] != "SegmentPort":
                raise NotFoundError(f"no segment port at {path}", obj=path)
        try:
            return list(nx.shortest_path(graph, src_port_path, dst_port_path))
        except nx.NetworkXNoPath:
            return []


__all__ = ["UPLINK", "PrefixLookup", "Route", "RouteKind", "RoutingTables", "TopologyIndex"]
