"""Pictures of the topology: a tree for the terminal and Graphviz DOT.

Both draw the same thing, top down, from the topology graph (:mod:`sdn.graph`): Tier-0,
its Tier-1s (its ``downlink`` links), their segments with subnets (``segment`` links), and
the ports with their addresses (``port`` links), each level in path order. What the graph
leaves out is not drawn: a Tier-1 whose Tier-0 does not exist, a segment without a
gateway, a port without its segment. Large clusters are summarised (``--max-ports``) so a
picture stays readable; the full data is in ``sdn show``.

A picture that would draw more than ``collapse_over`` segments (:data:`COLLAPSE_OVER`, 50,
by default) is collapsed: each Tier-1 becomes one node with its counts (segments, ports,
subnets, as :class:`Summary` counts them from the graph's links), the segments on a Tier-0
one more, and DOT lays the Tier-1s of a Tier-0 out as a grid in a box below it instead of
one row thousands of nodes wide. ``collapse_over=None`` never collapses, ``0`` always does;
a picture with a path highlighted never does. Small topologies (the samples) are drawn as
they always were.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property

from sdn.graph import Relation, graph_for, linked_paths, nodes_of
from sdn.model import Inventory, PolicyResource, Segment, SegmentPort, Tier0, Tier1

#: Collapse the Tier-1s of a picture that would draw more segments than this (``sdn
#: topology --collapse auto``).
COLLAPSE_OVER = 50


def _keep(obj: PolicyResource, match: Callable[[PolicyResource], bool] | None) -> bool:
    return match is None or match(obj)


def _port_label(p: SegmentPort) -> str:
    ip = str(p.address_bindings[0].ip_address) if p.address_bindings else "no address"
    node = p.tag("ncp/node_name")
    return f"{p.display_name or p.id}  {ip}" + (f"  @{node}" if node else "")


class TopologyView:
    """The topology graph (:func:`sdn.graph.graph_for`) read top down, in path order,
    with the objects it names read from the inventory only when a picture draws them (a
    collapsed picture counts ports and subnets on the graph's links, parsing none)."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self.graph = graph_for(inv)

    # Each kind is read from the inventory in one go the first time a picture draws one
    # of its objects (an inventory that parses lazily then parses it in one query).
    @cached_property
    def _tier1s(self) -> dict[str, Tier1]:
        return {t.path: t for t in self.inv.of_type(Tier1)}

    @cached_property
    def _segments(self) -> dict[str, Segment]:
        return {s.path: s for s in self.inv.of_type(Segment)}

    @cached_property
    def _ports(self) -> dict[str, SegmentPort]:
        return {p.path: p for p in self.inv.of_type(SegmentPort)}

    def tier0s(self) -> list[Tier0]:
        return nodes_of(self.graph, self.inv, Tier0)

    def tier1s(self, t0: str) -> list[Tier1]:
        return [self._tier1s[p] for p in linked_paths(self.graph, t0, Relation.DOWNLINK)]

    def segments(self, gateway: str) -> list[Segment]:
        return [self._segments[p] for p in linked_paths(self.graph, gateway, Relation.SEGMENT)]

    def port_paths(self, segment: str) -> list[str]:
        return linked_paths(self.graph, segment, Relation.PORT)

    def port(self, path: str) -> SegmentPort:
        return self._ports[path]

    def drawn_tier1s(self, t0: str, match: Callable[[PolicyResource], bool] | None
                     ) -> list[Tier1]:
        """The Tier-1s of ``t0`` a picture draws: those matching, or with a matching segment."""
        return [t for t in self.tier1s(t0)
                if _keep(t, match) or any(_keep(s, match) for s in self.segments(t.path))]

    def summary(self, gateway: str, match: Callable[[PolicyResource], bool] | None
                ) -> Summary:
        """What a picture would draw below ``gateway``, counted (its segments are read
        only to be matched; ports and subnets are counted on the links)."""
        segs = linked_paths(self.graph, gateway, Relation.SEGMENT) if match is None \
            else [s.path for s in self.segments(gateway) if match(s)]
        links = self.graph.adj
        return Summary(segments=len(segs),
                       ports=sum(len(self.port_paths(s)) for s in segs),
                       subnets=sum(len(links[gateway][s]["subnets"]) for s in segs))

    def collapsed(self, match: Callable[[PolicyResource], bool] | None,
                  collapse_over: int | None) -> int | None:
        """How many segments the picture holds when it is to be collapsed (more than
        ``collapse_over``), else None."""
        if collapse_over is None:
            return None
        total = 0
        for t0 in self.tier0s():
            gateways = [t.path for t in self.drawn_tier1s(t0.path, match)] + [t0.path]
            total += sum(self.summary(g, match).segments for g in gateways)
        return total if total > collapse_over else None


@dataclass(frozen=True)
class Summary:
    """A collapsed gateway's counts: its segments (those the picture selects), their
    ports and their subnets."""

    segments: int
    ports: int
    subnets: int

    def text(self) -> str:
        """``1 segment, 4 ports, 1 subnet``."""
        return ", ".join(f"{n} {what}{'' if n == 1 else 's'}" for n, what in (
            (self.segments, "segment"), (self.ports, "port"), (self.subnets, "subnet")))


def _note(tier1s: int, segments: int) -> str:
    return (f"({tier1s} tier-1s collapsed, {segments} segments; -n NS expands a namespace, "
            "--collapse none everything)")


def _collapsed_tree(view: TopologyView, match: Callable[[PolicyResource], bool] | None,
                    segments: int) -> list[str]:
    """One line per Tier-1 with its counts (and one for the segments on the Tier-0)."""
    lines: list[str] = []
    tier1s = 0
    for t0 in view.tier0s():
        lines.append(f"tier-0 {t0.id}  ({t0.ha_mode})")
        items: list[tuple[str, Summary]] = []
        for t1 in view.drawn_tier1s(t0.path, match):
            snat = t1.tag("ncp/snat_ip")
            items.append((f"tier-1 {t1.id}" + (f"  snat {snat}" if snat else ""),
                          view.summary(t1.path, match)))
        tier1s += len(items)
        on_t0 = view.summary(t0.path, match)
        if on_t0.segments:
            items.append(("segments on the tier-0", on_t0))
        for i, (label, counts) in enumerate(items):
            lines.append(f"{'└─' if i == len(items) - 1 else '├─'} {label}  {counts.text()}")
    lines.append(_note(tier1s, segments))
    return lines


def topology_tree(inv: Inventory, *, match: Callable[[PolicyResource], bool] | None = None,
                  max_ports: int = 8, collapse_over: int | None = COLLAPSE_OVER) -> list[str]:
    """Lines of an indented tree of the topology (only branches with matching objects);
    collapsed (a line per Tier-1 with its counts) beyond ``collapse_over`` segments."""
    view = TopologyView(inv)
    segment_count = view.collapsed(match, collapse_over)
    if segment_count is not None:
        return _collapsed_tree(view, match, segment_count)
    lines: list[str] = []

    def segments(gw: str, indent: str) -> None:
        segs = [s for s in view.segments(gw) if _keep(s, match)]
        for i, seg in enumerate(segs):
            last = i == len(segs) - 1
            subnets = ", ".join(str(s.gateway_address) for s in seg.subnets)
            lines.append(f"{indent}{'└─' if last else '├─'} segment {seg.id}  [{subnets}]")
            child = indent + ("   " if last else "│  ")
            seg_ports = view.port_paths(seg.path)
            for j, p in enumerate(seg_ports[:max_ports]):
                end = j == len(seg_ports) - 1
                lines.append(f"{child}{'└─' if end else '├─'} port {_port_label(view.port(p))}")
            if len(seg_ports) > max_ports:
                lines.append(f"{child}└─ ... {len(seg_ports) - max_ports} more ports")

    for t0 in view.tier0s():
        lines.append(f"tier-0 {t0.id}  ({t0.ha_mode})")
        t1s = view.drawn_tier1s(t0.path, match)
        for i, t1 in enumerate(t1s):
            last = i == len(t1s) - 1
            snat = t1.tag("ncp/snat_ip")
            lines.append(f"{'└─' if last else '├─'} tier-1 {t1.id}"
                         + (f"  snat {snat}" if snat else ""))
            segments(t1.path, "   " if last else "│  ")
        segments(t0.path, "   ")
    return lines


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lines(*lines: str) -> str:
    """A quoted DOT label of ``lines``, joined by DOT's ``\\n`` (one line of DOT per node)."""
    return '"' + "\\n".join(_q(line)[1:-1] for line in lines) + '"'


_DOT_HEAD = ["digraph topology {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [arrowhead=none, color="#555555"];']


def _tier0_node(t0: Tier0) -> str:
    return (f"  {_q(t0.path)} [shape=doubleoctagon, style=filled, fillcolor=\"#fde68a\", "
            f"label={_q('Tier-0 ' + t0.id)}];")


def _grid(nodes: list[str]) -> list[str]:
    """Invisible edges that lay ``nodes`` out in rows (left to right, in order) of about
    the square root of their number, each row below the one before (a chain through the
    rows' first nodes: an edge per column would triple Graphviz's time)."""
    width = max(1, math.ceil(math.sqrt(len(nodes))))
    rows = [nodes[i:i + width] for i in range(0, len(nodes), width)]
    out = [f"    {{ rank=same; {' -> '.join(map(_q, row))} [style=invis]; }}"
           for row in rows if len(row) > 1]
    out += [f"    {_q(upper[0])} -> {_q(lower[0])} [style=invis];"
            for upper, lower in itertools.pairwise(rows)]
    return out


def _collapsed_dot(view: TopologyView, match: Callable[[PolicyResource], bool] | None,
                   segments: int) -> str:
    """Each Tier-0, and below it a box holding its Tier-1s as a grid of nodes with counts."""
    out = [*_DOT_HEAD[:2], "  compound=true;", *_DOT_HEAD[2:]]
    tier1s = 0
    for t0 in view.tier0s():
        out.append(_tier0_node(t0))
        nodes: list[str] = []
        body: list[str] = []
        for t1 in view.drawn_tier1s(t0.path, match):
            snat = t1.tag("ncp/snat_ip")
            label = _lines(f"Tier-1 {t1.id}", *([f"SNAT {snat}"] if snat else []),
                           view.summary(t1.path, match).text())
            body.append(f"    {_q(t1.path)} [shape=box, style=\"rounded,filled\", "
                        f"fillcolor=\"#bbf7d0\", label={label}];")
            nodes.append(t1.path)
        tier1s += len(nodes)
        on_t0 = view.summary(t0.path, match)
        if on_t0.segments:
            node = t0.path + "/segments"
            body.append(f"    {_q(node)} [shape=box, style=\"rounded,filled\", "
                        f"fillcolor=\"#dbeafe\", "
                        f"label={_lines('segments on the Tier-0', on_t0.text())}];")
            nodes.append(node)
        if not nodes:
            continue
        box = "cluster_" + t0.path
        out.append(f"  subgraph {_q(box)} {{")
        out.append(f"    label={_q(f'{len(nodes) - bool(on_t0.segments)} Tier-1s, collapsed')}; "
                   'style="rounded"; color="#9ca3af"; fontname="Helvetica"; fontsize=10;')
        out += body + _grid(nodes)
        out.append("  }")
        top = nodes[:max(1, math.ceil(math.sqrt(len(nodes))))]
        out.append(f"  {_q(t0.path)} -> {_q(top[len(top) // 2])} [lhead={_q(box)}];")
    out.append(f"  label={_q(_note(tier1s, segments))}; labelloc=b; fontname=\"Helvetica\"; "
               "fontsize=10;")
    out.append("}")
    return "\n".join(out) + "\n"


def topology_dot(inv: Inventory, *, match: Callable[[PolicyResource], bool] | None = None,
                 max_ports: int = 8, highlight: Collection[str] = (),
                 collapse_over: int | None = COLLAPSE_OVER) -> str:
    """Graphviz DOT of the topology: gateways, segments with subnets, ports; collapsed (a
    node per Tier-1 with its counts, in a grid) beyond ``collapse_over`` segments.

    With ``highlight`` (paths of the objects a traceflow went through) only those
    gateways, segments and ports are drawn, and the path is drawn in red.
    """
    view = TopologyView(inv)
    marked = set(highlight)
    if marked:
        match = lambda o: o.path in marked  # noqa: E731
        collapse_over = None
    segment_count = view.collapsed(match, collapse_over)
    if segment_count is not None:
        return _collapsed_dot(view, match, segment_count)

    def ports(seg: str) -> list[str]:
        return [p for p in view.port_paths(seg) if not marked or p in marked]

    def edge(a: str, b: str) -> str:
        style = ' [color="#dc2626", penwidth=2.5]' if a in marked and b in marked else ""
        return f"  {_q(a)} -> {_q(b)}{style};"
    out = list(_DOT_HEAD)

    def seg_nodes(gw: str) -> None:
        for seg in view.segments(gw):
            if not _keep(seg, match):
                continue
            subnets = "\\n".join(str(s.gateway_address) for s in seg.subnets)
            out.append(f"  {_q(seg.path)} [shape=box, style=\"rounded,filled\", "
                       f"fillcolor=\"#dbeafe\", label={_q(seg.id)[:-1]}\\n{subnets}\"];")
            out.append(edge(gw, seg.path))
            seg_ports = ports(seg.path)
            for p in map(view.port, seg_ports[:max_ports]):
                ip = str(p.address_bindings[0].ip_address) if p.address_bindings else ""
                out.append(f"  {_q(p.path)} [shape=note, fillcolor=\"#f3f4f6\", style=filled, "
                           f"label={_q((p.display_name or p.id) + chr(10) + ip)}];")
                out.append(edge(seg.path, p.path))
            if len(seg_ports) > max_ports:
                more = seg.path + "/more"
                out.append(f"  {_q(more)} [shape=plaintext, "
                           f"label={_q(f'... {len(seg_ports) - max_ports} more ports')}];")
                out.append(f"  {_q(seg.path)} -> {_q(more)};")

    for t0 in view.tier0s():
        out.append(_tier0_node(t0))
        for t1 in view.drawn_tier1s(t0.path, match):
            snat = t1.tag("ncp/snat_ip")
            label = f"Tier-1 {t1.id}" + (f"\nSNAT {snat}" if snat else "")
            out.append(f"  {_q(t1.path)} [shape=octagon, style=filled, fillcolor=\"#bbf7d0\", "
                       f"label={_q(label)}];")
            out.append(edge(t0.path, t1.path))
            seg_nodes(t1.path)
        seg_nodes(t0.path)
    out.append("}")
    return "\n".join(out) + "\n"
