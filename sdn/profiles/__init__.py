"""PKS/TKGI network profiles: their JSON shape, validation, update rules and effect.

A network profile is how a network admin customises one cluster's NSX network (pod IP
blocks, subnet prefix, shared or dedicated Tier-1, LB size, floating IP pools...). This
package is pure: it takes already-read data and returns values or
:class:`~sdn.errors.ProfileError` / :class:`~sdn.errors.Problem`; reading files is the
caller's job.

* :mod:`~sdn.profiles.model`: the pydantic models (:class:`NetworkProfile` ...).
* :mod:`~sdn.profiles.loading`: :func:`parse_profile`, all problems at once.
* :mod:`~sdn.profiles.updates`: :func:`check_update`, the rules for changing a cluster's
  profile.
* :mod:`~sdn.profiles.effective`: :func:`topology_settings`, defaults overlaid with a
  profile.
"""

from sdn.profiles.effective import (
    DEFAULT_TOPOLOGY,
    SETTING_SOURCES,
    TopologySettings,
    topology_settings,
)
from sdn.profiles.loading import (
    INVALID_VALUE,
    MALFORMED_PROFILE,
    UNKNOWN_FIELD,
    dotted_path,
    parse_profile,
)
from sdn.profiles.model import (
    MAX_NODES_DNS,
    MAX_SUBNET_PREFIX,
    MIN_SUBNET_PREFIX,
    CniConfigurations,
    CniParameters,
    Extensions,
    IngressPersistenceSettings,
    LogSettings,
    NcpCoeExtension,
    NcpExtensions,
    NcpHaExtension,
    NcpK8sExtension,
    NcpNsxV3Extension,
    NetworkProfile,
    NodeAgentExtensions,
    NodeAgentSection,
    ProfileParameters,
    split_regex_list,
)
from sdn.profiles.updates import (
    FIELD_CONFLICT,
    FIELD_NOT_UPDATABLE,
    UPDATE_RULES,
    UpdateRule,
    check_update,
)

__all__ = [
    "DEFAULT_TOPOLOGY",
    "FIELD_CONFLICT",
    "FIELD_NOT_UPDATABLE",
    "INVALID_VALUE",
    "MALFORMED_PROFILE",
    "MAX_NODES_DNS",
    "MAX_SUBNET_PREFIX",
    "MIN_SUBNET_PREFIX",
    "SETTING_SOURCES",
    "UNKNOWN_FIELD",
    "UPDATE_RULES",
    "CniConfigurations",
    "CniParameters",
    "Extensions",
    "IngressPersistenceSettings",
    "LogSettings",
    "NcpCoeExtension",
    "NcpExtensions",
    "NcpHaExtension",
    "NcpK8sExtension",
    "NcpNsxV3Extension",
    "NetworkProfile",
    "NodeAgentExtensions",
    "NodeAgentSection",
    "ProfileParameters",
    "TopologySettings",
    "UpdateRule",
    "check_update",
    "dotted_path",
    "parse_profile",
    "split_regex_list",
    "topology_settings",
]
