"""Property: a picture of a selection (``sdn topology -n NS``, ``--cluster``, ``--tag``)
drawn from only the objects :func:`~sdn.cli.topology_cmd.selected_topology` reads is the
picture drawn from the whole state, in every format and collapse setting; and the command
reads the selection only on a revision known to be valid."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdn.cli
from sdn.cli.filters import object_filter, wanted_tags
from sdn.cli.topology_cmd import selected_topology
from sdn.model import Segment
from sdn.query import QueryIndex
from sdn.query.lazy import LazyInventory
from sdn.render.pictures import topology_dot, topology_tree
from sdn.store import Store
from tests.support.cli_runs import run_main, sync_sample
from tests.support.clusters import sync_generated
from topologies.generate import generate_cluster


def _selections(inv: Any) -> list[dict[str, Any]]:
    """``-n`` for every namespace (and with ``--cluster``), a ``--tag`` no object has,
    and ``--cluster`` alone."""
    found = sorted({(s.tag("ncp/cluster"), ns) for s in inv.of_type(Segment)
                    if (ns := s.tag("ncp/project"))}, key=str)
    out: list[dict[str, Any]] = [{"namespace": ns, "cluster": None, "tag": []}
                                 for _, ns in found]
    out += [{"namespace": ns, "cluster": c, "tag": []} for c, ns in found[:2]]
    out += [{"namespace": None, "cluster": c, "tag": []} for c in {c for c, _ in found}]
    out.append({"namespace": None, "cluster": None, "tag": ["ncp/project=no-such"]})
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(0, 12),
       nodes=st.integers(0, 3), single_tier=st.booleans(),
       collapse=st.sampled_from([None, 0, 1, 50]), max_ports=st.sampled_from([0, 2, 8]))
def test_a_selection_draws_what_the_whole_state_draws(
        tmp_path_factory: Any, seed: int, namespaces: int, pods: int, nodes: int,
        single_tier: bool, collapse: int | None, max_ports: int) -> None:
    objs = generate_cluster(namespaces=namespaces, pods=pods, seed=seed, nodes=nodes)
    state = Path(tmp_path_factory.mktemp("pictures")) / "state.db"
    whole = sync_generated(state, objs, single_tier_topology=single_tier)
    with QueryIndex.open(state) as index:
        for selection in _selections(whole):
            args = argparse.Namespace(**selection)
            match = object_filter(args)
            assert match is not None
            part = selected_topology(index, wanted_tags(args), match)
            assert len(part) < len(whole) or not whole
            for draw in (topology_tree, topology_dot):
                assert draw(part, match=match, max_ports=max_ports, collapse_over=collapse) \
                    == draw(whole, match=match, max_ports=max_ports,
                            collapse_over=collapse), selection


def test_the_command_reads_the_selection_once_the_revision_is_known_valid(
        tmp_path: Path) -> None:
    """After a sync (which marks its revision valid) the command reads the selection;
    without the mark it parses (and checks) the whole state: the same picture."""
    state = tmp_path / "state.db"
    sync_sample(state, "multi-tenant")
    valid = state.parent / "state.db.idx" / "valid"
    with Store.open_readonly(state) as store:
        cluster = store.clusters()[0].name
    for argv in (["-n", "shop"], ["-n", "payments", "-o", "dot"],
                 ["--collapse", "all", "--cluster", cluster], ["--cluster", cluster, "-o", "dot"]):
        first = run_main(sdn.cli.main, "--state", state, "topology", *argv)
        with QueryIndex.open(state) as index:
            assert isinstance(index.inventory(), LazyInventory)  # the selection was read
        valid.unlink()
        whole = run_main(sdn.cli.main, "--state", state, "topology", *argv)
        assert first == whole and first[0] == 0 and "tier-1" in first[1].lower(), argv
        assert valid.exists()  # the whole parse marked the revision valid again
