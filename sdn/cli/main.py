"""Argument parsing and dispatch for ``sdn``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeAlias

from sdn.cli.options import (
    CHILD_KIND_NAMES,
    FLOW_FORMATS,
    KIND_NAMES,
    PROTOCOLS,
    SEVERITIES,
    STRUCTURED,
    VERIFY_PROTOCOLS,
    add_at_option,
    add_flow_options,
)
from sdn.commandline import (
    Parser,
    add_fail_on,
    add_version,
    importing,
    lazy_command,
    non_negative,
    non_negative_rate,
    port_number,
    positive_count,
    positive_seconds,
    run_command,
    state_option,
    tep_pool,
)
from sdn.daemon import DEFAULT_IDLE_TIMEOUT

#: The ``add_subparsers`` action commands are added to.
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"

OUTPUT_HELP_JSON = ("json: {dry_run, counts, changes: [{action, path, ...}]}; a dry run adds "
                    "reachability: {gained, lost: [{src, dst, protocol, ports, rule}]}")

#: The commands that only read the state: the state's daemon answers them when it runs
#: (``sdn daemon``). Writers (``apply``, ``delete``, ``profile``) never go through it, nor
#: does ``realize``, which changes this host's kernel (as root) rather than answering,
#: nor ``verify``, which sends packets as root from the realized namespaces.
QUESTIONS = frozenset({"show", "ipam", "topology", "validate", "reach", "explain",
                       "traceflow", "path", "lint", "lb", "clusters", "policies",
                       "connectivity", "blame", "diff", "replay"})


def _run(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """``sdn.cli.MODULE.FUNCTION``, imported when its command runs: each command module
    pulls in what its command needs (pydantic, networkx, rich, yaml), and ``--help`` or
    another command needs none of it."""
    return lazy_command(f"sdn.cli.{module}", function)


def _output(p: argparse.ArgumentParser, *extra: str, help: str | None = None) -> None:
    """``-o/--output``: a table (the default) or a structured format, then ``extra``."""
    p.add_argument("-o", "--output", choices=["table", *STRUCTURED, *extra], default="table",
                   help=help)


def _add_show(sub: Commands, common: Parser) -> None:
    show = sub.add_parser("show", parents=[common], help="list objects of one kind")
    show.add_argument("kind", choices=[*KIND_NAMES, *CHILD_KIND_NAMES])
    _output(show)
    show.add_argument("--cluster", help="only objects of this cluster (tag ncp/cluster)")
    show.add_argument("--namespace", "-n", help="only objects of this namespace (ncp/project)")
    show.add_argument("--tag", action="append", default=[], metavar="SCOPE=VALUE",
                      help="only objects with this tag (repeatable, all must match)")
    show.add_argument("--id", metavar="ID", help="only the object with this id (or path)")
    show.add_argument("--member", metavar="NS/POD",
                      help="groups only: the groups holding this pod now, and why")
    show.add_argument("--members", action="store_true",
                      help="groups only, with --id: the pods, ports, addresses and nested "
                           "groups the group holds now")
    show.set_defaults(run=_run("show_cmd", "run"))


def _ipam_options(p: argparse.ArgumentParser, *, blocks: bool, now_first: bool) -> None:
    """``-o``, ``--now`` and (``blocks``) ``--show-blocks``, in the order help shows them."""
    now_help = "judge holds at this time (epoch seconds) instead of now"
    _output(p)
    if now_first:
        p.add_argument("--now", type=float, default=None, metavar="SECONDS", help=now_help)
    if blocks:
        p.add_argument("--show-blocks", action="store_true",
                       help="list every carved subnet with its owner")
    if not now_first:
        p.add_argument("--now", type=float, default=None, metavar="SECONDS", help=now_help)


def _add_ipam(sub: Commands, common: Parser) -> None:
    ipam = sub.add_parser("ipam", parents=[common], help="IP block and pool usage")
    ipam_sub = ipam.add_subparsers(dest="ipam_command")
    for name, helptext in (("show", "usage per block and pool"),
                           ("check", "find allocations nothing owns, and the reverse")):
        sp = ipam_sub.add_parser(name, parents=[common], help=helptext)
        _ipam_options(sp, blocks=name == "show", now_first=True)
    _ipam_options(ipam, blocks=True, now_first=False)
    ipam.set_defaults(run=_run("ipam_cmd", "run"))


def _add_profile(sub: Commands, common: Parser) -> None:
    prof = sub.add_parser("profile", parents=[common], help="network profiles")
    psub = prof.add_subparsers(dest="profile_command", required=True)
    c = psub.add_parser("create", parents=[common], help="add a profile from a JSON file")
    c.add_argument("file")
    lst = psub.add_parser("list", parents=[common], help="list profiles and their clusters")
    _output(lst)
    s = psub.add_parser("show", parents=[common], help="print one profile")
    s.add_argument("name")
    s.add_argument("-o", "--output", choices=list(STRUCTURED), default="json")
    d = psub.add_parser("delete", parents=[common], help="delete an unused profile")
    d.add_argument("name")
    prof.set_defaults(run=_run("profile_cmd", "run"))


def _add_topology(sub: Commands, common: Parser) -> None:
    topo = sub.add_parser("topology", parents=[common], help="draw the topology")
    topo.add_argument("-o", "--output", choices=["text", "dot", "svg"], default="text")
    topo.add_argument("--cluster", help="only this cluster")
    topo.add_argument("--namespace", "-n", help="only this namespace")
    topo.add_argument("--max-ports", type=non_negative, default=8,
                      help="ports drawn per segment before summarising (default 8)")
    topo.add_argument("--collapse", choices=["auto", "all", "none"], default="auto",
                      help="draw each Tier-1 as one node with counts (segments, ports, "
                           "subnets): auto when the picture holds more than 50 segments "
                           "(default), all, or none; -n NS is always expanded")
    topo.add_argument("--out", help="write the picture to this file instead of stdout")
    topo.set_defaults(run=_run("topology_cmd", "run"))


def _cluster_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster",
                   help="only pods of this cluster; NS/POD is looked up in it (needed "
                        "when several clusters have the name; CLUSTER/NS/POD also "
                        "works); unknown: UNKNOWN_CLUSTER")


def _dfw_options() -> Parser:
    """``--cluster`` and ``--default-action``, shared by the DFW questions."""
    dfw_opts = Parser(add_help=False)
    _cluster_option(dfw_opts)
    dfw_opts.add_argument("--default-action", choices=["ALLOW", "DROP"], default="ALLOW",
                          help="the DFW's default rule when the state defines none "
                               "(NSX ships ALLOW)")
    return dfw_opts


def _add_reach(sub: Commands, common: Parser) -> None:
    reach = sub.add_parser("reach", parents=[common, _dfw_options()],
                           help="pod-to-pod reachability under the distributed firewall")
    reach.add_argument("--protocol", choices=PROTOCOLS, default="TCP",
                       type=str.upper)
    reach.add_argument("--port", type=port_number, action="append", help="port (repeatable)")
    reach.add_argument("--namespace", "-n", action="append",
                       help="only these namespaces (unknown: UNKNOWN_NAMESPACE)")
    reach.add_argument("--dst", help="instead of the matrix: who reaches this target (NS/POD, "
                                     "an IP, a cluster IP or VIP, svc:NS/NAME), per backend "
                                     "and with the deciding rule")
    reach.add_argument("--src", help="with --dst: only this source (NS/POD or an address)")
    add_flow_options(reach)
    add_at_option(reach)
    _output(reach)
    reach.set_defaults(run=_run("policy_cmd", "reach"))


def _add_connectivity(sub: Commands, common: Parser) -> None:
    conn = sub.add_parser("connectivity", parents=[common, _dfw_options()],
                          help="every allowed port of every ordered pair of pods (and of "
                               "pods with the outside CIDRs policies name)")
    conn.add_argument("--namespace", "-n", action="append",
                      help="only pairs with both pods in these namespaces (and these pods "
                           "with outside CIDRs; unknown: UNKNOWN_NAMESPACE)")
    conn.add_argument("--witness", action="store_true",
                      help="one packet per entry that sdn explain/traceflow can replay")
    add_at_option(conn)
    _output(conn)
    conn.set_defaults(run=_run("connectivity_cmd", "run"))


def _add_explain(sub: Commands, common: Parser) -> None:
    expl = sub.add_parser("explain", parents=[common, _dfw_options()],
                          help="why a flow is allowed or dropped, rule by rule")
    expl.add_argument("--src", required=True,
                      help="NS/POD, a pod's address, or an outside client's address")
    expl.add_argument("--dst", required=True,
                      help="NS/POD, an IP (a cluster IP or VIP is explained per backend), "
                           "or svc:NS/NAME")
    expl.add_argument("--protocol", choices=PROTOCOLS, default="TCP", type=str.upper)
    expl.add_argument("--dport", type=port_number,
                      help="destination port (needed for TCP/UDP/SCTP, except for a svc: "
                           "target with one port, whose port is then used)")
    add_flow_options(expl)
    add_at_option(expl)
    _output(expl)
    expl.set_defaults(run=_run("policy_cmd", "explain"))


def _add_policies(sub: Commands, common: Parser) -> None:
    pol = sub.add_parser("policies", parents=[common, _dfw_options()],
                         help="the rules enforced at a pod, in evaluation order, and the "
                              "groups that put them there")
    pol.add_argument("--pod", required=True,
                     help="NS/POD (CLUSTER/NS/POD, or a port path); unknown: UNKNOWN_POD")
    pol.add_argument("--direction", choices=["in", "out", "both"], default="both",
                     help="ingress rules (in), egress rules (out), or both (default)")
    _output(pol)
    pol.set_defaults(run=_run("policies_cmd", "run"))


def _add_history(sub: Commands, common: Parser) -> None:
    """``blame`` and ``diff``: questions of the kept history (:mod:`sdn.store.history`)."""
    blame = sub.add_parser("blame", parents=[common, _dfw_options()],
                           help="the kept write that last flipped a flow between two pods, "
                                "with the rule before and after")
    blame.add_argument("--src", required=True, help="NS/POD or a pod's address")
    blame.add_argument("--dst", required=True, help="NS/POD or a pod's address")
    blame.add_argument("--protocol", choices=PROTOCOLS, default="TCP", type=str.upper)
    blame.add_argument("--port", type=port_number,
                       help="destination port (needed for TCP, UDP and SCTP)")
    _output(blame)
    blame.set_defaults(run=_run("blame_cmd", "run"))
    diff = sub.add_parser("diff", parents=[common, _dfw_options()],
                          help="what changed between two kept revisions: objects, and the "
                               "flows gained and lost")
    diff.add_argument("--from", dest="from_rev", required=True, metavar="REV|TIME",
                      help="the earlier revision (a number or an ISO 8601 time)")
    diff.add_argument("--to", dest="to_rev", metavar="REV|TIME",
                      help="the later revision (default: the current one)")
    _output(diff)
    diff.set_defaults(run=_run("diff_cmd", "run"))


def _add_replay(sub: Commands, common: Parser) -> None:
    rep = sub.add_parser("replay", parents=[common],
                         help="recorded flows against the current or a candidate policy "
                              "set: which would be dropped, by which rule")
    rep.add_argument("--flows", required=True, metavar="FILE",
                     help="Hubble's JSON flow export (hubble observe -o json), or CSV "
                          "src_ip,dst_ip,protocol,dst_port; - reads standard input")
    rep.add_argument("--format", choices=["auto", *FLOW_FORMATS], default="auto",
                     help="the flow file's format (default: told by its first line)")
    rep.add_argument("--candidate", metavar="DIR",
                     help="replay against this policy set instead: Kubernetes manifests "
                          "of one cluster (as ncp sync --cluster DIR takes them) and/or "
                          "NSX admin documents (as sdn apply -f takes them), built in "
                          "memory over the state; nothing is written")
    rep.add_argument("--cluster",
                     help="the cluster a Kubernetes candidate replaces (default: the "
                          "state's only cluster)")
    rep.add_argument("--default-action", choices=["ALLOW", "DROP"], default="ALLOW",
                     help="the DFW's default rule when the state defines none "
                          "(NSX ships ALLOW)")
    _output(rep)
    rep.set_defaults(run=_run("replay_cmd", "run"))


def _add_lint(sub: Commands, common: Parser) -> None:
    lint = sub.add_parser("lint", parents=[common],
                          help="review the distributed firewall: shadowed rules, conflicts, "
                               "empty groups, NCP limits")
    lint.add_argument("--cluster", help="only findings on this cluster's objects")
    _output(lint)
    lint.add_argument("--fail-on", choices=[*SEVERITIES, "never"], default="error",
                      help="exit 1 when a finding is at least this severe (default error)")
    lint.set_defaults(run=_run("lint_cmd", "run"))


def _add_traceflow(sub: Commands, common: Parser) -> None:
    tf = sub.add_parser("traceflow", parents=[common, _dfw_options()],
                        help="walk a packet through the topology, hop by hop")
    tf.add_argument("--src", required=True,
                    help="NS/POD, a segment port path, or an outside client's IPv4 address")
    tf.add_argument("--dst", required=True, help="NS/POD, an IP address, or svc:NS/NAME")
    tf.add_argument("--protocol", choices=PROTOCOLS, default="TCP", type=str.upper)
    tf.add_argument("--dport", type=port_number,
                    help="destination port (default: a svc: target's port when it has one, "
                         "else 80; none for ICMP)")
    tf.add_argument("--sport", type=port_number,
                    help="source port (default: a stable ephemeral one)")
    tf.add_argument("--ttl", type=int, default=64)
    tf.add_argument("--bidirectional", action="store_true",
                    help="after a delivery, trace the reply too (stateful firewall)")
    tf.add_argument("--all-backends", action="store_true",
                    help="through a service, trace every backend as a branch")
    tf.add_argument("--tep-pool", type=tep_pool, metavar="CIDR",
                    default=os.environ.get("SDN_TEP_POOL"),
                    help="where the transport nodes' tunnel endpoint addresses come from "
                         "(default: $SDN_TEP_POOL, else 192.168.0.0/16)")
    live = tf.add_mutually_exclusive_group()
    live.add_argument("--live", action="store_true",
                      help="send one real packet through the realized data plane (root; "
                           "`sdn realize` first) and trace what the kernel does")
    live.add_argument("--compare", action="store_true",
                      help="trace live and simulated, print both and their first "
                           "difference; exit 1 when they disagree")
    add_flow_options(tf)
    _output(tf, "dot", "svg")
    tf.set_defaults(run=_run("traceflow_cmd", "run"))


def _add_path(sub: Commands, common: Parser) -> None:
    path = sub.add_parser("path", parents=[common],
                          help="the segments and gateways between two endpoints")
    path.add_argument("--src", required=True,
                      help="NS/POD, a segment port path, a pod's address, or an outside "
                           "client's IPv4 address")
    path.add_argument("--dst", required=True,
                      help="NS/POD, an IP address (outside NSX: out through the Tier-0 "
                           "uplink), or svc:NS/NAME (one path per backend)")
    _cluster_option(path)
    path.add_argument("--protocol", choices=PROTOCOLS, default="TCP",
                      type=str.upper, help="picks the virtual server of a service "
                                           "destination (default TCP)")
    path.add_argument("--dport", type=port_number,
                      help="picks the virtual server's port (default: its only one)")
    add_flow_options(path)
    _output(path)
    path.set_defaults(run=_run("path_cmd", "run"))


def _add_admin(sub: Commands, common: Parser) -> None:
    app = sub.add_parser("apply", parents=[common],
                         help="create or replace your own groups and security policies")
    dele = sub.add_parser("delete", parents=[common],
                          help="delete groups and security policies a file declares")
    for admin in (app, dele):
        admin.add_argument("-f", "--file", action="append", required=True,
                           help="YAML or JSON file of NSX objects (repeatable)")
        admin.add_argument("--dry-run", action="store_true",
                           help="check and compute everything, write nothing, print what "
                                "would change (objects, and reachability gained and lost)")
        add_fail_on(admin)
        _output(admin, help=OUTPUT_HELP_JSON)
    app.set_defaults(run=_run("apply_cmd", "apply"))
    dele.set_defaults(run=_run("apply_cmd", "delete"))


def _add_inventory(sub: Commands, common: Parser) -> None:
    """``lb``, ``clusters`` and ``validate``: what the state holds."""
    lbp = sub.add_parser("lb", parents=[common],
                         help="load balancer capacity: virtual servers, pools, members")
    lbp.add_argument("--cluster", help="only this cluster's LB services")
    _output(lbp)
    lbp.set_defaults(run=_run("lb_cmd", "run"))

    cl = sub.add_parser("clusters", parents=[common], help="clusters synced into this state")
    _output(cl)
    cl.set_defaults(run=_run("clusters_cmd", "run"))

    val = sub.add_parser("validate", parents=[common],
                         help="check every stored object, then every cross-object relation")
    _output(val)
    val.set_defaults(run=_run("show_cmd", "validate"))


def _add_verify(sub: Commands, common: Parser) -> None:
    verify = sub.add_parser("verify", parents=[common],
                            help="real packets between the realized pods, compared with the "
                                 "simulator (root; after sdn realize)")
    verify.add_argument("--protocol", choices=VERIFY_PROTOCOLS, default="TCP", type=str.upper)
    verify.add_argument("--port", type=port_number, action="append",
                        help="port to probe (repeatable; needed for TCP and UDP)")
    verify.add_argument("--namespace", "-n", action="append",
                        help="only pods of these namespaces (unknown: UNKNOWN_NAMESPACE)")
    verify.add_argument("--sample", type=positive_count, metavar="N",
                        help="probe N ordered pairs drawn at random (default: every pair)")
    verify.add_argument("--seed", type=int, metavar="S",
                        help="the draw of --sample (default 0: the same pairs every time)")
    _output(verify)
    verify.set_defaults(run=_run("verify_cmd", "run"))


def _add_daemon(sub: Commands, common: Parser) -> None:
    daemon = sub.add_parser("daemon", parents=[common],
                            help="a resident process that answers this state's questions "
                                 "in milliseconds")
    dsub = daemon.add_subparsers(dest="daemon_command", required=True)
    for name, helptext in (("start", "start it in the background; returns when it answers"),
                           ("run", "serve in the foreground (what start runs detached)")):
        p = dsub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("--idle-timeout", type=positive_seconds, default=DEFAULT_IDLE_TIMEOUT,
                       metavar="SECONDS",
                       help=f"stop after this long without a question (default "
                            f"{DEFAULT_IDLE_TIMEOUT:g})")
    dsub.add_parser("stop", parents=[common], help="stop it once running questions end")
    status = dsub.add_parser("status", parents=[common],
                             help="pid, revision loaded, uptime, questions answered "
                                  "(exit 1: none runs)")
    _output(status)
    daemon.set_defaults(run=_run("daemon_cmd", "run"))


def _add_realize(sub: Commands, common: Parser) -> None:
    real = sub.add_parser("realize", parents=[common],
                          help="build the state on this host's kernel (root): network "
                               "namespaces, bridges, routes, nftables; only differences")
    real.add_argument("--cluster", help="only this cluster's segments and pods (unknown: "
                                        "UNKNOWN_CLUSTER)")
    real.add_argument("--namespace", "-n", action="append",
                      help="only the pods of these namespaces (repeatable; unknown: "
                           "UNKNOWN_NAMESPACE)")
    real.add_argument("--teardown", action="store_true",
                      help="remove everything realized from this state, and nothing else "
                           "(also after a crash); not with --cluster or --namespace")
    _output(real)
    real.set_defaults(run=_run("realize_cmd", "run"))


def _add_serve(sub: Commands, common: Parser) -> None:
    serve = sub.add_parser("serve", parents=[common],
                           help="serve NSX Manager's REST API (and web UI) over the state "
                                "(needs $SDN_ADMIN_PASSWORD)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this host only)")
    serve.add_argument("--port", type=non_negative, default=8080,
                       help="port to listen on (default 8080; 0: any free port)")
    serve.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate "
                                                         "(PEM; with --tls-key)")
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    serve.add_argument("--rate-limit", type=non_negative_rate, default=100.0,
                       metavar="PER_SECOND",
                       help="requests per second per user before 429 (default 100, as NSX; "
                            "0: no limit)")
    serve.set_defaults(run=_run("serve_cmd", "run"))


#: Every command's parser, in the order ``sdn --help`` lists them.
COMMANDS = (_add_show, _add_ipam, _add_profile, _add_topology, _add_reach, _add_connectivity,
            _add_explain, _add_policies, _add_replay, _add_history, _add_lint, _add_traceflow,
            _add_path, _add_admin, _add_inventory, _add_daemon, _add_realize, _add_verify,
            _add_serve)


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="sdn", description="Question an NSX-T style network state.",
               parents=[state_option(top=True)])
    add_version(p, "sdn")
    sub = p.add_subparsers(dest="command", required=True)
    common = state_option()
    for add in COMMANDS:
        add(sub, common)
    return p


def _answer(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Run the command; a question of the process's own command line (``argv`` None) goes
    to the state's daemon first, when one runs (:mod:`sdn.daemon.client`), and one
    answered here may leave a daemon behind for the next (:mod:`sdn.daemon.autostart`)."""
    # a live trace sends packets and changes nftables: no question for the daemon
    live = getattr(args, "live", False) or getattr(args, "compare", False)
    if argv is None and args.command in QUESTIONS and not live:
        from sdn.daemon.client import forward

        code = forward(sys.argv[1:], args.state)
        if code is not None:
            return code
        with importing():  # Ctrl-C held, as for every lazy import (this one is light:
            from sdn.daemon.autostart import before_answer  # no query index, no pydantic)
        before_answer(args.state)  # it loads on the other core while this one answers
    return int(args.run(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sdn``; returns the exit code (see :mod:`sdn.commandline`). Called with no
    ``argv`` (the console script), a question may be answered by the state's daemon."""
    return _main(_parser(), argv)


def _main(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    return run_command("sdn", parser, argv, lambda args: _answer(args, argv))


def prepared_main() -> Callable[[Sequence[str]], int]:
    """:func:`main` with its parser built now, for a process that runs many command lines
    each in a child forked from it (:mod:`sdn.daemon`): building the parser is most of
    what is left of a question's fixed cost there, and each child uses its own copy."""
    parser = _parser()
    return lambda argv: _main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
