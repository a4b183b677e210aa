"""Is this input complete enough to reconcile against?

A reconcile makes the state match its input *exactly*: whatever the input lacks is
deleted. So an input that could not be read in full must never be reconciled against,
or a misspelt path, a half-saved file or a folder caught empty would delete a
cluster's network (issue 10, DESIGN.md "ncp sync safety"). This module holds that one
decision for every caller: ``ncp sync`` refuses such input (exit 2, nothing written)
and ``ncp run`` keeps its last good input and waits for the files to be whole again.

What counts as unreadable (:data:`UNREADABLE`): a path that does not exist, a file
that does not parse or cannot be read, and a document that cannot be identified (no
``kind`` or ``metadata.name``: we cannot know which object it was meant to be, so
reconciling without it could delete that object). A duplicate object is not: both
copies were read, nothing is lost, it stays a per-object problem (exit 1).

An input that holds no object at all, for a cluster the state already knows (every
sync of a cluster leaves objects: its gateways, segments, node ports), is
``EMPTY_INPUT`` unless the caller says emptying is what it wants (``--allow-empty``).
"""

from __future__ import annotations

from ncp.errors import NcpError
from ncp.sources.manifests import ManifestSet
from sdn.errors import Problem

#: Codes of manifest problems that mean "part of the input was not read".
UNREADABLE = frozenset({"PATH_NOT_FOUND", "MALFORMED_MANIFEST", "UNREADABLE_FILE",
                        "INVALID_OBJECT"})

EMPTY_INPUT = "EMPTY_INPUT"


class IncompleteInputError(NcpError):
    """The input cannot be reconciled against (see the module docstring); nothing was
    written. ``problems`` holds every reason."""

    code = "INCOMPLETE_INPUT"


def input_gaps(mset: ManifestSet, *, cluster: str, cluster_known: bool,
               allow_empty: bool) -> list[Problem]:
    """Why ``mset`` must not be reconciled against cluster ``cluster``; empty when it may.

    ``cluster_known``: the state holds this cluster (a previous sync wrote its objects).
    ``allow_empty``: the user asked for an empty input to empty the cluster.
    """
    gaps = [p for p in mset.problems if p.code in UNREADABLE]
    if not gaps and not mset.objects and cluster_known and not allow_empty:
        gaps.append(Problem(
            EMPTY_INPUT, f"cluster {cluster}",
            "the input holds no Kubernetes objects, and reconciling against it would "
            "delete everything this cluster has in the state; pass --allow-empty if "
            "that is what you want"))
    return gaps

