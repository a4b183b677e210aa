"""Shared helpers for the end-to-end tests: run ``ncp`` and ``sdn`` in-process.

Every command goes through the console-script entry points (``ncp.cli.main`` and
``sdn.cli.main``) with ``capsys`` capturing stdout and stderr. Every call gets an explicit
``--state`` inside ``tmp_path``; every ``ncp sync`` gets an explicit ``--now``.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import ncp.cli
import sdn.cli

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"
GUESTBOOK = TOPOLOGIES / "guestbook"
MULTI_TENANT = TOPOLOGIES / "multi-tenant"
PROFILES = TOPOLOGIES / "profiles"

#: The ``--now`` of every first sync; later syncs add seconds to it.
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Result:
    """One command's exit code and captured output."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


class Cli:
    """Runs ``ncp``/``sdn`` against one state file, capturing their output.

    Test modules do not import this file (pytest imports it under its own name), so the
    sample paths and the base time are reachable through the fixture as attributes.
    """

    T0 = T0
    GUESTBOOK = GUESTBOOK
    MULTI_TENANT = MULTI_TENANT
    PROFILES = PROFILES

    def __init__(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        self.capsys = capsys
        self.tmp = tmp_path
        self.state = tmp_path / "state" / "state.db"

    # --- raw entry points -----------------------------------------------------------
    def _run(self, main: Any, argv: Sequence[str]) -> Result:
        self.capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in argv])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ncp(self, *argv: object) -> Result:
        """``ncp ARGV...`` (the caller passes ``--state`` and ``--now`` as needed)."""
        return self._run(ncp.cli.main, [str(a) for a in argv])

    def sdn(self, *argv: object) -> Result:
        """``sdn ARGV...`` (the caller passes ``--state``)."""
        return self._run(sdn.cli.main, [str(a) for a in argv])

    # --- conveniences ---------------------------------------------------------------
    def sync(self, *clusters: Path | str, now: float = T0, state: Path | None = None,
             output: str = "json", extra: Sequence[object] = ()) -> Result:
        """``ncp sync --cluster C... --state S --now N -o OUTPUT [extra...]``."""
        argv: list[object] = ["sync"]
        for c in clusters:
            argv += ["--cluster", c]
        argv += ["--state", state or self.state, "--now", repr(float(now)), "-o", output,
                 *extra]
        return self.ncp(*argv)

    def show(self, kind: str, *filters: object, state: Path | None = None) -> list[Any]:
        """``sdn show KIND -o json [filters...]``, parsed; asserts exit 0."""
        res = self.sdn("show", kind, "-o", "json", "--state", state or self.state, *filters)
        assert res.code == 0, res.err
        data = res.json()
        assert isinstance(data, list)
        return data

    def pools(self, *filters: object, state: Path | None = None) -> list[Any]:
        """``sdn show ip-pools -o json`` with each pool's children (``sdn show ip-subnets``
        and ``ip-allocations``, NSX's child resources) put back as ``subnets`` and
        ``allocations``, in their order."""
        pools = self.show("ip-pools", *filters, state=state)
        children = {kind: self.show(f"ip-{kind}", state=state)
                    for kind in ("subnets", "allocations")}
        for pool in pools:
            for kind, items in children.items():
                pool[kind] = [c for c in items if c["parent_path"] == pool["path"]]
        return pools

    def show_text(self, kind: str, *filters: object, state: Path | None = None) -> str:
        """``sdn show KIND -o json`` as the exact text printed (for byte comparisons)."""
        res = self.sdn("show", kind, "-o", "json", "--state", state or self.state, *filters)
        assert res.code == 0, res.err
        return res.out

    def ipam(self, *extra: object, state: Path | None = None) -> dict[str, Any]:
        """``sdn ipam -o json``, parsed; asserts exit 0."""
        res = self.sdn("ipam", "-o", "json", "--state", state or self.state, *extra)
        assert res.code == 0, res.err
        data: dict[str, Any] = res.json()
        return data

    def copy_sample(self, sample: Path, name: str | None = None) -> Path:
        """A private copy of a sample folder (so files can be removed or added)."""
        dest = self.tmp / (name or sample.name)
        shutil.copytree(sample, dest)
        return dest

    def write_yaml(self, path: Path | str, *docs: Any) -> Path:
        """Write ``docs`` as a multi-document YAML file under ``tmp_path``; returns it."""
        p = self.tmp / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return p

    def write_profile(self, name: str, base: str = "dedicated-t1", **params: Any) -> Path:
        """A copy of a bundled profile renamed ``name`` with ``params`` changed."""
        body = json.loads((PROFILES / f"{base}.json").read_text())
        body["name"] = name
        body["parameters"].update(params)
        p = self.tmp / "profiles" / f"{name}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(body, indent=2))
        return p

    # --- direct state reads (read-only; for "nothing was written" checks) -----------
    def revision(self, state: Path | None = None) -> int:
        """The state's revision from the sqlite ``meta`` table."""
        with sqlite3.connect(state or self.state) as db:
            row = db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        return int(row[0])

    def dump(self, state: Path | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table that a sync writes, for before/after comparisons."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with sqlite3.connect(state or self.state) as db:
            for table in ("meta", "objects", "holds", "profiles", "clusters", "k8s_status",
                          "k8s_objects", "problems"):
                out[table] = sorted(db.execute(f"SELECT * FROM {table}").fetchall(),
                                    key=repr)
        return out


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    """A :class:`Cli` whose state lives in ``tmp_path``."""
    return Cli(capsys, tmp_path)


def tags_of(obj: dict[str, Any]) -> dict[str, str]:
    """An NSX object's tags as ``{scope: tag}``."""
    return {t["scope"]: t["tag"] for t in obj["tags"]}


@pytest.fixture
def tags() -> Any:
    """:func:`tags_of`, as a fixture (test modules do not import conftest)."""
    return tags_of


def pod(name: str, namespace: str = "default", labels: dict[str, str] | None = None,
        **spec: Any) -> dict[str, Any]:
    """A bare Pod manifest."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec}}


def namespace(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A Namespace manifest."""
    meta: dict[str, Any] = {"name": name, "labels": {"kubernetes.io/metadata.name": name}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


@pytest.fixture
def k8s() -> Any:
    """Manifest builders: ``k8s.pod(...)``, ``k8s.namespace(...)``."""
    import types

    return types.SimpleNamespace(pod=pod, namespace=namespace)


@dataclass(frozen=True)
class Synced:
    """A state written once per session by one ``ncp sync -o json``; tests only read it."""

    state: Path
    code: int
    report: dict[str, Any]


@pytest.fixture(scope="session")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``synced(sample, *extra_args)``: a cached, read-only state of a bundled sample.

    ``sample`` is a folder name under ``topologies/``; ``extra_args`` are passed to
    ``ncp sync`` as they are (e.g. ``"--profile", path``). Only read these states.
    """
    cache: dict[tuple[str, ...], Synced] = {}

    def get(sample: str, *extra: object) -> Synced:
        key = (sample, *map(str, extra))
        if key not in cache:
            state = tmp_path_factory.mktemp("synced") / "state.db"
            argv = ["sync", "--cluster", str(TOPOLOGIES / sample), "--state", str(state),
                    "--now", repr(T0), "-o", "json", *map(str, extra)]
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = ncp.cli.main(argv)
            assert code in (0, 1), err.getvalue()
            cache[key] = Synced(state, code, json.loads(out.getvalue()))
        return cache[key]

    return get
