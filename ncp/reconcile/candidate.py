"""Kubernetes manifests as a candidate policy set for ``sdn replay --candidate``.

``sdn`` never imports ``ncp`` (the layering contract), so it finds this translator as a
plugin: ``pyproject.toml`` registers :func:`candidate_inventory` as the entry point
``kubernetes`` of the group ``sdn.candidates``, and ``sdn`` loads whatever is registered
there when a candidate folder holds Kubernetes manifests.

The candidate is planned exactly as ``ncp sync --dry-run --cluster PATH...`` plans it: a
dry run of :func:`~ncp.reconcile.sync.sync_cluster` against the state opened read-only
(in full, so that an unchanged input still yields its objects), whose report carries
the objects the write would leave. Nothing is written. The cluster's settings are the
ones its last sync stored (a cluster the state does not hold yet gets the defaults, as
``ncp sync`` without ``--config``), and its bound profile stays.

A candidate ``ncp`` would not realize in full is refused rather than judged: a file
that does not parse, an object rejected (its problem), or input that makes the sync
unusable all raise :class:`~sdn.errors.CandidateError` with every reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ncp.config import load_config, parse_config
from ncp.errors import NcpError
from ncp.reconcile.state import State
from ncp.reconcile.sync import sync_cluster
from sdn.errors import CandidateError
from sdn.model import Inventory


def candidate_inventory(state: State, paths: Sequence[Path], *,
                        cluster: str | None) -> Inventory:
    """The state's objects after syncing ``cluster`` (None: the config's default name)
    from the manifests at ``paths``, planned in memory (see the module's doc).

    Raises:
        CandidateError: the manifests do not parse, an object would be rejected, or the
            inputs are unusable (each reason a problem).
    """
    try:
        record = state.cluster(cluster) if cluster is not None else None
        config = parse_config(record.config, source=f"cluster {cluster}") \
            if record is not None else load_config(None, cluster=cluster)
        report = sync_cluster(state, paths=list(paths), config=config, now=time.time(),
                              full=True, dry_run=True, keep_inventory=True,
                              reachability=False)
    except NcpError as err:
        raise CandidateError(err.problems, obj=", ".join(map(str, paths))) from err
    if report.problems:
        raise CandidateError(report.problems, obj=", ".join(map(str, paths)))
    if report.inventory is None:  # a dry run in full always keeps it: a bug if not
        raise RuntimeError("the dry run kept no inventory")
    return report.inventory
