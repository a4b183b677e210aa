"""Level-triggered reconcile: compute the desired cluster slice, diff it against the state,
and apply the difference in one transaction."""

from ncp.reconcile.diff import diff_objects
from ncp.reconcile.sync import SyncReport, sync_cluster

__all__ = ["SyncReport", "diff_objects", "sync_cluster"]
