"""The ``ncp`` command: ``ncp sync`` reconciles the state with a cluster's manifests.

Exit codes (DESIGN.md): 0 when every object was realized, 1 when some were rejected
(each named with its code), 2 for unusable arguments (bad config or profile, conflicts
with the state); in that last case nothing is written.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from ncp.config import NcpConfig, load_config
from ncp.errors import NcpError
from ncp.reconcile.sync import Progress, SyncReport, load_profile_file, sync_cluster
from sdn.cli.entry import EXIT_USAGE, Parser, add_version, guarded, state_option
from sdn.errors import SdnError
from sdn.profiles import NetworkProfile, parse_profile
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.store import Store, default_state_path


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="ncp", description="NSX container plugin emulator.",
                                parents=[state_option(top=True)])
    add_version(p, "ncp")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sync", help="make the state match a cluster's manifests",
                       parents=[state_option()])
    s.add_argument("--cluster", action="append", required=True, metavar="PATH",
                   help="manifest file or folder (repeatable)")
    s.add_argument("--profile", metavar="FILE|NAME",
                   help="network profile: a JSON file, or the name of one in the state")
    s.add_argument("--config", metavar="FILE", help="cluster settings (YAML); defaults if absent")
    s.add_argument("--cluster-name", metavar="NAME", help="override the config's cluster name")
    s.add_argument("--now", type=float, default=None, metavar="SECONDS",
                   help="the time of the run (epoch seconds), for reproducible runs")
    s.add_argument("--full", action="store_true",
                   help="reconcile in full even when the inputs are unchanged")
    s.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    s.add_argument("-q", "--quiet", action="store_true", help="print only problems")

    r = sub.add_parser("run", help="keep the state in step with a cluster, continuously",
                       parents=[state_option()])
    src = r.add_mutually_exclusive_group()
    src.add_argument("--kubeconfig", help="kubeconfig file (default $KUBECONFIG, ~/.kube/config "
                                          "or the in-cluster service account)")
    src.add_argument("--cluster", action="append", metavar="PATH",
                     help="watch manifest files or folders instead of an API")
    r.add_argument("--context", help="kubeconfig context")
    r.add_argument("--profile", metavar="FILE|NAME")
    r.add_argument("--config", metavar="FILE")
    r.add_argument("--cluster-name", metavar="NAME")
    r.add_argument("--metrics-port", type=int, default=None,
                   help="serve /metrics and /healthz on 127.0.0.1:PORT")
    r.add_argument("--no-leader-election", action="store_true",
                   help="write without holding the Lease (a single replica)")
    r.add_argument("--lease-namespace", default="nsx-system")
    r.add_argument("--identity", default=None, help="this replica's name in the Lease")
    r.add_argument("--master-timeout", type=float, default=18.0,
                   help="lease duration, seconds (NCP's [ha] master_timeout)")
    r.add_argument("--heartbeat-period", type=float, default=6.0,
                   help="lease renewal period, seconds (NCP's [ha] heartbeat_period)")
    r.add_argument("--resync-period", type=float, default=300.0)
    r.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="structured JSON log lines, or plain text")
    r.add_argument("--once", action="store_true",
                   help="list everything, reconcile once, write status, and exit")
    return p


def _profile(arg: str | None, store: Store) -> NetworkProfile | None:
    if arg is None:
        return None
    if Path(arg).exists():
        return load_profile_file(arg)
    return parse_profile(store.profile(arg), source=arg)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    """A status line on stderr while a long sync runs (only on a terminal)."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda _msg: None
        return
    with console.status("syncing") as status:
        yield lambda msg: status.update(msg)


