"""What the web page asks, answered from the state through the query index: the
topology tree, IPAM usage, the DFW (searched), the pods, and a traceflow with the
topology nodes it crossed.

Why the query index and not the API's state view: these are the answers ``sdn
topology``, ``sdn ipam``, ``sdn traceflow`` give (the same code: :mod:`sdn.render.
topology_json`, :mod:`sdn.render.ipam_json`, :mod:`sdn.traceflow.asked`), and the index
keeps what they compute per revision beside the state (the topology graph, IPAM usage,
the compiled firewall, the lookups), so a page at 2,500 namespaces is answered without
parsing its ten thousand ports. Each answer opens the state at its current revision, so a
concurrent ``ncp sync`` or API write shows on the next one.

The topology tree is the page's first paint: it is kept per revision, collapse and
expanded set (:data:`TREE_CACHE_SIZE` of them), since reloading the page asks again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from sdn.graph import Relation, graph_for, linked_paths
from sdn.ipam import with_holds
from sdn.model import SecurityPolicy
from sdn.query import QueryIndex
from sdn.render.dfw_json import dfw_json, group_marks, pod_marks
from sdn.render.ipam_json import usage_json
from sdn.render.topology_json import Collapse, topology_json
from sdn.render.traces import path_objects
from sdn.traceflow.asked import ask, walk
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.results import Observation
from sdn.traceflow.walk import DEFAULT_RULE_ID, DEFAULT_RULE_PATH

#: How many topology trees :class:`UiAnswers` keeps (one per revision, collapse and
#: expanded set).
TREE_CACHE_SIZE = 8


def observation_node(o: Observation) -> str | None:
    """The topology node an observation happened at: the port for DFW, delivery and port
    observations, else the segment or gateway (None for a tunnel hop)."""
    return o.segment_port_path or o.component_path


class UiAnswers:
    """The page's answers over one state file."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self._trees: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()

    def _open(self) -> QueryIndex:
        return QueryIndex.open(self.state)

    def topology(self, collapse: Collapse, expand: Sequence[str]) -> dict[str, Any]:
        """The tree (:func:`~sdn.render.topology_json.topology_json`)."""
        with self._open() as index:
            key = (index.key, collapse, tuple(sorted(set(expand))))
            tree = self._trees.get(key)
            if tree is None:
                tree = topology_json(index.inventory(), collapse=collapse, expand=expand)
                self._trees[key] = tree
                while len(self._trees) > TREE_CACHE_SIZE:
                    self._trees.popitem(last=False)
            else:
                self._trees.move_to_end(key)
            return tree

    def ipam(self, now: float | None = None) -> dict[str, Any]:
        """``sdn ipam --show-blocks -o json`` (holds counted at ``now``)."""
        with self._open() as index:
            blocks, pools = with_holds(index.ipam_usage(), index.store.holds(),
                                       time.time() if now is None else now)
            return usage_json(blocks, pools, show_blocks=True)

    def dfw(self, pod: str | None = None, group: str | None = None,
            cluster: str | None = None) -> dict[str, Any]:
        """The DFW in NSX's order, narrowed to a pod's or a group's rules when asked, and
        the default rule evaluated after all of them (NSX's, not an object of the state).

        Raises:
            NotFoundError: an unknown pod or cluster.
        """
        with self._open() as index:
            inv = index.inventory()
            marks = None
            if pod:
                ctx = index.trace_context()
                port = ctx.port_by_name(pod, cluster)
                ep = ctx.dfw.endpoints_of([port.path]).get(port.path)
                marks = pod_marks(ctx.dfw, ep) if ep is not None else {}
            elif group:
                marks = group_marks(inv.of_type(SecurityPolicy), group)
            default = {"rule_id": DEFAULT_RULE_ID, "path": DEFAULT_RULE_PATH,
                       "action": index.dfw().default_action}
            return {"search": {"pod": pod, "group": group}, **dfw_json(inv, marks),
                    "default_rule": default}

    def pods(self) -> list[str]:
        """Every pod as the traceflow form names it: ``NS/POD``, or ``CLUSTER/NS/POD``
        when the state holds several clusters."""
        with self._open() as index:
            pods = index.trace_context().lookups.pods
            several = len({c for _, c, _, _ in pods}) > 1
            return sorted(f"{c}/{ns}/{pod}" if several else f"{ns}/{pod}"
                          for _, c, ns, pod in pods)

    def traceflow(self, src: str, dst: str, *, protocol: str, dport: int | None,
                  cluster: str | None = None) -> dict[str, Any]:
        """``sdn traceflow -o json`` for the question, plus where it went on the tree:
        ``nodes`` (each observation's topology node, or None), ``path`` (the ports,
        segments and gateways crossed, in order) and ``gateways`` (the gateways whose
        segments the path crosses: the page expands them to draw it).

        Raises:
            SdnError: the question's codes (``UNKNOWN_POD``, ``UNKNOWN_SERVICE``,
                ``INVALID_PACKET``, ...).
        """
        with self._open() as index:
            ctx = index.trace_context()
            question = ask(ctx, src, dst, cluster=cluster, protocol=protocol, dport=dport)
            result = walk(ctx, question, http=HttpRequest())
            path = path_objects(result)
            graph = graph_for(index.inventory())
            gateways: list[str] = []
            for p in path:
                kind = graph.nodes[p]["kind"] if p in graph else None
                if kind == "SegmentPort":
                    continue
                owners = [p] if kind in ("Tier0", "Tier1") else \
                    linked_paths(graph, p, Relation.GATEWAY) if kind == "Segment" else []
                gateways += [g for g in owners if g not in gateways]
            return {"trace": result.to_api(),
                    "nodes": [observation_node(o) for o in result.observations],
                    "path": path, "gateways": gateways}
