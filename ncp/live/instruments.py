"""The metrics ``ncp run`` exports: their declarations, and the IP usage gauges.

Declared in one place so that ``/metrics`` lists every family (with its help text) from
the first scrape on, before anything has counted, and so that the names, which dashboards
and alerts rely on, are found together. The parts of the runtime only count.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ncp.live.metrics import FAST_BUCKETS, Metrics
from sdn.ipam import block_usage, pool_usage
from sdn.store import Store


def declare(m: Metrics) -> None:
    """Declare every metric ``ncp run`` exports."""
    m.describe("ncp_events_total", "counter", "Watch events seen, by kind and type")
    m.describe("ncp_reconcile_seconds", "histogram", "Time of one reconcile, by mode",
               buckets=FAST_BUCKETS)
    m.describe("ncp_event_apply_seconds", "histogram",
               "From a change's arrival until the state holds it, by mode",
               buckets=FAST_BUCKETS)
    m.describe("ncp_reconciles_total", "counter", "Reconciles run, by outcome")
    m.describe("ncp_incremental_declined_total", "counter",
               "Changes sent to the full reconcile, by reason")
    m.describe("ncp_queue_depth", "gauge", "Cache changes not yet reconciled")
    m.describe("ncp_errors_total", "counter", "Errors, by code")
    m.describe("ncp_problems", "gauge", "Objects not realized at the last reconcile")
    m.describe("ncp_is_leader", "gauge", "1 when this replica holds the lease")
    m.describe("ncp_status_patches_total", "counter", "Status patches written, by kind")
    m.describe("ncp_realized", "gauge", "Realized namespaces, pods and nodes")
    m.describe("ncp_ip_block_used_ratio", "gauge", "Share of an IP block carved or held")
    m.describe("ncp_ip_pool_used_ratio", "gauge", "Share of an IP pool allocated or held")


class IpamUsage:
    """A collector (:attr:`Metrics.collectors`): IP block and pool usage, recomputed when
    the state's revision moved. Computed at scrape time because scrapes are rare, and
    reading the whole state on every reconcile would not be."""

    def __init__(self, state: Path, clock: Callable[[], float]) -> None:
        self.state = state
        self.clock = clock
        self._revision = -1

    def __call__(self, m: Metrics) -> None:
        if not self.state.exists():
            return
        with Store.open_readonly(self.state) as store:
            if store.revision == self._revision:
                return
            inv, holds = store.inventory(), store.holds()
            self._revision = inv.revision
        now = self.clock()
        for b in block_usage(inv, holds, now):
            m.set("ncp_ip_block_used_ratio", (b.used + b.held_addresses) / b.total,
                  block=b.path.rsplit("/", 1)[-1])
        for p in pool_usage(inv, holds, now):
            if p.kind == "static" and p.capacity:
                m.set("ncp_ip_pool_used_ratio", (p.allocated + p.held) / p.capacity,
                      pool=p.path.rsplit("/", 1)[-1])
