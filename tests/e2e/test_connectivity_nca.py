"""``sdn connectivity`` gives network-config-analyzer's answer on the sample topologies.

The peer reads the same manifests (``nca --connectivity DIR -o txt_no_fw_rules
--output_endpoints pods``); :mod:`tests.support.nca_compare` brings both answers to one
form (per pair of pods and per pod and outside address: protocols and exact ports) and
they must be identical. The peer lives in a venv of its own (``.ci/run`` makes it, as
``bench/bench_peers.py`` does, at ``~/.cache/nsx-sdn-bench/nca-venv``, or
``$SDN_NCA`` names its ``nca``): under ``CI=true`` a missing peer fails the test, elsewhere
it is skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import sdn.cli
from sdn.model import SegmentPort
from sdn.store import Store
from tests.support.cli_runs import TOPOLOGIES, run_main, sync_sample
from tests.support.nca_compare import compare, workloads_in

SAMPLES = ("guestbook", "multi-tenant", "lb-heavy")


def peer() -> Path:
    """The peer's ``nca``, or a failure (CI) or skip (elsewhere) saying why not."""
    env = os.environ.get("SDN_NCA")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    found = Path(env) if env else cache / "nsx-sdn-bench" / "nca-venv" / "bin" / "nca"
    if found.exists():
        return found
    why = f"network-config-analyzer not installed at {found} (.ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@pytest.mark.parametrize("sample", SAMPLES)
def test_same_answer_as_network_config_analyzer(tmp_path: Path, sample: str) -> None:
    nca = peer()
    state = tmp_path / "state.db"
    sync_sample(state, sample)
    code, out, err = run_main(sdn.cli.main, "connectivity", "-o", "json", "--state", state)
    assert code == 0, err
    (tmp_path / "sdn.json").write_text(out)
    subprocess.run([str(nca), "--connectivity", "-r", str(TOPOLOGIES / sample), "-o",
                    "txt_no_fw_rules", "--output_endpoints", "pods", "--return_0", "-f",
                    str(tmp_path / "nca.txt")], check=True, capture_output=True, timeout=300)
    with Store.open_readonly(state) as store:
        pods = sorted(p.display_name for p in store.inventory().of_type(SegmentPort)
                      if p.tag("ncp/pod"))
    problems: list[str] = []
    result = compare(tmp_path / "sdn.json", tmp_path / "nca.txt", pods, problems.append,
                     workloads_in(TOPOLOGIES / sample))
    assert result["answers_identical"], "\n".join(problems)
    assert result["pod_pairs_allowed"] > 0
