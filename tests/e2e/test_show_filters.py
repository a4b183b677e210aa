"""``sdn show KIND --cluster/--namespace/--tag`` prints exactly what filtering the whole
listing prints (issue 12: the filters now reach the store, and a table reads only the
objects its columns count for the rows it shows).

The reference is computed here the way ``sdn show`` did before: every row of the kind
parsed, filtered in Python, and for a table the columns counted over the whole state.
Every kind, on three bundled samples synced into one state (three clusters), with
every namespace, every cluster, and tags of several scopes, as tables and JSON (YAML
prints the same list).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from sdn.cli.options import KIND_NAMES
from sdn.model import KINDS, PolicyResource
from sdn.model.apishape import api_object, child_paths
from sdn.render.output import print_data, print_table
from sdn.render.tables import table_for
from sdn.store import Store
from sdn.store.codec import parse_stored


@pytest.fixture(scope="module")
def everything(clusters_state: Path) -> dict[str, PolicyResource]:
    """Every object of the state, parsed once (by path, in path order)."""
    with Store.open_readonly(clusters_state) as store:
        return {r.path: parse_stored(r) for r in store.rows()}


def _reference(everything: dict[str, PolicyResource], kind: str,
               wanted: list[tuple[str, str]], output: str, state: Path) -> str:
    objs = [o for o in everything.values() if o.resource_type == KINDS[kind]
            and all(w in {(t.scope, t.tag) for t in o.tags} for w in wanted)]
    out = io.StringIO()
    with redirect_stdout(out):
        if output == "table":
            header, rows = table_for(KINDS[kind], objs, list(everything.values()))
            print_table(header, rows, title=f"{kind}: {len(objs)}")
        else:
            with Store.open_readonly(state) as store:
                metas = store.object_meta(p for o in objs for p in (o.path, *child_paths(o)))
            print_data([api_object(o, metas) for o in objs], output)
    return out.getvalue()


def _argv(wanted: list[tuple[str, str]]) -> list[str]:
    argv: list[str] = []
    for scope, value in wanted:
        if scope == "ncp/cluster":
            argv += ["--cluster", value]
        elif scope == "ncp/project":
            argv += ["-n", value]
        else:
            argv += ["--tag", f"{scope}={value}"]
    return argv


@pytest.fixture(scope="module")
def clusters_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guestbook and the multi-tenant sample (and the LB-heavy one), as three
    clusters in one state."""
    import ncp.cli

    root = Path(__file__).resolve().parents[2] / "topologies"
    state = tmp_path_factory.mktemp("show-filters") / "state.db"
    for sample in ("guestbook", "multi-tenant", "lb-heavy"):
        out = io.StringIO()
        with redirect_stdout(out):
            code = ncp.cli.main(["sync", "--cluster", str(root / sample), "--cluster-name",
                                 sample, "--state", str(state), "--now", "1700000000",
                                 "-o", "json"])
        assert code in (0, 1), out.getvalue()[-500:]
    return state


@pytest.fixture(scope="module")
def filters(clusters_state: Path, everything: dict[str, PolicyResource]) -> list[Any]:
    """Every cluster, every namespace (a few with their cluster, one with another
    cluster), tags of other scopes, and filters that select nothing."""
    with Store.open_readonly(clusters_state) as store:
        namespaces = sorted(store.namespaces())
    tags = sorted({(t.scope, t.tag) for o in everything.values() for t in o.tags
                   if t.scope not in ("ncp/cluster", "ncp/project")})
    clusters = sorted({c for c, _ in namespaces})
    return [*([("ncp/cluster", c)] for c in clusters),
            *([("ncp/project", n)] for _, n in namespaces),
            *([("ncp/cluster", c), ("ncp/project", n)] for c, n in namespaces[::4]),
            [("ncp/cluster", clusters[0]), ("ncp/project", namespaces[-1][1])],
            *([t] for t in tags[::max(1, len(tags) // 6)]),
            [("ncp/project", "gone")], [("nope", "")]]


def test_the_samples_hold_what_the_filters_select(everything: dict[str, PolicyResource],
                                                  filters: list[Any]) -> None:
    """Each table that counts other objects has rows a cluster's filter selects."""
    assert len(filters) > 15
    for rtype in ("Tier1", "Segment", "LBService", "LBVirtualServer"):
        assert any(o.resource_type == rtype and o.tag("ncp/cluster") for o in
                   everything.values()), rtype


@pytest.mark.parametrize("output", ["table", "json"])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_a_filtered_show_prints_what_filtering_everything_prints(
        cli: Any, clusters_state: Path, everything: dict[str, PolicyResource],
        filters: list[Any], kind: str, output: str) -> None:
    for wanted in filters:
        res = cli.sdn("show", kind, "-o", output, *_argv(wanted), "--state", clusters_state)
        assert res.code == 0, res.err
        assert res.out == _reference(everything, kind, wanted, output, clusters_state), (
            kind, wanted)
