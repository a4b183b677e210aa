"""Run the API under uvicorn: loopback unless told otherwise, TLS when given a
certificate, ``listening on URL`` on stdout once connections are accepted, and a clean
stop on SIGTERM or Ctrl-C.

Stopping (SIGTERM or Ctrl-C; exit 0): uvicorn stops accepting, lets requests in flight
(a write's one transaction) finish for up to :data:`GRACE_SECONDS`, then closes what is
left; so a SIGTERM ends the process within 5 s, and a write either committed whole or
never started.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from sdn.api.app import ApiConfig, create_app

#: How long in-flight requests may take to finish after a stop is asked.
GRACE_SECONDS = 4


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: Path | None = None
    tls_key: Path | None = None


def url_of(host: str, port: int, tls: bool) -> str:
    """The address a client uses (an IPv6 host in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that says where it listens once it does (the real port when
    asked for port 0)."""

    def __init__(self, config: uvicorn.Config, tls: bool) -> None:
        super().__init__(config)
        self._tls = tls

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        print(f"listening on {url_of(str(host), int(port), self._tls)}", flush=True)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGTERM and Ctrl-C ask for the graceful stop, and that is all: the process
        then ends with 0 (uvicorn's own would raise the signal again once stopped)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(config: ApiConfig, listen: Listen) -> int:
    """Serve until stopped; returns the exit code (0 after a clean stop)."""
    app = create_app(config)
    tls = listen.tls_cert is not None
    uv = uvicorn.Config(app, host=listen.host, port=listen.port, log_level="warning",
                        access_log=False, lifespan="off",
                        timeout_graceful_shutdown=GRACE_SECONDS,
                        ssl_certfile=str(listen.tls_cert) if tls else None,
                        ssl_keyfile=str(listen.tls_key) if listen.tls_key else None)
    server = _AnnouncingServer(uv, tls)
    try:
        asyncio.run(server.serve())
    finally:
        app.state.view.close()
        app.state.writer.close()
    if not server.started:
        print(f"error: LISTEN_FAILED {url_of(listen.host, listen.port, tls)}: could not "
              "listen there", file=sys.stderr)
        return 2
    return 0
