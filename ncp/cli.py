"""The ``ncp`` command: ``ncp sync`` reconciles the state with a cluster's manifests.

Exit codes (DESIGN.md): 0 when every object was realized, 1 when some were rejected
(each named with its code), 2 for unusable arguments or input that was not read in full
(bad config or profile, conflicts with the state, a missing path, a file that does not
parse, an empty input for a cluster the state holds); in that last case nothing is
written. ``ncp sync --dry-run --fail-on lost|gained|any`` exits 3 when reachability would
change so (before 1: a CI gate asks about flows first; the rejected objects are listed
either way). Ctrl-C is 130 and leaves the state as before or whole after; a reader that goes
away (``ncp sync ... | head -1``) is not an error.
"""

from __future__ import annotations

import sys

from sdn.commandline import guard_imports

_imports_done = guard_imports("ncp")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from ncp.errors import NcpError  # noqa: E402
from sdn.commandline import (  # noqa: E402
    EXIT_CHANGES,
    STRUCTURED,
    Parser,
    add_fail_on,
    add_version,
    importing,
    port_number,
    refuse_fail_on_alone,
    run_command,
    state_option,
    wrote,
)
from sdn.gcpause import gc_paused  # noqa: E402

_imports_done()  # Ctrl-C is main()'s again

# What a sync or a run needs (pydantic, rich, yaml, the reconcile, the kubernetes client)
# is imported when that command starts (:func:`_sync`, :func:`_run`), under
# :func:`~sdn.commandline.importing`: ``ncp --help`` and a misused command line load none
# of it, and Ctrl-C while it loads is still one line and exit 130.
if TYPE_CHECKING:
    from ncp.config import NcpConfig
    from ncp.interrupts import InterruptWatch
    from ncp.live.runner import Runner
    from ncp.reconcile.sync import Progress, SyncReport
    from sdn.errors import Problem
    from sdn.profiles import NetworkProfile
    from sdn.store import Store


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
    s.add_argument("--allow-empty", action="store_true",
                   help="let an input without objects empty a cluster the state holds")
    s.add_argument("--dry-run", action="store_true",
                   help="compute everything, write nothing, and list what would change "
                        "(NSX objects, annotations, reachability gained and lost)")
    add_fail_on(s)
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
    r.add_argument("--allow-empty", action="store_true",
                   help="with --cluster: let folders without objects empty the cluster")
    r.add_argument("--metrics-port", type=port_number, default=None,
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
    r.add_argument("--realize", action="store_true",
                   help="also keep this host's Linux data plane in step with the state "
                        "(root): `sdn realize` after each reconcile that wrote, and once "
                        "at start; on exit the data plane is left as it is (remove it with "
                        "`sdn realize --teardown`)")
    return p


def print_data(data: Any, output: str) -> None:
    """:func:`sdn.render.output.print_data` (imported when a report is printed)."""
    from sdn.render.output import print_data as emit

    emit(data, output)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "",
                stream: Any = None) -> None:
    """:func:`sdn.render.output.print_table` (imported when a report is printed)."""
    from sdn.render.output import print_table as emit

    emit(header, rows, title=title, stream=stream)


def _profile(arg: str | None, store: Store) -> NetworkProfile | None:
    from ncp.sources.profiles import load_profile_file
    from sdn.profiles import parse_profile

    if arg is None:
        return None
    if Path(arg).exists() or "/" in arg or arg.endswith((".json", ".yaml", ".yml")):
        return load_profile_file(arg)  # a file name (PROFILE_NOT_FOUND when missing)
    return parse_profile(store.profile(arg), source=arg)


