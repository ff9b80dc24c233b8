"""Service objects from the scenario: ClusterIP and NodePort allocation (the apiserver's allocators)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from simk8s.api import objects as api
from simk8s.cluster.names import stable_uid

NODE_PORT_RANGE = (30000, 32767)


def build_services(
    specs: Iterable[Any], service_cidr: str, traffic_distribution: bool = True
) -> list[api.Service]:
    """Turn scenario service specs into API Services, allocating ClusterIPs and NodePorts.

    ``traffic_distribution`` False: the ServiceTrafficDistribution gate is off (before 1.31,
    KEP-4444) and the apiserver drops ``spec.trafficDistribution`` on create
    (``pkg/registry/core/service/strategy.go`` ``dropServiceDisabledFields``), so neither
    the EndpointSlice controller nor kube-proxy ever sees it.

    ClusterIPs: the first address of the range goes to the `kubernetes` Service (as in real
    clusters), the rest in order. NodePorts not given (and healthCheckNodePorts) are taken
    from 30000-32767 in order, skipping ports any Service asked for explicitly (collisions
    are rejected by validation). Simplification: the real allocator picks at random.
    """
    specs = list(specs)
    net = ipaddress.ip_network(str(service_cidr))
    next_ip = 10  # .1 is `kubernetes`, .10 by convention kube-dns; user Services after it
    taken_ports = {p.node_port for s in specs for p in (s.ports or []) if getattr(p, "node_port", None)}
    next_port = NODE_PORT_RANGE[0]

    def allocate_node_port() -> int:
        nonlocal next_port
        while next_port in taken_ports:
            next_port += 1
        if next_port > NODE_PORT_RANGE[1]:  # the real allocator fails too when the range is full
            raise ValueError(f"no free NodePort left in {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")
        taken_ports.add(next_port)
        return next_port

    services: list[api.Service] = []
    for s in specs:
        cluster_ip: str | None
        if s.type == "ExternalName":
            cluster_ip = None
        elif s.cluster_ip in ("None",):
            cluster_ip = "None"
        elif s.cluster_ip:
            cluster_ip = s.cluster_ip
        else:
            next_ip += 1
            cluster_ip = str(net.network_address + next_ip)
        ports = []
        for p in s.ports or []:
            node_port = getattr(p, "node_port", None)
            if s.type in ("NodePort", "LoadBalancer") and not node_port:
                node_port = allocate_node_port()
            ports.append(
                api.ServicePort(
                    port=p.port,
                    name=p.name or "",
                    protocol=p.protocol,
                    target_port=p.target_port,
                    node_port=node_port if s.type in ("NodePort", "LoadBalancer") else None,
                )
            )
        lb_ips: tuple[str, ...] = ()
        if s.type == "LoadBalancer":
            lb_ips = (s.load_balancer_ip or f"203.0.113.{len(services) % 250 + 1}",)
        # Fix (service-types): the apiserver also gives a LoadBalancer Service with
        # externalTrafficPolicy Local a healthCheckNodePort from the NodePort range; kube-proxy
        # serves the LB's health check there (pkg/proxy/iptables/proxier.go syncProxyRules: filter KUBE-NODEPORTS ACCEPT).
        # Without it the renderers had no port to open. Simplification: never user-given.
        health_check_node_port = None
        if s.type == "LoadBalancer" and s.external_traffic_policy == "Local":
            health_check_node_port = allocate_node_port()
        services.append(
            api.Service(
                name=s.name,
                namespace=s.namespace,
                uid=stable_uid("Service", s.namespace, s.name),
                labels=tuple(sorted((s.labels or {}).items())),
                annotations=tuple(sorted((s.annotations or {}).items())),
                selector=None if s.selector is None else tuple(sorted(s.selector.items())),
                ports=tuple(ports),
                type=s.type,
                cluster_ip=cluster_ip,
                publish_not_ready_addresses=s.publish_not_ready_addresses,
                session_affinity=s.session_affinity,
                session_affinity_timeout_s=int(s.session_affinity_timeout),
                internal_traffic_policy=s.internal_traffic_policy,
                external_traffic_policy=s.external_traffic_policy,
                external_ips=tuple(s.external_ips or ()),
                load_balancer_ips=lb_ips,
                load_balancer_source_ranges=tuple(s.load_balancer_source_ranges or ()),
                health_check_node_port=health_check_node_port,
                external_name=s.external_name,
                traffic_distribution=s.traffic_distribution if traffic_distribution else None,
            )
        )
    return services
