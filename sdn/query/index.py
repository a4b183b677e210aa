"""The query index: what questions need, computed once per state revision.

Why: every question (``traceflow``, ``explain``, ``reach``, ``path``, ``lint``, ...) used
to parse the whole state and compile the whole firewall again, seconds at 10,000 pods.
The writer (``ncp sync``, from the objects it holds: :func:`warm_index`) or else the
first reader of a revision does that work once and saves what is expensive to recompute
beside the state (:mod:`sdn.query.sidecar`); later readers of the same revision load only
the parts their question needs:

* ``valid``: every stored row of this revision parses, so later readers may parse only
  the kinds and objects they touch (:class:`~sdn.query.lazy.LazyInventory`) and still
  refuse nothing a full parse would have refused;
* ``dfw-ALLOW`` / ``dfw-DROP``: the compiled firewall for each default action, as keyed
  records in a SQLite file (:mod:`sdn.query.records`): a question reads the two
  endpoints and the rules it evaluates, not the whole firewall;
* ``lookups``: ports by name and address, segments by subnet, every gateway's routing
  table, node addresses (:class:`~sdn.traceflow.lookups.Lookups`), as keyed records
  (:mod:`sdn.query.lookup_records`): with them a traceflow reads the few names, addresses
  and prefixes it asks for and parses the ports, segments and gateways it meets, not
  100,000 ports;
* ``lint``: ``sdn lint``'s findings on the firewall (it reads every group and rule);
* ``topology``: the topology graph's nodes and links (:func:`~sdn.graph.graph_links`:
  paths, kinds, prefixes, no objects): ``sdn path`` walks it and a whole-cluster picture
  counts on it, each parsing only the objects it names;
* ``ipam``: every block's and pool's usage before holds (:class:`~sdn.ipam.Usage`): it
  takes every pool with its allocations to count, and ``sdn ipam`` shows only the counts.
* ``validate``: ``sdn validate``'s problems (every row parsed, every relation checked).
* ``objects``: every object, as parsed (:mod:`sdn.query.objects`), for dry runs; saved
  only by the background saver of a big state's index.

``ncp sync`` saves all but ``topology`` and ``ipam`` (:func:`warm_index`): ``lint``
and ``validate`` read every object, which a reader would have to parse (seconds at
10,000 pods) while the writer holds them parsed already.

Keying and invalidation: a part is used only when its header carries this state's
identity and revision and the stamps of the database and its write-ahead log taken before
the reader's snapshot (:class:`~sdn.query.sidecar.Key`). Every write through the store
moves the revision (``ncp sync``, ``ncp run``, ``sdn apply``/``delete``/``profile``, in
any process), and any other change of the files moves a stamp, so nothing stale answers.
Readers never write the state itself; a folder they cannot write (a read-only state)
still answers, without saving.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeGuard

from sdn.errors import Problem
from sdn.gcpause import gc_paused
from sdn.graph import (
    GraphLinks,
    Relation,
    TopologyIndex,
    build_graph,
    graph_from_links,
    graph_links,
    provide_graph,
)
from sdn.ipam import BlockUsage, PoolUsage, SubnetUsage, Usage, usage_of
from sdn.model import Inventory
from sdn.policy import Firewall, compile_dfw
from sdn.policy.compiler import CompiledDfw
from sdn.query import checked, lookup_records, memo, records, savelock, sidecar
from sdn.query.lazy import LazyInventory
from sdn.query.lookup_records import StoredLookups
from sdn.query.objects import PART as OBJECTS_PART
from sdn.query.objects import Extra, save_extra, save_objects
from sdn.query.records import Records, StoredFirewall
from sdn.query.sidecar import Key
from sdn.store import Store
from sdn.store.records import RecordFile
from sdn.traceflow import TraceContext
from sdn.traceflow.lookups import Lookups

if TYPE_CHECKING:
    import networkx as nx  # the graph's own module imports it when one is made

    from sdn.policy.lint import Finding


#: What the ``ipam`` part may hold: usage counts and networks.
_IPAM_CLASSES = sidecar.allowed_names(Usage, BlockUsage, PoolUsage, SubnetUsage,
                                      IPv4Address, IPv4Network)
#: What the ``topology`` part may hold: paths, kinds, relations and addresses.
_TOPOLOGY_CLASSES = sidecar.allowed_names(Relation, IPv4Address, IPv4Interface, IPv4Network)
#: The ``valid`` part holds ``True`` (no class at all).
_NO_CLASSES: frozenset[tuple[str, str]] = frozenset()


@functools.cache
def _lint_classes() -> frozenset[tuple[str, str]]:
    """What the ``lint`` part may hold: a list of findings. The linter is imported here,
    when the part is read or written, not by every question that opens the index."""
    from sdn.policy.lint import Finding
    from sdn.policy.lint.witness import Witness

    return sidecar.allowed_names(Finding, Witness)


class QueryIndex:
    """One revision of one state, opened for questions (read-only, pinned).

    Use as a context manager, or close it when the answer is printed: its inventory may
    be lazy, reading from the pinned store until then.
    """

    def __init__(self, store: Store, key: Key, folder: Path) -> None:
        self.store = store
        self.key = key
        self.folder = folder
        self._inventory: Inventory | None = None
        self._dfw: dict[str, Firewall] = {}
        self._compiled: dict[str, CompiledDfw] = {}
        self._lookups: StoredLookups | None = None
        #: Parts this reader found valid in the index (for tests and the bench).
        self.hits: list[str] = []
        #: Parts this reader computed (and saved, when it could).
        self.built: list[str] = []

    @classmethod
    def open(cls, state: str | Path, *, wait_for_saver: bool = True) -> QueryIndex:
        """Open ``state`` read-only and pin one revision of it, first waiting while the
        last sync's child saves the index (:mod:`sdn.query.savelock`; the saver itself
        opens without waiting).

        The files' stamps are taken before the snapshot: a write that lands in between
        leaves a key older than the content, which no later reader matches (a rebuild,
        never a stale answer).
        """
        folder = sidecar.folder_of(Path(state))
        if wait_for_saver:
            savelock.wait_for_saver(folder)
        store, key = checked.pinned(state)
        return cls(store, key, folder)

    def close(self) -> None:
        """Close the store and the firewall files: a lazy inventory or stored firewall
        handed out reads nothing more after this."""
        for dfw in self._dfw.values():
            if isinstance(dfw, StoredFirewall):
                dfw.close()
        if self._lookups is not None:
            self._lookups.close()
        self.store.close()

    def __enter__(self) -> QueryIndex:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _load(self, part: str, allowed: frozenset[tuple[str, str]]) -> object | None:
        value: object | None = memo.recall(self.folder, part, self.key)
        if value is None:
            value = sidecar.read(self.folder, part, self.key, allowed)
            memo.remember(self.folder, part, self.key, value)
        if value is not None:
            self.hits.append(part)
        return value

    def _save(self, part: str, value: object, allowed: frozenset[tuple[str, str]]) -> None:
        self.built.append(part)
        memo.remember(self.folder, part, self.key, value)
        sidecar.write(self.folder, part, self.key, value, allowed)

    def inventory(self) -> Inventory:
        """The state's objects: lazily parsed when this revision is known to be valid,
        else parsed and validated whole (``INVALID_STATE_OBJECT`` as before), and the
        revision then marked valid for later readers."""
        if self._inventory is None:
            if self._load("valid", _NO_CLASSES) is True:
                self._inventory = LazyInventory(self.store, self.key.revision)
            else:
                self._inventory = self.store.inventory()
                self._save("valid", True, _NO_CLASSES)
            provide_graph(self._inventory, self.topology_graph)
        return self._inventory

    def topology_graph(self) -> nx.DiGraph:
        """The topology graph of this revision (:func:`~sdn.graph.build_graph` of its
        inventory), loaded from the ``topology`` part or built and saved. The graph of
        :meth:`inventory` comes from here (:func:`~sdn.graph.provide_graph`): ask
        :func:`~sdn.graph.graph_for`, which keeps it, rather than calling this.

        The collector is paused while the graph is read and rebuilt: its tens of
        thousands of new dicts and tuples would set off full collections over everything
        this process holds, several times the cost of the reading itself."""
        with gc_paused():
            loaded = self._load("topology", _TOPOLOGY_CLASSES)
            if _is_links(loaded):
                return graph_from_links(loaded)
        graph = build_graph(self.inventory())
        self._save("topology", graph_links(graph), _TOPOLOGY_CLASSES)
        return graph

    def dfw(self, default_action: str = "ALLOW") -> Firewall:
        """The firewall of this revision with ``default_action``, as questions read it:
        record by record from the index (:class:`~sdn.query.records.StoredFirewall`), else
        compiled, and its records saved for later readers."""
        found = self._dfw.get(default_action)
        if found is not None:
            return found
        part = f"dfw-{default_action}"
        stored = Records.open(self.folder, part, self.key)
        if stored is not None and stored.meta.revision == self.key.revision \
                and stored.meta.default_action == default_action:
            self.hits.append(part)
            found = StoredFirewall(stored, lambda: self._rebuild(default_action))
        else:
            if stored is not None:
                stored.close()
            found = self.compiled(default_action)
            self.built.append(part)
            records.save(self.folder, part, self.key, found)
        self._dfw[default_action] = found
        return found

    def compiled(self, default_action: str = "ALLOW") -> CompiledDfw:
        """The firewall of this revision compiled whole (what ``lint`` reads: every group
        and rule), once per reader."""
        found = self._compiled.get(default_action)
        if found is None:
            found = compile_dfw(self.inventory(), default_action=default_action)
            self._compiled[default_action] = found
        return found

    def _rebuild(self, default_action: str) -> Records:
        """Fresh records for a firewall file found damaged while read: compiled again,
        saved, and read back (held in memory when the folder cannot be written)."""
        part = f"dfw-{default_action}"
        compiled = self.compiled(default_action)
        self.built.append(part)
        if records.save(self.folder, part, self.key, compiled):
            saved = Records.open(self.folder, part, self.key)
            if saved is not None:
                return saved
        return Records.of(compiled, part, self.key)

    def current(self, actions: tuple[str, ...]) -> bool:
        """Whether ``valid``, ``lookups``, ``dfw-<action>`` for every action, ``lint`` and
        ``validate`` are saved for this key (headers only: a damaged payload or record is
        still caught when read)."""
        parts = [("valid", _NO_CLASSES), ("lint", _lint_classes()),
                 (checked.PART, checked.PROBLEM_CLASSES)]
        return all(sidecar.current(self.folder, part, self.key, allowed)
                   for part, allowed in parts) \
            and lookup_records.current(self.folder, self.key) \
            and all(records.current(self.folder, f"dfw-{a}", self.key) for a in actions)

    def warm(self, inventory: Inventory, actions: tuple[str, ...], *,
             validated: bool = False, ready: Callable[[], None] | None = None,
             objects: bool = False, extra: Extra | None = None) -> list[str]:
        """Build and save ``valid``, ``dfw-<action>``, ``lookups``, ``lint`` and
        ``validate`` from ``inventory``, every valid object of this revision (see
        :func:`warm_index`; ``validated``: its cross-object checks are known to pass;
        ``ready`` is called once the parts most questions read are saved, before the
        ``lint`` and ``validate`` parts, which only those two commands read; ``objects``:
        the ``objects`` part too, last: :mod:`sdn.query.objects`; ``extra``: the writer's
        own parts, after it)."""
        self._inventory = inventory
        self._save("valid", True, _NO_CLASSES)
        for action in actions:
            self.dfw(action)
        self.trace_context(actions[0])
        if ready is not None:
            ready()
        self.lint_findings()
        # every object of the revision, all valid: no stored row is a problem of its own
        problems = [] if validated else checked.problems_of(inventory, [])
        self._save(checked.PART, problems, checked.PROBLEM_CLASSES)
        if objects and save_objects(self.folder, self.key, inventory, self.compiled("ALLOW")):
            self.built.append(OBJECTS_PART)
        self.built += save_extra(self.folder, self.key, extra or {})
        return self.built

    def lint_findings(self) -> list[Finding]:
        """``sdn lint``'s findings on the firewall of this revision (before any
        ``--cluster`` filter and the sync's stored warnings): linting reads every group
        and rule, so it is kept rather than redone. It reads the firewall compiled whole
        (:meth:`compiled`): the stored records hold no member sets."""
        from sdn.policy.lint import Finding, lint_dfw

        loaded = self._load("lint", _lint_classes())
        if isinstance(loaded, list) and all(isinstance(f, Finding) for f in loaded):
            return loaded
        findings = lint_dfw(self.compiled(), self.inventory())
        self._save("lint", findings, _lint_classes())
        return findings

    def ipam_usage(self) -> Usage:
        """Every block's and pool's usage at this revision, before holds (``sdn ipam``
        adds them: they expire with time, not with revisions)."""
        loaded = self._load("ipam", _IPAM_CLASSES)
        if isinstance(loaded, Usage):
            return loaded
        usage = usage_of(self.inventory())
        self._save("ipam", usage, _IPAM_CLASSES)
        return usage

    def validate_problems(self) -> list[Problem]:
        """``sdn validate``'s problems for this revision: every stored row that does not
        parse (its field problems), then the cross-object checks on the valid rest
        (:mod:`sdn.query.checked`). A pure function of the revision, and it reads every
        row, so it is kept rather than redone."""
        problems, loaded = checked.kept_problems(self.store, self.key, self.folder)
        (self.hits if loaded else self.built).append(checked.PART)
        return problems

    def trace_context(self, default_action: str = "ALLOW") -> TraceContext:
        """What ``traceflow``, ``explain``, ``reach`` and ``path`` read, built on this
        revision's inventory, compiled firewall and lookups (names, addresses, routes):
        with all three from the index, a walk parses only the objects it meets."""
        dfw = self.dfw(default_action)
        inv = self.inventory()
        if self._lookups is None:
            self._lookups = StoredLookups.open(self.folder, self.key, self._rebuild_lookups)
            if self._lookups is not None:
                self.hits.append(lookup_records.PART)
        lookups = self._lookups.lookups if self._lookups is not None else None
        ctx = TraceContext.build(inv, dfw=dfw, default_action=default_action, lookups=lookups)
        if lookups is None:
            self.built.append(lookup_records.PART)
            lookup_records.save(self.folder, self.key, ctx.lookups)
        return ctx

    def _rebuild_lookups(self) -> RecordFile:
        """Fresh lookups for a file found damaged while read: built from the inventory,
        saved, and read back (held in memory when the folder cannot be written)."""
        inv = self.inventory()
        self.built.append(lookup_records.PART)
        return lookup_records.rebuilt(self.folder, self.key, Lookups.of(inv, TopologyIndex(inv)))


def _is_links(value: object) -> TypeGuard[GraphLinks]:
    """Whether a loaded ``topology`` part has the shape of :data:`~sdn.graph.GraphLinks`:
    a list of nodes and a list of edges, each with its attributes (the first of each is
    looked at: the file is this program's own, checksummed, and holds only the admitted
    classes, so this guards against another layout of the same classes, not forgery)."""
    if not (isinstance(value, tuple) and len(value) == 2
            and isinstance(value[0], list) and isinstance(value[1], list)):
        return False
    nodes, edges = value
    return all(isinstance(n, tuple) and len(n) == 2 and isinstance(n[0], str)
               and isinstance(n[1], dict) for n in nodes[:1]) \
        and all(isinstance(e, tuple) and len(e) == 3 and isinstance(e[0], str)
                and isinstance(e[1], str) and isinstance(e[2], dict) for e in edges[:1])


#: The parts :func:`warm_index` saves: the valid mark, the lookups and the firewall for
#: the default action questions use unless told otherwise.
WARM_ACTIONS: tuple[str, ...] = ("ALLOW",)


def warm_index(state: str | Path, inventory: Inventory, *,
               actions: tuple[str, ...] = WARM_ACTIONS, force: bool = True,
               validated: bool = False,
               ready: Callable[[], None] | None = None, objects: bool = False,
               extra: Extra | None = None) -> list[str]:
    """Save the index parts questions read first (``valid``, ``dfw-<action>``,
    ``lookups``, ``lint``, ``validate``) for the revision a writer just wrote, from the
    ``inventory`` it holds, so that the first question after ``ncp sync`` loads them
    instead of building them.
    Returns the parts built and saved (empty: nothing was).

    Call it after the writer's store is *closed*: its last close moves the files' stamps
    (the write-ahead log goes), and the key must be the one a reader computes. The key is
    taken as a reader takes it (stamps, then a pinned snapshot), and the parts are built
    only when that snapshot is the revision of ``inventory``: a write by anyone else in
    between (another revision, or a hand edit that moved the stamps after them) leaves
    the index to the first reader, never a stale one. ``force=False``: build nothing when
    the parts are already current for this content (a sync that wrote nothing).
    The inventory must hold every object of that revision, each one valid (the writer
    parsed or built it); nothing here fails for a folder that cannot be written.
    ``validated``: the writer has already run the cross-object checks on exactly this
    inventory and found nothing (``ncp sync`` refuses to write otherwise), so the
    ``validate`` part is saved empty without running them again. ``ready``: see
    :meth:`QueryIndex.warm` (not called when nothing is built); ``objects``: save the
    ``objects`` part too (:mod:`sdn.query.objects`); ``extra``: the writer's own parts
    (each a value and the classes it may hold), saved last.
    """
    try:
        index = QueryIndex.open(state, wait_for_saver=False)  # it may be the saver
    except Exception:  # no state to read now: the first reader will see
        return []
    with index:
        if index.key.revision != inventory.revision:
            return []
        if not force and index.current(actions):
            # the parts are saved; the objects and the writer's own may not be (an index of
            # an older version, or saved by a writer that waited)
            done = [OBJECTS_PART] if objects and save_objects(
                index.folder, index.key, inventory, None, force=False) else []
            return done + save_extra(index.folder, index.key, extra or {}, force=False)
        return index.warm(inventory, actions, validated=validated, ready=ready,
                          objects=objects, extra=extra)