@contextmanager
def _progress(enabled: bool, watch: InterruptWatch) -> Iterator[Progress]:
    """The sync's step callback: a status line on stderr while a long sync runs (only on
    a terminal), and at every step a check that no Ctrl-C was swallowed on the way."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda _msg: watch.check()
        return
    with console.status("syncing") as status:
        def step(msg: str) -> None:
            watch.check()
            status.update(msg)
        yield step


def _summary(report: SyncReport, quiet: bool) -> None:
    from ncp.translate import naming

    if not quiet:
        if report.plan is not None:
            print(f"cluster {report.cluster}: dry run, nothing written (state revision "
                  f"{report.revision}): {report.namespaces} namespaces, {report.pods} pods, "
                  f"{report.nodes} nodes would be realized")
        else:
            verb = "synced" if report.written else "already in sync"
            print(f"cluster {report.cluster} {verb} (state revision {report.revision}): "
                  f"{report.namespaces} namespaces, {report.pods} pods, {report.nodes} "
                  "nodes realized")
        kinds = sorted(set(report.created) | set(report.updated) | set(report.deleted))
        if kinds:
            print_table(["KIND", "CREATED", "UPDATED", "DELETED"], [
                [k, str(report.created[k]), str(report.updated[k]), str(report.deleted[k])]
                for k in kinds])
        shown = list(report.annotations.items())
        if shown and len(shown) <= 50:
            print_table(["NAMESPACE", "SUBNETS", "SNAT IP", "STATUS"], [
                [ns, " ".join(v for k, v in sorted(a.items())
                              if k.startswith(naming.SUBNET_ANNOTATION_PREFIX)),
                 a.get(naming.SNAT_IP_ANNOTATION,
                       "routed" if naming.ERROR_ANNOTATION not in a else "-"),
                 a.get(naming.ERROR_ANNOTATION) or a.get(naming.SNAT_IP_STATUS_ANNOTATION)
                 or "ok"]
                for ns, a in shown])
        elif shown:
            print(f"{len(shown)} namespaces (see `sdn show segments` and `sdn ipam`)")
        for note in report.notes[:20]:
            print(f"note: {note}")
        if len(report.notes) > 20:
            print(f"note: ... and {len(report.notes) - 20} more notes")
    if report.plan is not None:
        _plan(report)
    _warnings(report.findings)
    if report.problems:
        print_table(["CODE", "OBJECT", "PROBLEM"],
                    [[p.code, p.obj, p.message] for p in report.problems],
                    title=f"{len(report.problems)} object(s) not realized", stream=sys.stdout)


#: Warnings of one code printed in full; the rest are counted (at 100,000 pods a sync of
#: realistic policies has 50,000 TOO_MANY_NAMESPACES, which no one reads in a terminal).
WARNINGS_PER_CODE = 20


def _warnings(findings: Sequence[Problem]) -> None:
    """The sync's warnings, at most :data:`WARNINGS_PER_CODE` per code, then a count."""
    seen: Counter[str] = Counter()
    for f in findings:
        seen[f.code] += 1
        if seen[f.code] <= WARNINGS_PER_CODE:
            print(f"warning: {f}")
    for code, count in sorted(seen.items()):
        if count > WARNINGS_PER_CODE:
            print(f"warning: ... and {count - WARNINGS_PER_CODE:,} more {code} (every one: "
                  "`sdn lint` or `ncp sync -o json`)")


def _plan(report: SyncReport) -> None:
    """A dry run's changes: every NSX object and annotation the sync would change. Plain
    aligned columns, not a rich table: a cold dry run lists tens of thousands of rows."""
    from sdn.render.reachability import reachability_lines

    plan = report.plan
    assert plan is not None
    rows = [(c["action"], c["resource_type"], c["path"]) for c in plan.changes_json()]
    if rows:
        print("NSX objects that would change")
        _columns(("WOULD", "KIND", "PATH"), rows)
    if plan.annotations:
        print("annotations that would change")
        _columns(("OBJECT", "KEY", "NOW", "WOULD BE"), [
            (f"{a.kind} {a.namespace + '/' if a.namespace else ''}{a.name}", a.key,
             "-" if a.old is None else a.old, "-" if a.new is None else a.new)
            for a in plan.annotations])
    if rows:
        print("\n".join(reachability_lines(plan.reachability)))
    if not rows and not plan.annotations:
        print("nothing would change")


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Rows in columns as wide as their widest cell (the last one unpadded)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    out = sys.stdout
    for row in [header, *rows]:
        out.write(" ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
                  + " " + row[-1] + "\n")


