"""What one node's kube-proxy had programmed at a given simulated time, rendered as the
real tools would print it (`iptables-save`, `ipvsadm -Ln`, `nft list table`)."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

import numpy as np

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from simk8s.proxy.iptables import IptablesOptions, render_iptables
from simk8s.proxy.ipvs import render_ipvs
from simk8s.proxy.nftables import render_nftables
from simk8s.proxy.state import ProxyNode, ProxyState


def programmed_objects(stage: Any, node: int, at: float) -> tuple[int, list[Any]]:
    """(writes applied, the Endpoints/EndpointSlice objects that node had applied at `at`)."""
    applied = int(stage.fleet.applied_at(np.array([node]), np.array([float(at)]))[0])
    current: dict[tuple[str, str], Any] = {}
    # Start from the objects that existed at t=0, then replay the stream up to `applied`.
    for obj in stage.initial_objects:
        current[(obj.namespace, obj.name)] = obj
    for obj, op in zip(stage.objects[:applied], stage.ops[:applied], strict=True):
        if op == "delete":
            current.pop((obj.namespace, obj.name), None)
        else:
            current[(obj.namespace, obj.name)] = obj
    return applied, list(current.values())


def background_objects(scenario: Any, world: Any) -> tuple[list[Service], list[EndpointSlice]]:
    """The static `background:` Services as objects, for rendering a node's complete ruleset.
    The simulation only counts them; here each gets a name (`background/bg-N`), a ClusterIP
    taken downwards from the top of the service CIDR (user Services are allocated upwards from
    its bottom) and `endpointsPerService` ready endpoints on port 8080, pods at the top of the
    nodes' pod CIDRs, spread round-robin over the nodes. Simplification: names and addresses
    are made up; only the shape (one TCP port, all endpoints ready) matters for the rules."""
    bg = scenario.background
    net = ipaddress.ip_network(str(scenario.cluster.service_cidr))
    pod_cidrs = world.nodes.pod_cidrs
    names = world.nodes.names
    n = len(names)
    services: list[Service] = []
    slices: list[EndpointSlice] = []
    k = 0
    for i in range(bg.services):
        name = f"bg-{i}"
        services.append(Service(name=name, namespace="background", cluster_ip=str(net.broadcast_address - 1 - i),
                                ports=(ServicePort(port=80, name="http", target_port=8080),)))
        eps = []
        for _ in range(bg.endpoints_per_service):
            node = k % n
            ip = pod_cidrs[node].broadcast_address - 1 - k // n
            eps.append(Endpoint((str(ip),), node_name=names[node], zone=world.nodes.zone_of(node)))
            k += 1
        slices.append(EndpointSlice(name=f"{name}-0", namespace="background",
                                    labels=(("kubernetes.io/service-name", name),),
                                    ports=(EndpointPort(port=8080, name="http"),), endpoints=tuple(eps)))
    return services, slices


def node_state(stage: Any, scenario: Any, world: Any, node_name: str, at: float,
               all_services: bool = False) -> tuple[int, ProxyState]:
    """(writes applied, the ProxyState a node's kube-proxy had at `at`); with `all_services`
    the static background Services too."""
    node = world.nodes.index(node_name)
    applied, objs = programmed_objects(stage, node, at)
    pnode = ProxyNode(name=node_name, zone=world.nodes.zone_of(node), ip=world.nodes.node_ips[node])
    services = list(world.services.values())
    if stage.kind == "Endpoints":
        state = ProxyState.from_endpoints(pnode, services, objs)
    else:
        state = ProxyState.from_slices(pnode, services, objs)
    if all_services:
        # Background Services as slices in either watch mode: their rules do not depend on it.
        bg = ProxyState.from_slices(pnode, *background_objects(scenario, world)).ports
        ports = sorted(bg + state.ports, key=lambda sp: sp.name + sp.protocol)  # as _service_ports
        state = dataclasses.replace(state, ports=tuple(ports))
    state = dataclasses.replace(
        state, terminating_fallback=scenario.cluster.feature_gates.proxy_terminating_endpoints
    )
    return applied, state


def render_node_rules(stage: Any, scenario: Any, world: Any, node_name: str, at: float, mode: str | None = None,
                      all_services: bool = False) -> str:
    applied, state = node_state(stage, scenario, world, node_name, at, all_services)
    mode = mode or scenario.cluster.kube_proxy.mode
    shown = "included" if all_services else "not shown (--all renders them)"
    header = (
        f"# node {node_name} at {at:g}s: {applied} of {len(stage.objects)} {stage.kind} writes programmed; "
        f"{scenario.background.services} static background Services {shown}\n"
    )
    if mode == "iptables":
        options = IptablesOptions(cluster_cidr=str(scenario.cluster.cluster_cidr))
        return header + render_iptables(state, options).text()
    if mode == "ipvs":
        return header + render_ipvs(state, scheduler=scenario.cluster.kube_proxy.ipvs_scheduler).listing()
    major, minor = str(scenario.cluster.kubernetes_version).split(".")[:2]  # "1.36", validated by the loader
    release = (int(major), int(minor))
    return header + render_nftables(state, cluster_cidr=str(scenario.cluster.cluster_cidr), release=release).listing()
