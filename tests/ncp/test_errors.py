"""ncp's error tree (:mod:`ncp.errors`): every error ncp raises on purpose is a
:class:`PluginError` with a stable code; the command line treats the input errors
(:class:`NcpError`) as exit 2 and a Kubernetes API error that got that far (none should:
``ncp run`` retries them) as a bug, exit 70, as it always has."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import ncp.cli
from ncp.errors import ConfigError, NcpError, PluginError
from ncp.reconcile.completeness import IncompleteInputError
from ncp.sources.kube import (
    KubeConflictError,
    KubeError,
    KubeGoneError,
    KubeNotFoundError,
    KubeUnavailableError,
)
from sdn.errors import Problem


def test_the_tree() -> None:
    for cls in (NcpError, ConfigError, IncompleteInputError, KubeError, KubeGoneError,
                KubeConflictError, KubeNotFoundError, KubeUnavailableError):
        assert issubclass(cls, PluginError), cls
    for cls in (KubeError, KubeGoneError, KubeConflictError, KubeNotFoundError,
                KubeUnavailableError):
        assert not issubclass(cls, NcpError), cls  # not the input's fault
    codes = [c.code for c in (KubeError, KubeGoneError, KubeConflictError,
                              KubeNotFoundError, KubeUnavailableError)]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize(("raised", "exit_code", "line"), [
    pytest.param(ConfigError([Problem("INVALID_CONFIG", "ncp.yaml", "bad")]), 2,
                 "error: INVALID_CONFIG ncp.yaml: bad", id="input-error"),
    pytest.param(KubeUnavailableError("503 Service Unavailable", 503), 70,
                 "error: INTERNAL_ERROR: KubeUnavailableError: 503 Service Unavailable",
                 id="kube-error"),
])
def test_the_command_line_maps_the_branches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            raised: PluginError, exit_code: int,
                                            line: str) -> None:
    def run(_args: argparse.Namespace) -> int:
        raise raised
    monkeypatch.setattr(ncp.cli, "_run", run)
    code = ncp.cli.main(["run", "--cluster", str(tmp_path), "--state",
                         str(tmp_path / "s.db")])
    err = capsys.readouterr().err
    assert code == exit_code
    assert err.splitlines()[0].startswith(line), err
