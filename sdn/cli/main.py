"""Argument parsing and dispatch for ``sdn``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sdn.cli import (
    apply_cmd,
    clusters_cmd,
    ipam_cmd,
    lb_cmd,
    lint_cmd,
    policy_cmd,
    profile_cmd,
    show_cmd,
    topology_cmd,
    traceflow_cmd,
)
from sdn.cli.questions import add_flow_options
from sdn.commandline import (
    Parser,
    add_version,
    non_negative,
    port_number,
    run_command,
    state_option,
)
from sdn.model import KINDS
from sdn.policy.lint import SEVERITIES
from sdn.render.output import STRUCTURED


def _parser() -> argparse.ArgumentParser:
    common = state_option()
    p = Parser(prog="sdn", description="Question an NSX-T style network state.",
               parents=[state_option(top=True)])
    add_version(p, "sdn")
    sub = p.add_subparsers(dest="command", required=True)

    show = sub.add_parser("show", parents=[common], help="list objects of one kind")
    show.add_argument("kind", choices=list(KINDS))
    show.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    show.add_argument("--cluster", help="only objects of this cluster (tag ncp/cluster)")
    show.add_argument("--namespace", "-n", help="only objects of this namespace (ncp/project)")
    show.add_argument("--tag", action="append", default=[], metavar="SCOPE=VALUE",
                      help="only objects with this tag (repeatable, all must match)")
    show.set_defaults(run=show_cmd.run)

    ipam = sub.add_parser("ipam", parents=[common], help="IP block and pool usage")
    ipam_sub = ipam.add_subparsers(dest="ipam_command")
    for name, helptext in (("show", "usage per block and pool"),
                           ("check", "find allocations nothing owns, and the reverse")):
        sp = ipam_sub.add_parser(name, parents=[common], help=helptext)
        sp.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
        sp.add_argument("--now", type=float, default=None, metavar="SECONDS",
                        help="judge holds at this time (epoch seconds) instead of now")
        if name == "show":
            sp.add_argument("--show-blocks", action="store_true",
                            help="list every carved subnet with its owner")
    ipam.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    ipam.add_argument("--show-blocks", action="store_true",
                      help="list every carved subnet with its owner")
    ipam.add_argument("--now", type=float, default=None, metavar="SECONDS",
                      help="judge holds at this time (epoch seconds) instead of now")
    ipam.set_defaults(run=ipam_cmd.run)

    prof = sub.add_parser("profile", parents=[common], help="network profiles")
    psub = prof.add_subparsers(dest="profile_command", required=True)
    c = psub.add_parser("create", parents=[common], help="add a profile from a JSON file")
    c.add_argument("file")
    lst = psub.add_parser("list", parents=[common], help="list profiles and their clusters")
    lst.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    s = psub.add_parser("show", parents=[common], help="print one profile")
    s.add_argument("name")
    s.add_argument("-o", "--output", choices=list(STRUCTURED), default="json")
    d = psub.add_parser("delete", parents=[common], help="delete an unused profile")
    d.add_argument("name")
    prof.set_defaults(run=profile_cmd.run)

    topo = sub.add_parser("topology", parents=[common], help="draw the topology")
    topo.add_argument("-o", "--output", choices=["text", "dot", "svg"], default="text")
    topo.add_argument("--cluster", help="only this cluster")
    topo.add_argument("--namespace", "-n", help="only this namespace")
    topo.add_argument("--max-ports", type=non_negative, default=8,
                      help="ports drawn per segment before summarising (default 8)")
    topo.add_argument("--out", help="write the picture to this file instead of stdout")
    topo.set_defaults(run=topology_cmd.run)

    dfw_opts = Parser(add_help=False)
    dfw_opts.add_argument("--cluster",
                          help="only pods of this cluster; NS/POD is looked up in it (needed "
                               "when several clusters have the name; CLUSTER/NS/POD also "
                               "works); unknown: UNKNOWN_CLUSTER")
    dfw_opts.add_argument("--default-action", choices=["ALLOW", "DROP"], default="ALLOW",
                          help="the DFW's default rule when the state defines none "
                               "(NSX ships ALLOW)")
    reach = sub.add_parser("reach", parents=[common, dfw_opts],
                           help="pod-to-pod reachability under the distributed firewall")
    reach.add_argument("--protocol", choices=policy_cmd.PROTOCOLS, default="TCP",
                       type=str.upper)
    reach.add_argument("--port", type=port_number, action="append", help="port (repeatable)")
    reach.add_argument("--namespace", "-n", action="append",
                       help="only these namespaces (unknown: UNKNOWN_NAMESPACE)")
    reach.add_argument("--dst", help="instead of the matrix: who reaches this target (NS/POD, "
                                     "an IP, a cluster IP or VIP, svc:NS/NAME), per backend "
                                     "and with the deciding rule")
    reach.add_argument("--src", help="with --dst: only this source (NS/POD or an address)")
    add_flow_options(reach)
    reach.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    reach.set_defaults(run=policy_cmd.reach)

    expl = sub.add_parser("explain", parents=[common, dfw_opts],
                          help="why a flow is allowed or dropped, rule by rule")
    expl.add_argument("--src", required=True,
                      help="NS/POD, a pod's address, or an outside client's address")
    expl.add_argument("--dst", required=True,
                      help="NS/POD, an IP (a cluster IP or VIP is explained per backend), "
                           "or svc:NS/NAME")
    expl.add_argument("--protocol", choices=policy_cmd.PROTOCOLS, default="TCP", type=str.upper)
    expl.add_argument("--dport", type=port_number,
                      help="destination port (needed for TCP/UDP/SCTP, except for a svc: "
                           "target with one port, whose port is then used)")
    add_flow_options(expl)
    expl.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    expl.set_defaults(run=policy_cmd.explain)

    lint = sub.add_parser("lint", parents=[common],
                          help="review the distributed firewall: shadowed rules, conflicts, "
                               "empty groups, NCP limits")
    lint.add_argument("--cluster", help="only findings on this cluster's objects")
    lint.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    lint.add_argument("--fail-on", choices=[*SEVERITIES, "never"], default="error",
                      help="exit 1 when a finding is at least this severe (default error)")
    lint.set_defaults(run=lint_cmd.run)

    tf = sub.add_parser("traceflow", parents=[common, dfw_opts],
                        help="walk a packet through the topology, hop by hop")
    tf.add_argument("--src", required=True,
                    help="NS/POD, a segment port path, or an outside client's IPv4 address")
    tf.add_argument("--dst", required=True, help="NS/POD, an IP address, or svc:NS/NAME")
    tf.add_argument("--protocol", choices=policy_cmd.PROTOCOLS, default="TCP", type=str.upper)
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
    add_flow_options(tf)
    tf.add_argument("-o", "--output", choices=["table", *STRUCTURED, "dot", "svg"],
                    default="table")
    tf.set_defaults(run=traceflow_cmd.run)

    app = sub.add_parser("apply", parents=[common],
                         help="create or replace your own groups and security policies")
    dele = sub.add_parser("delete", parents=[common],
                          help="delete groups and security policies a file declares")
    for admin in (app, dele):
        admin.add_argument("-f", "--file", action="append", required=True,
                           help="YAML or JSON file of NSX objects (repeatable)")
        admin.add_argument("--dry-run", action="store_true",
                           help="check and compute everything, write nothing, print what "
                                "would change")
        admin.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table",
                           help="json: {dry_run, counts, changes: [{action, path, ...}]}")
    app.set_defaults(run=apply_cmd.apply)
    dele.set_defaults(run=apply_cmd.delete)

    lbp = sub.add_parser("lb", parents=[common],
                         help="load balancer capacity: virtual servers, pools, members")
    lbp.add_argument("--cluster", help="only this cluster's LB services")
    lbp.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    lbp.set_defaults(run=lb_cmd.run)

    cl = sub.add_parser("clusters", parents=[common], help="clusters synced into this state")
    cl.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    cl.set_defaults(run=clusters_cmd.run)

    val = sub.add_parser("validate", parents=[common],
                         help="check every stored object, then every cross-object relation")
    val.add_argument("-o", "--output", choices=["table", *STRUCTURED], default="table")
    val.set_defaults(run=show_cmd.validate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sdn``; returns the exit code (see :mod:`sdn.commandline`)."""
    return run_command("sdn", _parser(), argv, lambda args: int(args.run(args)))


if __name__ == "__main__":
    sys.exit(main())
