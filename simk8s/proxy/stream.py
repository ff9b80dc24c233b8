"""From the apiserver change log to what kube-proxies consume: the change stream and, per
Service, the merged endpoint set after each write (kube-proxy's EndpointSliceCache view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from simk8s.api import objects as api


@dataclass
class MergedEndpoints:
    """One Service's endpoints as kube-proxy merges them (slices de-duplicated by address)."""

    slices: dict[str, tuple[api.Endpoint, ...]] = field(default_factory=dict)
    ready_per_slice: dict[str, int] = field(default_factory=dict)

    def apply(self, kind: str, op: str, obj: Any) -> None:
        name = "" if kind == "Endpoints" else obj.name
        if op == "delete":
            self.slices.pop(name, None)
            self.ready_per_slice.pop(name, None)
            return
        entries = _endpoints_as_slice_entries(obj) if kind == "Endpoints" else obj.endpoints
        self.slices[name] = entries
        self.ready_per_slice[name] = sum(1 for ep in entries if ep.ready is not False)

    def endpoints(self) -> list[api.Endpoint]:
        seen: dict[str, api.Endpoint] = {}
        for name in sorted(self.slices):
            for ep in self.slices[name]:
                if ep.addresses and ep.addresses[0] not in seen:
                    seen[ep.addresses[0]] = ep
        return list(seen.values())

    def ready_count(self) -> int:
        # Simplification: an endpoint transiently in two slices is counted twice here (cost only).
        return sum(self.ready_per_slice.values())

    def copy(self) -> MergedEndpoints:
        return MergedEndpoints(dict(self.slices), dict(self.ready_per_slice))


def _endpoints_as_slice_entries(obj: api.Endpoints) -> tuple[api.Endpoint, ...]:
    """Legacy mode: kube-proxy reads Endpoints; addresses are ready, notReadyAddresses not."""
    return tuple(
        _as_endpoint(a, ready)
        for subset in obj.subsets
        for ready, addrs in ((True, subset.addresses), (False, subset.not_ready_addresses))
        for a in addrs
    )


@lru_cache(maxsize=1 << 18)
def _as_endpoint(a: api.EndpointAddress, ready: bool) -> api.Endpoint:
    return api.Endpoint(
        addresses=(a.ip,), ready=ready, serving=ready, terminating=False, target_ref=a.target_ref, node_name=a.node_name
    )


def initial_merged(initial_objects: list[Any], kind: str) -> dict[tuple[str, str], MergedEndpoints]:
    merged: dict[tuple[str, str], MergedEndpoints] = {}
    for obj in initial_objects:
        svc = obj.name if kind == "Endpoints" else obj.service_name
        merged.setdefault((obj.namespace, svc), MergedEndpoints()).apply(kind, "create", obj)
    return merged


def service_endpoint_counts(
    writes_kind: list[str], writes_op: list[str], objects: list[Any], services: list[tuple[str, str]],
    service_index: np.ndarray, initial: dict[tuple[str, str], MergedEndpoints],
) -> tuple[np.ndarray, np.ndarray]:
    """Per service its ready endpoint count at t=0, and after each write of the stream."""
    state = {key: initial[key].copy() if key in initial else MergedEndpoints() for key in services}
    start = np.array([state[k].ready_count() for k in services], dtype=np.int32)
    after = np.zeros(len(objects), dtype=np.int32)
    for i, obj in enumerate(objects):
        key = services[service_index[i]]
        state[key].apply(writes_kind[i], writes_op[i], obj)
        after[i] = state[key].ready_count()
    return start, after
