"""Traceflow: walk one packet through the logical topology and report every observation,
in the shape of NSX's Traceflow API.

Entry point: :func:`~sdn.traceflow.walk.trace` with a :class:`~sdn.traceflow.walk.TraceContext`
(built once per inventory revision) and a :class:`~sdn.traceflow.packets.PacketSpec`.
:mod:`~sdn.traceflow.targets` resolves what ``--src``/``--dst`` name (pods per cluster,
addresses, ``svc:``, virtual servers and their backends) for ``traceflow``, ``explain``
and ``reach`` alike; :mod:`~sdn.traceflow.verdicts` judges a flow's backends at the DFW;
:mod:`~sdn.traceflow.l7` picks an Ingress virtual server's pool for an HTTP request.
"""

from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Disposition, Observation, Trace
from sdn.traceflow.walk import TraceContext, trace

__all__ = ["Disposition", "Observation", "PacketSpec", "Trace", "TraceContext", "trace"]
