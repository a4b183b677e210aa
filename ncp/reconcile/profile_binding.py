"""The network profile a sync runs with: the one the user passed, checked against the
cluster's current one, or the current one kept.

Why apart: ``ncp sync`` binds it before anything else, and the incremental reconcile of
``ncp run`` binds it again when it primes; both must apply the same rules.
"""

from __future__ import annotations

from ncp.config import NcpConfig
from ncp.errors import UnusableInputError
from ncp.reconcile.state import State
from sdn.errors import Problem
from sdn.profiles import NetworkProfile, check_update, parse_profile
from sdn.store.codec import profile_row


def resolve_profile(store: State, config: NcpConfig, profile: NetworkProfile | None,
                    ) -> tuple[NetworkProfile | None, list[tuple[str, str]]]:
    """The profile for this run and the profiles to add to the state.

    ``profile`` is what the user passed (None: keep the cluster's current one). Profiles
    are immutable, as in TKGI: a known name with other content is refused. A cluster that
    changes profile must pass the update rules against its previous profile (or, for a
    cluster created without one, against the config's blocks and pools).

    Raises:
        UnusableInputError: the profile clashes or breaks the update rules.
    """
    record = store.cluster(config.cluster)
    known = store.profiles()
    old: NetworkProfile | None = None
    if record is not None and record.profile is not None:
        old = parse_profile(known[record.profile], source=record.profile)
    if profile is None:
        return old, []
    added: list[tuple[str, str]] = []
    body = profile.to_json()
    if profile.name in known:
        if known[profile.name] != body:
            raise UnusableInputError([Problem(
                "PROFILE_EXISTS", profile.name,
                "a different profile has this name; profiles are immutable, so create the "
                "new one under a new name")])
    else:
        added.append(profile_row(profile.name, body))
    if record is not None and (old is None or old.name != profile.name):
        baseline = old or parse_profile({"name": "(cluster defaults)", "parameters": {
            "pod_ip_block_ids": [b.id for b in config.container_ip_blocks],
            "fip_pool_ids": [p.id for p in config.external_ip_pools],
        }}, source="defaults")
        problems = check_update(baseline, profile)
        if problems:
            raise UnusableInputError(problems)
    return profile, added
