"""Sample clusters and a seeded cluster generator: the data the emulator is exercised with.

Why a package and not a loose folder: the samples ship inside the distribution (see
``[tool.setuptools.package-data]``), so ``ncp sync --cluster topologies/guestbook`` works
from a checkout and :func:`sample_path` finds the same files from an installed wheel.

Each sample is a folder of Kubernetes manifests, read by ``ncp sync --cluster PATH``:

* ``guestbook``: the PKS workshop's guestbook (Redis master and replicas, a PHP frontend
  behind a LoadBalancer Service) in ``default``, three nodes, one NetworkPolicy.
* ``multi-tenant``: several teams' namespaces with NAT, static SNAT IP and routed
  (no-SNAT) modes, StatefulSets, a Job, a DaemonSet and cross-namespace policies.

Large clusters are not stored; :mod:`topologies.generate` builds them from a seed.

>>> "guestbook" in list_samples()
True
>>> (sample_path("guestbook") / "frontend.yaml").is_file()
True
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

__all__ = ["UnknownSampleError", "list_samples", "sample_path"]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# A Kubernetes manifest names its apiVersion and kind (YAML key or JSON key). Network
# profiles (topologies/profiles/*.json) have neither, so their folder is not a cluster.
_API_VERSION = re.compile(r'^\s*(?:-\s*)?"?apiVersion"?\s*:', re.MULTILINE)
_KIND = re.compile(r'^\s*(?:-\s*)?"?kind"?\s*:', re.MULTILINE)


class UnknownSampleError(LookupError):
    """No bundled sample has that name; ``code`` is stable for scripts."""

    code = "UNKNOWN_SAMPLE"


def _root() -> Path:
    # The package is always installed as plain files (setuptools, no zip-safe eggs), so the
    # resource root is a real directory and a Path is what callers can hand to ncp.
    return Path(str(files("topologies")))


def _is_manifest(path: Path) -> bool:
    if not path.is_file() or path.suffix not in _MANIFEST_SUFFIXES:
        return False
    text = path.read_text(encoding="utf-8", errors="replace")
    return bool(_API_VERSION.search(text) and _KIND.search(text))


def _has_manifests(folder: Path) -> bool:
    return any(_is_manifest(p) for p in folder.rglob("*"))


def list_samples() -> list[str]:
    """Names of the bundled sample clusters, sorted: the folders that hold Kubernetes
    manifests (files naming an ``apiVersion`` and a ``kind``)."""
    return sorted(
        entry.name
        for entry in _root().iterdir()
        if entry.is_dir() and not entry.name.startswith(("_", ".")) and _has_manifests(entry)
    )


def sample_path(name: str) -> Path:
    """The folder of the bundled sample ``name``, ready for ``ncp sync --cluster``.

    Raises :class:`UnknownSampleError` (a ``LookupError``) naming the samples that exist.
    """
    samples = list_samples()
    if name not in samples:
        raise UnknownSampleError(
            f"{UnknownSampleError.code} {name!r}: no such sample; have {', '.join(samples)}"
        )
    return _root() / name
