"""``sdn apply -f FILE`` and ``sdn delete -f FILE``: the network admin's own DFW objects.

As in PKS, admins own the rules around developer policy: groups and security policies in
any category, kept in the state next to what ``ncp`` creates and evaluated with it by
``reach``, ``explain`` and ``lint``. NCP's own objects (tagged ``ncp/cluster``) cannot be
overwritten or deleted here, as NSX protects objects of a principal identity. A file is
applied whole or not at all: any problem, including a reference to a missing group, and
nothing is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from sdn.errors import InvalidModelError, Problem, SdnError
from sdn.model import Inventory, PolicyResource
from sdn.model.checks import validate_inventory
from sdn.model.documents import parse_admin_objects
from sdn.store import ChangeSet, Store
from sdn.store.sqlite import to_stored


def _documents(path: str) -> list[Any]:
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
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise SdnError(str(err), code="MALFORMED_FILE", obj=path) from err
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
        got, bad = parse_admin_objects(_documents(f), source=f)
        objects += got
        problems += bad
    if problems:
        raise InvalidModelError(problems)
    return objects


def _not_ncp(current: Inventory, objects: list[PolicyResource]) -> list[Problem]:
    return [Problem("OWNED_BY_NCP", o.path, "created by ncp for cluster "
                    f"{current[o.path].tag('ncp/cluster')}; change the Kubernetes objects "
                    "instead")
            for o in objects if o.path in current and current[o.path].tag("ncp/cluster")]


def apply(args: argparse.Namespace) -> int:
    """Create or replace the admin's groups and security policies."""
    objects = _load(args.file)
    with Store.open(args.state) as store:
        current = store.inventory()
        problems = _not_ncp(current, objects)
        merged = {**dict(current.items()), **{o.path: o for o in objects}}
        problems += [p for p in validate_inventory(Inventory(merged.values()))
                     if p.obj in {o.path for o in objects}]
        if problems:
            raise InvalidModelError(problems)
        rows = [to_stored(o) for o in objects]
        changed = [r for r in rows if r.path not in current
                   or to_stored(current[r.path]).body != r.body]
        if changed:
            store.apply(ChangeSet(upserts=changed))
    created = sum(1 for r in changed if r.path not in current)
    print(f"applied {len(objects)} object(s): {created} created, {len(changed) - created} "
          f"updated, {len(objects) - len(changed)} unchanged")
    return 0


def delete(args: argparse.Namespace) -> int:
    """Delete the admin objects a file declares (a group still in use is refused)."""
    objects = _load(args.file)
    with Store.open(args.state) as store:
        current = store.inventory()
        problems = _not_ncp(current, objects)
        gone = {o.path for o in objects if o.path in current}
        rest = Inventory(o for p, o in current.items() if p not in gone)
        problems += [Problem("GROUP_IN_USE", p.message.rsplit(" ", 1)[-1],
                             f"still used by {p.obj}")
                     for p in validate_inventory(rest)
                     if p.code == "DANGLING_REFERENCE" and any(g in p.message for g in gone)]
        if problems:
            raise InvalidModelError(problems)
        if gone:
            store.apply(ChangeSet(deletes=sorted(gone)))
    kinds = sorted({type(current[p]).__name__ for p in gone}) if gone else []
    print(f"deleted {len(gone)} object(s)" + (f" ({', '.join(kinds)})" if kinds else ""))
    return 0



