"""Tunnel endpoint (TEP) addresses of the transport nodes a trace crosses.

NSX's physical observations (``TraceflowObservationForwarded`` / ``Received``) name the
two ends of the Geneve tunnel by their TEP addresses (``local_ip_address``,
``remote_ip_address``). A state holds no hosts, so every transport node (a Kubernetes
node: the ESX host its VM runs on, one per node here; and the edge node that runs the
service routers) gets a TEP from a TEP pool, as NSX hands them out from the IP pool of
the host and edge transport node profiles.

Choices where NSX leaves it to the installation (NSX assigns in host-preparation order,
which a state does not keep):

* the pool is :data:`DEFAULT_TEP_POOL` unless the caller gives another
  (``sdn traceflow --tep-pool CIDR``, or ``$SDN_TEP_POOL``);
* a node's slot is a digest of its identity (cluster, node name), probing upward past
  taken slots, over the known nodes in sorted order: the same state always gives the
  same addresses, and a node keeps its address when others come and go unless one added
  later collides with it in a lower slot; a node the state does not list (a pod whose node
  has no node port) probes past the known ones only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

#: A transport node: (cluster, node name); the edge has no cluster.
Node = tuple[str | None, str]

#: Where TEPs come from unless told otherwise (a private range the samples do not use).
DEFAULT_TEP_POOL = IPv4Network("192.168.0.0/16")


def _slot(node: Node, slots: int) -> int:
    key = f"{node[0] or ''}/{node[1]}".encode()
    return int(hashlib.sha1(key).hexdigest()[:8], 16) % slots


class TepPlan:
    """The TEP of every transport node of one state, from one pool (module docs)."""

    def __init__(self, nodes: Iterable[Node], pool: IPv4Network = DEFAULT_TEP_POOL) -> None:
        if pool.num_addresses < 4:
            raise ValueError(f"TEP pool {pool} is too small")
        self.pool = pool
        self._slots = pool.num_addresses - 2  # neither the network nor broadcast address
        self._known: dict[Node, int] = {}
        taken: set[int] = set()
        for node in sorted(set(nodes), key=lambda n: (n[0] or "", n[1])):
            self._known[node] = slot = self._free(_slot(node, self._slots), taken)
            taken.add(slot)
        self._taken = frozenset(taken)

    def _free(self, slot: int, taken: set[int] | frozenset[int]) -> int:
        if len(taken) >= self._slots:
            raise ValueError(f"TEP pool {self.pool} has no room for another node")
        while slot in taken:
            slot = (slot + 1) % self._slots
        return slot

    def address(self, node: Node) -> str:
        """The TEP address of ``node``."""
        slot = self._known.get(node)
        if slot is None:
            slot = self._free(_slot(node, self._slots), self._taken)
        return str(IPv4Address(int(self.pool.network_address) + 1 + slot))
