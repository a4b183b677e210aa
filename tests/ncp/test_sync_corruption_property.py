"""Property: a corrupted manifests folder never costs more than what was corrupted.

For a random small cluster (the seeded generator) synced into a state, and a random
corruption of its folder (a file removed, truncated at a random byte, made unparseable),
``ncp sync`` of the corrupted folder either

* exits 2 and leaves every table of the state as it was, or
* reconciles exactly as a clean sync of what it read: the oracle re-serializes the
  independently parsed documents into a fresh folder (one JSON ``List``) and syncs that
  into a copy of the same before-state; every ``sdn show KIND -o json`` must agree.

Which of the two is not left to ncp alone: when an independent reading of the files
(PyYAML's pure-Python loader, strict UTF-8) finds a file that does not parse, a document
that cannot be identified, or no object at all, it must refuse. It may refuse more: a
document cut short can still parse with a field of the wrong type (``labels: app``), which
the API server would refuse too; then the refusal names that object (``INVALID_OBJECT``).
"""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import ncp.cli
import sdn.cli
from ncp.objects import KNOWN_KINDS
from tests.support.statefiles import every_table
from topologies.generate import generate_cluster, write_cluster

T0 = 1_700_000_000.0
KINDS = ("tier-0s", "tier-1s", "segments", "segment-ports", "ip-blocks", "ip-pools",
         "nat-rules", "groups", "security-policies", "lb-services", "lb-virtual-servers",
         "lb-pools")


def _run(main: Any, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _sync(folder: Path, state: Path, now: float) -> tuple[int, str]:
    code, _out, err = _run(ncp.cli.main, ["sync", "--cluster", str(folder), "--state",
                                          str(state), "--now", repr(now), "-o", "json"])
    return code, err


def _shown(state: Path) -> dict[str, Any]:
    out = {}
    for kind in KINDS:
        code, text, err = _run(sdn.cli.main, ["show", kind, "-o", "json", "--state",
                                              str(state)])
        assert code == 0, err
        out[kind] = json.loads(text)
    return out


def _identifiable(doc: object) -> bool:
    if not isinstance(doc, dict):
        return False
    kind, meta = doc.get("kind"), doc.get("metadata")
    if not isinstance(kind, str) or not kind or not isinstance(meta, dict):
        return False
    name, namespace = meta.get("name"), meta.get("namespace")
    return isinstance(name, str) and bool(name) and (namespace is None
                                                     or isinstance(namespace, str))


def _independent_read(folder: Path) -> list[Any] | None:
    """Every document of the folder's files in order; None when the input is not whole
    (a file that does not parse, a document that cannot be identified, no object)."""
    docs: list[Any] = []
    for file in sorted(folder.glob("*.yaml")):
        try:
            text = file.read_bytes().decode("utf-8-sig")
            loaded = [d for d in yaml.load_all(text, Loader=yaml.SafeLoader) if d is not None]
        except (UnicodeDecodeError, yaml.YAMLError):
            return None
        if not all(_identifiable(d) for d in loaded):
            return None
        docs += loaded
    if not any(d["kind"] in KNOWN_KINDS for d in docs):
        return None
    return docs


def _corrupt(folder: Path, how: str, pick: int, where: float) -> None:
    files = sorted(folder.glob("*.yaml"))
    victim = files[pick % len(files)]
    data = victim.read_bytes()
    cut = int(len(data) * where)
    if how == "remove":
        victim.unlink()
    elif how == "truncate":
        victim.write_bytes(data[:cut])
    else:  # unparseable: what an editor saving half a line might leave
        victim.write_bytes(data[:cut] + b"\n: : [unclosed\n" + data[cut:])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), namespaces=st.integers(1, 4), pods=st.integers(2, 10),
       per_file=st.integers(2, 6), how=st.sampled_from(["remove", "truncate", "unparseable"]),
       pick=st.integers(0, 100), where=st.floats(0.0, 1.0))
def test_a_corrupted_folder_costs_nothing_it_did_not_corrupt(
        tmp_path_factory: Any, seed: int, namespaces: int, pods: int, per_file: int,
        how: str, pick: int, where: float) -> None:
    tmp = tmp_path_factory.mktemp("corrupt")
    folder = tmp / "cluster"
    write_cluster(generate_cluster(namespaces=namespaces, pods=pods, seed=seed, nodes=2),
                  folder, per_file=per_file)
    before = tmp / "before.db"
    code, err = _sync(folder, before, T0)
    assert code in (0, 1), err
    before_tables = every_table(before)
    _corrupt(folder, how, pick, where)
    state = tmp / "state.db"
    shutil.copyfile(before, state)
    code, err = _sync(folder, state, T0 + 100)
    read = _independent_read(folder)
    event(f"{how}: {'reconciled' if code in (0, 1) else 'refused'}"
          f"{'' if read is None or code != 2 else ' (a mistyped field)'}")
    if code == 2 or read is None:
        assert code == 2, err
        assert every_table(state) == before_tables
        if read is not None:  # the files parse: ncp found a field of the wrong type
            assert "error: INVALID_OBJECT " in err, err
        return
    assert code in (0, 1), err
    oracle_folder = tmp / "oracle"
    oracle_folder.mkdir()
    (oracle_folder / "all.json").write_text(json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": read}))
    oracle = tmp / "oracle.db"
    shutil.copyfile(before, oracle)
    oracle_code, oracle_err = _sync(oracle_folder, oracle, T0 + 100)
    assert oracle_code == code, oracle_err
    assert _shown(state) == _shown(oracle)
