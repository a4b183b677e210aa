"""sdn: the manager. A pure core in NSX-T Policy vocabulary.

Entry points:

* :mod:`sdn.model`: pydantic models of NSX Policy objects, an :class:`~sdn.model.Inventory`
  holding them, and :func:`~sdn.model.checks.validate_inventory` for cross-object checks.
* :mod:`sdn.graph`: a networkx view of an inventory and the lookups later stages need.
* :mod:`sdn.ipam`: subnet carving and address allocation, pure and deterministic.
* :mod:`sdn.profiles`: PKS/TKGI network profiles and their update rules.
* :mod:`sdn.policy`: the distributed firewall: compile an inventory's groups and security
  policies, evaluate flows (``reach``, ``explain``) and lint the rules.
* :mod:`sdn.traceflow`: walk one packet through the topology, observations in NSX's
  Traceflow shape; resolve ``--src``/``--dst`` for ``traceflow``, ``explain`` and ``reach``.
* :mod:`sdn.store`: the SQLite state (the only database I/O in ``sdn``).
* :mod:`sdn.query`: the query index: what questions need (the compiled firewall, the
  lookups a walk makes), computed once per state revision and kept beside the state.
* :mod:`sdn.render`: tables, traces and pictures for people (strings, no I/O).
* :mod:`sdn.daemon`: the question daemon: one resident process per state that answers
  ``sdn`` questions in forked children, with the imports and index parts already loaded.
* :mod:`sdn.api`: NSX Manager's REST API over the state (``sdn serve``), an ASGI app;
  the only package that imports FastAPI, Starlette or uvicorn.
* :mod:`sdn.dataplane`: the state realized on this host's kernel (network namespaces,
  bridges, routes, the nftables :mod:`sdn.dataplane.nftgen` generates: ``sdn realize``),
  the only package touching the data path.
* :mod:`sdn.cli`: the ``sdn`` command.
"""
