"""``sdn profile create|list|show|delete``: network profiles kept in the state.

Profiles are immutable, as in TKGI: to change a cluster's profile create a new one and
sync the cluster with it (the update rules are checked then). A profile bound to a
cluster cannot be deleted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sdn.errors import ConflictError, ProfileError
from sdn.profiles import parse_profile
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.store import ChangeSet, Store


def _create(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text = path.read_text()
    except OSError as err:
        raise ProfileError(str(err), code="PROFILE_NOT_FOUND", obj=str(path)) from err
    profile = parse_profile(text, source=str(path), new=True)
    with Store.open(args.state) as store:
        if profile.name in store.profiles():
            raise ConflictError("a profile with this name exists; profiles are immutable",
                                code="PROFILE_EXISTS", obj=profile.name)
        store.apply(ChangeSet(profiles_added=[
            (profile.name, json.dumps(profile.to_json(), sort_keys=True))]))
    print(f"network profile {profile.name} created")
    return 0


def _users(store: Store) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for c in store.clusters():
        if c.profile:
            users.setdefault(c.profile, []).append(c.name)
    return users


def _list(args: argparse.Namespace) -> int:
    with Store.open_readonly(args.state) as store:
        profiles = store.profiles()
        users = _users(store)
    if args.output in STRUCTURED:
        print_data([{"name": n, "description": p.get("description", ""),
                     "clusters": users.get(n, [])} for n, p in profiles.items()], args.output)
    else:
        print_table(["NAME", "DESCRIPTION", "CLUSTERS"], [
            [n, p.get("description", "") or "", ", ".join(users.get(n, [])) or "-"]
            for n, p in profiles.items()], title=f"network profiles: {len(profiles)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with Store.open_readonly(args.state) as store:
        print_data(store.profile(args.name), args.output)
    return 0


def _delete(args: argparse.Namespace) -> int:
    with Store.open(args.state) as store:
        store.profile(args.name)  # PROFILE_NOT_FOUND when there is none
        users = _users(store).get(args.name)
        if users:
            raise ConflictError(f"in use by cluster(s) {', '.join(users)}",
                                code="PROFILE_IN_USE", obj=args.name)
        store.apply(ChangeSet(profiles_deleted=[args.name]))
    print(f"network profile {args.name} deleted")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``sdn profile``."""
    handlers = {"create": _create, "list": _list, "show": _show, "delete": _delete}
    return handlers[args.profile_command](args)
