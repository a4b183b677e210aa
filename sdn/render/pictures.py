"""Pictures of the topology: a tree for the terminal and Graphviz DOT.

Both draw the same thing, top down, from the topology graph (:mod:`sdn.graph`): Tier-0,
its Tier-1s (its ``downlink`` links), their segments with subnets (``segment`` links), and
the ports with their addresses (``port`` links), each level in path order. What the graph
leaves out is not drawn: a Tier-1 whose Tier-0 does not exist, a segment without a
gateway, a port without its segment. Large clusters are summarised (``--max-ports``) so a
picture stays readable; the full data is in ``sdn show``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from sdn.graph import Relation, graph_for, linked, nodes_of
from sdn.model import Inventory, PolicyResource, Segment, SegmentPort, Tier0, Tier1


def _keep(obj: PolicyResource, match: Callable[[PolicyResource], bool] | None) -> bool:
    return match is None or match(obj)


def _port_label(p: SegmentPort) -> str:
    ip = str(p.address_bindings[0].ip_address) if p.address_bindings else "no address"
    node = p.tag("ncp/node_name")
    return f"{p.display_name or p.id}  {ip}" + (f"  @{node}" if node else "")


class _View:
    """The topology graph (:func:`sdn.graph.graph_for`) read top down, in path order."""

    def __init__(self, inv: Inventory) -> None:
        self.graph = graph_for(inv)

    def tier0s(self) -> list[Tier0]:
        return nodes_of(self.graph, Tier0)

    def tier1s(self, t0: str) -> list[Tier1]:
        return linked(self.graph, t0, Relation.DOWNLINK, Tier1)

    def segments(self, gateway: str) -> list[Segment]:
        return linked(self.graph, gateway, Relation.SEGMENT, Segment)

    def ports(self, segment: str) -> list[SegmentPort]:
        return linked(self.graph, segment, Relation.PORT, SegmentPort)


def topology_tree(inv: Inventory, *, match: Callable[[PolicyResource], bool] | None = None,
                  max_ports: int = 8) -> list[str]:
    """Lines of an indented tree of the topology (only branches with matching objects)."""
    view = _View(inv)
    lines: list[str] = []

    def segments(gw: str, indent: str) -> None:
        segs = [s for s in view.segments(gw) if _keep(s, match)]
        for i, seg in enumerate(segs):
            last = i == len(segs) - 1
            subnets = ", ".join(str(s.gateway_address) for s in seg.subnets)
            lines.append(f"{indent}{'└─' if last else '├─'} segment {seg.id}  [{subnets}]")
            child = indent + ("   " if last else "│  ")
            seg_ports = view.ports(seg.path)
            for j, p in enumerate(seg_ports[:max_ports]):
                end = j == len(seg_ports) - 1
                lines.append(f"{child}{'└─' if end else '├─'} port {_port_label(p)}")
            if len(seg_ports) > max_ports:
                lines.append(f"{child}└─ ... {len(seg_ports) - max_ports} more ports")

    for t0 in view.tier0s():
        lines.append(f"tier-0 {t0.id}  ({t0.ha_mode})")
        t1s = [t for t in view.tier1s(t0.path)
               if _keep(t, match) or any(_keep(s, match) for s in view.segments(t.path))]
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


def topology_dot(inv: Inventory, *, match: Callable[[PolicyResource], bool] | None = None,
                 max_ports: int = 8, highlight: Collection[str] = ()) -> str:
    """Graphviz DOT of the topology: gateways, segments with subnets, ports.

    With ``highlight`` (paths of the objects a traceflow went through) only those
    gateways, segments and ports are drawn, and the path is drawn in red.
    """
    view = _View(inv)
    marked = set(highlight)
    if marked:
        match = lambda o: o.path in marked  # noqa: E731

    def ports(seg: str) -> list[SegmentPort]:
        return [p for p in view.ports(seg) if not marked or p.path in marked]

    def edge(a: str, b: str) -> str:
        style = ' [color="#dc2626", penwidth=2.5]' if a in marked and b in marked else ""
        return f"  {_q(a)} -> {_q(b)}{style};"
    out = ["digraph topology {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];',
           '  edge [arrowhead=none, color="#555555"];']

    def seg_nodes(gw: str) -> None:
        for seg in view.segments(gw):
            if not _keep(seg, match):
                continue
            subnets = "\\n".join(str(s.gateway_address) for s in seg.subnets)
            out.append(f"  {_q(seg.path)} [shape=box, style=\"rounded,filled\", "
                       f"fillcolor=\"#dbeafe\", label={_q(seg.id)[:-1]}\\n{subnets}\"];")
            out.append(edge(gw, seg.path))
            seg_ports = ports(seg.path)
            for p in seg_ports[:max_ports]:
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
        out.append(f"  {_q(t0.path)} [shape=doubleoctagon, style=filled, fillcolor=\"#fde68a\", "
                   f"label={_q('Tier-0 ' + t0.id)}];")
        for t1 in view.tier1s(t0.path):
            if not (_keep(t1, match) or any(_keep(s, match) for s in view.segments(t1.path))):
                continue
            snat = t1.tag("ncp/snat_ip")
            label = f"Tier-1 {t1.id}" + (f"\nSNAT {snat}" if snat else "")
            out.append(f"  {_q(t1.path)} [shape=octagon, style=filled, fillcolor=\"#bbf7d0\", "
                       f"label={_q(label)}];")
            out.append(edge(t0.path, t1.path))
            seg_nodes(t1.path)
        seg_nodes(t0.path)
    out.append("}")
    return "\n".join(out) + "\n"
