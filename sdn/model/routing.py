"""Gateways: Tier-0 (provider edge, north-south) and Tier-1 (tenant, east-west).

A Tier-1 points at its Tier-0 with ``tier0_path``; NAT rules hang below a gateway at
``<gateway path>/nat/USER/nat-rules/<id>`` (NSX's default NAT section is ``USER``).
"""

from __future__ import annotations

from typing import Literal

from sdn.model.base import PolicyResource

HaMode = Literal["ACTIVE_ACTIVE", "ACTIVE_STANDBY"]
FailoverMode = Literal["PREEMPTIVE", "NON_PREEMPTIVE"]
RouteAdvertisement = Literal[
    "TIER1_CONNECTED",
    "TIER1_NAT",
    "TIER1_LB_VIP",
    "TIER1_LB_SNAT",
    "TIER1_STATIC_ROUTES",
    "TIER1_DNS_FORWARDER_IP",
    "TIER1_IPSEC_LOCAL_ENDPOINT",
]


class Tier0(PolicyResource):
    """A Tier-0 gateway: the cluster's uplink to the physical network."""

    resource_type: Literal["Tier0"] = "Tier0"
    ha_mode: HaMode = "ACTIVE_STANDBY"
    failover_mode: FailoverMode = "NON_PREEMPTIVE"


class Tier1(PolicyResource):
    """A Tier-1 gateway: one per namespace (two-tier) or one per cluster (shared)."""

    resource_type: Literal["Tier1"] = "Tier1"
    tier0_path: str | None = None
    failover_mode: FailoverMode = "NON_PREEMPTIVE"
    route_advertisement_types: tuple[RouteAdvertisement, ...] = ("TIER1_CONNECTED",)
    pool_allocation: Literal["ROUTING", "LB_SMALL", "LB_MEDIUM", "LB_LARGE", "LB_XLARGE"] = (
        "ROUTING"
    )

    def references(self) -> dict[str, str]:
        return {"tier0_path": self.tier0_path} if self.tier0_path else {}


def tier0_path(tier0_id: str) -> str:
    """The Policy path of a Tier-0."""
    return f"/infra/tier-0s/{tier0_id}"


def tier1_path(tier1_id: str) -> str:
    """The Policy path of a Tier-1."""
    return f"/infra/tier-1s/{tier1_id}"
