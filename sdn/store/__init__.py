"""The state: one SQLite database per NSX manager (the only database I/O in ``sdn``)."""

from sdn.commandline import default_state_path
from sdn.store.sqlite import ChangeSet, ClusterRecord, Store, StoredObject

__all__ = ["ChangeSet", "ClusterRecord", "Store", "StoredObject", "default_state_path"]
