"""RepackSubsets: per-pod addresses → the canonical subsets of an Endpoints object.

Upstream: ``pkg/api/v1/endpoints/util.go`` ``RepackSubsets`` (dedupe by IP and UID,
not-ready wins, one subset per set of addresses offering the same ports, sorted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache

from simk8s.api.objects import EndpointAddress, EndpointPort, EndpointSubset, Pod, Service
from simk8s.controller.endpoints.addresses import (
    PodContribution,
    address_sort_key,
    pod_contribution,
)
from simk8s.controller.podutil import port_hash

NO_PORT: tuple[None] = (None,)  # the port "group" of a headless Service without ports


def repack(contribs: Iterable[PodContribution]) -> tuple[EndpointSubset, ...]:
    """``RepackSubsets`` of per-pod addresses (each with its readiness and ports)."""
    all_addrs: dict[str, EndpointAddress] = {}
    # Group by port-tuple identity first: hashing EndpointPort dataclasses runs Python
    # code, so it is done once per distinct tuple, not once per pod.
    by_ports: dict[int, tuple[tuple[EndpointPort, ...], list[PodContribution]]] = {}
    for c in contribs:
        key = c.sort_key
        if key not in all_addrs:  # dedupe by (IP, UID); the first copy is kept
            all_addrs[key] = c.address
        entry = by_ports.get(id(c.ports))
        if entry is None:
            entry = by_ports[id(c.ports)] = (c.ports, [])
        entry[1].append(c)
    by_port: dict[EndpointPort | None, dict[str, bool]] = {}
    for ports, members in by_ports.values():
        for port in ports or NO_PORT:
            m = by_port.get(port)
            if m is None:
                m = by_port[port] = {}
            for c in members:
                was = m.get(c.sort_key)
                if was is None or was:  # not-ready always wins
                    m[c.sort_key] = c.ready
    # Addresses offering exactly the same ports (with the same readiness) share a subset.
    groups: list[tuple[dict[str, bool], list[EndpointPort | None]]] = []
    for port, m in by_port.items():
        for g in groups:
            if g[0] == m:
                g[1].append(port)
                break
        else:
            groups.append((m, [port]))
    subsets = []
    for m, group_ports in groups:
        ready = sorted(k for k, r in m.items() if r)
        not_ready = sorted(k for k, r in m.items() if not r)
        real_ports = tuple(sorted((p for p in group_ports if p is not None), key=port_hash))
        subsets.append(
            EndpointSubset(
                addresses=tuple(map(all_addrs.__getitem__, ready)),
                not_ready_addresses=tuple(map(all_addrs.__getitem__, not_ready)),
                ports=real_ports,
            )
        )
    # Simplification: upstream orders subsets by an md5 of the whole subset; port sets of
    # different subsets are disjoint, so hashing the ports gives a deterministic order.
    subsets.sort(key=subset_order_key)
    return tuple(subsets)


def subset_order_key(s: EndpointSubset) -> str:
    return _ports_order_key(s.ports)


@lru_cache(maxsize=1 << 12)
def _ports_order_key(ports: tuple[EndpointPort, ...]) -> str:
    text = "|".join(port_hash(p) for p in ports)
    return hashlib.md5(text.encode()).hexdigest()


def repack_subsets(subsets: Iterable[EndpointSubset]) -> tuple[EndpointSubset, ...]:
    """``RepackSubsets`` of arbitrary subsets (the mirroring controller repacks user
    Endpoints before mirroring them)."""
    contribs = []
    for s in subsets:
        for ready, addrs in ((True, s.addresses), (False, s.not_ready_addresses)):
            for a in addrs:
                contribs.append(PodContribution(address_sort_key(a), a, ready, s.ports))
    return repack(contribs)


def desired_subsets(service: Service, pods: Iterable[Pod]) -> tuple[EndpointSubset, ...]:
    """Repacked, untruncated subsets for the Service (what ``syncService`` compares with
    the stored object)."""
    contribs = [c for c in (pod_contribution(service, p) for p in pods) if c is not None]
    return repack(contribs)
