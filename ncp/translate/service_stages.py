"""The stages of provisioning that come after the pod network: the distributed firewall,
cluster IPs, LoadBalancer services, Ingresses and per-service SNAT.

Each reads the pods the network stages realized (``run.out.pod_infos``) and adds its
objects to the run; the translation itself is in its own module
(:mod:`ncp.translate.firewall`, :mod:`~ncp.translate.services`,
:mod:`~ncp.translate.loadbalancers`, :mod:`~ncp.translate.ingress`,
:mod:`~ncp.translate.service_snat`). Only objects of namespaces the run accepted
(``run.out.annotations``) are served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ncp.objects import K8sObject
from ncp.translate import naming
from ncp.translate.firewall import firewall_objects
from ncp.translate.ingress import ingresses
from ncp.translate.loadbalancers import StickyAddresses, load_balancers
from ncp.translate.provisioning import ClusterObjects, ProvisioningRun
from ncp.translate.service_snat import service_snat
from ncp.translate.services import existing_cluster_ips, translate_services
from ncp.translate.topology import gateway_tier1
from sdn.model import LBService, lb_service_path, tier1_path


def _accepted(run: ProvisioningRun, objects: Sequence[K8sObject]) -> list[K8sObject]:
    """The objects of namespaces the run accepted."""
    return [o for o in objects if o.namespace in run.out.annotations]


def provision_firewall(run: ProvisioningRun, policies: Sequence[K8sObject],
                       namespaces: Mapping[str, Mapping[str, str]]) -> None:
    """The cluster's DFW (ncp.translate.firewall); ``namespaces``: each accepted
    namespace's labels."""
    result = firewall_objects(run.settings, run.current, policies, namespaces,
                              run.out.pod_infos)
    for obj in result.objects:
        run.add(obj)
    run.out.problems += result.problems
    run.out.findings = result.findings
    run.out.firewall_reads_pods = result.reads_pods
    run.out.firewall_reads_namespaces = result.reads_namespaces


def provision_cluster_ips(run: ProvisioningRun, objects: ClusterObjects) -> None:
    """Cluster IPs as distributed load balancing (ncp.translate.services)."""
    result = translate_services(
        _accepted(run, objects.services), objects.endpoint_slices, cluster=run.cluster,
        pods=run.out.pod_infos, service_cidr=run.settings.service_cidr,
        existing=existing_cluster_ips(run.current, run.cluster))
    for obj in result.objects:
        run.add(obj)
    run.out.problems += result.problems
    run.out.notes += result.notes
    run.out.cluster_ips = result.cluster_ips


def _load_balancer_gateway(run: ProvisioningRun, needed: bool) -> str:
    """The Tier-1 of the cluster's load balancer: in the two-tier topology TKGI gives it a
    Tier-1 of its own (made here when the cluster needs a load balancer), else the shared
    Tier-1."""
    cluster = run.cluster
    if not needed or run.settings.single_tier:
        return tier1_path(naming.cluster_id("t1", cluster))
    lb_t1 = naming.cluster_id("t1", cluster, "lb")
    run.add(gateway_tier1(run.settings, lb_t1, tuple(naming.base_tags(cluster)),
                          f"{cluster}-lb"))
    return tier1_path(lb_t1)