def _discard_new_state(path: Path) -> None:
    """Remove a state file this run created but never wrote (unusable input)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _sync(args: argparse.Namespace) -> int:
    """``ncp sync``: one sync, then its report. Whatever stops it (bad input, Ctrl-C, a
    bug) leaves no state file behind that it created without writing, and an interrupt
    is reported as one, with what it left (see :mod:`ncp.interrupts`)."""
    with importing():
        from ncp.config import load_config
        from ncp.interrupts import InterruptWatch
        from ncp.reconcile.sync import sync_cluster  # noqa: F401  (loaded for _sync_into)
        from sdn.store import Store  # noqa: F401  (loaded for _sync_into)
    refuse_fail_on_alone(args)
    state = Path(args.state)
    existed = state.exists()
    with InterruptWatch() as watch:
        try:
            config = load_config(args.config, cluster=args.cluster_name)
            now = args.now if args.now is not None else time.time()
            report = _sync_report(args, config=config, now=now, watch=watch)
            watch.check()  # an interrupt that something swallowed: stop before printing
            if args.output in STRUCTURED:
                print_data(report.to_json(), args.output)
            else:
                _summary(report, args.quiet)
            if args.fail_on and report.plan is not None \
                    and report.plan.reachability.has(args.fail_on):
                return EXIT_CHANGES
            return 1 if report.problems else 0
        except BaseException as err:
            with watch.quietly():
                if not existed and not wrote():
                    _discard_new_state(state)
                if watch.count and not isinstance(err, KeyboardInterrupt | BrokenPipeError):
                    # an interrupt that a library swallowed or disguised is the interrupt
                    raise KeyboardInterrupt from err
                raise


def _sync_report(args: argparse.Namespace, *, config: NcpConfig, now: float,
                 watch: InterruptWatch) -> SyncReport:
    """Run the sync (a dry run reads the state and writes nothing, not even a new one),
    the cyclic garbage collector paused (:mod:`sdn.gcpause`: one bounded run)."""
    state = Path(args.state)
    with gc_paused():
        if args.dry_run and not state.exists():
            with tempfile.TemporaryDirectory(prefix="ncp-dry-run-") as scratch:
                return _sync_into(args, Path(scratch) / "state.db", config=config,
                                  now=now, watch=watch)
        report = _sync_into(args, state, config=config, now=now, watch=watch)
        if not args.dry_run and report.inventory is not None:
            _warm_index(state, report)
        return report


def _warm_index(state: Path, report: SyncReport) -> None:
    """Save the query index the first question after this sync reads (``<state>.idx/``,
    :func:`sdn.query.warm_index`) from the objects the sync holds, when it wrote or the
    index is missing or stale; for a big state in a child process, after which the
    command returns (:mod:`sdn.query.saving`). Called after the store is closed (the key
    is the files' stamps as readers see them). The sync has landed: nothing here may
    fail it."""
    with importing():
        from ncp.reuse import parts_to_keep
        from sdn.query.saving import save_index
    inventory, report.inventory = report.inventory, None
    if inventory is None:
        return
    try:
        save_index(state, inventory, force=report.written, validated=report.validated,
                   extra=parts_to_keep(report))
    except Exception as err:  # the index is optional; the sync has landed
        logging.getLogger("ncp").warning("query index not saved: %s", err)


def _sync_into(args: argparse.Namespace, state: Path, *, config: NcpConfig, now: float,
               watch: InterruptWatch) -> SyncReport:
    from ncp.reconcile.sync import sync_cluster
    from ncp.reuse import IndexReuse
    from sdn.store import Store

    dry_run = args.dry_run and state == Path(args.state)  # else a scratch state
    with (Store.open_readonly(state, untouched=True) if dry_run else Store.open(state)) \
            as store:
        profile = _profile(args.profile, store)
        with _progress(not args.quiet and args.output == "table", watch) as step:
            return sync_cluster(store, paths=args.cluster, config=config, profile=profile,
                                now=now, progress=step, full=args.full,
                                allow_empty=args.allow_empty, dry_run=args.dry_run,
                                keep_inventory=True, reuse=IndexReuse(state, store))


def _refuse_missing_paths(paths: list[str]) -> None:
    """``ncp run --cluster PATH`` on a path that does not exist is refused before anything
    starts or is made (a misspelt path, most likely): exit 2, no state file created. A
    path that goes away while running is another matter: the last whole read stays."""
    from ncp.reconcile.completeness import IncompleteInputError
    from ncp.sources.manifests import missing_paths

    missing = missing_paths(paths)
    if missing:
        raise IncompleteInputError(missing)


def _run(args: argparse.Namespace) -> int:
    """``ncp run``: until SIGTERM/SIGINT (or, with ``--once``, one pass)."""
    import os
    import signal
    import socket

    with importing():
        from ncp.config import load_config
        from ncp.live.leader import LeaseSettings
        from ncp.live.runner import Runner, RunOptions
        from ncp.sources.kube import KubeClient, load_configuration
        from sdn.store import Store

    if args.realize:  # before anything starts or is made: a coded line, exit 2
        _preflight(args.state)
    _refuse_missing_paths(args.cluster or [])
    _configure_logging(args.log_format)
    config = load_config(args.config, cluster=args.cluster_name)
    with Store.open(args.state) as store:
        profile = _profile(args.profile, store)
    identity = args.identity or f"{socket.gethostname()}-{os.getpid()}"
    options = RunOptions(
        state=Path(args.state), config=config, profile=profile,
        resync_period=args.resync_period, metrics_port=args.metrics_port,
        allow_empty=args.allow_empty, realize=args.realize,
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


def _preflight(state: str) -> None:
    """``sdn realize``'s check of the host (root, ``ip``, ``nft``, kernel features)."""
    with importing():
        from sdn.dataplane.kernel import preflight
        from sdn.dataplane.layout import netns_prefix, owner_tag
    preflight(netns_prefix(owner_tag(state)))


class _JsonFormatter(logging.Formatter):
    """One JSON object per log line (for log shippers)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": self.formatTime(record), "level": record.levelname,
                           "logger": record.name, "message": record.getMessage()})


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines to whatever ``sys.stderr`` is when they are written, not to the stream
    it was when logging was set up: a replica's threads may log after the caller swapped
    stderr (a test capturing it, a host redirecting it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _configure_logging(fmt: str) -> None:
    handler = _StderrHandler()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s "
                                               "%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def _run_once(runner: Runner) -> int:
    """List (or read) everything, reconcile once, write status back (and realize, with
    ``--realize``), exit. Manifests that are not read in full end it at once, as ``ncp
    sync`` would (exit 2); so does a realize that failed, as ``sdn realize`` would."""
    from ncp.reconcile.completeness import IncompleteInputError

    runner.start()
    deadline = time.time() + 120
    while runner.reconciles == 0 and time.time() < deadline and runner.last_error is None \
            and not runner.input_gaps:
        time.sleep(0.1)
    if runner.reconciles == 0 and runner.input_gaps:
        runner.stop()
        raise IncompleteInputError(runner.input_gaps)
    runner.wait_written(max(0.0, deadline - time.time()))
    runner.wait_realized(max(0.0, deadline - time.time()))
    runner.stop()
    report = runner.last_report
    if report is None:
        print(f"error: no reconcile completed: {runner.last_error or 'timed out'}",
              file=sys.stderr)
        return 2
    _summary(report, quiet=False)
    if runner.realizer is not None and runner.realizer.last_error is not None:
        print(f"error: {runner.realizer.last_error}", file=sys.stderr)  # already coded
        return 2  # as `sdn realize` would
    return 1 if report.problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ncp``; returns the exit code (see :mod:`sdn.commandline`)."""
    # Input errors (NcpError) are exit 2; the rest of ncp's error tree is not input's
    # fault (a KubeError is retried by ``ncp run``'s loops), so one that got here would be
    # a bug, as any other exception: exit 70 (see ncp.errors).
    return run_command("ncp", _parser(), argv,
                       lambda args: _run(args) if args.command == "run" else _sync(args),
                       coded=(NcpError,))


if __name__ == "__main__":
    sys.exit(main())
