"""Nodes: names, zones, pod CIDRs and pod IP allocation (the node IPAM controller's job)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class NodeTable:
    """All nodes of the cluster as columns (index = node id)."""

    names: list[str]
    zone_names: list[str]
    zone: np.ndarray  # int16[N] index into zone_names
    pod_cidrs: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
    node_ips: list[str]
    schedulable: np.ndarray  # bool[N]; False once cordoned (drain) or lost
    alive: np.ndarray  # bool[N]; False after node loss

    @classmethod
    def build(
        cls,
        n: int,
        zones: list[str],
        prefix: str,
        cluster_cidr: str | ipaddress.IPv4Network | ipaddress.IPv6Network,
        node_mask: int,
    ) -> NodeTable:
        net = ipaddress.ip_network(str(cluster_cidr))
        # Same order as the node IPAM range allocator: consecutive subnets of the cluster CIDR.
        subnets: Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network] = net.subnets(new_prefix=node_mask)
        cidrs = [next(subnets) for _ in range(n)]
        return cls(
            names=[f"{prefix}{i}" for i in range(n)],
            zone_names=list(zones),
            zone=(np.arange(n) % len(zones)).astype(np.int16),
            pod_cidrs=cidrs,
            # Simplification: node IPs are synthetic, from 192.168.0.0/16 onward.
            node_ips=[str(ipaddress.IPv4Address(0xC0A80000 + 1 + i)) for i in range(n)],
            schedulable=np.ones(n, dtype=bool),
            alive=np.ones(n, dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.names)

    def zone_of(self, node: int) -> str:
        return self.zone_names[int(self.zone[node])]

    def index(self, name: str) -> int:
        return self.names.index(name)


class PodIPAllocator:
    """Hands out pod IPs from each node's CIDR, reusing released ones last (like host-local IPAM)."""

    def __init__(self, nodes: NodeTable):
        self._nodes = nodes
        self._next = [2] * len(nodes)  # .0 network, .1 the node's bridge/gateway
        self._free: list[list[int]] = [[] for _ in nodes.names]
        # Per node, computed once (HOT PATH: ipaddress recomputes them on every access).
        self._base = [int(c.network_address) for c in nodes.pod_cidrs]
        self._last = [c.num_addresses - 1 for c in nodes.pod_cidrs]  # broadcast / top address

    def allocate(self, node: int) -> str:
        cidr = self._nodes.pod_cidrs[node]
        if self._next[node] < self._last[node]:
            offset = self._next[node]
            self._next[node] += 1
        elif self._free[node]:
            offset = self._free[node].pop(0)
        else:
            raise RuntimeError(f"node {self._nodes.names[node]}: pod CIDR {cidr} exhausted")
        if cidr.version == 4:
            return _dotted(self._base[node] + offset)
        return str(cidr.network_address + offset)

    def release(self, node: int, ip: str) -> None:
        cidr = self._nodes.pod_cidrs[node]
        addr = _from_dotted(ip) if cidr.version == 4 else int(ipaddress.ip_address(ip))
        self._free[node].append(addr - self._base[node])


def _dotted(addr: int) -> str:
    """IPv4 dotted quad (= str(ipaddress.IPv4Address(addr)), without the object)."""
    return socket.inet_ntoa(addr.to_bytes(4, "big"))


def _from_dotted(ip: str) -> int:
    return int.from_bytes(socket.inet_aton(ip), "big")