def provision_load_balancers(run: ProvisioningRun, objects: ClusterObjects) -> None:
    """LoadBalancer services on the cluster's LB service (ncp.translate.loadbalancers),
    then the Ingresses on the same load balancer."""
    settings = run.settings
    services = [s for s in _accepted(run, objects.services)
                if s.spec.get("type") == "LoadBalancer"]
    if services and not settings.nsx_lb:
        run.out.notes.append("nsx_lb is off: LoadBalancer services get no NSX virtual server")
        services = []
    # Even without services the call runs: it releases VIPs of services that went away.
    with_ingress = settings.nsx_lb and bool(_accepted(run, objects.ingresses))
    gateway = _load_balancer_gateway(run, bool(services) or with_ingress)
    result = load_balancers(
        services, objects.endpoint_slices, cluster=run.cluster, pods=run.out.pod_infos,
        current=run.current, external_pools=run.external_pools(),
        lb_pool_ids=settings.lb_pool_ids, fip_pool_ids=settings.fip_pool_ids,
        gateway=gateway, size=settings.lb_size, max_virtual_servers=settings.max_l4_lb_service,
        holds=run.active_holds, now=run.now, delay=run.delay,
        algorithm=settings.l4_lb_algorithm,
        source_ip_persistence=settings.l4_source_ip_persistence,
        reserved_virtual_servers=2 if with_ingress else 0)
    for obj in result.objects:
        run.add(obj)
    run.out.shared.update(result.pools)
    run.out.holds += result.holds
    run.out.problems += result.problems
    run.out.lb_vips = result.vips
    for key, code in result.errors.items():
        ns, name = key.split("/", 1)
        run.out.service_annotations[(ns, name)] = {naming.LB_ERROR_ANNOTATION: code}
    provision_ingresses(run, objects, gateway)


def provision_ingresses(run: ProvisioningRun, objects: ClusterObjects, gateway: str) -> None:
    """Ingresses on the cluster's shared L7 virtual servers (ncp.translate.ingress)."""
    settings, cluster = run.settings, run.cluster
    wanted = _accepted(run, objects.ingresses)
    if wanted and not settings.nsx_lb:
        run.out.notes.append("nsx_lb is off: Ingresses get no NSX virtual server")
        wanted = []
    sticky = StickyAddresses(cluster, run.external_pools(), run.active_holds, run.now,
                             run.delay, prefix="ingressvip_")
    key = naming.cluster_id("ingressvip", cluster)
    vip, code = (sticky.get(key, settings.ingress_ip,
                            [*settings.lb_pool_ids, *settings.fip_pool_ids], "", "ingress")
                 if wanted else (None, ""))
    if wanted and vip is None:
        run.problem(code, f"Cluster/{cluster}", f"no IP for the cluster's Ingress ({code})")
    if wanted and vip is not None:
        lb_id = naming.cluster_id("lb", cluster)  # made by the load balancers (room reserved)
        if lb_service_path(lb_id) not in run.out.owned:
            run.add(LBService(id=lb_id, display_name=f"{cluster} load balancer",
                              path=lb_service_path(lb_id), connectivity_path=gateway,
                              size=settings.lb_size.upper(),
                              tags=tuple(naming.base_tags(cluster))))
        result = ingresses(wanted, objects.services, objects.endpoint_slices, cluster=cluster,
                           pods=run.out.pod_infos, vip=str(vip),
                           lb_service=lb_service_path(lb_id), l7=settings.l7)
        for obj in result.objects:
            run.add(obj)
        run.out.problems += result.problems
        run.out.ingress_vip = str(vip)
        for ingress, error in result.errors.items():  # NCP's one LB error key
            run.out.ingress_annotations[ingress] = {naming.LB_ERROR_ANNOTATION: error}
        run.out.ingresses_served = result.served
    new_pools, holds = sticky.finish()
    run.out.shared.update(new_pools)
    run.out.holds += holds


def provision_service_snat(run: ProvisioningRun, objects: ClusterObjects) -> None:
    """Services with their own egress IP (ncp.translate.service_snat)."""
    result = service_snat(_accepted(run, objects.services), objects.endpoint_slices,
                          cluster=run.cluster, pods=run.out.pod_infos,
                          external_pools=run.external_pools(), gateway=run.snat_gateway(),
                          holds=run.active_holds, now=run.now, delay=run.delay)
    for rule in result.rules:
        run.add(rule)
    run.out.shared.update(result.pools)
    run.out.holds += result.holds
    run.out.problems += result.problems
    for key, code in result.errors.items():
        run.out.service_annotations.setdefault(key, {})[naming.SNAT_ERROR_ANNOTATION] = code
