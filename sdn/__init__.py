"""sdn: the manager. A pure core in NSX-T Policy vocabulary.

Entry points:

* :mod:`sdn.model`: pydantic models of NSX Policy objects, an :class:`~sdn.model.Inventory`
  holding them, and :func:`~sdn.model.checks.validate_inventory` for cross-object checks.
* :mod:`sdn.graph`: a networkx view of an inventory and the lookups later stages need.
* :mod:`sdn.ipam`: subnet carving and address allocation, pure and deterministic.
* :mod:`sdn.profiles`: PKS/TKGI network profiles and their update rules.
* :mod:`sdn.store`: the SQLite state (the only database I/O in ``sdn``).
* :mod:`sdn.cli`: the ``sdn`` command.
"""
