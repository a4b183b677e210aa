"""Leader election through a ``coordination.k8s.io/v1`` Lease, as NCP runs in HA.

Several ``ncp run`` replicas watch; only the holder of the Lease writes. The rules are
client-go's: the holder renews ``renewTime`` every ``heartbeat_period`` seconds; a
candidate takes the Lease over when ``renewTime + leaseDurationSeconds`` has passed; every
change is a replace with the read ``resourceVersion``, so of two candidates racing exactly
one wins (the other gets a 409 and stays standby). A holder that cannot renew before its
lease would expire steps down. On shutdown the holder releases the Lease (empty holder,
expired), so a standby takes over at once instead of after the timeout. NCP's defaults:
``master_timeout`` 18 s (the lease duration), ``heartbeat_period`` 6 s.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ncp.sources.kube import KubeClient, KubeConflictError, KubeError, KubeNotFoundError

# The name this module's log lines have always carried (log lines are an outside contract).
log = logging.getLogger("ncp.leader")


def _now_text(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> float:
    """Seconds since the epoch of a Kubernetes (Micro)Time, 0 when absent."""
    if not text:
        return 0.0
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class LeaseSettings:
    """Where the Lease is and how long it lasts."""

    namespace: str = "nsx-system"
    name: str = "ncp-leader"
    identity: str = "ncp"
    master_timeout: float = 18.0
    heartbeat_period: float = 6.0


class LeaderElector:
    """One candidate's view: call :meth:`tick` every heartbeat; ``is_leader`` says what
    this replica may do."""

    def __init__(self, client: KubeClient, settings: LeaseSettings, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.s = settings
        self.clock = clock
        self.is_leader = False
        self.last_renew = 0.0
        self.transitions = 0
        self.missing_namespace_reported = False

    def _body(self, lease: dict[str, Any] | None, now: float, *, holder: str,
              duration: float) -> dict[str, Any]:
        spec = dict((lease or {}).get("spec") or {})
        taking_over = spec.get("holderIdentity") != holder
        spec.update({"holderIdentity": holder, "leaseDurationSeconds": max(1, round(duration)),
                     "renewTime": _now_text(now)})
        if taking_over:
            spec["acquireTime"] = _now_text(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if lease else 0)
        meta: dict[str, Any] = {"name": self.s.name, "namespace": self.s.namespace}
        if lease:
            meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": spec}

    def tick(self) -> bool:
        """Acquire or renew if possible; returns whether this replica leads now."""
        now = self.clock()
        try:
            lease = self.client.read_lease(self.s.namespace, self.s.name)
            if lease is None:
                self.client.create_lease(self.s.namespace, self._body(
                    None, now, holder=self.s.identity, duration=self.s.master_timeout))
                return self._became(True, now)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            expires = _parse(spec.get("renewTime")) + float(
                spec.get("leaseDurationSeconds") or 0)
            if holder not in ("", self.s.identity) and expires > now:
                return self._became(False, now)
            self.client.replace_lease(self.s.namespace, self.s.name, self._body(
                lease, now, holder=self.s.identity, duration=self.s.master_timeout))
            return self._became(True, now)
        except KubeConflictError:
            return self._became(False, now)
        except KubeNotFoundError as err:
            if not self.missing_namespace_reported:
                log.error("cannot hold Lease %s/%s (%s): does namespace %s exist? Create it, "
                          "or pass --lease-namespace, or run a single replica with "
                          "--no-leader-election", self.s.namespace, self.s.name, err,
                          self.s.namespace)
                self.missing_namespace_reported = True
            return self._became(False, now)
        except KubeError as err:
            log.warning("lease %s/%s: %s", self.s.namespace, self.s.name, err)
            # Unable to renew: step down before the lease could expire under us.
            if self.is_leader and now - self.last_renew >= self.s.master_timeout - \
                    self.s.heartbeat_period:
                return self._became(False, now)
            return self.is_leader

    def _became(self, leader: bool, now: float) -> bool:
        if leader:
            self.last_renew = now
        if leader != self.is_leader:
            self.transitions += 1
            log.info("%s is %s", self.s.identity, "now the leader" if leader else "standby")
        self.is_leader = leader
        return leader

    def release(self) -> None:
        """Give the Lease up (on shutdown) so a standby need not wait for it to expire."""
        if not self.is_leader:
            return
        try:
            lease = self.client.read_lease(self.s.namespace, self.s.name)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.s.identity:
                body = self._body(lease, self.clock() - self.s.master_timeout, holder="",
                                  duration=1)
                self.client.replace_lease(self.s.namespace, self.s.name, body)
        except KubeError as err:
            log.warning("could not release the lease: %s", err)
        self.is_leader = False


def keep_electing(elector: LeaderElector, stop: threading.Event, period: float,
                  on_tick: Callable[[bool], None]) -> None:
    """The election thread: a :meth:`~LeaderElector.tick` every ``period`` seconds until
    ``stop``, each outcome handed to ``on_tick`` (the runner's ``ncp_is_leader`` gauge)."""
    while not stop.is_set():
        on_tick(elector.tick())
        stop.wait(period)
