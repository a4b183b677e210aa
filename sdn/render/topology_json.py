"""The topology as the web page draws it: a JSON tree, collapsed per Tier-1 at scale.

The same tree ``sdn topology`` draws (:class:`~sdn.render.pictures.TopologyView`: the
topology graph read top down, in path order), as data: each Tier-0 with its Tier-1s, each
gateway's segments with their subnets, each segment's ports with address and node.

Collapsing follows the picture's rule (``collapse`` ``auto``: more than
:data:`~sdn.render.pictures.COLLAPSE_OVER` segments in the whole tree; ``all``; ``none``):
a collapsed gateway carries only its counts (:class:`~sdn.render.pictures.Summary`, taken
on the graph's links, so no segment or port is parsed for it), and the page asks again with
``expand`` naming the gateways the user opened. Why the server collapses rather than the
page: at 2,500 namespaces the full tree is ten thousand ports, parsed and sent for
nothing; the collapsed one is a line per Tier-1, which keeps the first paint fast.
Every gateway carries its counts, collapsed or not, so the page can label it either way.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from sdn.model import Inventory, Segment, SegmentPort
from sdn.render.pictures import COLLAPSE_OVER, Summary, TopologyView

Collapse = Literal["auto", "all", "none"]


def _counts(s: Summary) -> dict[str, int]:
    return {"segments": s.segments, "ports": s.ports, "subnets": s.subnets}


def _port(p: SegmentPort) -> dict[str, Any]:
    return {"path": p.path, "id": p.id, "display_name": p.display_name or p.id,
            "ip": str(p.address_bindings[0].ip_address) if p.address_bindings else None,
            "node": p.tag("ncp/node_name")}


def _segment(view: TopologyView, seg: Segment) -> dict[str, Any]:
    return {"path": seg.path, "id": seg.id, "display_name": seg.display_name or seg.id,
            "subnets": [str(s.gateway_address) for s in seg.subnets],
            "ports": [_port(view.port(p)) for p in view.port_paths(seg.path)]}


def _gateway(view: TopologyView, path: str, expanded: bool) -> dict[str, Any]:
    """What every gateway carries: its counts, whether it is expanded, and then its
    segments (an empty list when collapsed: the counts say what is there)."""
    return {"counts": _counts(view.summary(path, None)), "expanded": expanded,
            "segments": [_segment(view, s) for s in view.segments(path)] if expanded else []}


def topology_json(inv: Inventory, *, collapse: Collapse = "auto",
                  expand: Collection[str] = ()) -> dict[str, Any]:
    """The tree: ``{"revision", "collapsed", "segment_count", "tier0s": [{"path", "id",
    "display_name", "ha_mode", "counts", "expanded", "segments", "tier1s": [{"path", "id",
    "display_name", "snat_ip", "counts", "expanded", "segments"}]}]}``; gateways in
    ``expand`` (paths) are expanded even in a collapsed tree."""
    view = TopologyView(inv)
    limit = {"auto": COLLAPSE_OVER, "all": 0, "none": None}[collapse]
    total = view.collapsed(None, limit)
    opened = set(expand)

    def expanded(path: str) -> bool:
        return total is None or path in opened

    tier0s = []
    for t0 in view.tier0s():
        tier1s = [{"path": t1.path, "id": t1.id, "display_name": t1.display_name or t1.id,
                   "snat_ip": t1.tag("ncp/snat_ip"), **_gateway(view, t1.path, expanded(t1.path))}
                  for t1 in view.tier1s(t0.path)]
        tier0s.append({"path": t0.path, "id": t0.id, "display_name": t0.display_name or t0.id,
                       "ha_mode": t0.ha_mode, **_gateway(view, t0.path, expanded(t0.path)),
                       "tier1s": tier1s})
    segments = total if total is not None else sum(
        t["counts"]["segments"] + sum(t1["counts"]["segments"] for t1 in t["tier1s"])
        for t in tier0s)
    return {"revision": inv.revision, "collapsed": total is not None,
            "segment_count": segments, "tier0s": tier0s}
