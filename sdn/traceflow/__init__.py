"""Traceflow: walk one packet through the logical topology and report every observation,
in the shape of NSX's Traceflow API.

Entry point: :func:`~sdn.traceflow.walk.trace` with a :class:`~sdn.traceflow.walk.TraceContext`
(built once per inventory revision) and a :class:`~sdn.traceflow.packets.PacketSpec`.
"""

from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Disposition, Observation, Trace
from sdn.traceflow.walk import TraceContext, trace

__all__ = ["Disposition", "Observation", "PacketSpec", "Trace", "TraceContext", "trace"]
