"""``sdn topology``: draw the topology as a terminal tree, DOT or SVG."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from sdn.cli.filters import check_scope, object_filter, wanted_tags
from sdn.cli.questions import answers, open_index
from sdn.errors import SdnError
from sdn.model import Inventory, PolicyResource, Segment
from sdn.query import QueryIndex
from sdn.query.lazy import LazyInventory
from sdn.render.output import print_text, write_output
from sdn.render.pictures import COLLAPSE_OVER, topology_dot, topology_tree
from sdn.store.codec import parse_stored


def collapse_over(args: argparse.Namespace) -> int | None:
    """``--collapse`` as the pictures take it: collapse beyond this many segments, or never
    (``none``, and a picture of one namespace, ``-n``)."""
    if args.namespace or args.collapse == "none":
        return None
    return 0 if args.collapse == "all" else COLLAPSE_OVER


def selected_topology(index: QueryIndex, tags: Sequence[tuple[str, str]],
                      match: Callable[[PolicyResource], bool]) -> Inventory:
    """The objects a picture of the ``tags`` selection reads, and no others: every Tier-0
    (each one is drawn), the selected Tier-1s and segments, the gateways those segments
    hang off, and the ports of those segments (a picture draws or counts all of them).

    Why: ``-n NS`` draws one namespace; parsing and linking the state's ten thousand
    ports to find its thirty cost seconds. SQLite picks the rows by their tags (as ``sdn
    show`` does) and ``match`` then decides on the parsed objects, so the picture drawn
    from this inventory is the one drawn from the whole state. Only for a revision known
    to be valid (a lazy inventory): else the whole state is parsed, and checked, as before.
    """
    store = index.store
    tier0s = [parse_stored(r) for r in store.rows(resource_type="Tier0")]
    tier1s = [o for o in map(parse_stored, store.rows_tagged("Tier1", tags)) if match(o)]
    segments = [o for o in map(parse_stored, store.rows_tagged("Segment", tags))
                if match(o) and isinstance(o, Segment)]
    known = {o.path for o in (*tier0s, *tier1s)}
    gateways = {s.connectivity_path for s in segments} - {None} - known
    tier1s += [parse_stored(r) for r in store.rows(resource_type="Tier1",
                                                   paths=(p for p in gateways if p))]
    ports = [parse_stored(r) for r in store.rows_referring(
        "SegmentPort", "parent_path", (s.path for s in segments))]
    return Inventory([*tier0s, *tier1s, *segments, *ports], revision=index.key.revision)


@answers
def run(args: argparse.Namespace) -> int:
    """Draw; ``-o svg`` runs Graphviz's ``dot`` and says so clearly when it is missing."""
    match = object_filter(args)
    index = open_index(args)
    check_scope(index.store, args.cluster, [args.namespace] if args.namespace else [])
    inv = index.inventory()
    if match is not None and isinstance(inv, LazyInventory):
        inv = selected_topology(index, wanted_tags(args), match)
    if args.output == "text":
        text = "\n".join(topology_tree(inv, match=match, max_ports=args.max_ports,
                                       collapse_over=collapse_over(args))) + "\n"
    else:
        text = topology_dot(inv, match=match, max_ports=args.max_ports,
                            collapse_over=collapse_over(args))
        if args.output == "svg":
            dot = shutil.which("dot")
            if dot is None:
                raise SdnError("-o svg needs Graphviz's `dot` (apt-get install graphviz); "
                               "-o dot prints the DOT source instead", code="GRAPHVIZ_MISSING")
            text = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True,
                                  check=True).stdout
    if args.out:
        write_output(Path(args.out), text)
    else:
        print_text(text)
    return 0
