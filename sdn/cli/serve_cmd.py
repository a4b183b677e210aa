"""``sdn serve``: NSX Manager's API (and web UI) over the state.

The API's packages (FastAPI, uvicorn) are imported only here, when the command runs:
``sdn --help`` and every other command need none of them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sdn.errors import SdnError


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C; refuses to start without an admin password or a
    state, or with half a TLS pair."""
    admin = os.environ.get("SDN_ADMIN_PASSWORD", "")
    if not admin:
        raise SdnError("set SDN_ADMIN_PASSWORD (the admin user's password) to serve the API",
                       code="NO_ADMIN_PASSWORD")
    if args.port > 65535:
        raise SdnError(f"--port {args.port} is not a port (0-65535)", code="BAD_ARGUMENT")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SdnError("--tls-cert and --tls-key go together", code="BAD_ARGUMENT")
    state = Path(args.state)  # opened (and refused with its code) before listening

    from sdn.api.app import ApiConfig
    from sdn.api.server import Listen, serve

    config = ApiConfig(state=state, admin_password=admin,
                       audit_password=os.environ.get("SDN_AUDIT_PASSWORD") or None,
                       rate_limit=args.rate_limit)
    listen = Listen(args.host, args.port,
                    Path(args.tls_cert) if args.tls_cert else None,
                    Path(args.tls_key) if args.tls_key else None)
    return serve(config, listen)
