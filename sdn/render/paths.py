"""``sdn path`` for the terminal: a table of hops, the path on one line, how it ends.

The table has one row per port, segment and gateway, in NSX's words, and says how the
packet goes on from each: the link it takes and the prefix that sends it there (a
``connected`` segment subnet, a prefix a Tier-1 ``advertised`` to the Tier-0, a
``default`` route, the ``uplink``). Five short columns, so it fits a terminal; on a narrow
one long names fold.
"""

from __future__ import annotations

from sdn.graph import Relation
from sdn.graph.paths import Hop, PathEnd, PathStart, TopologyPath
from sdn.model import Inventory, Segment, SegmentPort

Row = list[str]

#: The ``resource_type`` of a hop as NSX's UI names it.
KIND_WORDS = {"SegmentPort": "segment port", "Segment": "segment", "Tier1": "Tier-1",
              "Tier0": "Tier-0"}


def hop_name(inv: Inventory, path: str) -> str:
    """How a hop is named: a pod's port as ``NS/POD``, anything else by its id."""
    obj = inv.get(path)
    if isinstance(obj, SegmentPort):
        return obj.display_name or obj.id
    return obj.id if obj is not None else path.rsplit("/", 1)[-1]


def _address(inv: Inventory, path: str) -> str:
    obj = inv.get(path)
    if isinstance(obj, SegmentPort):
        return ", ".join(str(b.ip_address) for b in obj.address_bindings)
    if isinstance(obj, Segment):
        return ", ".join(str(s.gateway_address) for s in obj.subnets)
    return ""


def _onward(hop: Hop, last: bool) -> str:
    """How the packet leaves a hop: the link it takes and the prefix that sends it."""
    prefix = str(hop.prefix) if hop.prefix is not None else ""
    match hop.relation:
        case None:
            return ""
        case Relation.SEGMENT if hop.kind == "SegmentPort":
            return "to its segment"
        case Relation.SEGMENT:
            return f"connected {prefix}"
        case Relation.GATEWAY:
            return "to its gateway"
        case Relation.PORT:
            return f"switched on {prefix}"
        case Relation.DOWNLINK:
            return f"advertised {prefix}"
        case Relation.UPLINK if last:
            return f"uplink {prefix}, out of NSX"
        case Relation.UPLINK:
            return f"default {prefix}"
    return hop.relation.value


def path_rows(inv: Inventory, path: TopologyPath) -> tuple[Row, list[Row]]:
    """Header and one row per hop."""
    rows = []
    for i, hop in enumerate(path.hops, start=1):
        rows.append([str(i), KIND_WORDS.get(hop.kind, hop.kind), hop_name(inv, hop.path),
                     _address(inv, hop.path), _onward(hop, i == len(path.hops))])
    return ["#", "HOP", "NAME", "ADDRESS", "ONWARD"], rows


def path_line(inv: Inventory, path: TopologyPath) -> str:
    """The path as one line, as ``sdn traceflow`` draws a packet's way."""
    tokens = ["outside ─▶"] if path.start is PathStart.UPLINK else []
    names = [hop_name(inv, h.path) for h in path.hops]
    tokens += [f"{n} ─▶" for n in names[:-1]]
    if names:
        mark = {PathEnd.SEGMENT_PORT: " ✓", PathEnd.GATEWAY_INTERFACE: " ✓",
                PathEnd.EXITS_NETWORK: " ─▶ ↗ outside"}.get(path.end, " ✗")
        tokens.append(names[-1] + mark)
    else:
        tokens.append("✗")
    return " ".join(tokens)


def path_summary(inv: Inventory, path: TopologyPath) -> str:
    """How the path ends, in a sentence."""
    dst = path.destination
    if not path.hops:
        return f"NO_ROUTE: no Tier-0 routes {dst} inside NSX"
    last = hop_name(inv, path.hops[-1].path)
    match path.end:
        case PathEnd.SEGMENT_PORT:
            return f"SEGMENT_PORT: reaches {last} ({dst})"
        case PathEnd.GATEWAY_INTERFACE:
            return f"GATEWAY_INTERFACE: reaches {last}'s interface {dst}"
        case PathEnd.ARP_FAIL:
            return f"ARP_FAIL: {dst} is on {last}, but no port there has it"
        case PathEnd.EXITS_NETWORK:
            return f"EXITS_NETWORK: {dst} is outside NSX; leaves through {last}'s uplink"
    kind = path.hops[-1].kind
    why = {"Segment": "the segment has no gateway", "Tier1": "the Tier-1 has no Tier-0",
           "SegmentPort": "the port is on no segment"}.get(kind, "no route")
    return f"NO_ROUTE at {last}: {why}"


__all__ = ["KIND_WORDS", "hop_name", "path_line", "path_rows", "path_summary"]
