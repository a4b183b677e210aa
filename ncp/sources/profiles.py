"""Network profiles from files on disk (``ncp sync --profile FILE``, ``ncp run --profile``).

Why here: :mod:`sdn.profiles` is pure (it validates text or a mapping; reading files is the
caller's edge) and :mod:`sdn.store` is the state's database, not the user's files. Reading
what a user points ncp at is what :mod:`ncp.sources` does, as it reads manifests: the
reconcile then takes the profile as a value.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sdn.errors import ProfileError, yaml_error_text
from sdn.profiles import NetworkProfile, parse_profile


def load_profile_file(path: str | Path) -> NetworkProfile:
    """Read a profile from a JSON (or, by its suffix, YAML) file.

    Raises:
        ProfileError: unreadable (``PROFILE_NOT_FOUND``) or invalid.
    """
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as err:
        raise ProfileError(str(err), code="PROFILE_NOT_FOUND", obj=str(file)) from err
    if file.suffix in (".yaml", ".yml"):
        try:
            return parse_profile(yaml.safe_load(text) or {}, source=str(file), new=True)
        except yaml.YAMLError as err:
            raise ProfileError(yaml_error_text("", err), code="MALFORMED_PROFILE",
                               obj=str(file)) from err
    return parse_profile(text, source=str(file), new=True)
