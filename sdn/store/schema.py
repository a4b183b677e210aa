"""The state database's tables: what each holds and why (the SQL is :data:`SCHEMA`).

* ``objects``: every NSX object by Policy path, with its ``resource_type`` and owning
  cluster (the ``ncp/cluster`` tag, NULL for the admin's shared objects).
* ``allocations``: the allocations of IP pools stored split (see
  :class:`~sdn.store.codec.PoolParts`): the pool's ``objects`` row then holds its text
  with an empty ``"allocations":[]``, and each allocation is a row of its own, as NSX
  keeps them (child objects ``.../ip-allocations/<id>``), so one pod coming or going
  writes one small row instead of a pool of thousands. :meth:`Store.rows` gives every
  pool whole again.
* ``holds``: released addresses and subnets not reusable before a time.
* ``profiles``: network profiles by name; ``clusters``: each synced cluster, its config,
  the profile bound to it, and when it was last synced.
* ``k8s_status``: the annotations NCP would write on each namespace.
* ``k8s_objects``: the Kubernetes objects of the last sync (kept for later stages:
  services, policies).
* ``problems``: what the last sync of each cluster could not realize.
* ``findings``: warnings of the last sync that do not stop realization (policies beyond
  NCP's documented limits), read by ``sdn lint``.
* ``object_meta``: per object and per inline child the revision and create/modify
  stamps NSX shows (``_revision``, ``_create_time``, ...), kept by
  :mod:`sdn.store.stamps` inside the store's write transactions.
* ``history``: per write the revision it made, when (UTC epoch seconds), the command
  that made it, the kinds of object it touched and what it changed, kept by
  :mod:`sdn.store.history` (the objects' texts *before* the write, so that walking back
  from the current state rebuilds any kept revision).
* ``meta``: schema version, the state revision (bumped by every write) and the state's
  identity (``state_id``, a random id the first write stores; states written before it
  existed have none until their next write), which together name one content of one
  state for caches beside it (:mod:`sdn.query`).
"""

from __future__ import annotations

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    path TEXT PRIMARY KEY, resource_type TEXT NOT NULL, cluster TEXT, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS objects_by_type ON objects (resource_type);
CREATE INDEX IF NOT EXISTS objects_by_cluster ON objects (cluster);
CREATE TABLE IF NOT EXISTS holds (
    scope TEXT NOT NULL, cidr TEXT NOT NULL, until REAL NOT NULL, PRIMARY KEY (scope, cidr));
CREATE TABLE IF NOT EXISTS profiles (
    name TEXT PRIMARY KEY, body TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS clusters (
    name TEXT PRIMARY KEY, profile TEXT REFERENCES profiles (name), config TEXT NOT NULL,
    synced_at REAL NOT NULL, fingerprint TEXT NOT NULL DEFAULT '',
    revision INTEGER NOT NULL DEFAULT 0, summary TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS k8s_status (
    cluster TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    annotations TEXT NOT NULL, PRIMARY KEY (cluster, kind, namespace, name));
CREATE TABLE IF NOT EXISTS k8s_objects (
    cluster TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (cluster, kind, namespace, name));
CREATE TABLE IF NOT EXISTS problems (
    cluster TEXT NOT NULL, code TEXT NOT NULL, obj TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS problems_by_obj ON problems (cluster, obj);
CREATE TABLE IF NOT EXISTS allocations (
    pool TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (pool, id))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    cluster TEXT NOT NULL, code TEXT NOT NULL, obj TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS object_meta (
    path TEXT PRIMARY KEY, digest TEXT NOT NULL, revision INTEGER NOT NULL,
    created INTEGER NOT NULL, created_by TEXT NOT NULL,
    modified INTEGER NOT NULL, modified_by TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    revision INTEGER PRIMARY KEY, at REAL NOT NULL, command TEXT NOT NULL,
    kinds TEXT NOT NULL, changes BLOB NOT NULL);
"""
