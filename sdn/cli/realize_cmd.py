"""``sdn realize``: the state built on this host's kernel (network namespaces, bridges,
veths, routes, nftables), only differences applied; ``--teardown`` removes it all.

Root only. Never answered by ``sdn daemon`` (it changes the host, it is no question)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from sdn.cli.filters import check_scope
from sdn.dataplane.realize import Outcome, realize, teardown
from sdn.errors import SdnError
from sdn.model import Inventory
from sdn.policy.firewall import Firewall
from sdn.query import QueryIndex
from sdn.render.output import STRUCTURED, print_data, print_table


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A status line on stderr while a long realize runs (only on a terminal)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda _msg: None
        return
    with console.status("realizing") as status:
        yield status.update


def run(args: argparse.Namespace) -> int:
    """Realize (or tear down) the state; exit 0 when done, 2 with a coded line when the
    host cannot or a kernel command failed."""
    if args.teardown and (args.cluster or args.namespace):
        raise SdnError("--teardown removes everything realized from this state; to keep "
                       "only some clusters or namespaces, realize with --cluster or "
                       "--namespace instead", code="BAD_ARGUMENT")
    with _progress(args.output == "table") as step:
        if args.teardown:
            removed = teardown(args.state, step)
            if args.output in STRUCTURED:
                print_data({"namespaces_deleted": removed}, args.output)
            else:
                print(f"torn down: {removed} namespaces deleted")
            return 0
        with ExitStack() as stack:
            def load() -> tuple[Inventory, int, Firewall]:
                index = stack.enter_context(QueryIndex.open(args.state))
                check_scope(index.store, args.cluster, args.namespace or ())
                return index.inventory(), index.key.revision, index.dfw()

            outcome = realize(args.state, load, namespaces=args.namespace or (),
                              clusters=frozenset([args.cluster]) if args.cluster else None,
                              progress=step)
    if args.output in STRUCTURED:
        print_data(outcome.to_json(), args.output)
    else:
        _table(outcome)
    return 0


def _table(outcome: Outcome) -> None:
    r, c = outcome.realized, outcome.changes
    print(f"realized revision {r.revision}: {c.created} created, {c.updated} updated, "
          f"{c.deleted} deleted (kernel objects)")
    print_table(["POD", "NETNS", "IP", "MAC"],
                [[p.pod, p.netns, p.ip, p.mac] for p in r.ports],
                title=f"ports: {len(r.ports)}")
    print_table(["GATEWAY", "NETNS"],
                [[path.rsplit("/", 1)[-1], netns] for path, netns in r.gateways.items()],
                title=f"gateways: {len(r.gateways)}")
    print(f"outside: {r.outside_netns} {' '.join(r.outside_addresses)}")
