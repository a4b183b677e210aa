"""The ``objects`` part of the query index: every object of one revision, as parsed, and
its firewall compiled whole (default action ALLOW).

Why: a dry run (``ncp sync --dry-run``) needs the whole inventory the state holds, to
build the one its write would leave, and both firewalls. Parsing and validating the
50,000 rows of a 10,000-pod state takes 1.2 to 1.9 s and compiling its firewall 0.5 s;
loading both from this part takes about 0.6 s. The background child that saves a big
state's index after ``ncp sync`` (:mod:`sdn.query.saving`) writes it last, after every
part a question reads, from the objects the sync holds (nothing parsed again).

Assumption, named: only revisions of at most :data:`MAX_OBJECTS` objects get this part.
Above that (about 40,000 pods) it would cost the child several seconds and hundreds of
megabytes of disk per revision, for a dry run that then parses the state as before.
Like every part, it is used only for the exact content it was saved from
(:class:`~sdn.query.sidecar.Key`) and never trusted beyond its checksum and the classes it
may hold (:data:`OBJECT_CLASSES`).
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from pydantic import BaseModel

from sdn.model import Inventory
from sdn.model.inventory import AnyResource
from sdn.policy.compiler import CompiledDfw, CompiledRule, Endpoint, GroupMembers, Service
from sdn.query import sidecar
from sdn.query.sidecar import Key

PART = "objects"
#: A writer's own parts: by name, each value and the classes it may hold.
Extra = Mapping[str, tuple[object, frozenset[tuple[str, str]]]]
#: The largest revision (in objects) whose objects are saved (see the module's doc).
MAX_OBJECTS = 200_000


def _nested(cls: type) -> Iterator[type]:
    """``cls`` and every model and enum class its fields can hold, at any depth."""
    seen: set[type] = set()
    todo = [cls]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        if issubclass(current, BaseModel):
            for info in current.model_fields.values():
                todo += [t for t in _types_in(info.annotation)
                         if issubclass(t, BaseModel | enum.Enum)]


def _types_in(annotation: object) -> Iterator[type]:
    """The classes named anywhere in a type annotation."""
    if isinstance(annotation, type):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _types_in(arg)


#: Every class the part is made of: the resource models, the models and enums in their
#: fields, the compiled firewall's classes, and addresses.
OBJECT_CLASSES = sidecar.allowed_names(
    *{c for model in typing.get_args(typing.get_args(AnyResource)[0]) for c in _nested(model)},
    CompiledDfw, CompiledRule, Endpoint, GroupMembers, Service,
    IPv4Address, IPv4Interface, IPv4Network)


@dataclass(frozen=True)
class StoredObjects:
    """One revision's objects, and its firewall compiled whole (None: not saved)."""

    inventory: Inventory
    dfw: CompiledDfw | None


def save_objects(folder: Path, key: Key, inventory: Inventory, dfw: CompiledDfw | None, *,
                 force: bool = True) -> bool:
    """Save the objects of the revision ``key`` names (``inventory`` holds them all) and
    their firewall compiled with default action ALLOW (``dfw``, when at hand); whether
    they were (not above :data:`MAX_OBJECTS`, nor in a folder that cannot be written;
    ``force=False``: nor when the part is already saved for ``key``)."""
    if len(inventory) > MAX_OBJECTS:
        return False
    if not force and sidecar.current(folder, PART, key, OBJECT_CLASSES):
        return False
    if dfw is not None and dfw.default_action != "ALLOW":
        raise ValueError("the stored firewall is the one with default action ALLOW")
    return sidecar.write(folder, PART, key, (list(inventory.values()), dfw), OBJECT_CLASSES)


def stored_objects(state: Path, identity: str | None, revision: int) -> StoredObjects | None:
    """The objects of ``state`` at ``revision`` (of the state ``identity`` names) when
    this part was saved for exactly its files as they are now, else None (the caller
    parses the state)."""
    value = stored_part(state, identity, revision, PART, OBJECT_CLASSES)
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], list)
            and isinstance(value[1], CompiledDfw | None)):
        return None
    return StoredObjects(Inventory(value[0], revision=revision), value[1])


def stored_part(state: Path, identity: str | None, revision: int, part: str,
                allowed: frozenset[tuple[str, str]]) -> object | None:
    """A part of the index of ``state`` at ``revision`` (of the state ``identity``
    names), holding only ``allowed`` classes, when it was saved for exactly its files as
    they are now; else None. For a writer's own parts (``extra`` of
    :func:`~sdn.query.saving.save_index`) and this module's."""
    key = Key(identity, revision, *sidecar.stamps(state))
    value: object | None = sidecar.read(sidecar.folder_of(state), part, key, allowed)
    return value


def save_extra(folder: Path, key: Key, extra: Extra, *, force: bool = True) -> list[str]:
    """Save a writer's own parts (each a value and the classes it may hold); the names of
    those saved (``force=False``: only those not saved for ``key`` already)."""
    saved = []
    for part, (value, allowed) in extra.items():
        if not force and sidecar.current(folder, part, key, allowed):
            continue
        if sidecar.write(folder, part, key, value, allowed):
            saved.append(part)
    return saved
