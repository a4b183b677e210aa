"""Kubernetes manifests on disk, read into plain values.

``ncp sync --cluster PATH`` must take whatever a user has lying around: a folder of hand-written
YAML, a ``kubectl get all -A -o yaml`` dump, a JSON export. This module turns such paths into a
:class:`ManifestSet`: every object ncp cares about as a :class:`K8sObject`, plus every problem
found on the way, as data.

Why it is shaped this way:

* **Bad content never raises.** One broken file or object must not hide the rest (the design's
  "one bad object never blocks the others"), so syntax errors, objects without a name and
  duplicates are :class:`~sdn.errors.Problem` values with stable codes, and the good objects are
  still returned. A syntax error drops the whole file (a half-parsed file is worse than none:
  the user would get a silently partial cluster), and the message names the file and line.
* **Deterministic.** Folders are searched recursively and files read in sorted path order;
  documents keep their order within a file. The same inputs always give the same objects in
  the same order, so duplicate resolution ("the first one wins") is reproducible.
* **Only what ncp uses.** Kinds outside :data:`KNOWN_KINDS` (ConfigMaps, Secrets, RBAC, CRDs, ...)
  are skipped with a *note*, not a problem: a ``kubectl get all`` dump is legitimate input.
* **Fast.** Parsing uses libyaml (``yaml.CSafeLoader``) when available; JSON files use the
  ``json`` module. Ten thousand small documents parse in about a second, and big inputs are
  parsed on every core (:mod:`ncp.sources.loading`).

Codes: ``MALFORMED_MANIFEST`` (YAML/JSON syntax error or undecodable text), ``INVALID_OBJECT``
(a document that is not a mapping, or lacks ``kind`` / ``metadata.name``), ``DUPLICATE_OBJECT``
(same kind, namespace and name twice: the first is kept), ``PATH_NOT_FOUND`` (a given path does
not exist) and ``UNREADABLE_FILE`` (the operating system refused to read a file).

An object's :attr:`K8sObject.source` is ``"<file>#<n>"`` with ``n`` the 0-based index of the
document in its file (empty documents count, so the index matches the file); an object from a
``List`` is ``"<file>#<n>/items/<i>"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncp.objects import CLUSTER_SCOPED_KINDS, KNOWN_KINDS, K8sObject
from ncp.sources.loading import Loaded, load_files
from ncp.sources.shapes import shape_problem
from sdn.errors import Problem

__all__ = [
    "ManifestSet",
    "read_manifests",
]

# Common cluster-scoped kinds ncp does not use; only so that skip notes do not show them
# in a made-up "default" namespace.
_OTHER_CLUSTER_SCOPED: frozenset[str] = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ManifestSet:
    """What :func:`read_manifests` found.

    Attributes:
        objects: The objects of known kinds, in reading order, without duplicates.
        problems: Everything wrong, each with a stable code, in reading order.
        notes: Informational messages (skipped kinds, folders without manifests).
        parsed: Every file read without a problem, as parsed (what a later read of the
            same content may take instead of parsing it again: ``known`` of
            :func:`read_manifests`).
    """

    objects: tuple[K8sObject, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    parsed: tuple[Loaded, ...] = field(default=(), compare=False, repr=False)


def missing_paths(paths: Sequence[str | Path]) -> list[Problem]:
    """A ``PATH_NOT_FOUND`` problem for each of ``paths`` that does not exist."""
    return [Problem("PATH_NOT_FOUND", str(p), "no such file or directory")
            for p in paths if not Path(p).exists()]


def read_manifests(paths: Sequence[str | Path],
                   known: Mapping[str, Loaded] | None = None) -> ManifestSet:
    """Read Kubernetes objects from files and folders.

    Folders are searched recursively for ``.yaml``, ``.yml`` and ``.json`` files, in sorted
    order; hidden files and folders (names starting with ``.``) are skipped. A file named
    explicitly is read whatever its name (as JSON if it ends in ``.json``, else as YAML). A file
    reached twice (named and inside a named folder) is read once.

    Args:
        paths: Files and folders to read.
        known: Files parsed before, by the digest of their content
            (:attr:`~ncp.sources.loading.Loaded.digest`): a file with the same content is
            not parsed again. The answer is the same either way.

    Returns:
        The objects, problems and notes; bad content is reported in ``problems``, never raised.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    reader = _Reader()
    seen: set[Path] = set()
    wanted: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            reader.problems += missing_paths([given])
            continue
        files = [path] if not path.is_dir() else list(_manifest_files(path))
        if path.is_dir() and not files:
            reader.notes.append(f"no .yaml, .yml or .json files under {given}")
        for file in files:
            real = file.resolve()
            if real not in seen:
                seen.add(real)
                wanted.append(file)
    loaded_files = load_files(wanted, known)
    for file, loaded in zip(wanted, loaded_files, strict=True):
        reader.take_file(file, loaded)
    return ManifestSet(tuple(reader.objects), tuple(reader.problems), tuple(reader.notes),
                       tuple(f for f in loaded_files if f.problem is None and f.digest))


