"""What one node's kube-proxy had programmed at a given simulated time, rendered as the
real tools would print it (`iptables-save`, `ipvsadm -Ln`, `nft list table`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

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


def render_node_rules(stage: Any, scenario: Any, world: Any, node_name: str, at: float, mode: str | None = None) -> str:
    node = world.nodes.index(node_name)
    applied, objs = programmed_objects(stage, node, at)
    pnode = ProxyNode(name=node_name, zone=world.nodes.zone_of(node), ip=world.nodes.node_ips[node])
    services = list(world.services.values())
    if stage.kind == "Endpoints":
        state = ProxyState.from_endpoints(pnode, services, objs)
    else:
        state = ProxyState.from_slices(pnode, services, objs)
    state = dataclasses.replace(
        state, terminating_fallback=scenario.cluster.feature_gates.proxy_terminating_endpoints
    )
    mode = mode or scenario.cluster.kube_proxy.mode
    header = (
        f"# node {node_name} at {at:g}s: {applied} of {len(stage.objects)} {stage.kind} writes programmed; "
        f"{scenario.background.services} static background Services not shown\n"
    )
    if mode == "iptables":
        options = IptablesOptions(cluster_cidr=str(scenario.cluster.cluster_cidr))
        return header + render_iptables(state, options).text()
    if mode == "ipvs":
        return header + render_ipvs(state, scheduler=scenario.cluster.kube_proxy.ipvs_scheduler).listing()
    return header + render_nftables(state, cluster_cidr=str(scenario.cluster.cluster_cidr)).listing()
