"""``--at REV|TIME``: a question asked of the state as it was at a kept revision.

Shared by the questions that read a :class:`~sdn.traceflow.TraceContext` (``reach``,
``explain``, and ``connectivity``, which loads its firewall through :func:`context_at`):
the revision is resolved against the history (:mod:`sdn.store.past`: unknown revisions
and times are coded errors), the inventory at that revision rebuilt in memory from the
current one and the history, and its firewall compiled in memory. Nothing is written:
neither the state nor the query index beside it (which caches the current revision
only). The option itself is :func:`sdn.cli.options.add_at_option`.
"""

from __future__ import annotations

import argparse

from sdn.cli.filters import check_scope
from sdn.cli.questions import open_index
from sdn.model import Inventory
from sdn.store import past
from sdn.traceflow import TraceContext


def inventory_at(args: argparse.Namespace) -> tuple[Inventory, int]:
    """The inventory at ``args.at`` (the current one without it) and its revision."""
    index = open_index(args)
    check_scope(index.store, args.cluster, getattr(args, "namespace", None) or ())
    if getattr(args, "at", None) is None:
        return index.inventory(), index.key.revision
    revision = past.resolve(index.store, args.at)
    return past.inventory_at(index.store, revision), revision


def context_at(args: argparse.Namespace) -> tuple[TraceContext, int]:
    """The trace context at ``args.at`` (compiled in memory), and its revision; without
    ``--at`` the current one, through the query index as every question reads it."""
    if getattr(args, "at", None) is None:
        index = open_index(args)
        check_scope(index.store, args.cluster, getattr(args, "namespace", None) or ())
        return index.trace_context(getattr(args, "default_action", "ALLOW")), \
            index.key.revision
    inv, revision = inventory_at(args)
    return TraceContext.build(inv, default_action=getattr(args, "default_action", "ALLOW")), \
        revision
