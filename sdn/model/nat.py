"""NAT rules on a gateway (``<gateway>/nat/USER/nat-rules/<id>``).

NCP writes one SNAT rule per NAT-mode namespace subnet: on the Tier-0 in the two-tier
topology, on the cluster's Tier-1 in the shared topology. nsxlib's priorities: 1:1
floating-IP rules 900, gateway SNAT rules 1000 (lower is evaluated first).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from sdn.model.base import PolicyResource

NatAction = Literal["SNAT", "DNAT", "NO_SNAT", "NO_DNAT", "REFLEXIVE"]

#: nsxlib's sequence number for a gateway SNAT rule.
GATEWAY_SNAT_PRIORITY = 1000
#: A Service's own SNAT rule (``ncp/snat_pool``) wins over its namespace's.
SERVICE_SNAT_PRIORITY = 900


def _check_nat_network(value: str) -> str:
    """An address, a CIDR, an inclusive range ``a-b``, or a comma-separated list of
    them, as NSX accepts."""
    for item in value.split(","):
        parts = item.strip().split("-")
        if len(parts) == 2:
            lo, hi = IPv4Address(parts[0]), IPv4Address(parts[1])
            if int(hi) < int(lo):
                raise ValueError(f"range {item!r} ends before it starts")
        elif len(parts) == 1:
            if "/" in item:
                IPv4Network(item.strip())
            else:
                IPv4Address(item.strip())
        else:
            raise ValueError(f"invalid NAT network {item!r}")
    return value


NatNetwork = Annotated[str, AfterValidator(_check_nat_network)]


class NatRule(PolicyResource):
    """A NAT rule; ``parent_path`` is ``<gateway path>/nat/USER``."""

    resource_type: Literal["PolicyNatRule"] = "PolicyNatRule"
    action: NatAction
    source_network: NatNetwork | None = None
    destination_network: NatNetwork | None = None
    translated_network: NatNetwork | None = None
    sequence_number: int = Field(default=GATEWAY_SNAT_PRIORITY, ge=0)
    firewall_match: Literal["MATCH_EXTERNAL_ADDRESS", "MATCH_INTERNAL_ADDRESS", "BYPASS"] = (
        "MATCH_INTERNAL_ADDRESS"
    )
    enabled: bool = True
    logging: bool = False

    @property
    def gateway_path(self) -> str:
        """The gateway this rule belongs to."""
        return self.parent_path.rsplit("/nat/", 1)[0]

    def references(self) -> dict[str, str]:
        return {"gateway": self.gateway_path}


def nat_rule_path(gateway_path: str, rule_id: str) -> str:
    """The Policy path of a NAT rule in a gateway's USER section."""
    return f"{gateway_path}/nat/USER/nat-rules/{rule_id}"
