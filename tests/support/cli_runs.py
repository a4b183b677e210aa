"""The two commands run in-process, for tests that build sample states once per module
and then ask many questions of them (cheaper than a subprocess per question)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import ncp.cli
from sdn.model import Inventory

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
#: The sync time the sample states are built at (so their holds and stamps repeat).
T0 = 1_700_000_000.0


def run_main(main: Any, *argv: object) -> tuple[int, str, str]:
    """``main(argv)`` with its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def sync_sample(state: Path, sample: str, *extra: object, now: float = T0) -> None:
    """``ncp sync`` of one sample in ``topologies/`` into ``state`` (exit 0 or 1: a sample
    may hold objects that are rejected on purpose)."""
    code, out, err = run_main(ncp.cli.main, "sync", "--cluster", TOPOLOGIES / sample,
                              "--state", state, "--now", repr(now), "-q", *extra)
    assert code in (0, 1), out + err


def sample_inventory(folder: Path, sample: str) -> Inventory:
    """The inventory of ``sample`` synced into a new state in ``folder``."""
    from sdn.store import Store

    state = folder / "state.db"
    sync_sample(state, sample)
    with Store.open_readonly(state) as store:
        return store.inventory()


def sample_isolating(folder: Path, sample: str, namespace: str) -> Path:
    """A copy of ``sample`` in ``folder/changed`` plus one NetworkPolicy that isolates
    ``namespace``'s pods from every ingress: a policy-only change with lost flows."""
    import json
    import shutil

    changed = folder / "changed"
    shutil.copytree(TOPOLOGIES / sample, changed)
    (changed / "zz-isolate.yaml").write_text(json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "isolate", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}))
    return changed
