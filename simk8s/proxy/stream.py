"""From the apiserver change log to what kube-proxies consume: the change stream and, per
Service, the merged endpoint set after each write (kube-proxy's EndpointSliceCache view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simk8s.api import objects as api


@dataclass
class MergedEndpoints:
    """One Service's endpoints as kube-proxy merges them: slices keyed by name, de-duplicated
    by address (EndpointSliceCache). In legacy mode the single Endpoints object is one entry."""

    # slice name → its endpoints; in legacy mode "" → the Endpoints object itself
    slices: dict[str, tuple[api.Endpoint, ...] | api.Endpoints] = field(default_factory=dict)
    ready_sets: dict[str, frozenset[str]] = field(default_factory=dict)

    def apply(self, kind: str, op: str, obj: Any) -> int:
        """Apply one write; returns how many ready endpoints it added or removed."""
        name = "" if kind == "Endpoints" else obj.name
        before = self.ready_sets.get(name, frozenset())
        if op == "delete":
            self.slices.pop(name, None)
            self.ready_sets.pop(name, None)
            return len(before)
        if kind == "Endpoints":
            self.slices[name] = obj
            after = frozenset(a.ip for subset in obj.subsets for a in subset.addresses)
        else:
            self.slices[name] = obj.endpoints
            after = frozenset(ep.addresses[0] for ep in obj.endpoints if ep.ready is not False and ep.addresses)
        self.ready_sets[name] = after
        return len(before ^ after)

    def endpoints(self) -> list[api.Endpoint]:
        seen: dict[str, api.Endpoint] = {}
        for name in sorted(self.slices):
            entries = self.slices[name]
            if isinstance(entries, api.Endpoints):
                entries = endpoints_as_entries(entries)
            for ep in entries:
                if ep.addresses and ep.addresses[0] not in seen:
                    seen[ep.addresses[0]] = ep
        return list(seen.values())

    def ready_count(self) -> int:
        # Simplification: an endpoint transiently in two slices is counted twice (cost model only).
        return sum(len(s) for s in self.ready_sets.values())

    def copy(self) -> MergedEndpoints:
        return MergedEndpoints(dict(self.slices), dict(self.ready_sets))


def endpoints_as_entries(obj: api.Endpoints) -> tuple[api.Endpoint, ...]:
    """Legacy mode: kube-proxy reads Endpoints; addresses are ready, notReadyAddresses not."""
    return tuple(
        _as_endpoint(a, ready)
        for subset in obj.subsets
        for ready, addrs in ((True, subset.addresses), (False, subset.not_ready_addresses))
        for a in addrs
    )


# Keyed by object identity (the controllers reuse address records of unchanged pods);
# hashing the frozen records field by field would cost more than the conversion itself.
_ENDPOINT_CACHE: dict[tuple[int, bool], tuple[api.EndpointAddress, api.Endpoint]] = {}


def _as_endpoint(a: api.EndpointAddress, ready: bool) -> api.Endpoint:
    hit = _ENDPOINT_CACHE.get((id(a), ready))
    if hit is not None and hit[0] is a:
        return hit[1]
    ep = api.Endpoint(
        addresses=(a.ip,), ready=ready, serving=ready, terminating=False, target_ref=a.target_ref, node_name=a.node_name
    )
    if len(_ENDPOINT_CACHE) > 1 << 20:
        _ENDPOINT_CACHE.clear()
    _ENDPOINT_CACHE[(id(a), ready)] = (a, ep)
    return ep


def service_key_of(kind: str, obj: Any) -> tuple[str, str]:
    return (obj.namespace, obj.name if kind == "Endpoints" else obj.service_name)


def initial_merged(initial_objects: list[Any], kind: str) -> dict[tuple[str, str], MergedEndpoints]:
    merged: dict[tuple[str, str], MergedEndpoints] = {}
    for obj in initial_objects:
        merged.setdefault(service_key_of(kind, obj), MergedEndpoints()).apply(kind, "create", obj)
    return merged
