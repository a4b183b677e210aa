"""Manifest files parsed into plain values, on every core when there is much to parse.

Why a module of its own: parsing is the one step of reading manifests that needs no
order (each file alone gives its documents, or one problem), and at 100,000 pods it is
54 MB of YAML and a sixth of a cold ``ncp sync``: 11 s on one core. Files are therefore
parsed by :func:`load_files` in forked worker processes as well as here when there is
enough to parse (:data:`PARALLEL_BYTES`), and taken in by the caller in file order as
always, so the objects, problems and their order are exactly those of a serial read
(``tests/ncp/sources`` checks it).

A worker returns its files' values pickled, which costs about a tenth of parsing them;
below :data:`PARALLEL_BYTES`, on one core, or in a process running threads (``ncp run``
reads manifests in one: a fork copies only the calling thread, and any lock another thread
held stays held in the child) files are parsed here, one after the other.
``NCP_PARSE_WORKERS`` caps the worker processes (0: none).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from ncp.sources.shapes import shape_problem
from ncp.sources.yamlfast import FastLoader
from sdn.errors import Problem, yaml_error_text

#: Bytes of manifests from which files are parsed in worker processes too.
PARALLEL_BYTES = 4 << 20

# libyaml's loader is about ten times faster (PyYAML built without libyaml lacks it), and
# FastLoader builds its values about three times faster again, with the same results.
_Loader: Any = FastLoader


@dataclass(frozen=True)
class Loaded:
    """One file parsed: its documents in order (None for an empty document), or the one
    problem that drops the whole file (a half-parsed file is worse than none)."""

    documents: tuple[Any, ...] = ()
    problem: Problem | None = None
    #: Each document's :func:`~ncp.sources.shapes.shape_problem` under the kind it
    #: declares (None where it declares none): the reader's longest check, which needs
    #: nothing but the document, so the workers run it too.
    shapes: tuple[str | None, ...] = ()
    #: What the documents were made from: the parser and the file's bytes, digested
    #: (:func:`content_digest`; empty when the file could not be read).
    digest: str = ""


def content_digest(file: Path, data: bytes) -> str:
    """The digest of what parsing ``file`` reads: its bytes and the parser its name
    chooses (JSON or YAML). Two files with equal digests parse to equal documents."""
    parser = b"json\0" if file.suffix.lower() == ".json" else b"yaml\0"
    return hashlib.sha256(parser + data).hexdigest()


def load_file(file: Path) -> Loaded:
    """Read and parse one file (JSON if it ends in ``.json``, else YAML); never raises
    for its content or for the operating system refusing to read it."""
    name = str(file)
    try:
        data = file.read_bytes()
    except OSError as exc:
        return Loaded(problem=Problem("UNREADABLE_FILE", name, f"{name}: {exc.strerror}"))
    return _parse(file, data)


def _parse(file: Path, data: bytes) -> Loaded:
    """:func:`load_file` of the bytes read from ``file``."""
    name = str(file)
    digest = content_digest(file, data)
    try:
        # as a file opened as text reads it: every line end ("\r\n", "\r") becomes "\n"
        text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        return Loaded(problem=Problem("MALFORMED_MANIFEST", name,
                                      f"{name}: not UTF-8 text ({exc.reason})"), digest=digest)
    try:
        if file.suffix.lower() == ".json":
            documents = tuple(_load_json(text))
        else:
            documents = tuple(yaml.load_all(text, Loader=_Loader))
        return Loaded(documents, shapes=tuple(_shape(d) for d in documents), digest=digest)
    except yaml.YAMLError as exc:
        return Loaded(problem=Problem("MALFORMED_MANIFEST", name, yaml_error_text(name, exc)))
    except json.JSONDecodeError as exc:
        return Loaded(problem=Problem(
            "MALFORMED_MANIFEST", name, f"{name} line {exc.lineno} column {exc.colno}: {exc.msg}"))
    except RecursionError:
        return Loaded(problem=Problem("MALFORMED_MANIFEST", name, f"{name}: nested too deeply"))


def _shape(document: object) -> str | None:
    if not isinstance(document, dict):
        return None
    kind = document.get("kind")
    return shape_problem(kind, document) if isinstance(kind, str) else None


def load_files(files: Sequence[Path], known: Mapping[str, Loaded] | None = None,
               ) -> list[Loaded]:
    """Every file parsed, in the order given (module docs: where). ``known``: files
    parsed before, by :attr:`Loaded.digest`: a file whose content has one of those
    digests is not parsed again (its bytes are read and digested)."""
    if not known:
        return _parse_all(files)
    found: list[Loaded | None] = []
    for file in files:
        try:
            data = file.read_bytes()
        except OSError:
            found.append(None)  # parsed below, where it gets its problem
            continue
        found.append(known.get(content_digest(file, data)))
    rest = iter(_parse_all([f for f, got in zip(files, found, strict=True) if got is None]))
    return [got if got is not None else next(rest) for got in found]


def _parse_all(files: Sequence[Path]) -> list[Loaded]:
    """Every file parsed, here or in workers too."""
    sizes = [_size(f) for f in files]
    workers = _workers(len(files), sum(sizes))
    if not workers:
        return [load_file(f) for f in files]
    mine, theirs = _split(files, sizes, workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(_load_many, chunk) for chunk in theirs]
        loaded = [load_file(f) for f in mine]
        for future in futures:
            loaded += future.result()
    return loaded


def _load_many(files: Sequence[Path]) -> list[Loaded]:
    return [load_file(f) for f in files]


def _workers(count: int, total_bytes: int) -> int:
    """How many worker processes parse ``count`` files of ``total_bytes`` beside this one
    (0: parse here alone)."""
    cap = os.environ.get("NCP_PARSE_WORKERS", "").strip()
    limit = int(cap) if cap.isdigit() else (os.cpu_count() or 1) - 1
    if limit <= 0 or count < 2 or threading.active_count() > 1 \
            or total_bytes < PARALLEL_BYTES:
        return 0
    return min(limit, count - 1)


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _split(files: Sequence[Path], sizes: Sequence[int],
           workers: int) -> tuple[list[Path], list[list[Path]]]:
    """``files`` (of ``sizes`` bytes) cut, in order, into ``workers + 1`` runs of about
    equal bytes: the first for this process, one per worker."""
    share = sum(sizes) / (workers + 1)
    runs: list[list[Path]] = [[]]
    filled = 0
    for file, size in zip(files, sizes, strict=True):
        if filled >= share * len(runs) and len(runs) <= workers:
            runs.append([])
        runs[-1].append(file)
        filled += size
    return runs[0], [r for r in runs[1:] if r]


def _load_json(text: str) -> list[Any]:
    """Parse one JSON value, or several concatenated ones (as some exporters write)."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    end = len(text)
    while True:
        while position < end and text[position].isspace():
            position += 1
        if position >= end:
            return documents
        value, position = decoder.raw_decode(text, position)
        documents.append(value)
