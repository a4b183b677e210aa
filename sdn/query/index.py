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
* ``dfw-ALLOW`` / ``dfw-DROP``: the compiled firewall
  (:class:`~sdn.policy.compiler.CompiledDfw`) for each default action;
* ``lookups``: ports by name and address, segments by subnet, every gateway's routing
  table, node addresses (:class:`~sdn.traceflow.lookups.Lookups`): with them a traceflow
  parses the few ports, segments and gateways it meets, not 10,000 ports;
* ``lint``: ``sdn lint``'s findings on the firewall (it reads every group and rule).

Keying and invalidation: a part is used only when its header carries this state's
identity and revision and the stamps of the database and its write-ahead log taken before
the reader's snapshot (:class:`~sdn.query.sidecar.Key`). Every write through the store
moves the revision (``ncp sync``, ``ncp run``, ``sdn apply``/``delete``/``profile``, in
any process), and any other change of the files moves a stamp, so nothing stale answers.
Readers never write the state itself; a folder they cannot write (a read-only state)
still answers, without saving.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import TracebackType

from sdn.graph.queries import Route, RoutingTables, _PrefixTable
from sdn.model import Inventory
from sdn.policy import compile_dfw
from sdn.policy.compiler import CompiledDfw, CompiledRule, Endpoint, GroupMembers, Service
from sdn.policy.lint import Finding, lint_dfw
from sdn.query import memo, sidecar
from sdn.query.lazy import LazyInventory
from sdn.query.sidecar import Key
from sdn.store import Store
from sdn.traceflow import TraceContext
from sdn.traceflow.lookups import Lookups

#: What a ``dfw-*`` part may hold: the compiled firewall's own classes and addresses.
_DFW_CLASSES = sidecar.allowed_names(CompiledDfw, CompiledRule, Endpoint, GroupMembers,
                                     Service, IPv4Address, IPv4Network)
#: What the ``lookups`` part may hold: names, addresses and routing tables.
_LOOKUP_CLASSES = sidecar.allowed_names(Lookups, RoutingTables, Route, _PrefixTable,
                                        IPv4Address, IPv4Network)
#: What the ``lint`` part may hold: a list of findings.
_LINT_CLASSES = sidecar.allowed_names(Finding)
#: The ``valid`` part holds ``True`` (no class at all).
_NO_CLASSES: frozenset[tuple[str, str]] = frozenset()


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
        self._dfw: dict[str, CompiledDfw] = {}
        #: Parts this reader found valid in the index (for tests and the bench).
        self.hits: list[str] = []
        #: Parts this reader computed (and saved, when it could).
        self.built: list[str] = []

    @classmethod
    def open(cls, state: str | Path) -> QueryIndex:
        """Open ``state`` read-only and pin one revision of it.

        The files' stamps are taken before the snapshot: a write that lands in between
        leaves a key older than the content, which no later reader matches (a rebuild,
        never a stale answer).
        """
        path = Path(state)
        before = sidecar.stamps(path)
        store = Store.open_readonly(path)
        try:
            store.pin()
            key = Key(store.identity, store.revision, *before)
        except BaseException:
            store.close()
            raise
        return cls(store, key, sidecar.folder_of(path))

    def close(self) -> None:
        """Close the store: a lazy inventory handed out reads nothing more after this."""
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
        return self._inventory

    def dfw(self, default_action: str = "ALLOW") -> CompiledDfw:
        """The compiled firewall of this revision with ``default_action``."""
        found = self._dfw.get(default_action)
        if found is not None:
            return found
        part = f"dfw-{default_action}"
        loaded = self._load(part, _DFW_CLASSES)
        if isinstance(loaded, CompiledDfw) and loaded.revision == self.key.revision \
                and loaded.default_action == default_action:
            found = loaded
        else:
            found = compile_dfw(self.inventory(), default_action=default_action)
            self._save(part, found, _DFW_CLASSES)
        self._dfw[default_action] = found
        return found

    def current(self, actions: tuple[str, ...]) -> bool:
        """Whether ``valid``, ``lookups`` and ``dfw-<action>`` for every action are saved
        for this key (headers only: a damaged payload is still caught when read)."""
        parts = [("valid", _NO_CLASSES), ("lookups", _LOOKUP_CLASSES),
                 *((f"dfw-{a}", _DFW_CLASSES) for a in actions)]
        return all(sidecar.current(self.folder, part, self.key, allowed)
                   for part, allowed in parts)

    def warm(self, inventory: Inventory, actions: tuple[str, ...]) -> list[str]:
        """Build and save ``valid``, ``dfw-<action>`` and ``lookups`` from ``inventory``,
        every valid object of this revision (see :func:`warm_index`)."""
        self._inventory = inventory
        self._save("valid", True, _NO_CLASSES)
        for action in actions:
            self.dfw(action)
        self.trace_context(actions[0])
        return self.built

    def lint_findings(self) -> list[Finding]:
        """``sdn lint``'s findings on the firewall of this revision (before any
        ``--cluster`` filter and the sync's stored warnings): linting reads every group
        and rule, so it is kept rather than redone."""
        loaded = self._load("lint", _LINT_CLASSES)
        if isinstance(loaded, list) and all(isinstance(f, Finding) for f in loaded):
            return loaded
        findings = lint_dfw(self.dfw(), self.inventory())
        self._save("lint", findings, _LINT_CLASSES)
        return findings

    def trace_context(self, default_action: str = "ALLOW") -> TraceContext:
        """What ``traceflow``, ``explain``, ``reach`` and ``path`` read, built on this
        revision's inventory, compiled firewall and lookups (names, addresses, routes):
        with all three from the index, a walk parses only the objects it meets."""
        dfw = self.dfw(default_action)
        inv = self.inventory()
        loaded = self._load("lookups", _LOOKUP_CLASSES)
        lookups = loaded if isinstance(loaded, Lookups) else None
        ctx = TraceContext.build(inv, dfw=dfw, default_action=default_action, lookups=lookups)
        if lookups is None:
            self._save("lookups", ctx.lookups, _LOOKUP_CLASSES)
        return ctx


#: The parts :func:`warm_index` saves: the valid mark, the lookups and the firewall for
#: the default action questions use unless told otherwise.
WARM_ACTIONS: tuple[str, ...] = ("ALLOW",)


def warm_index(state: str | Path, inventory: Inventory, *,
               actions: tuple[str, ...] = WARM_ACTIONS, force: bool = True) -> list[str]:
    """Save the index parts questions read first (``valid``, ``dfw-<action>``,
    ``lookups``) for the revision a writer just wrote, from the ``inventory`` it holds,
    so that the first question after ``ncp sync`` loads them instead of building them.
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
    """
    try:
        index = QueryIndex.open(state)
    except Exception:  # no state to read now: the first reader will see
        return []
    with index:
        if index.key.revision != inventory.revision:
            return []
        if not force and index.current(actions):
            return []
        return index.warm(inventory, actions)
