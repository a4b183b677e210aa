"""The distributed firewall engine: compile the DFW of an inventory, then evaluate flows.

* :func:`~sdn.policy.compiler.compile_dfw` resolves every group to its members, orders
  every rule as NSX evaluates them, and precomputes what evaluation needs;
* :class:`~sdn.policy.firewall.Firewall` is what questions read from a firewall, compiled
  or stored in the query index;
* :func:`~sdn.policy.evaluator.evaluate_flow` decides one flow at the source port
  (egress) and the destination port (ingress), with the trail ``sdn explain`` prints;
* :class:`~sdn.policy.membership.MembershipUpdater` moves a relabelled pod in and out of
  groups without recompiling;
* :func:`~sdn.policy.reach.reach_matrix` answers "who can reach whom" for many flows,
  evaluating each equivalence class of pods once.
"""

from sdn.policy.compiler import CompiledDfw, CompiledRule, Endpoint, compile_dfw
from sdn.policy.evaluator import Decision, FlowVerdict, evaluate_flow
from sdn.policy.firewall import Firewall, FirewallRule
from sdn.policy.membership import MembershipUpdater
from sdn.policy.reach import reach_matrix

__all__ = [
    "CompiledDfw",
    "CompiledRule",
    "Decision",
    "Endpoint",
    "Firewall",
    "FirewallRule",
    "FlowVerdict",
    "MembershipUpdater",
    "compile_dfw",
    "evaluate_flow",
    "reach_matrix",
]
