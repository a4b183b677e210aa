"""The query index's files beside the state: where they live, how one is written, and
how one is read back without ever trusting it.

Where: ``<state>.idx/`` (``.sdn/state.db.idx/`` for the default state), one file per part
(``valid``, ``lint``, ...; the firewall parts ``dfw-ALLOW``, ... and ``lookups`` are
record files read one record at a time, :mod:`sdn.query.records` and
:mod:`sdn.query.lookup_records`, under the same header identity and the same restricted
unpickler). The folder belongs to the state as its ``-wal`` file
does; deleting it only costs the next question a rebuild.

Why the files cannot lie: each starts with one header line (JSON) naming the format
(:data:`MAGIC`, :data:`VERSION`, and a digest of the fields of the classes the part may
hold, so a changed class is a changed format), the part, the :class:`Key` of the state
content it was computed from, and the payload's length and SHA-256; the payload follows.
A reader that finds any of these different from what it expects (another state, another
revision, a file cut short, a flipped byte, another program's file) ignores the file and
rebuilds. The payload is a pickle read by :class:`_Unpickler`, which admits only the
classes the part declares (no functions, no other modules), so even a file crafted to
pass the checks can build nothing but those values.

Why pickle: the compiled firewall is a graph of small dataclasses, sets of ints and
shared group objects; pickle keeps the sharing and loads it an order of magnitude faster
than any text format we could parse in Python.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import io
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from sdn.gcpause import gc_paused

#: The first field of every header: this is one of our index files.
MAGIC = "sdn-query-index"
#: Bumped whenever a part's payload changes shape; older files are then rebuilt.
VERSION = 4
#: A header longer than this is not one of ours.
_MAX_HEADER = 4096


@dataclass(frozen=True)
class FileStamp:
    """Size and modification time of a file (zeros when it does not exist)."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        """The stamp of ``path`` now."""
        try:
            st = path.stat()
        except OSError:
            return cls(0, 0)
        return cls(st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class Key:
    """One content of one state: its identity and revision (what every write moves),
    plus the stamps of the database and its write-ahead log, taken *before* the reader's
    snapshot. The stamps catch what the revision cannot: a write that did not go through
    :class:`~sdn.store.Store` (a hand edit with ``sqlite3``), a state file copied over
    another. A stamp that moved without a content change (a checkpoint) only costs a
    rebuild."""

    state_id: str | None
    revision: int
    database: FileStamp
    wal: FileStamp

    def as_json(self) -> dict[str, Any]:
        """The key as the header stores it."""
        return asdict(self)


def stamps(state: Path) -> tuple[FileStamp, FileStamp]:
    """The database's and the write-ahead log's stamps now.

    An empty write-ahead log is stamped as a missing one: it holds nothing (the content
    is the database file's alone, and emptying a log with content moves the database's
    stamp, since its pages were copied there first). Why it matters: the writer's last
    close deletes the log and the first reader's open creates it again, empty; without
    this the writer (``ncp sync``, :func:`~sdn.query.index.warm_index`) and the first
    reader would key one content two ways, and the second reader a third.
    """
    wal = FileStamp.of(Path(str(state) + "-wal"))
    return FileStamp.of(state), wal if wal.size else FileStamp(0, 0)


def folder_of(state: Path) -> Path:
    """Where the index of ``state`` lives: ``<state>.idx/`` beside it."""
    return state.with_name(state.name + ".idx")


class _Unpickler(pickle.Unpickler):
    """Builds only the classes it is given; anything else (a function, ``os.system``,
    a class of another module) is refused."""

    def __init__(self, data: bytes, allowed: frozenset[tuple[str, str]]) -> None:
        super().__init__(io.BytesIO(data))
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in an index file")
        found = super().find_class(module, name)
        if not isinstance(found, type):
            raise pickle.UnpicklingError(f"{module}.{name} is not a class")
        return found


def allowed_names(*classes: type) -> frozenset[tuple[str, str]]:
    """The ``(module, name)`` pairs :func:`read` admits for ``classes``."""
    return frozenset((c.__module__, c.__qualname__) for c in classes)


def _shape(allowed: frozenset[tuple[str, str]]) -> str:
    """A digest of the admitted classes' fields: a file written when one of them had other
    fields is another format, even if :data:`VERSION` was not bumped."""
    described = []
    for module, name in sorted(allowed):
        cls = getattr(sys.modules.get(module), name, None)
        fields: Iterable[object] = getattr(cls, "__dataclass_fields__", None) \
            or getattr(cls, "__slots__", None) or ()
        described.append(f"{module}.{name}({','.join(sorted(str(f) for f in fields))})")
    return hashlib.sha256(";".join(described).encode()).hexdigest()[:16]


def identity(part: str, key: Key, allowed: frozenset[tuple[str, str]]) -> dict[str, Any]:
    """What a part's header says it is: the format (magic, version, shape), the part and
    the key of the content it was computed from."""
    return {"magic": MAGIC, "version": VERSION, "shape": _shape(allowed), "part": part,
            "key": key.as_json()}


def _header(part: str, key: Key, payload: bytes,
            allowed: frozenset[tuple[str, str]]) -> bytes:
    head = {**identity(part, key, allowed), "length": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest()}
    return json.dumps(head, sort_keys=True).encode() + b"\n"


def loads(payload: bytes, allowed: frozenset[tuple[str, str]]) -> Any:
    """A payload pickled by :func:`dumps`, admitting only ``allowed`` classes (raises
    :class:`pickle.UnpicklingError` or whatever a damaged pickle raises).

    The cyclic garbage collector is paused meanwhile: loading a part builds hundreds of
    thousands of objects and no cycle, and each collection on the way walked them all
    again (the lookups at 100,000 pods loaded in twice the time)."""
    with gc_paused():
        return _Unpickler(payload, allowed).load()


def read(folder: Path, part: str, key: Key, allowed: frozenset[tuple[str, str]]) -> Any:
    """The part's value, or None when its file is missing, unreadable, foreign, for
    another key, cut short, altered, or holds anything but ``allowed`` classes."""
    try:
        data = (folder / part).read_bytes()
    except OSError:
        return None
    end = data.find(b"\n", 0, _MAX_HEADER)
    if end < 0:
        return None
    try:
        head = json.loads(data[:end])
    except ValueError:
        return None
    payload = data[end + 1:]
    expected = json.loads(_header(part, key, payload, allowed))
    if head != expected:  # magic, version, shape, part, key, length and checksum at once
        return None
    try:
        return loads(payload, allowed)
    except Exception:  # a file that does not load is rebuilt, whatever it is
        return None


def current(folder: Path, part: str, key: Key, allowed: frozenset[tuple[str, str]]) -> bool:
    """Whether the part's file names this format and ``key`` in its header (its payload
    is not read nor checked: enough to tell a writer that the part needs no rebuilding,
    never enough to trust it, which only :func:`read` does)."""
    try:
        with (folder / part).open("rb") as f:
            line = f.readline(_MAX_HEADER)
        head = json.loads(line)
    except (OSError, ValueError):
        return False
    if not isinstance(head, dict):
        return False
    expected = json.loads(json.dumps(identity(part, key, allowed)))
    return all(head.get(k) == v for k, v in expected.items())


def _network(net: IPv4Network) -> tuple[Any, ...]:
    """A network rebuilt from its address, mask and prefix length rather than parsed
    from its text: tens of thousands of them load several times faster. (/31 and /32
    networks keep a bound method of their own, so they take the constructor, from two
    integers.)"""
    if net.prefixlen >= 31:
        return IPv4Network, ((int(net.network_address), net.prefixlen),)
    return copyreg.__newobj__, (IPv4Network,), {  # type: ignore[attr-defined]
        "network_address": net.network_address, "netmask": net.netmask,
        "_prefixlen": net.prefixlen}


#: Per slotted dataclass, the names of its fields when every one is an ``__init__``
#: argument (None: it is pickled the default way).
_SLOTTED: dict[type, tuple[str, ...] | None] = {}


class _Pickler(pickle.Pickler):
    """Pickles a frozen slotted dataclass (a route: 75,000 of them at 100,000 pods) as a
    call of its class with its fields: loaded, that is one call, where the default
    (``dataclasses``' ``__setstate__``, which looks up the fields of the class each
    time) took ten times longer."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls not in _SLOTTED:
            names = None
            if "__slots__" in cls.__dict__ and dataclasses.is_dataclass(cls):
                fields = dataclasses.fields(cls)
                if all(f.init for f in fields):
                    names = tuple(f.name for f in fields)
            _SLOTTED[cls] = names
        names = _SLOTTED[cls]
        if names is None:
            return NotImplemented
        return cls, tuple(getattr(obj, n) for n in names)


def dumps(value: Any) -> bytes:
    """``value`` pickled as :func:`read` loads it."""
    out = io.BytesIO()
    pickler = _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, IPv4Network: _network}
    pickler.dump(value)
    return out.getvalue()


def write(folder: Path, part: str, key: Key, value: Any,
          allowed: frozenset[tuple[str, str]]) -> bool:
    """Save a part (atomically: a reader sees the old file or the new one, whole) that
    :func:`read` will load admitting ``allowed``; False, and nothing raised, when the
    folder cannot be written (a read-only state still answers, it only does not save)."""
    payload = dumps(value)
    try:
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{part}.", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_header(part, key, payload, allowed))
            f.write(payload)
        os.replace(tmp, folder / part)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
    return True
