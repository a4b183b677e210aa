"""``sdn serve`` as a subprocess for end-to-end tests of the API: started on a free
loopback port, awaited until it says ``listening on URL``, stopped (SIGTERM, then
SIGKILL) and waited for whatever happens to the test."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("admin", "Adm1n-Test-Password!")
AUDIT = ("audit", "Aud1t-Test-Password!")
#: How long a server may take to start (imports, opening the state).
START_SECONDS = 60.0


@dataclass
class Served:
    """A running server: where it listens, over which state, its process."""

    url: str
    state: Path
    process: subprocess.Popen[str]

    def client(self, user: tuple[str, str] | None = ADMIN, **kwargs: object) -> httpx.Client:
        """An HTTP client of this server, with Basic auth as ``user`` (None: none)."""
        return httpx.Client(base_url=self.url, auth=user, timeout=30.0, **kwargs)  # type: ignore[arg-type]


def serve_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SDN_ADMIN_PASSWORD=ADMIN[1], SDN_AUDIT_PASSWORD=AUDIT[1], PYTHONPATH=str(ROOT))
    env.pop("SDN_STATE", None)
    env.update(extra)
    return env


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    """The next line of the server's stdout, or "" when it ends or the deadline passes."""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            return ""
    return ""


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL after 10 s; always waited for."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


@contextmanager
def running_server(state: Path, *extra: str, env: dict[str, str] | None = None,
                   ) -> Iterator[Served]:
    """``sdn serve --port 0 --state STATE EXTRA...`` until the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sdn", "serve", "--port", "0", "--state", str(state), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env if env is not None else serve_env(), cwd=ROOT)
    try:
        line = read_line(process, time.monotonic() + START_SECONDS)
        if not line.startswith("listening on "):
            stop(process)
            assert process.stderr is not None
            raise AssertionError(f"sdn serve did not start: {line!r} {process.stderr.read()}")
        yield Served(line.split(" ", 2)[2].strip(), state, process)
    finally:
        stop(process)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