def _summary(report: SyncReport, quiet: bool) -> None:
    if not quiet:
        verb = "synced" if report.written else "already in sync"
        print(f"cluster {report.cluster} {verb} (state revision {report.revision}): "
              f"{report.namespaces} namespaces, {report.pods} pods, {report.nodes} nodes "
              "realized")
        kinds = sorted(set(report.created) | set(report.updated) | set(report.deleted))
        if kinds:
            print_table(["KIND", "CREATED", "UPDATED", "DELETED"], [
                [k, str(report.created[k]), str(report.updated[k]), str(report.deleted[k])]
                for k in kinds])
        shown = list(report.annotations.items())
        if shown and len(shown) <= 50:
            print_table(["NAMESPACE", "SUBNETS", "SNAT IP", "STATUS"], [
                [ns, " ".join(v for k, v in sorted(a.items()) if k.startswith("ncp/subnet-")),
                 a.get("ncp/snat_ip", "routed" if "ncp/error" not in a else "-"),
                 a.get("ncp/error") or a.get("ncp/snat_ip_status") or "ok"]
                for ns, a in shown])
        elif shown:
            print(f"{len(shown)} namespaces (see `sdn show segments` and `sdn ipam`)")
        for note in report.notes[:20]:
            print(f"note: {note}")
        if len(report.notes) > 20:
            print(f"note: ... and {len(report.notes) - 20} more notes")
    for f in report.findings:
        print(f"warning: {f}")
    if report.problems:
        print_table(["CODE", "OBJECT", "PROBLEM"],
                    [[p.code, p.obj, p.message] for p in report.problems],
                    title=f"{len(report.problems)} object(s) not realized", stream=sys.stdout)


def _discard_new_state(path: Path) -> None:
    """Remove a state file this run created but never wrote (unusable input)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _sync(args: argparse.Namespace) -> int:
    config = load_config(args.config, cluster=args.cluster_name)
    now = args.now if args.now is not None else time.time()
    state = Path(args.state)
    existed = state.exists()
    try:
        return _sync_into(args, config=config, now=now)
    except (NcpError, SdnError, KeyboardInterrupt):
        if not existed:
            _discard_new_state(state)
        raise


def _sync_into(args: argparse.Namespace, *, config: NcpConfig, now: float) -> int:
    with Store.open(args.state) as store:
        profile = _profile(args.profile, store)
        with _progress(not args.quiet and args.output == "table") as step:
            report = sync_cluster(store, paths=args.cluster, config=config, profile=profile,
                                  now=now, progress=step, full=args.full)
    if args.output in STRUCTURED:
        print_data(report.to_json(), args.output)
    else:
        _summary(report, args.quiet)
    return 1 if report.problems else 0


def _run(args: argparse.Namespace) -> int:
    """``ncp run``: until SIGTERM/SIGINT (or, with ``--once``, one pass)."""
    import os
    import signal
    import socket

    from ncp.leader import LeaseSettings
    from ncp.running import Runner, RunOptions
    from ncp.sources.kube import KubeClient, load_configuration

    _configure_logging(args.log_format)
    config = load_config(args.config, cluster=args.cluster_name)
    with Store.open(args.state) as store:
        profile = _profile(args.profile, store)
    identity = args.identity or f"{socket.gethostname()}-{os.getpid()}"
    options = RunOptions(
        state=Path(args.state), config=config, profile=profile,
        resync_period=args.resync_period, metrics_port=args.metrics_port,
        leader_election=not args.no_leader_election and not args.cluster,
        lease=LeaseSettings(namespace=args.lease_namespace, name=f"ncp-{config.cluster}",
                            identity=identity, master_timeout=args.master_timeout,
                            heartbeat_period=args.heartbeat_period))
    client = None if args.cluster else KubeClient(load_configuration(args.kubeconfig,
                                                                       args.context))
    runner = Runner(options, client=client, manifests=args.cluster or ())
    if args.once:
        return _run_once(runner)
    stop = {"now": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.start()
    while not stop["now"]:
        time.sleep(0.2)
    runner.stop()
    if client is not None:
        client.close()
    return 0


class _JsonFormatter(logging.Formatter):
    """One JSON object per log line (for log shippers)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": self.formatTime(record), "level": record.levelname,
                           "logger": record.name, "message": record.getMessage()})


def _configure_logging(fmt: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s "
                                               "%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def _run_once(runner: Any) -> int:
    """List (or read) everything, reconcile once, write status back, exit."""
    runner.start()
    deadline = time.time() + 120
    while runner.reconciles == 0 and time.time() < deadline and runner.last_error is None:
        time.sleep(0.1)
    runner.wait_written(max(0.0, deadline - time.time()))
    runner.stop()
    report = runner.last_report
    if report is None:
        print(f"error: no reconcile completed: {runner.last_error or 'timed out'}",
              file=sys.stderr)
        return 2
    _summary(report, quiet=False)
    return 1 if report.problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ncp``; returns the exit code (see :mod:`sdn.cli.entry`)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error (printed already)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if getattr(args, "state", None) is None:
        args.state = str(default_state_path())
    return guarded("ncp", lambda: _run(args) if args.command == "run" else _sync(args),
                   coded=(NcpError,))


if __name__ == "__main__":
    sys.exit(main())
