"""The state: one SQLite database per NSX manager (the only database I/O in ``sdn``).

:mod:`sdn.store.codec` is the storage format as values (no database), for writers that
build rows themselves; :mod:`sdn.store.sqlite` is the database, :mod:`sdn.store.opening`
what may be opened as one.
"""

from sdn.commandline import default_state_path
from sdn.store.codec import ChangeSet, ClusterRecord, StoredObject
from sdn.store.sqlite import Store

__all__ = ["ChangeSet", "ClusterRecord", "Store", "StoredObject", "default_state_path"]
