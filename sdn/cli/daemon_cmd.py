"""``sdn daemon start|stop|status|run``: a resident process that answers one state's
questions (:mod:`sdn.daemon`), so that every question after the first costs milliseconds
instead of a new interpreter's imports and index loads.

What it answers: the read-only questions (:data:`sdn.cli.main.QUESTIONS`), handed over by
``sdn`` itself when the state's daemon runs; the answers are those ``sdn`` gives without
it, byte for byte (the daemon's child runs the same ``main``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from sdn.daemon import control, server
from sdn.render.output import STRUCTURED, print_data, print_table

#: The modules every question may import, imported once by the daemon rather than by each
#: of its children: the command modules and what they import when they run (networkx
#: too: the graph modules import it only when a graph is made, in a child).
QUESTION_MODULES = (
    "sdn.cli.show_cmd", "sdn.cli.ipam_cmd", "sdn.cli.topology_cmd", "sdn.cli.policy_cmd",
    "sdn.cli.lint_cmd", "sdn.cli.traceflow_cmd", "sdn.cli.path_cmd", "sdn.cli.lb_cmd",
    "sdn.cli.clusters_cmd", "sdn.cli.policies_cmd", "sdn.cli.groups_cmd", "rich.console",
    "rich.table", "yaml", "networkx",
)


def run(args: argparse.Namespace) -> int:
    """Dispatch ``sdn daemon SUBCOMMAND``."""
    command = args.daemon_command
    if command == "run":
        from sdn.cli.main import prepared_main

        server.serve(args.state, idle_timeout=args.idle_timeout, answer=prepared_main(),
                     modules=QUESTION_MODULES)
        return 0
    if command == "start":
        info, started = control.start(args.state, args.idle_timeout)
        verb = "started" if started else "already running"
        print(f"sdn daemon {verb}: pid {info['pid']}, revision {info['revision']} of "
              f"{info['state']} (stops after {info['idle_timeout_s']:g} s idle; log "
              f"{info['log']})")
        return 0
    if command == "stop":
        pid = control.stop(args.state)
        print(f"sdn daemon stopped: pid {pid}" if pid is not None
              else f"sdn daemon: none serves {args.state}")
        return 0
    return _status(args)


def _status(args: argparse.Namespace) -> int:
    """The daemon's status; exit 1 when none runs."""
    info: dict[str, Any] | None = control.status(args.state)
    if args.output in STRUCTURED:
        print_data({"running": True, **info} if info else
                   {"running": False, "state": os.path.abspath(args.state)}, args.output)
    elif info is None:
        print(f"sdn daemon: none serves {args.state}")
    else:
        print_table(["PID", "STATE", "REVISION", "UPTIME (S)", "REQUESTS", "ANSWERING",
                     "IDLE TIMEOUT (S)"],
                    [[str(info["pid"]), info["state"], str(info["revision"]),
                      f"{info['uptime_s']:.1f}", str(info["requests"]),
                      str(info["answering"]), f"{info['idle_timeout_s']:g}"]])
    return 0 if info else 1
