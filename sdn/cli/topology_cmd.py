"""``sdn topology``: draw the topology as a terminal tree, DOT or SVG."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from sdn.cli.filters import check_scope, object_filter
from sdn.cli.questions import answers, open_index
from sdn.errors import SdnError
from sdn.render.output import print_text, write_output
from sdn.render.pictures import COLLAPSE_OVER, topology_dot, topology_tree


def collapse_over(args: argparse.Namespace) -> int | None:
    """``--collapse`` as the pictures take it: collapse beyond this many segments, or never
    (``none``, and a picture of one namespace, ``-n``)."""
    if args.namespace or args.collapse == "none":
        return None
    return 0 if args.collapse == "all" else COLLAPSE_OVER


@answers
def run(args: argparse.Namespace) -> int:
    """Draw; ``-o svg`` runs Graphviz's ``dot`` and says so clearly when it is missing."""
    match = object_filter(args)
    index = open_index(args)
    check_scope(index.store, args.cluster, [args.namespace] if args.namespace else [])
    inv = index.inventory()
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
