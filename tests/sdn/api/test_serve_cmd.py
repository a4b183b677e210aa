"""``sdn serve`` as a command: refusals before listening (coded, exit 2), a clean stop
on SIGTERM. (That ``sdn --help`` imports no web framework is tests/sdn/cli's
test_lazy_imports.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.served import ROOT, Served, serve_env


def _serve(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sdn", "serve", "--port", "0", *argv],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


@pytest.mark.parametrize(("argv", "env_extra", "code"), [
    pytest.param((), {"SDN_ADMIN_PASSWORD": ""}, "NO_ADMIN_PASSWORD", id="no-admin-password"),
    pytest.param(("--tls-cert", "c.pem"), {}, "BAD_ARGUMENT", id="cert-without-key"),
    pytest.param(("--port", "70000"), {}, "BAD_ARGUMENT", id="port-out-of-range"),
    pytest.param(("--state", "missing.db"), {}, "STATE_NOT_FOUND", id="no-state"),
])
def test_refuses_to_start(tmp_path: Path, argv: tuple[str, ...], env_extra: dict[str, str],
                          code: str) -> None:
    argv = tuple(str(tmp_path / a) if a.endswith((".db", ".pem")) else a for a in argv)
    run = _serve(*argv, env=serve_env(**env_extra))
    assert run.returncode == 2
    assert f"error: {code}" in run.stderr
    assert "listening" not in run.stdout


def test_sigterm_stops_within_five_seconds(serve: object) -> None:
    served: Served = serve()  # type: ignore[operator]
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(10)
    assert time.monotonic() - started < 5
    assert served.process.returncode == 0
