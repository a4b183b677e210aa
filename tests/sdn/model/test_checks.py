"""Every cross-object problem code has a failing example, and all are reported at once."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sdn.model import (
    IpAllocation,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    IpPoolStaticSubnet,
    PolicyResource,
    Segment,
    Tier0,
    Tier1,
)
from sdn.model.checks import validate_inventory
from sdn.model.inventory import Inventory
from tests.support.builders import T0, port, segment

BLOCK = IpBlock(id="b", path="/infra/ip-blocks/b", cidr="10.0.0.0/16")


def pool(pid: str, *subnets: Any, allocations: tuple[str, ...] = ()) -> IpPool:
    return IpPool(id=pid, path=f"/infra/ip-pools/{pid}", subnets=subnets,
                  allocations=tuple(IpAllocation(id=f"a{i}", allocation_ip=ip)
                                    for i, ip in enumerate(allocations)))


def carved(cidr: str, block: str = BLOCK.path) -> IpPoolBlockSubnet:
    from ipaddress import IPv4Network
    return IpPoolBlockSubnet(id=cidr.replace("/", "_"), ip_block_path=block,
                             size=IPv4Network(cidr).num_addresses, cidr=cidr)


CASES = [
    pytest.param([Tier1(id="t1", path="/infra/tier-1s/t1", tier0_path="/infra/tier-0s/none")],
                 ["DANGLING_REFERENCE"], id="dangling-tier0"),
    pytest.param([BLOCK, Tier1(id="t1", path="/infra/tier-1s/t1", tier0_path=BLOCK.path)],
                 ["WRONG_REFERENCE_TYPE"], id="tier0-path-names-a-block"),
    pytest.param([Tier0(id="t0", path="/infra/tier-0s/other")], ["PATH_MISMATCH"],
                 id="path-does-not-end-in-id"),
    pytest.param([BLOCK, IpBlock(id="c", path="/infra/ip-blocks/c", cidr="10.0.128.0/17")],
                 ["OVERLAPPING_BLOCKS"], id="overlapping-blocks"),
    pytest.param([BLOCK, pool("p", carved("10.1.0.0/24"))], ["SUBNET_OUTSIDE_BLOCK"],
                 id="subnet-outside-block"),
    pytest.param([BLOCK, pool("p", carved("10.0.0.0/24")), pool("q", carved("10.0.0.128/25"))],
                 ["OVERLAPPING_SUBNETS"], id="overlapping-carved-subnets"),
    pytest.param([pool("p", IpPoolStaticSubnet(id="s", cidr="192.0.2.0/24"),
                       allocations=("198.51.100.1",))],
                 ["ADDRESS_OUTSIDE_POOL"], id="allocation-outside-pool"),
    pytest.param([pool("p", IpPoolStaticSubnet(id="s", cidr="192.0.2.0/24"),
                       allocations=("192.0.2.5", "192.0.2.5"))],
                 ["DUPLICATE_ADDRESS"], id="allocated-twice"),
    pytest.param([Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24"),
                  port("s", "p1", "10.0.1.5")], ["ADDRESS_OUTSIDE_SEGMENT"],
                 id="port-outside-segment"),
    pytest.param([Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24"),
                  port("s", "p1", "10.0.0.5"), port("s", "p2", "10.0.0.5")],
                 ["DUPLICATE_ADDRESS"], id="bound-twice"),
    pytest.param([port("gone", "p1", "10.0.0.5")], ["DANGLING_REFERENCE"],
                 id="port-without-segment"),
]


@pytest.mark.parametrize(("objects", "codes"), CASES)
def test_each_problem_code(objects: list[PolicyResource], codes: list[str]) -> None:
    assert [p.code for p in validate_inventory(Inventory(objects))] == codes


def test_every_problem_is_reported_at_once() -> None:
    objects = [
        BLOCK,
        IpBlock(id="c", path="/infra/ip-blocks/c", cidr="10.0.128.0/17"),
        Tier1(id="t1", path="/infra/tier-1s/t1", tier0_path="/infra/tier-0s/none"),
        Tier1(id="t2", path="/infra/tier-1s/t2", tier0_path=BLOCK.path),
        Tier0(id="t0", path="/infra/tier-0s/other"),
        pool("p", carved("10.1.0.0/24")),
    ]
    codes = sorted(p.code for p in validate_inventory(Inventory(objects)))
    assert codes == ["DANGLING_REFERENCE", "OVERLAPPING_BLOCKS", "PATH_MISMATCH",
                     "SUBNET_OUTSIDE_BLOCK", "WRONG_REFERENCE_TYPE"]


def test_a_consistent_inventory_has_no_problems() -> None:
    objs = [Tier0(id="t0", path=T0), BLOCK, pool("p", carved("10.0.0.0/24")),
            Segment(id="s", path="/infra/segments/s", connectivity_path=T0)]
    assert validate_inventory(Inventory(objs)) == []


@pytest.mark.parametrize("bad", [
    pytest.param({"gateway_address": "10.0.1.1/24", "network": "10.0.0.0/24"}, id="gw-outside"),
    pytest.param({"gateway_address": "10.0.0.1/24", "network": "10.0.0.0/33"}, id="bad-cidr"),
])
def test_field_validation_rejects_bad_subnets(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Segment(id="s", path="/infra/segments/s", subnets=[bad])
