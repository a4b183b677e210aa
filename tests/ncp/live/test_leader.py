"""Lease leader election against an in-memory lease store with optimistic concurrency:
one leader at a time, takeover after the lease expires, immediate takeover after a
release, and a lost race stays standby."""

from __future__ import annotations

import copy
from typing import Any

from ncp.live.leader import LeaderElector, LeaseSettings
from ncp.sources.kube import KubeConflictError


class Leases:
    """Create/read/replace with resourceVersion checks, like the API server."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 0

    def read_lease(self, ns: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.lease)

    def create_lease(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.lease is not None:
            raise KubeConflictError("exists", 409)
        return self._store(body)

    def replace_lease(self, ns: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.lease is not None
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise KubeConflictError("stale", 409)
        return self._store(body)

    def _store(self, body: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.lease)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def elector(leases: Leases, clock: Clock, who: str) -> LeaderElector:
    return LeaderElector(leases, LeaseSettings(identity=who, master_timeout=18,  # type: ignore[arg-type]
                                               heartbeat_period=6), clock=clock)


def test_one_leader_and_takeover_after_expiry() -> None:
    leases, clock = Leases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.tick() and not b.tick()
    clock.t += 6
    assert a.tick() and not b.tick()  # renewed
    clock.t += 17  # a stops renewing (crashed); its lease is still valid
    assert not b.tick()
    clock.t += 2  # now past renewTime + 18 s
    assert b.tick()
    assert leases.lease is not None and leases.lease["spec"]["holderIdentity"] == "b"
    assert leases.lease["spec"]["leaseTransitions"] == 1
    assert not a.tick()  # the old leader comes back and finds b holding it


def test_release_lets_a_standby_take_over_at_once() -> None:
    leases, clock = Leases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.tick()
    a.release()
    assert not a.is_leader
    assert b.tick()


def test_a_lost_race_is_standby() -> None:
    leases, clock = Leases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.tick()
    clock.t += 30  # a's lease expired; both race for it
    stale = leases.read_lease("", "")
    assert b.tick()
    leases.read_lease = lambda ns, name: copy.deepcopy(stale)  # type: ignore[method-assign]
    assert not a.tick()  # a replaces with the stale resourceVersion: 409
    assert leases.lease is not None and leases.lease["spec"]["holderIdentity"] == "b"
