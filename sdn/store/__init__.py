"""The state: one SQLite database per NSX manager (the only database I/O in ``sdn``)."""

from sdn.store.sqlite import ChangeSet, ClusterRecord, Store, StoredObject, default_state_path

__all__ = ["ChangeSet", "ClusterRecord", "Store", "StoredObject", "default_state_path"]
