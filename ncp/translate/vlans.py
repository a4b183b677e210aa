"""Which VLAN a pod's port is tagged with (``attachment.traffic_tag``).

A pod's port is a CHILD of its node's PARENT port; the VLAN tells the node's vNIC which pod
a frame belongs to, so it is unique among the pods of one node. The rule, the same in the
full reconcile and in ``ncp run``'s incremental one (a full reconcile after an incremental
one must find nothing to change): a pod that stays on its node keeps its VLAN; any other
pod gets the lowest VLAN free on its node. Kept VLANs are reserved before any pod is given
a new one, so a new pod never takes a kept VLAN.
"""

from __future__ import annotations

from collections import defaultdict

from ncp.translate import naming
from sdn.model import SegmentPort

#: VLAN ids a node can give its pods: 4094 is reserved by Hyperbus, 0 means untagged.
VLAN_IDS = range(1, 4094)

#: The problem of a pod whose node has no VLAN left.
VLANS_EXHAUSTED = "NODE_VLANS_EXHAUSTED"


class NodeVlans:
    """The VLANs in use on each node, handing out the lowest free one.

    Every VLAN below a node's cursor is in use, so the search for a free one starts there
    (a node of thousands of pods does not rescan them for each new pod).
    """

    def __init__(self) -> None:
        self.used: dict[str, set[int]] = defaultdict(set)
        self._cursor: dict[str, int] = defaultdict(lambda: VLAN_IDS.start)

    def reserve(self, node: str, vlan: int) -> None:
        """Mark a VLAN in use (a pod keeps it)."""
        self.used[node].add(vlan)

    def release(self, node: str, vlan: int) -> None:
        """A pod gave its VLAN up: it is free again."""
        self.used[node].discard(vlan)
        if vlan < self._cursor[node]:
            self._cursor[node] = max(vlan, VLAN_IDS.start)

    def allocate(self, node: str) -> int | None:
        """The lowest free VLAN of the node, now in use; None when the node has none."""
        used, vlan = self.used[node], self._cursor[node]
        while vlan in used:
            vlan += 1
        if vlan >= VLAN_IDS.stop:
            return None
        used.add(vlan)
        self._cursor[node] = vlan + 1
        return vlan


def kept_vlan(old: SegmentPort | None, node: str) -> int | None:
    """The VLAN a pod keeps: its port's, when the port is on the pod's node."""
    if old is None or old.attachment is None or old.tag(naming.SCOPE_NODE) != node:
        return None
    return old.attachment.traffic_tag


def pod_vlan(old: SegmentPort | None, node: str, vlans: NodeVlans) -> int | None:
    """The VLAN of a pod's port on ``node`` (``old``: the port it has now): the one it
    keeps, else the lowest free one of the node; None when the node has none left."""
    kept = kept_vlan(old, node)
    return kept if kept is not None else vlans.allocate(node)
