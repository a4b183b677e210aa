"""The topology pictures are drawn from the graph, and look as they always did.

``golden/pictures/`` holds the pictures of a hand-made topology with every odd corner
the graph shapes (a Tier-1 without a Tier-0, a Tier-1 naming a missing Tier-0, a segment
without a gateway, a segment on the Tier-0 itself, a segment naming a missing gateway, a
port whose segment is missing, more ports than ``max_ports``), as the pictures were
before they were read from the graph (the samples' pictures are not pinned here: they
change with what ``ncp`` translates, which is not this module's business; the e2e tests
check their content). Regenerate after an intended change with
``UPDATE_GOLDEN=1 python -m pytest tests/sdn/graph/test_pictures.py`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sdn.graph import clear_graph_cache, graph_for
from sdn.model import Inventory, PolicyResource, Tier0, Tier1, port_path, segment_path, tier1_path
from sdn.render.pictures import topology_dot, topology_tree
from tests.support.builders import T0, port, segment, tier1

GOLDEN = Path(__file__).parent / "golden" / "pictures"


def odd_topology() -> Inventory:
    """Two Tier-1s on a Tier-0 (one with ports past ``max_ports``), corners around them."""
    objs: list[PolicyResource] = [
        Tier0(id="t0", path=T0),
        tier1("ns-a"),
        tier1("ns-b"),
        tier1("lone", t0=None),
        Tier1(id="stray", path=tier1_path("stray"), tier0_path="/infra/tier-0s/missing"),
        segment("seg-a", tier1_path("ns-a"), "10.0.1.0/24"),
        segment("seg-b", tier1_path("ns-b"), "10.0.2.0/24", "10.0.3.0/24"),
        segment("nodes", T0, "192.168.0.0/24"),
        segment("iso", None, "10.9.0.0/24"),
        segment("lone-seg", tier1_path("lone"), "172.16.0.0/24"),
        segment("dangling", "/infra/tier-1s/missing", "172.17.0.0/24"),
        port("nodes", "node-1", "192.168.0.10"),
        port("seg-b", "b1", "10.0.2.10", "10.0.3.10"),
        port("seg-b", "b0"),
        port("iso", "iso-1", "10.9.0.10"),
        port("ghost", "g1", "10.8.0.10"),
        port("lone-seg", "l1", "172.16.0.10"),
    ]
    objs += [port("seg-a", f"a{i}", f"10.0.1.{10 + i}") for i in range(5)]
    return Inventory(objs)


def _in(*names: str) -> Callable[[PolicyResource], bool]:
    return lambda o: o.id in names


HIGHLIGHT = [port_path("seg-a", "a1"), segment_path("seg-a"), tier1_path("ns-a"), T0,
             tier1_path("ns-b"), segment_path("seg-b"), port_path("seg-b", "b1")]

#: name -> the picture.
CASES: dict[str, Callable[[Inventory], str]] = {
    "tree.txt": lambda inv: "\n".join(topology_tree(inv)) + "\n",
    "tree-max-ports-2.txt": lambda inv: "\n".join(topology_tree(inv, max_ports=2)) + "\n",
    "tree-match.txt": lambda inv: "\n".join(
        topology_tree(inv, match=_in("seg-b", "nodes", "ns-a"))) + "\n",
    "dot.dot": topology_dot,
    "dot-max-ports-0.dot": lambda inv: topology_dot(inv, max_ports=0),
    "dot-match.dot": lambda inv: topology_dot(inv, match=_in("seg-a", "lone-seg")),
    "dot-highlight.dot": lambda inv: topology_dot(inv, highlight=HIGHLIGHT, max_ports=64),
}


@pytest.mark.parametrize("name", list(CASES))
def test_picture_is_unchanged(name: str) -> None:
    text = CASES[name](odd_topology())
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_picture_reads_the_cached_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing goes through the revision's graph: drawing twice builds it once, and what
    the graph leaves out (a port whose segment is missing) is not drawn."""
    import sdn.graph.build as build

    clear_graph_cache()
    calls: list[int] = []
    real = build.build_graph
    monkeypatch.setattr(build, "build_graph", lambda inv: calls.append(1) or real(inv))
    inv = odd_topology()
    tree = topology_tree(inv)
    dot = topology_dot(inv)
    assert calls == [1]
    assert port_path("ghost", "g1") not in graph_for(inv)
    assert "g1" not in "\n".join(tree) and "ghost" not in dot
