"""What a walk looks up by name or address, as plain data, and maps that resolve paths
to objects only when one is asked for.

Why apart from the objects: a question about one flow touches two ports, their segments
and the gateways between them, yet finding them needs every port's name and address.
:class:`Lookups` holds those names, addresses and routes as strings and numbers, cheap to
keep per state revision (:mod:`sdn.query` saves them as keyed records and hands them
back as mappings that read one record per name, address or prefix asked for, so a later
walk at 100,000 pods reads a few dozen records, not 22 MB); :class:`PathMap` and
:class:`NameMap` give the walk the objects it asks for, read from the inventory then, so
an inventory that parses lazily parses only those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Generic, TypeVar

from sdn.graph import TopologyIndex
from sdn.graph.queries import RoutingTables
from sdn.model import Inventory, NatRule, PolicyResource, Segment, SegmentPort

#: A transport node: (cluster, node name).
NodeKey = tuple[str | None, str]

T = TypeVar("T", bound=PolicyResource)

#: A SNAT rule as a walk matches it: its sources as (prefix length, network) pairs, or
#: None for any source; its sequence number; its path.
SnatEntry = tuple[tuple[tuple[int, int], ...] | None, int, str]


def snat_entry(rule: NatRule) -> SnatEntry:
    """``rule``'s :data:`SnatEntry`. A source range ``a-b`` counts from its first address
    (as NCP writes them: one subnet per rule)."""
    if rule.source_network is None:
        return None, rule.sequence_number, rule.path
    sources = []
    for item in rule.source_network.split(","):
        net = IPv4Network(item.strip().split("-")[0], strict=False)
        sources.append((net.prefixlen, int(net.network_address)))
    return tuple(sources), rule.sequence_number, rule.path


@dataclass(frozen=True)
class Lookups:
    """A revision's names, addresses and routes (paths, not objects).

    :meth:`of` builds them as tuples and dicts; the query index's are mappings and
    sequences read from its records when asked (:mod:`sdn.query.lookup_records`), which
    is why the fields are typed by what a walk asks of them."""

    #: Every port's path, in path order.
    port_paths: Collection[str]
    #: Every segment's path, in path order.
    segment_paths: Collection[str]
    #: Ports by ``display_name`` (``NS/POD`` for pods), each list in path order.
    by_name: Mapping[str, tuple[str, ...]]
    #: Node VM addresses by transport node.
    node_ips: dict[NodeKey, str]
    #: The clusters that own ports, sorted.
    clusters: tuple[str, ...]
    #: ``(namespace, cluster)`` of every segment of a namespace.
    segment_scopes: Sequence[tuple[str, str | None]]
    routing: RoutingTables
    #: The enabled SNAT rules of each gateway, as :data:`SnatEntry` (a walk parses only
    #: the rule that matches, not the Tier-0's 25,000 at 100,000 pods).
    snat_rules: Mapping[str, tuple[SnatEntry, ...]]
    #: Every pod's port with an address: (path, cluster, namespace, pod), in path order.
    pods: Sequence[tuple[str, str, str, str]]

    @classmethod
    def of(cls, inv: Inventory, index: TopologyIndex) -> Lookups:
        """Read every port and segment of ``inv`` once (``index`` is its topology)."""
        ports = inv.of_type(SegmentPort)
        segments = inv.of_type(Segment)
        snat: dict[str, list[SnatEntry]] = defaultdict(list)
        for rule in inv.of_type(NatRule):
            if rule.enabled and rule.action == "SNAT":
                snat[rule.gateway_path].append(snat_entry(rule))
        by_name: dict[str, list[str]] = defaultdict(list)
        node_ips: dict[NodeKey, str] = {}
        for p in ports:
            by_name[p.display_name].append(p.path)
            if p.attachment is not None and p.attachment.type == "PARENT" \
                    and p.address_bindings:
                node_ips[(p.tag("ncp/cluster"), p.tag("ncp/node_name") or p.id)] = str(
                    p.address_bindings[0].ip_address)
        return cls(
            port_paths=tuple(p.path for p in ports),
            segment_paths=tuple(s.path for s in segments),
            by_name={name: tuple(paths) for name, paths in by_name.items()},
            node_ips=node_ips,
            clusters=tuple(sorted({c for p in ports if (c := p.tag("ncp/cluster"))})),
            segment_scopes=tuple((ns, s.tag("ncp/cluster")) for s in segments
                                 if (ns := s.tag("ncp/project"))),
            routing=index.tables,
            snat_rules={gw: tuple(entries) for gw, entries in snat.items()},
            pods=tuple((p.path, c, ns, pod) for p in ports
                       if (pod := p.tag("ncp/pod")) and (ns := p.tag("ncp/project"))
                       and (c := p.tag("ncp/cluster")) and p.address_bindings),
        )


class PathMap(Mapping[str, T], Generic[T]):
    """Objects of one kind by path, read from the inventory when asked for (``paths``: a
    tuple is made a set once; a set or mapping, as the query index's, is asked as is)."""

    def __init__(self, paths: Collection[str], inv: Inventory) -> None:
        self._paths = paths
        self._known: Collection[str] = paths if isinstance(paths, (Set, Mapping)) \
            else frozenset(paths)
        self._inv = inv

    def __getitem__(self, path: str) -> T:
        if path not in self._known:
            raise KeyError(path)
        found: T = self._inv[path]  # type: ignore[assignment]
        return found

    def __contains__(self, path: object) -> bool:
        return path in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class NameMap(Mapping[str, list[SegmentPort]]):
    """Ports by ``display_name``, read from the inventory when a name is asked for."""

    def __init__(self, by_name: Mapping[str, tuple[str, ...]], inv: Inventory) -> None:
        self._by_name = by_name
        self._inv = inv

    def __getitem__(self, name: str) -> list[SegmentPort]:
        return [p for path in self._by_name[name]
                if isinstance(p := self._inv[path], SegmentPort)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)