def _manifest_files(root: Path) -> Iterator[Path]:
    """Yield manifest files under ``root`` in sorted order, skipping hidden entries."""
    found: list[tuple[tuple[str, ...], Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        rel = base.relative_to(root).parts
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(_MANIFEST_SUFFIXES):
                continue
            found.append(((*rel, name), base / name))
    found.sort(key=lambda item: item[0])
    for _, file in found:
        yield file


class _Reader:
    """Accumulates objects, problems and notes across files."""

    def __init__(self) -> None:
        self.objects: list[K8sObject] = []
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self._first_source: dict[tuple[str, str, str], str] = {}

    def take_file(self, file: Path, loaded: Loaded) -> None:
        """Take in one parsed file's documents (all or none of them)."""
        if loaded.problem is not None:
            self.problems.append(loaded.problem)
            return
        for index, document in enumerate(loaded.documents):
            if document is None:
                continue
            self._take(document, f"{file}#{index}", list_kind=None, list_api_version="",
                       shape=(loaded.shapes[index],) if loaded.shapes else None)

    def _invalid(self, source: str, message: str) -> None:
        self.problems.append(Problem("INVALID_OBJECT", source, message))

    def _take(
        self, document: object, source: str, *, list_kind: str | None, list_api_version: str,
        shape: tuple[str | None] | None = None,
    ) -> None:
        """Check one document (or ``List`` item) and keep, note or report it (``shape``:
        its :func:`shape_problem` when the parser worked it out already)."""
        if not isinstance(document, dict):
            self._invalid(source, f"not a mapping but {_type_name(document)}")
            return
        kind = document.get("kind")
        api_version = document.get("apiVersion")
        if kind is None and list_kind is not None and list_kind.endswith("List"):
            # Typed lists from the API (PodList, ...) omit kind and apiVersion on their items.
            inferred = list_kind.removesuffix("List")
            if inferred:
                kind = inferred
                api_version = api_version or list_api_version
                document = {**document, "kind": kind, "apiVersion": api_version}
        if not isinstance(kind, str) or not kind:
            self._invalid(source, "has no kind")
            return
        if not isinstance(api_version, str):
            api_version = ""
        if kind == "List" or (kind.endswith("List") and "items" in document):
            self._take_list(document, kind, api_version, source)
            return
        metadata = document.get("metadata")
        if not isinstance(metadata, dict):
            self._invalid(source, f"{kind} has no metadata")
            return
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            self._invalid(source, f"{kind} has no metadata.name")
            return
        namespace = metadata.get("namespace")
        if namespace is not None and not isinstance(namespace, str):
            self._invalid(source, f"{kind} {name}: metadata.namespace is not a string")
            return
        mistyped = shape[0] if shape is not None else shape_problem(kind, document)
        if mistyped is not None:  # the API server would have refused it (ncp.sources.shapes)
            self._invalid(source, f"{kind} {name}: {mistyped}")
            return
        if kind in CLUSTER_SCOPED_KINDS or kind in _OTHER_CLUSTER_SCOPED:
            namespace = ""
        elif not namespace:
            namespace = "default"
        obj = K8sObject(kind, api_version, namespace, name, document, source)
        if kind not in KNOWN_KINDS:
            self.notes.append(f"skipped {obj.ident} ({source}): kind not used by ncp")
            return
        first = self._first_source.get(obj.key)
        if first is not None:
            self.problems.append(
                Problem(
                    "DUPLICATE_OBJECT",
                    obj.ident,
                    f"defined in {first} and again in {source}; keeping {first}",
                )
            )
            return
        self._first_source[obj.key] = source
        self.objects.append(obj)

    def _take_list(
        self, document: dict[str, Any], kind: str, api_version: str, source: str
    ) -> None:
        """Flatten a ``List`` (or ``PodList`` and the like) into its items."""
        items = document.get("items")
        if items is None:
            return
        if not isinstance(items, list):
            self._invalid(source, f"{kind}.items is not a list but {_type_name(items)}")
            return
        for position, item in enumerate(items):
            if item is None:
                continue
            self._take(
                item,
                f"{source}/items/{position}",
                list_kind=kind,
                list_api_version=api_version,
            )


def _type_name(value: object) -> str:
    """A short, user-facing name for a parsed value's type."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
