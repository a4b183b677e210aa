"""Load balancing objects: LB services, virtual servers and pools (NSX Policy shapes).

NCP gives every ClusterIP service a distributed load balancer (``size: DLB``, as vSphere
with Tanzu does): per service port a virtual server on the service's cluster IP whose pool
members are the service's ready endpoints, so pod-to-ClusterIP traffic is translated to
one backend on the source's own host. ``LoadBalancer`` services get L4 virtual servers on
the cluster's LB service (a later capability).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Literal

from pydantic import Field

from sdn.model.base import NsxModel, PolicyResource

TCP_PROFILE = "/infra/lb-app-profiles/default-tcp-lb-app-profile"
UDP_PROFILE = "/infra/lb-app-profiles/default-udp-lb-app-profile"
SOURCE_IP_PERSISTENCE = "/infra/lb-persistence-profiles/default-source-ip-lb-persistence-profile"


#: Per LB service size: virtual servers, pools, pool members (NSX-T configuration
#: maximums as commonly quoted for 2.5/3.x; reference section 5 gives SMALL 20 VS, MEDIUM
#: 100, LARGE 1000 VS / 3000 pools / 7500 members). A DLB has no such limits here.
CAPACITY: dict[str, tuple[int, int, int]] = {
    "SMALL": (20, 60, 300),
    "MEDIUM": (100, 300, 2000),
    "LARGE": (1000, 3000, 7500),
}


class LBService(PolicyResource):
    """A load balancer service (an NSX LB instance, or a distributed LB)."""

    resource_type: Literal["LBService"] = "LBService"
    connectivity_path: str | None = None
    size: Literal["SMALL", "MEDIUM", "LARGE", "XLARGE", "DLB"] = "SMALL"
    enabled: bool = True

    def references(self) -> dict[str, str]:
        return {"connectivity_path": self.connectivity_path} if self.connectivity_path else {}


class LBPoolMember(NsxModel):
    """One backend: its address and port."""

    ip_address: IPv4Address
    port: str = ""
    display_name: str = ""
    weight: int = Field(default=1, ge=1, le=256)
    admin_state: Literal["ENABLED", "DISABLED", "GRACEFUL_DISABLED"] = "ENABLED"


class LBSnatTranslation(NsxModel):
    """What source address backends see (distributed LBs keep the client's)."""

    type: Literal["LBSnatDisabled", "LBSnatAutoMap", "LBSnatIpPool"] = "LBSnatDisabled"


class LBPool(PolicyResource):
    """A pool of backends."""

    resource_type: Literal["LBPool"] = "LBPool"
    members: tuple[LBPoolMember, ...] = ()
    algorithm: Literal["ROUND_ROBIN", "WEIGHTED_ROUND_ROBIN", "LEAST_CONNECTION",
                       "WEIGHTED_LEAST_CONNECTION", "IP_HASH"] = "ROUND_ROBIN"
    snat_translation: LBSnatTranslation = LBSnatTranslation()


class LBRuleCondition(NsxModel):
    """One match condition of an L7 rule: the Host header or the request URI."""

    type: Literal["LBHttpRequestHeaderCondition", "LBHttpRequestUriCondition"]
    header_name: str | None = None
    header_value: str | None = None
    uri: str | None = None
    match_type: Literal["EQUALS", "STARTS_WITH", "REGEX", "CONTAINS", "ENDS_WITH"] = "EQUALS"


class LBRuleAction(NsxModel):
    """An L7 rule's action: send to a pool."""

    type: Literal["LBSelectPoolAction"] = "LBSelectPoolAction"
    pool_id: str


class LBRule(NsxModel):
    """An L7 rule of a virtual server: all conditions match -> the action (in order)."""

    display_name: str = ""
    phase: Literal["HTTP_FORWARDING"] = "HTTP_FORWARDING"
    match_strategy: Literal["ALL", "ANY"] = "ALL"
    match_conditions: tuple[LBRuleCondition, ...] = ()
    actions: tuple[LBRuleAction, ...] = ()


HTTP_PROFILE = "/infra/lb-app-profiles/default-http-lb-app-profile"
#: Prefix of the built-in profiles every NSX manager has (not objects of the inventory).
BUILTIN_PROFILE_PREFIXES = ("/infra/lb-app-profiles/default-",
                            "/infra/lb-persistence-profiles/default-")


class LBHttpProfile(PolicyResource):
    """An HTTP application profile: NCP makes one per cluster when the profile asks for
    ``x_forwarded_for`` (the built-in HTTP profile leaves the header alone)."""

    resource_type: Literal["LBHttpProfile"] = "LBHttpProfile"
    x_forwarded_for: Literal["INSERT", "REPLACE"] | None = None
    request_header_size: int = Field(default=1024, ge=1)
    response_header_size: int = Field(default=4096, ge=1)
    response_timeout: int = Field(default=60, ge=1)


class LBSessionCookieTime(NsxModel):
    """How long an idle session cookie stays valid."""

    type: Literal["LBSessionCookieTime"] = "LBSessionCookieTime"
    cookie_max_idle: int = Field(ge=1)


class LBCookiePersistenceProfile(PolicyResource):
    """Cookie persistence: the LB inserts a cookie naming the chosen backend."""

    resource_type: Literal["LBCookiePersistenceProfile"] = "LBCookiePersistenceProfile"
    cookie_name: str = "NSXLB"
    cookie_mode: Literal["INSERT", "PREFIX", "REWRITE"] = "INSERT"
    cookie_time: LBSessionCookieTime | None = None


class LBSourceIpPersistenceProfile(PolicyResource):
    """Source-IP persistence: a client address sticks to its backend for ``timeout``."""

    resource_type: Literal["LBSourceIpPersistenceProfile"] = "LBSourceIpPersistenceProfile"
    timeout: int = Field(default=300, ge=1)


class LBVirtualServer(PolicyResource):
    """A virtual server: an address and ports, forwarding to a pool."""

    resource_type: Literal["LBVirtualServer"] = "LBVirtualServer"
    ip_address: IPv4Address
    ports: tuple[str, ...]
    lb_service_path: str
    #: An L4 virtual server's pool; L7 ones choose pools by their ``rules`` instead.
    pool_path: str | None = None
    application_profile_path: str = TCP_PROFILE
    lb_persistence_profile_path: str | None = None
    rules: tuple[LBRule, ...] = ()
    enabled: bool = True

    @property
    def protocol(self) -> str:
        """TCP or UDP, from the application profile (HTTP virtual servers are TCP)."""
        return "UDP" if self.application_profile_path == UDP_PROFILE else "TCP"

    def references(self) -> dict[str, str]:
        refs = {"lb_service_path": self.lb_service_path}
        if self.pool_path:
            refs["pool_path"] = self.pool_path
        for name in ("application_profile_path", "lb_persistence_profile_path"):
            value = getattr(self, name)
            if value and not value.startswith(BUILTIN_PROFILE_PREFIXES):
                refs[name] = value
        for i, rule in enumerate(self.rules):
            for j, action in enumerate(rule.actions):
                refs[f"rules[{i}].actions[{j}].pool_path"] = action.pool_id
        return refs


def lb_service_path(service_id: str) -> str:
    """The Policy path of an LB service."""
    return f"/infra/lb-services/{service_id}"


def lb_pool_path(pool_id: str) -> str:
    """The Policy path of an LB pool."""
    return f"/infra/lb-pools/{pool_id}"


def lb_virtual_server_path(vs_id: str) -> str:
    """The Policy path of a virtual server."""
    return f"/infra/lb-virtual-servers/{vs_id}"


def lb_app_profile_path(profile_id: str) -> str:
    """The Policy path of an LB application profile."""
    return f"/infra/lb-app-profiles/{profile_id}"


def lb_persistence_profile_path(profile_id: str) -> str:
    """The Policy path of an LB persistence profile."""
    return f"/infra/lb-persistence-profiles/{profile_id}"
