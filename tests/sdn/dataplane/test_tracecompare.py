"""A simulated and a live trace compared: the issue's agreement (disposition, dropping
rule) and the first difference over what both can observe."""

from __future__ import annotations

from typing import Any

import pytest

from sdn.dataplane.tracecompare import agree, comparison, first_difference
from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Disposition, Observation, Trace

_PKT = PacketSpec(src_ip="10.0.0.1", dst_ip="10.0.0.2", dst_port=80)
_FWD, _DROP = "TraceflowObservationForwardedLogical", "TraceflowObservationDroppedLogical"


def _o(rtype: str, node: str = "n1", **fields: Any) -> Observation:
    return Observation(resource_type=rtype, sequence_no=0, transport_node_name=node, **fields)


def _t(disposition: Disposition, *obs: Observation) -> Trace:
    return Trace(source_id="s", packet=_PKT, observations=obs, disposition=disposition,
                 summary="")


_EGRESS = _o(_FWD, component_type="DFW", component_name="DFW", acl_rule_id=2)
_LS = _o(_FWD, component_type="LS", component_name="seg", vni=1)
_TUNNEL = (_o("TraceflowObservationForwarded", component_type="PHYSICAL"),
           _o("TraceflowObservationReceived", component_type="PHYSICAL"),
           _o("TraceflowObservationReceivedLogical", component_type="LS",
              component_name="seg"))
_DELIVERED = _o("TraceflowObservationDelivered", lport_name="b")
_DROP_7 = _o(_DROP, component_type="DFW", acl_rule_id=7, reason="FW_RULE")
_DROP_8 = _o(_DROP, component_type="DFW", acl_rule_id=8, reason="FW_RULE")


@pytest.mark.parametrize(("sim", "live", "agreed", "diff"), [
    pytest.param(_t(Disposition.DELIVERED, _EGRESS, _LS, *_TUNNEL, _DELIVERED),
                 _t(Disposition.DELIVERED, _EGRESS.model_copy(
                     update={"transport_node_name": "netns-x", "sequence_no": 3}), _LS,
                    _DELIVERED), True, None, id="same-but-tunnels-and-nodes"),
    pytest.param(_t(Disposition.DROPPED, _EGRESS, _DROP_7),
                 _t(Disposition.DROPPED, _EGRESS, _DROP_8), False,
                 {"observation": 2, "simulated": {"resource_type": _DROP,
                                                  "component_type": "DFW",
                                                  "acl_rule_id": 7, "reason": "FW_RULE"},
                  "live": {"resource_type": _DROP, "component_type": "DFW",
                           "acl_rule_id": 8, "reason": "FW_RULE"}},
                 id="dropped-by-another-rule"),
    pytest.param(_t(Disposition.DELIVERED, _EGRESS, _LS, _DELIVERED),
                 _t(Disposition.DROPPED, _EGRESS, _LS), False,
                 {"observation": 3, "simulated": {
                     "resource_type": "TraceflowObservationDelivered"}, "live": None},
                 id="live-shorter"),
    pytest.param(_t(Disposition.DELIVERED, _EGRESS, _LS, _DELIVERED),
                 _t(Disposition.DELIVERED, _LS, _DELIVERED), True,
                 {"observation": 1, "simulated": {"resource_type": _FWD,
                                                  "component_type": "DFW",
                                                  "component_name": "DFW",
                                                  "acl_rule_id": 2},
                  "live": {"resource_type": _FWD, "component_type": "LS",
                           "component_name": "seg"}},
                 id="agree-on-the-contract-differ-on-the-way"),
    pytest.param(_t(Disposition.NO_ROUTE), _t(Disposition.DROPPED), False,
                 {"observation": None, "simulated": {"disposition": "NO_ROUTE"},
                  "live": {"disposition": "DROPPED"}}, id="only-dispositions-differ"),
])
def test_compare(sim: Trace, live: Trace, agreed: bool, diff: dict[str, Any] | None) -> None:
    assert agree(sim, live) is agreed
    assert first_difference(sim, live) == diff
    both = comparison(sim, live)
    assert both["agree"] is agreed and both["first_difference"] == diff
    assert both["simulated"] == sim.to_api() and both["live"] == live.to_api()
