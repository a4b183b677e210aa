"""A candidate policy set for ``sdn replay --candidate DIR``: the state as it would be after
a change, built in memory and never written.

A candidate folder (or one file) holds either kind of document, or both, one kind a file
(``.yaml``, ``.yml``, ``.json`` under the folder, hidden ones skipped, in path order; a
file's kind is told by its first document):

* **Kubernetes manifests** (documents with a ``kind`` and no ``resource_type``): one
  cluster's manifests, in full, as ``ncp sync --cluster DIR`` takes them. ``sdn`` does not
  import ``ncp`` (the layering contract): it loads the translator registered as the entry
  point ``kubernetes`` of the group ``sdn.candidates`` (``ncp`` registers
  :func:`ncp.reconcile.candidate.candidate_inventory`), which plans them exactly as
  ``ncp sync --dry-run`` would and returns the objects the write would leave. The cluster
  is ``--cluster``, else the state's only cluster (several: ``CANDIDATE_CLUSTER_NEEDED``);
  a state without clusters gets ``ncp``'s default name.
* **NSX admin documents** (what ``sdn apply -f`` takes: groups, security policies and
  services): applied on top, checked as ``sdn apply --dry-run`` checks them (NCP's own
  objects cannot be changed this way: ``OWNED_BY_NCP``).

The DFW of the result is compiled in memory. A file that does not parse is
``MALFORMED_FILE`` naming it; objects that would be refused are ``INVALID_CANDIDATE``
with each problem named by its object.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, cast

import yaml

from sdn.cli.apply_cmd import read_documents
from sdn.errors import CandidateError, SdnError
from sdn.model import Inventory
from sdn.model.admin_plan import plan_apply
from sdn.model.documents import parse_admin_objects
from sdn.store import Store

#: The entry-point group translators of candidate policy sets are registered in.
GROUP = "sdn.candidates"
#: The entry point that translates Kubernetes manifests.
KUBERNETES = "kubernetes"
_SUFFIXES = (".yaml", ".yml", ".json")

#: What a registered translator is: the read-only state, the manifest files, the
#: cluster (None: the translator's default) in; the objects after the change out.
Translator = Callable[..., Inventory]


def candidate_files(path: str) -> list[Path]:
    """The candidate's files: ``path`` itself, or the YAML and JSON files under it."""
    root = Path(path)
    if not root.exists():
        raise SdnError("no such file or folder", code="FILE_NOT_FOUND", obj=path)
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file()
                   and p.suffix.lower() in _SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise SdnError("no .yaml, .yml or .json files", code="CANDIDATE_EMPTY", obj=path)
    return files


def _is_manifest(doc: Any) -> bool:
    return isinstance(doc, dict) and "kind" in doc and "resource_type" not in doc


def _first_document(path: Path) -> Any:
    """The first document of a YAML or JSON file (None: none), read with libyaml when
    there is one: a cluster's manifests are megabytes, which the pure-Python reader
    takes tens of seconds over, and their kind is all that is asked here. A file that
    does not parse says so when read in full (:func:`read_documents`)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise SdnError(str(err), code="FILE_NOT_FOUND", obj=str(path)) from err
    try:
        docs: Iterable[Any]
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            docs = data if isinstance(data, list) else [data]
        else:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            docs = yaml.load_all(text, Loader=loader)
        first = next((d for d in docs if d is not None), None)
    except (ValueError, yaml.YAMLError):
        return {}  # not a manifest: read in full as admin documents, which says why
    if isinstance(first, dict) and isinstance(first.get("items"), list) \
            and "resource_type" not in first:  # a ``kind: List``
        return first["items"][0] if first["items"] else None
    return first


def split_candidate(files: list[Path]) -> tuple[list[Path], list[tuple[Path, list[Any]]]]:
    """The Kubernetes manifest files (told by their first document: one kind a file),
    and the admin documents of the other files."""
    manifests: list[Path] = []
    admin: list[tuple[Path, list[Any]]] = []
    for f in files:
        first = _first_document(f)
        if first is None:
            continue
        if _is_manifest(first):
            manifests.append(f)
        else:
            admin.append((f, read_documents(str(f))))
    return manifests, admin


def translator() -> Translator:
    """The registered Kubernetes translator (``CANDIDATE_PLUGIN_MISSING`` when none is:
    ``ncp`` is not installed)."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == KUBERNETES]
    if not found:
        raise SdnError(f"Kubernetes manifests need a translator registered as entry point "
                       f"{KUBERNETES!r} of group {GROUP!r} (the ncp package registers "
                       f"one)", code="CANDIDATE_PLUGIN_MISSING", obj=KUBERNETES)
    return cast(Translator, found[0].load())


def _cluster(store: Store, cluster: str | None) -> str | None:
    """The cluster the manifests are of (see the module's doc)."""
    if cluster is not None:
        return cluster
    names = sorted(c.name for c in store.clusters())
    if len(names) > 1:
        raise SdnError(f"the state holds clusters {', '.join(names)}: say which one the "
                       f"manifests replace with --cluster",
                       code="CANDIDATE_CLUSTER_NEEDED", obj="--cluster")
    return names[0] if names else None


def candidate_inventory(store: Store, path: str, *, cluster: str | None) -> Inventory:
    """The state's objects after the candidate at ``path`` (see the module's doc), from
    the pinned, read-only ``store``; nothing is written."""
    manifests, admin = split_candidate(candidate_files(path))
    if manifests:
        name = _cluster(store, cluster)
        after = translator()(store, manifests, cluster=name)
    else:
        after = store.inventory()
    if not admin:
        return after
    objects = []
    problems = []
    for f, docs in admin:
        got, bad = parse_admin_objects(docs, source=str(f))
        objects += got
        problems += bad
    if not problems:
        plan = plan_apply(after, objects)
        problems = plan.problems
    if problems:
        raise CandidateError(problems, obj=path)
    return plan.after
