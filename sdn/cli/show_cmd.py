"""``sdn show KIND`` and ``sdn validate``."""

from __future__ import annotations

import argparse

from sdn.cli.filters import object_filter
from sdn.model import KINDS
from sdn.model.checks import validate_inventory
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.render.tables import table_for
from sdn.store import Store
from sdn.store.codec import parse_stored


def run(args: argparse.Namespace) -> int:
    """Print every object of one kind, as a table or as NSX API JSON/YAML."""
    resource_type = KINDS[args.kind]
    match = object_filter(args)
    with Store.open_readonly(args.state) as store:
        rows = list(store.rows(resource_type=resource_type))
        objs = [parse_stored(r) for r in rows]
        objs = [o for o in objs if match is None or match(o)]
        if args.output in STRUCTURED:
            print_data([o.to_api() for o in objs], args.output)
        else:
            inv = store.inventory()
            header, table = table_for(resource_type, objs, inv)
            print_table(header, table, title=f"{args.kind}: {len(objs)}")
    return 0


def validate(args: argparse.Namespace) -> int:
    """Every stored object that is invalid on its own (each field problem), then the
    cross-object checks on the valid rest; exit 1 when any problem is found."""
    with Store.open_readonly(args.state) as store:
        inventory, invalid = store.checked_inventory()
    problems = invalid + validate_inventory(inventory)
    if args.output in STRUCTURED:
        print_data([{"code": p.code, "object": p.obj, "message": p.message} for p in problems],
                   args.output)
    elif problems:
        print_table(["CODE", "OBJECT", "PROBLEM"], [[p.code, p.obj, p.message] for p in problems],
                    title=f"{len(problems)} problem(s)")
    else:
        print("state is consistent: no problems")
    return 1 if problems else 0
