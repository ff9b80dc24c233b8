"""Synthetic node rulesets for timing this host's netfilter tools (`simk8s calibrate --host`).

A ruleset is what the renderers write for one node (simk8s.proxy.iptables / nftables): S
ClusterIP Services of one TCP port, each with `eps` endpoints on other nodes. Two versions
differ in one endpoint of the first Service, so a partial sync has one changed Service and
one endpoint added and one removed, as after a single pod replacement.
Simplification: ClusterIP only; NodePort/LoadBalancer chains are not part of the timed input.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from simk8s.api.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort
from simk8s.proxy.iptables import render_iptables
from simk8s.proxy.nftables import render_nftables
from simk8s.proxy.state import ProxyNode, ProxyState

NODE = ProxyNode("calibration-node", ip="192.168.0.2")
CLUSTER_CIDR = "10.0.0.0/8"
_SERVICE_BASE = int(ipaddress.ip_address("172.16.0.0"))  # 172.16.0.0/12: room for 1M Services
_POD_BASE = int(ipaddress.ip_address("10.0.0.1"))


def _ip(base: int, i: int) -> str:
    return str(ipaddress.ip_address(base + i))


def synthetic_state(n_services: int, eps: int, version: int = 0) -> ProxyState:
    """`version` 1 replaces the first Service's last endpoint by a fresh address."""
    services, slices = [], []
    port = (ServicePort(port=80, name="p"),)
    for s in range(n_services):
        name = f"svc-{s:06d}"
        services.append(Service(name=name, namespace="calib", cluster_ip=_ip(_SERVICE_BASE, s), ports=port))
        ips = [_ip(_POD_BASE, s * eps + k) for k in range(eps)]
        if s == 0 and version == 1 and ips:
            ips[-1] = _ip(_POD_BASE, n_services * eps + 1)
        slices.append(EndpointSlice(
            name=f"{name}-1", namespace="calib", labels=(("kubernetes.io/service-name", name),),
            ports=(EndpointPort(port=8080, name="p", protocol="TCP"),),
            endpoints=tuple(Endpoint((ip,), node_name="other-node") for ip in ips)))
    return ProxyState.from_slices(NODE, services, slices)


@dataclass(frozen=True)
class Inputs:
    """Tool inputs of one size, with the counts the fit uses."""

    services: int
    endpoints: int
    ipt_full: str  # iptables-restore --noflush input, full sync
    ipt_partial: str  # the same, partial sync rewriting the first Service only
    nft_full: str  # nft -f input, full sync of version 0
    nft_forward: str  # partial transaction version 0 → 1
    nft_back: str  # partial transaction version 1 → 0

    @property
    def ipt_full_lines(self) -> int:
        return self.ipt_full.count("\n")

    @property
    def ipt_partial_lines(self) -> int:
        return self.ipt_partial.count("\n")


def build_inputs(n_services: int, eps: int) -> Inputs:
    v0, v1 = synthetic_state(n_services, eps, 0), synthetic_state(n_services, eps, 1)
    t0, t1 = render_nftables(v0, CLUSTER_CIDR), render_nftables(v1, CLUSTER_CIDR)
    return Inputs(
        services=n_services,
        endpoints=n_services * eps,
        ipt_full=render_iptables(v0).restore_input(),
        ipt_partial=render_iptables(v0, changed_services=["calib/svc-000000"]).restore_input(),
        nft_full=t0.transaction(),
        nft_forward=t1.transaction(previous=t0),
        nft_back=t0.transaction(previous=t1),
    )
