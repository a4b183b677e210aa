"""``sdn apply -f FILE`` and ``sdn delete -f FILE``: the network admin's own DFW objects.

As in PKS, admins own the rules around developer policy: groups and security policies in
any category, kept in the state next to what ``ncp`` creates and evaluated with it by
``reach``, ``explain`` and ``lint``. NCP's own objects (tagged ``ncp/cluster``) cannot be
overwritten or deleted here, as NSX protects objects of a principal identity. A file is
applied whole or not at all: any problem, including a reference to a missing group, and
nothing is written. ``--dry-run`` plans exactly as the real command (same checks, same
refusals), reads the state read-only (a missing state is not created) and prints what
would be created, updated, deleted or left unchanged (see :mod:`sdn.model.admin_plan`),
and the flows the write would gain and lose (:mod:`sdn.policy.whatif`); with
``--fail-on`` such changes make the exit status :data:`~sdn.commandline.EXIT_CHANGES`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sdn.cli.apply_plan import plan_json, plan_lines
from sdn.commandline import EXIT_CHANGES, EXIT_OK, refuse_fail_on_alone
from sdn.errors import InvalidModelError, Problem, SdnError, yaml_error_text
from sdn.model import Inventory, PolicyResource
from sdn.model.admin_plan import Plan, plan_apply, plan_delete
from sdn.model.apishape import ADMIN_USER
from sdn.model.documents import parse_admin_objects
from sdn.policy.compiler import CompiledDfw
from sdn.policy.whatif import WhatIf, reachability_change
from sdn.query.objects import stored_objects
from sdn.render.output import STRUCTURED, print_data
from sdn.store import ChangeSet, Store
from sdn.store.codec import to_stored


def read_documents(path: str) -> list[Any]:
    """The documents of a YAML or JSON file (a list, or a mapping of ``items`` without a
    ``resource_type``, is flattened); ``FILE_NOT_FOUND``, ``MALFORMED_FILE``."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise SdnError(str(err), code="FILE_NOT_FOUND", obj=path) from err
    try:
        if p.suffix == ".json":
            data: Any = json.loads(text)
            docs = data if isinstance(data, list) else [data]
        else:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except json.JSONDecodeError as err:
        raise SdnError(f"line {err.lineno} column {err.colno}: {err.msg}",
                       code="MALFORMED_FILE", obj=path) from err
    except yaml.YAMLError as err:
        raise SdnError(yaml_error_text("", err), code="MALFORMED_FILE", obj=path) from err
    out: list[Any] = []
    for d in docs:
        if isinstance(d, dict) and isinstance(d.get("items"), list) and "resource_type" not in d:
            out += d["items"]
        elif isinstance(d, list):
            out += d
        else:
            out.append(d)
    return out


def _load(files: list[str]) -> list[PolicyResource]:
    objects: list[PolicyResource] = []
    problems: list[Problem] = []
    for f in files:
        got, bad = parse_admin_objects(read_documents(f), source=f)
        objects += got
        problems += bad
    if problems:
        raise InvalidModelError(problems)
    return objects


def _current(args: argparse.Namespace) -> tuple[Inventory, CompiledDfw | None]:
    """The state's inventory for a dry run, and its compiled firewall when at hand (from
    the query index's ``objects`` part: :mod:`sdn.query.objects`), read-only, the state
    and its journal left byte-identical (a missing state is empty: the real command
    would create it)."""
    state = Path(args.state)
    if not state.exists():
        return Inventory(), None
    with Store.open_readonly(state, untouched=True) as store:
        found = stored_objects(state, store.identity, store.revision)
        if found is not None:
            return found.inventory, found.dfw
        return store.inventory(), None


def _report(plan: Plan, args: argparse.Namespace, verb: str, whatif: WhatIf | None) -> None:
    dry_run = bool(getattr(args, "dry_run", False))
    if args.output in STRUCTURED:
        print_data(plan_json(plan, dry_run=dry_run, whatif=whatif), args.output)
    else:
        print("\n".join(plan_lines(plan, dry_run=dry_run, verb=verb, whatif=whatif)))


def _run(args: argparse.Namespace, verb: str,
         planner: Callable[[Inventory, list[PolicyResource]], Plan]) -> int:
    """Plan; refuse on any problem; write (unless ``--dry-run``: then say what the
    write would do to reachability) in one transaction."""
    refuse_fail_on_alone(args)
    objects = _load(args.file)
    whatif = None
    if args.dry_run:
        current, dfw = _current(args)
        plan = planner(current, objects)
        if plan.problems:
            raise InvalidModelError(plan.problems)
        whatif = reachability_change(plan.before, plan.after,
                                     [c.obj.path for c in plan.writes],
                                     before_dfw=dfw if plan.before is current else None)
    else:
        with Store.open(args.state) as store:
            plan = planner(store.inventory(), objects)
            if plan.problems:
                raise InvalidModelError(plan.problems)
            upserts = [to_stored(c.obj) for c in plan.writes if c.action != "delete"]
            deletes = [c.obj.path for c in plan.writes if c.action == "delete"]
            if upserts or deletes:
                store.apply(ChangeSet(upserts=upserts, deletes=deletes, user=ADMIN_USER))
    _report(plan, args, verb, whatif)
    if whatif is not None and args.fail_on and whatif.has(args.fail_on):
        return EXIT_CHANGES
    return EXIT_OK


def apply(args: argparse.Namespace) -> int:
    """Create or replace the admin's groups and security policies."""
    return _run(args, "apply", plan_apply)


def delete(args: argparse.Namespace) -> int:
    """Delete the admin objects a file declares (a group still in use is refused)."""
    return _run(args, "delete", plan_delete)
