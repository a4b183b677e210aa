"""Changes applied without recomputing the cluster: ``ncp run``'s incremental reconcile.

Why: a full reconcile recomputes every namespace, about 3 s at 10,000 pods, while most
changes of a running cluster touch very little: a pod that comes, goes or changes touches
its segment port, its namespace pool's allocation, its annotation and its problems; a new
namespace adds its Tier-1, segment, pool, subnet, SNAT IP and SNAT rules; NCP's own
write-back (annotations, status) and node heartbeats change nothing NCP reads.
:class:`IncrementalReconciler` applies exactly that, in one transaction, when it can show
that nothing else depends on the change; otherwise it declines (:class:`Declined` says
why) and the caller runs the full reconcile, which stays the reference and the only path
for every other change.

A batch of changes is applied only when all of these hold (checked before anything is
decided, except the last one, found while deciding):

* the reconciler was primed (:meth:`IncrementalReconciler.prime`) from the state a full
  reconcile of this process wrote, and nobody has written the state since;
* every changed object is a Pod, an EndpointSlice, a new Namespace, or an object whose
  meaningful content (:func:`ncp.reconcile.inputs.meaningful`) is unchanged; no kind was
  relisted; the cache holds no workload controller (manifests can: their expansion
  depends on the bare pods);
* for a pod: the firewall does not read pods (it does only for named ports:
  :class:`~ncp.translate.policyinputs.Tracked`); every Service of its namespace that
  selects it, by its old or its new labels, is a plain cluster IP (no load balancer VIP,
  no SNAT IP of its own, no Ingress in the namespace, no problem), and so is every
  Service whose EndpointSlices name it: those services' pools and virtual servers are
  then recomputed from the namespace's pods and slices; its namespace is not short of
  addresses (a freed address would go to a waiting pod) and no node is short of VLANs;
* for an EndpointSlice: its Service (before and after) is such a plain cluster IP;
* for a new namespace: the firewall does not depend on the list of namespaces (a
  per-namespace baseline, the namespace-count lint), nothing else of it exists yet
  (pods, services, ...), and it does not ask for a static SNAT IP;
* a new pod finds a free address in its namespace's subnets, or in one more carved from
  its blocks (the namespace's segment, pool, ``ncp/subnet-N`` and SNAT rules then follow),
  and a free VLAN on its node; a new namespace finds a subnet and, under NAT, a SNAT IP.

What it decides is what a full reconcile keeps (the property test in
``tests/ncp/reconcile/test_incremental.py`` checks that a full reconcile after any
sequence of incremental ones finds nothing to change): pods that stay keep their address,
and their VLAN while on the same node; a new pod takes the lowest free address of its
namespace's subnets that no hold covers, and the lowest free VLAN of its node; a pod that
goes releases its address under a hold of ``ip_reallocation_time``; a new namespace gets
the lowest free subnet of its blocks and the lowest free IP of the first floating pool
with room, as a full reconcile gives them to the last namespace it provisions. The
cluster's fingerprint is cleared by every incremental write, so the next ``ncp sync`` or
resync recomputes in full rather than taking the state as up to date.

The modules, one job each: :mod:`~ncp.reconcile.incremental.reconciler` (priming and
applying), :mod:`~.object_index` and :mod:`~.state_index` (what it knows between batches, of
the Kubernetes objects and of the state), :mod:`~.prechecks` (whether a batch can be decided
alone), :mod:`~.batch` (one batch's decisions and its write), :mod:`~.pooltext` (a pool's
allocations as stored text) and :mod:`~.outcome` (what a batch comes to).
"""

from ncp.reconcile.incremental.object_index import normal_key
from ncp.reconcile.incremental.outcome import Applied, Declined
from ncp.reconcile.incremental.reconciler import IncrementalReconciler

__all__ = ["Applied", "Declined", "IncrementalReconciler", "normal_key"]
