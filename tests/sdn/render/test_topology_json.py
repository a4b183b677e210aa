"""The web page's topology tree (:func:`sdn.render.topology_json.topology_json`) on the
hand-made mid-size topology of the collapsed pictures' tests (60 Tier-1s and odd
corners): collapsed per Tier-1 beyond COLLAPSE_OVER segments with the counts the
inventory gives directly, expanded where asked, whole when small or ``none``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from sdn.model import Inventory, Segment, SegmentPort, tier1_path
from sdn.render.topology_json import Collapse, topology_json
from tests.sdn.graph.test_collapsed_pictures import mid_topology
from tests.support.builders import T0


def _by_gateway(inv: Inventory) -> dict[str, dict[str, list[str]]]:
    """gateway -> segment -> its port paths, read from the objects' own references."""
    ports: dict[str, list[str]] = defaultdict(list)
    for p in inv.of_type(SegmentPort):
        ports[p.parent_path or ""].append(p.path)
    out: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for s in inv.of_type(Segment):
        if s.connectivity_path:
            out[s.connectivity_path][s.path] = sorted(ports[s.path])
    return out


def _gateways(tree: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for t0 in tree["tier0s"] for g in (t0, *t0["tier1s"])]


def _drawn(gateway: dict[str, Any]) -> dict[str, list[str]]:
    return {s["path"]: sorted(p["path"] for p in s["ports"]) for s in gateway["segments"]}


def test_mid_size_tree_is_collapsed_with_the_inventorys_counts() -> None:
    inv = mid_topology()
    expected = _by_gateway(inv)
    tree = topology_json(inv)
    assert tree["collapsed"] is True
    assert tree["segment_count"] == sum(len(s) for s in expected.values())
    for g in _gateways(tree):
        segments = expected.get(g["path"], {})
        assert (g["expanded"], g["segments"]) == (False, [])
        assert g["counts"]["segments"] == len(segments)
        assert g["counts"]["ports"] == sum(len(p) for p in segments.values())


def test_expanding_opens_exactly_the_named_gateways() -> None:
    inv = mid_topology()
    expected = _by_gateway(inv)
    wanted = [tier1_path("two"), T0]
    tree = topology_json(inv, expand=wanted)
    opened = {g["path"]: _drawn(g) for g in _gateways(tree) if g["expanded"]}
    assert sorted(opened) == sorted(wanted)
    assert opened == {p: expected[p] for p in wanted}


@pytest.mark.parametrize(("collapse", "collapsed"), [("none", False), ("all", True),
                                                     ("auto", True)])
def test_collapse_setting(collapse: Collapse, collapsed: bool) -> None:
    inv = mid_topology()
    tree = topology_json(inv, collapse=collapse)
    assert tree["collapsed"] is collapsed
    if not collapsed:
        assert {g["path"]: _drawn(g) for g in _gateways(tree) if g["segments"]} \
            == _by_gateway(inv)
