"""Sample states and random changes for the nftables generator's tests (pure and
kernel alike)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import strategies as st

import sdn.cli
from sdn.dataplane.layout import Layout
from sdn.dataplane.nftgen import Ruleset, rulesets
from sdn.model import Inventory, LBVirtualServer, NatRule, Rule, SecurityPolicy, SegmentPort
from sdn.policy import Firewall, compile_dfw
from sdn.store import Store
from tests.support.cli_runs import TOPOLOGIES, run_main, sync_sample

#: The owner tag of the generated layouts (pure: nothing is realized with it).
TAG = "t0nft1"


def load_sample(state: Path, sample: str) -> Inventory:
    """A sample's inventory; ``admin`` is the guardrails applied around multi-tenant,
    ``shared-t1`` multi-tenant in the shared Tier-1 topology (SNAT and VIPs on the
    Tier-1 that hosts the pods)."""
    if sample == "admin":
        code, out, err = run_main(sdn.cli.main, "apply", "-f",
                                  TOPOLOGIES / "admin" / "guardrails.yaml", "--state", state)
        assert code == 0, out + err
        sync_sample(state, "multi-tenant", "--profile",
                    TOPOLOGIES / "profiles" / "guardrails.json")
    elif sample == "shared-t1":
        sync_sample(state, "multi-tenant", "--profile",
                    TOPOLOGIES / "profiles" / "shared-t1.json")
    else:
        sync_sample(state, sample)
    with Store.open_readonly(state) as store:
        return store.inventory()


def generate(inv: Inventory, firewall: Firewall | None = None,
             ) -> tuple[Layout, Firewall, dict[str, Ruleset]]:
    layout = Layout.of(inv, TAG)
    fw = firewall if firewall is not None else compile_dfw(inv)
    return layout, fw, rulesets(inv, layout, fw)


def mutated(inv: Inventory, data: st.DataObject) -> Inventory:
    """``inv`` with some rules given other actions, directions, exclusions, services and
    categories (JUMP_TO_APPLICATION, REJECT, disabled rules and non-Application
    categories included)."""
    objs = []
    for obj in inv.values():
        if isinstance(obj, SecurityPolicy) and obj.rules and data.draw(st.booleans()):
            rules = tuple(_rule(r, data) for r in obj.rules)
            category = data.draw(st.sampled_from(
                [obj.category, "Emergency", "Environment", "Application"]))
            obj = obj.model_copy(update={"rules": rules, "category": category})
        objs.append(obj)
    return Inventory(objs)


def _rule(r: Rule, data: st.DataObject) -> Rule:
    if not data.draw(st.booleans()):
        return r
    entries = data.draw(st.sampled_from([
        r.service_entries, (),
        ({"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP",
          "destination_ports": ["80", "8000-9000"]},
         {"resource_type": "L4PortSetServiceEntry", "l4_protocol": "UDP",
          "destination_ports": ["53"], "source_ports": ["40000-40010"]}),
        ({"resource_type": "ICMPTypeServiceEntry", "protocol": "ICMPv4"},)]))
    return r.model_validate({**r.model_dump(), "action": data.draw(st.sampled_from(
        ["ALLOW", "DROP", "REJECT", "JUMP_TO_APPLICATION"])),
        "direction": data.draw(st.sampled_from(["IN", "OUT", "IN_OUT"])),
        "sources_excluded": data.draw(st.booleans()),
        "destinations_excluded": data.draw(st.booleans()),
        "disabled": data.draw(st.booleans()), "service_entries": entries})




def changed(inv: Inventory, data: st.DataObject) -> Inventory:
    """``inv`` after random changes of every kind the tables follow: policies
    (:func:`mutated`), pods gone, NAT rules gone, virtual servers gone."""
    inv = mutated(inv, data)
    kinds = (SegmentPort, NatRule, LBVirtualServer)
    kept = [o for o in inv.values()
            if not (isinstance(o, kinds) and data.draw(st.integers(0, 5)) == 0)]
    return Inventory(kept)


def one_policy_changed(inv: Inventory) -> tuple[Inventory, SecurityPolicy]:
    """``inv`` with the first policy's first rule flipped between ALLOW and DROP."""
    policy = next(p for p in sorted(inv.of_type(SecurityPolicy), key=lambda p: p.path)
                  if p.rules)
    first = policy.rules[0]
    flipped = first.model_copy(update={"action": "DROP" if first.action == "ALLOW"
                                       else "ALLOW"})
    changed = policy.model_copy(update={"rules": (flipped, *policy.rules[1:])})
    return Inventory([changed if o.path == policy.path else o for o in inv.values()]), changed


def chains_touched(script: str) -> set[str]:
    """The chains a transaction script flushes, adds, deletes or fills."""
    found = set(re.findall(r"^(?:flush|add|delete) chain \S+ \S+ (\S+)", script, re.M))
    return found | set(re.findall(r"^  chain (\S+) \{", script, re.M))
