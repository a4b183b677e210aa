"""``sdn connectivity`` on the sample topologies, through the CLI.

Every witness it prints is replayed through ``sdn explain`` and must be allowed; one port
either side of each allowed range, and every protocol a pair has no entry for, must be
denied by ``explain``; ``--namespace`` keeps the pairs of the chosen pods; the JSON text is
``json.dumps(..., indent=2)``'s; the table fits 80 columns; the command only reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sdn.cli
from sdn.cli.connectivity_cmd import entry
from sdn.cli.connectivity_json import json_chunks
from sdn.model import Inventory, Tier0
from sdn.policy import compile_dfw
from sdn.policy.connectivity import Matrix, connectivity
from tests.support.builders import T0, port, segment
from tests.support.cli_runs import TOPOLOGIES, run_main, sync_sample
from tests.support.statefiles import snapshot

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ("guestbook", "multi-tenant", "lb-heavy", "admin")
#: At most this many entries per sample are replayed (explain runs in-process).
REPLAYS = 80


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name in SAMPLES[:3]:
        out[name] = tmp_path_factory.mktemp(name) / "state.db"
        sync_sample(out[name], name)
    admin = out["admin"] = tmp_path_factory.mktemp("admin") / "state.db"
    code, _, err = run_main(sdn.cli.main, "apply", "-f", TOPOLOGIES / "admin" /
                            "guardrails.yaml", "--state", admin)
    assert code == 0, err
    sync_sample(admin, "multi-tenant", "--profile", TOPOLOGIES / "profiles" / "guardrails.json")
    return out


def sdn_json(state: Path, *argv: object) -> Any:
    code, out, err = run_main(sdn.cli.main, *argv, "-o", "json", "--state", state)
    assert code == 0, err
    return json.loads(out)


def explain(state: Path, src: str, dst: str, protocol: str, port: int | None) -> bool:
    extra = [] if port is None else ["--dport", port]
    verdict = sdn_json(state, "explain", "--src", src, "--dst", dst, "--protocol", protocol,
                       *extra)
    allowed: bool = verdict["allowed"]
    return allowed


def _spread(items: list[Any]) -> list[Any]:
    step = max(1, len(items) // REPLAYS)
    return items[::step]


@pytest.mark.parametrize("sample", SAMPLES)
def test_witnesses_replay_allowed_and_edges_denied(states: dict[str, Path],
                                                   sample: str) -> None:
    state = states[sample]
    conns = sdn_json(state, "connectivity", "--witness")["connections"]
    assert conns
    for c in _spread(conns):
        w = c["witness"]
        assert w["protocol"] == c["protocol"]
        assert explain(state, w["src_ip"], w["dst_ip"], w["protocol"], w.get("dst_port"))
        assert ("ports" in c) == (c["protocol"] != "ICMP")
        if "ports" in c and sample != "admin":
            assert c["ports"] and all(lo <= hi for lo, hi in c["ports"])
            for lo, hi in c["ports"]:
                for port in (lo - 1, hi + 1):
                    if 1 <= port <= 65535 and not any(a <= port <= b for a, b in c["ports"]):
                        assert not explain(state, w["src_ip"], w["dst_ip"], c["protocol"],
                                           port)


@pytest.mark.parametrize("sample", SAMPLES[:2])
def test_missing_protocols_are_denied(states: dict[str, Path], sample: str) -> None:
    state = states[sample]
    conns = sdn_json(state, "connectivity", "--witness")["connections"]
    present = {(c["src"], c["dst"], c["protocol"]) for c in conns}
    addresses = {c["src"]: c["witness"]["src_ip"] for c in conns}
    addresses.update({c["dst"]: c["witness"]["dst_ip"] for c in conns})
    pairs = sorted({(c["src"], c["dst"]) for c in conns})
    missing = [(s, d, p) for s, d in pairs for p in ("TCP", "UDP", "SCTP", "ICMP")
               if (s, d, p) not in present]
    for s, d, p in _spread(missing):
        assert not explain(state, addresses[s], addresses[d], p, None if p == "ICMP" else 80)


def test_namespace_keeps_the_pairs_of_its_pods(states: dict[str, Path]) -> None:
    conns = sdn_json(states["multi-tenant"], "connectivity", "-n", "shop", "-n",
                     "payments")["connections"]
    whole = sdn_json(states["multi-tenant"], "connectivity")["connections"]

    def pod_in(name: str) -> bool:
        return name.split("/")[0] in ("shop", "payments") and not name[0].isdigit()

    def outside(name: str) -> bool:
        return name[0].isdigit()

    assert conns and all(
        (pod_in(c["src"]) or outside(c["src"])) and (pod_in(c["dst"]) or outside(c["dst"]))
        for c in conns)
    pods = [c for c in conns if not outside(c["src"]) and not outside(c["dst"])]
    assert pods == [c for c in whole if pod_in(c["src"]) and pod_in(c["dst"])]
    assert {c["src"] for c in conns} & {"shop/frontend-0", "payments/api-0"}
    assert all(c["src"] != c["dst"] for c in whole)


def test_json_text_is_json_dumps_indent_2(states: dict[str, Path]) -> None:
    code, out, _ = run_main(sdn.cli.main, "connectivity", "--witness", "-o", "json",
                            "--state", states["guestbook"])
    assert code == 0 and out == json.dumps(json.loads(out), indent=2) + "\n"


@pytest.mark.parametrize("witness", [False, True])
@pytest.mark.parametrize("among", [None, [], ["/infra/segments/s/ports/p0"]])
def test_json_writer_equals_json_dumps(witness: bool, among: list[str] | None) -> None:
    inv = Inventory([Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24"),
                     *[port("s", f"p{i}", f"10.0.0.{i + 2}") for i in range(3)]])
    dfw = compile_dfw(inv)
    names = {ep.path: name for ep, name in zip(dfw.endpoints, ['q/"x"', "ü/ñ", "a/b"],
                                               strict=True)}
    matrix = Matrix(dfw, sources=among, destinations=among, names=names)
    conns = connectivity(dfw, sources=among, destinations=among, names=names)
    data = {"connections": [entry(c, witness) for c in conns]}
    assert "".join(json_chunks(matrix, witness=witness)) == json.dumps(data, indent=2) + "\n"


def test_table_fits_80_columns(states: dict[str, Path]) -> None:
    code, out, _ = run_main(sdn.cli.main, "connectivity", "--state", states["multi-tenant"])
    assert code == 0
    lines = out.splitlines()
    assert "allowed" in lines[0] and lines[1].split() == ["FROM", "TO", "PROTO", "PORTS"]
    assert len(lines) > 100 and max(len(line.rstrip()) for line in lines) <= 80


def test_table_witness_replays(states: dict[str, Path]) -> None:
    state = states["multi-tenant"]
    code, out, _ = run_main(sdn.cli.main, "connectivity", "-n", "payments", "--witness",
                            "--state", state)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["FROM", "TO", "PROTO", "PORTS", "WITNESS"]
    for line in lines[2:]:
        _, _, protocol, _, src_ip, arrow, dst = line.split()
        dst_ip, _, port = dst.partition(":")
        assert arrow == "→" and explain(state, src_ip, dst_ip, protocol, int(port))


def test_reads_only(states: dict[str, Path], tmp_path: Path) -> None:
    state = states["guestbook"]
    before = snapshot(state)
    run_main(sdn.cli.main, "connectivity", "--state", state)
    assert snapshot(state) == before
    missing = tmp_path / "none.db"
    code, _, err = run_main(sdn.cli.main, "connectivity", "--state", missing)
    assert code == 2 and "STATE_NOT_FOUND" in err and not missing.exists()


def test_unknown_namespace_is_a_coded_error(states: dict[str, Path]) -> None:
    code, out, err = run_main(sdn.cli.main, "connectivity", "-n", "nope", "--state",
                              states["guestbook"])
    assert code == 2 and out == "" and "UNKNOWN_NAMESPACE" in err


_PROBE = """
import json, sys
from sdn.cli import main
sys.argv = ["sdn", "connectivity", "-o", "json", "--state", sys.argv[1]]
code = main()
print(json.dumps([code, sorted(m for m in sys.modules if m.split(".")[0] == "networkx"
                               or m in ("sdn.daemon.server", "sdn.policy.lint"))]),
      file=sys.stderr)
"""


def test_imports_no_graph_and_no_daemon_server(states: dict[str, Path]) -> None:
    """A question answered in-process (the daemon's starter included) loads neither
    networkx (no graph is made) nor the daemon's server (none is started on a small
    state): a tenth of a second each at start-up. Timing is the bench's business."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDN_DAEMON": "auto"}
    env.pop("SDN_NO_DAEMON", None)
    done = subprocess.run([sys.executable, "-c", _PROBE, str(states["guestbook"])],
                          capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    assert (code, modules) == (0, [])
