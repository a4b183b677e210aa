"""``sdn show KIND`` and ``sdn validate``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sdn.cli.filters import object_filter, wanted_tags
from sdn.model import KINDS, IpPool, PolicyResource
from sdn.model.apishape import (
    POOL_CHILD_KINDS,
    api_object,
    child_paths,
    pool_allocations,
    pool_subnets,
)
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.render.tables import COUNTED, child_table, table_for
from sdn.store import Store
from sdn.store.codec import parse_stored


def run(args: argparse.Namespace) -> int:
    """Print every object of one kind, as a table or as NSX API JSON/YAML (the objects as
    NSX's API returns them, system fields included: :mod:`sdn.model.apishape`).

    A filtered listing (``--cluster``, ``--namespace``, ``--tag``) reads only the rows the
    filter selects (SQLite picks them by their tags) and, for a table, the objects its
    columns count for those rows (:data:`~sdn.render.tables.COUNTED`): one namespace's
    ports are found without parsing the state's other ten thousand. Unfiltered, a table
    reads the whole state as before (and so refuses a state holding invalid objects).
    """
    if args.member or args.members:
        from sdn.cli import groups_cmd  # here: a plain listing needs none of it

        groups_cmd.check(args)
        return groups_cmd.member(args) if args.member else groups_cmd.members(args)
    if args.kind in POOL_CHILD_KINDS:
        return _pool_children(args)
    resource_type = KINDS[args.kind]
    wanted = wanted_tags(args)
    match = _with_id(object_filter(args), args.id)
    with Store.open_readonly(args.state) as store:
        rows = store.rows_tagged(resource_type, wanted) if wanted \
            else store.rows(resource_type=resource_type)
        objs = [o for o in map(parse_stored, rows) if match is None or match(o)]
        if args.output in STRUCTURED:
            metas = store.object_meta(p for o in objs for p in (o.path, *child_paths(o)))
            print_data([api_object(o, metas) for o in objs], args.output)
            return 0
        related = _counted(store, resource_type, objs, whole=not wanted)
    header, table = table_for(resource_type, objs, related)
    print_table(header, table, title=f"{args.kind}: {len(objs)}")
    return 0


def _with_id(match: Callable[[PolicyResource], bool] | None, wanted: str | None
             ) -> Callable[[PolicyResource], bool] | None:
    """``match`` and, with ``--id``, the object whose id (or path) is ``wanted``."""
    if wanted is None:
        return match
    return lambda o: (o.id == wanted or o.path == wanted) and (match is None or match(o))


def _pool_children(args: argparse.Namespace) -> int:
    """``sdn show ip-subnets`` / ``ip-allocations``: every IP pool's children, as NSX
    lists them under ``.../ip-pools/{id}/ip-subnets`` and ``.../ip-allocations``, in pool
    then pool order. ``--cluster``/``--namespace``/``--tag`` select by the child's own
    tags, else its pool's."""
    wanted = wanted_tags(args)
    with Store.open_readonly(args.state) as store:
        pools = [o for o in map(parse_stored, store.rows(resource_type="IpAddressPool"))
                 if isinstance(o, IpPool)]
        metas = store.object_meta(p for pool in pools for p in child_paths(pool))
    listed = pool_subnets if args.kind == "ip-subnets" else pool_allocations
    items = [(pool, item) for pool in pools for item in listed(pool, metas)
             if _tagged(item["tags"] or [t.model_dump() for t in pool.tags], wanted)]
    if args.output in STRUCTURED:
        print_data([item for _pool, item in items], args.output)
        return 0
    header, table = child_table(args.kind, items)
    print_table(header, table, title=f"{args.kind}: {len(items)}")
    return 0


def _tagged(tags: list[dict[str, Any]], wanted: list[tuple[str, str]]) -> bool:
    have = {(t.get("scope", ""), t.get("tag", "")) for t in tags}
    return all(w in have for w in wanted)


def _counted(store: Store, resource_type: str, objs: list[PolicyResource], *,
             whole: bool) -> list[PolicyResource]:
    """The objects the table of ``objs`` counts: from the whole (validated) inventory
    when the listing is ``whole``, else only those that refer to the shown objects."""
    counted = COUNTED.get(resource_type)
    if whole:
        inv = store.inventory()
        return inv.by_resource_type(counted.resource_type) if counted else []
    if counted is None:
        return []
    keys = [key for o in objs if isinstance(key := getattr(o, counted.via, None), str)]
    rows = store.rows(resource_type=counted.resource_type, paths=keys) \
        if counted.field == "path" \
        else store.rows_referring(counted.resource_type, counted.field, keys)
    return [parse_stored(r) for r in rows]


def validate(args: argparse.Namespace) -> int:
    """Every stored object that is invalid on its own (each field problem), then the
    cross-object checks on the valid rest; exit 1 when any problem is found. Kept per
    state revision in the query index (:mod:`sdn.query.checked`):
    the first reader of a revision (or ``ncp sync``) checks, later ones load."""
    from sdn.query.checked import validate_state  # here: ``sdn show`` needs none of it

    problems = validate_state(args.state)
    if args.output in STRUCTURED:
        print_data([{"code": p.code, "object": p.obj, "message": p.message} for p in problems],
                   args.output)
    elif problems:
        print_table(["CODE", "OBJECT", "PROBLEM"], [[p.code, p.obj, p.message] for p in problems],
                    title=f"{len(problems)} problem(s)")
    else:
        print("state is consistent: no problems")
    return 1 if problems else 0
