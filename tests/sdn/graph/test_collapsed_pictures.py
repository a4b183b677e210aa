"""Large topologies are drawn collapsed: one node per Tier-1 with its counts.

The counts are checked against the inventory read directly (segments by
``connectivity_path``, ports by ``parent_path``), not against the graph the pictures are
drawn from. ``golden/pictures/collapsed-*`` pin a hand-made mid-size topology (60 Tier-1s
and a few odd corners: a Tier-1 with two segments, one with none, a segment with two
subnets, segments on the Tier-0, a Tier-1 with a SNAT tag); regenerate them as
``test_pictures.py`` says.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ncp.reconcile.sync import sync_cluster
from sdn.cli.main import main
from sdn.model import (
    Inventory,
    PolicyResource,
    Segment,
    SegmentPort,
    Tag,
    Tier0,
    Tier1,
    tier1_path,
)
from sdn.render.pictures import COLLAPSE_OVER, topology_dot, topology_tree
from sdn.store import Store
from tests.support.builders import T0, port, segment, tier1
from tests.support.clusters import config, manifests
from topologies.generate import generate_cluster

GOLDEN = Path(__file__).parent / "golden" / "pictures"
#: A Tier-1 line of the collapsed tree: its id, then its counts.
TREE_LINE = re.compile(r"^[├└]─ tier-1 (\S+)(?:  snat \S+)?  (\d+) segments?, (\d+) ports?, "
                       r"(\d+) subnets?$")
#: A collapsed Tier-1 node of the DOT.
DOT_NODE = re.compile(r'^    "(/infra/tier-1s/[^"]+)" \[.*label="[^"]*\\n(\d+) segments?, '
                      r'(\d+) ports?, (\d+) subnets?"\];$')


def mid_topology() -> Inventory:
    """60 Tier-1s with a segment each (ports 0..4), and corners."""
    objs: list[PolicyResource] = [Tier0(id="t0", path=T0)]
    for i in range(60):
        name = f"ns-{i:02d}"
        objs += [tier1(name), segment(f"seg-{name}", tier1_path(name), f"10.0.{i}.0/24")]
        objs += [port(f"seg-{name}", f"p{j}", f"10.0.{i}.{10 + j}") for j in range(i % 5)]
    objs += [
        Tier1(id="snat", path=tier1_path("snat"), tier0_path=T0,
              tags=(Tag(scope="ncp/snat_ip", tag="198.18.0.9"),)),
        tier1("two"), tier1("empty"),
        segment("two-a", tier1_path("two"), "10.1.0.0/24", "10.1.1.0/24"),
        segment("two-b", tier1_path("two"), "10.1.2.0/24"),
        segment("uplink-a", T0, "192.168.0.0/24"), segment("uplink-b", T0, "192.168.1.0/24"),
        port("two-a", "x", "10.1.0.10"), port("uplink-a", "n1", "192.168.0.10"),
    ]
    return Inventory(objs)


CASES = {
    "collapsed-tree.txt": lambda inv: "\n".join(topology_tree(inv)) + "\n",
    "collapsed-dot.dot": topology_dot,
}


@pytest.mark.parametrize("name", list(CASES))
def test_mid_size_picture_is_unchanged(name: str) -> None:
    text = CASES[name](mid_topology())
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_threshold() -> None:
    """Up to COLLAPSE_OVER segments the picture is expanded; ``0`` always collapses and
    ``None`` never does; a highlighted path is never collapsed."""
    inv = mid_topology()
    assert len(inv.of_type(Segment)) > COLLAPSE_OVER
    assert "segment seg-ns-00" not in "\n".join(topology_tree(inv))
    assert "segment seg-ns-00" in "\n".join(topology_tree(inv, collapse_over=None))
    assert "segment seg-ns-00" in "\n".join(topology_tree(inv, collapse_over=70))
    small = Inventory([Tier0(id="t0", path=T0), tier1("a"), segment("s", tier1_path("a"))])
    assert topology_tree(small, collapse_over=0)[-1].startswith("(1 tier-1s collapsed")
    assert "compound=true" not in topology_dot(inv, highlight=[T0, tier1_path("ns-01")],
                                               collapse_over=0)


# --- a generated cluster, synced ------------------------------------------------------------


@pytest.fixture(scope="module", params=[False, True], ids=["tier1-per-namespace", "shared"])
def synced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, Inventory]:
    """120 namespaces / 400 pods, in either NCP topology."""
    state = tmp_path_factory.mktemp("collapsed") / "state.db"
    objs = generate_cluster(namespaces=120, pods=400, seed=3, nodes=4)
    with Store.open(state) as store:
        sync_cluster(store, manifests=manifests(*objs),
                     config=config(single_tier_topology=request.param), now=1)
        return state, store.inventory()


def expected_counts(inv: Inventory) -> dict[str, tuple[int, int, int]]:
    """Per Tier-1 id: its segments, their ports, their subnets (from the inventory)."""
    segs: Counter[str] = Counter()
    ports: Counter[str] = Counter()
    subnets: Counter[str] = Counter()
    owner = {s.path: s.connectivity_path for s in inv.of_type(Segment)}
    for s in inv.of_type(Segment):
        segs[s.connectivity_path or ""] += 1
        subnets[s.connectivity_path or ""] += len(s.subnets)
    for p in inv.of_type(SegmentPort):
        ports[owner.get(p.parent_path or "") or ""] += 1
    return {t.id: (segs[t.path], ports[t.path], subnets[t.path]) for t in inv.of_type(Tier1)}


def test_one_line_per_tier1_with_its_counts(synced: tuple[Path, Inventory]) -> None:
    _, inv = synced
    lines = topology_tree(inv)
    found = {m[1]: (int(m[2]), int(m[3]), int(m[4]))
             for m in map(TREE_LINE.match, lines) if m}
    assert found == expected_counts(inv)
    assert len(lines) == 1 + len(found) + 1  # the Tier-0, the Tier-1s, the note


def test_one_node_per_tier1_with_its_counts(synced: tuple[Path, Inventory]) -> None:
    _, inv = synced
    dot = topology_dot(inv)
    found = {m[1].rsplit("/", 1)[1]: (int(m[2]), int(m[3]), int(m[4]))
             for m in map(DOT_NODE.match, dot.splitlines()) if m}
    assert found == expected_counts(inv)
    assert "/infra/segments/" not in dot  # nothing below a Tier-1 is a node of its own
    if shutil.which("dot"):  # Graphviz reads it
        svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True,
                             check=True).stdout
        assert svg.count('class="node"') == len(found) + 1  # and the Tier-0


def _sdn(capsys: pytest.CaptureFixture[str], *argv: Any) -> str:
    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


def test_namespace_is_expanded_exactly(synced: tuple[Path, Inventory],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``-n NS`` draws that namespace's segments and every one of its ports, nothing of
    any other namespace, whatever ``--collapse`` says."""
    state, inv = synced
    ns = "ns-00007"
    mine = [p for p in inv.of_type(SegmentPort) if p.tag("ncp/project") == ns]
    assert mine
    for flags in ((), ("--collapse", "all")):
        out = _sdn(capsys, "topology", "-n", ns, "--max-ports", 100, "--state", state, *flags)
        assert "collapsed" not in out
        drawn = [line for line in out.splitlines() if " port " in line]
        assert len(drawn) == len(mine)
        assert all(f"port {ns}/" in line for line in drawn)
        segs = re.findall(r"segment (\S+)", out)
        assert segs == [s.id for s in inv.of_type(Segment) if s.tag("ncp/project") == ns]
        dot = _sdn(capsys, "topology", "-n", ns, "-o", "dot", "--max-ports", 100,
                   "--state", state, *flags)
        assert sorted(re.findall(r'"(/infra/segments/[^"]+/ports/[^"]+)" \[', dot)) == sorted(
            p.path for p in mine)


def test_collapse_flag(synced: tuple[Path, Inventory],
                       capsys: pytest.CaptureFixture[str]) -> None:
    state, inv = synced
    collapsed = _sdn(capsys, "topology", "--state", state)
    assert collapsed.splitlines()[-1].startswith(f"({len(inv.of_type(Tier1))} tier-1s")
    assert _sdn(capsys, "topology", "--collapse", "all", "--state", state) == collapsed
    expanded = _sdn(capsys, "topology", "--collapse", "none", "--state", state)
    assert "collapsed" not in expanded
    assert all(f"segment {s.id} " in expanded for s in inv.of_type(Segment))
