"""The NSX Manager API as an ASGI application: :func:`create_app` wires every router.

Every handler and dependency is a coroutine, so requests run one at a time on the
server's event loop: the state view and the sessions need no lock, and a write (one
SQLite transaction) never interleaves with a read of the same process. Answers are
CPU-bound Python either way (one interpreter lock), so threads would add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from sdn.api import (
    auth,
    hierarchical,
    manager,
    policy_reads,
    policy_writes,
    realized,
    search,
    statistics,
    traceflows,
    ui,
)
from sdn.api.errors import MAX_BODY_BYTES, BodyLimit, install_handlers
from sdn.api.openapi import nsx_openapi
from sdn.api.realized import RealizedSource
from sdn.api.stateview import StateView
from sdn.api.traceflows import Traceflows
from sdn.api.tracing import Tracer
from sdn.api.ui_answers import UiAnswers
from sdn.api.write_commit import StateWriter

#: Where the API documentation page (``/docs``, FastAPI's Swagger UI) gets its scripts and
#: styles: from the installed package (fastapi-offline bundles them), never from the
#: internet, so the page works on a machine without it.
DOCS_ASSETS = "/docs-assets"


@dataclass(frozen=True)
class ApiConfig:
    """What one server serves and to whom."""

    state: Path
    admin_password: str
    audit_password: str | None = None
    #: Requests per second per user (0: no limit); NSX's default per client is 100.
    rate_limit: float = 100.0
    max_body_bytes: int = MAX_BODY_BYTES


def create_app(config: ApiConfig) -> FastAPI:
    """The application over ``config.state`` (opened now: a bad state fails here)."""
    app = FastAPIOffline(docs_url="/docs", redoc_url=None, static_url=DOCS_ASSETS,
                         title="NSX Manager API (sdn)", version="4.2.0",
                         description="NSX-T 4.x Policy and Manager API over an sdn state.")
    passwords = {auth.ADMIN: config.admin_password}
    if config.audit_password:
        passwords[auth.AUDIT] = config.audit_password
    app.state.auth = auth.Authenticator(passwords, rate=config.rate_limit)
    app.state.view = StateView(config.state)
    app.state.ui = UiAnswers(config.state)
    app.state.view.current()  # the first view now: listening means answering at once
    app.state.tracer = Tracer(config.state)
    app.state.traceflows = Traceflows()
    app.state.realized = RealizedSource(config.state)
    app.state.writer = StateWriter(config.state)
    install_handlers(app)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.include_router(auth.router)
    app.include_router(policy_reads.build_router())
    app.include_router(manager.router)
    app.include_router(policy_writes.build_router())
    app.include_router(hierarchical.router)
    app.include_router(traceflows.build_router())
    app.include_router(statistics.build_router())
    app.include_router(realized.build_router())
    app.include_router(search.build_router())
    app.include_router(ui.build_router())
    app.openapi = lambda: nsx_openapi(app)  # type: ignore[method-assign]
    return app
