"""From the apiserver change log to what kube-proxies consume: the change stream and, per
Service, the merged endpoint set after each write (kube-proxy's EndpointSliceCache view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any

from simk8s.api import objects as api

_ip = attrgetter("ip")
_addresses = attrgetter("addresses")


@dataclass
class MergedEndpoints:
    """One Service's endpoints as kube-proxy merges them: slices keyed by name, de-duplicated
    by address (EndpointSliceCache). In legacy mode the single Endpoints object is one entry."""

    # slice name → its endpoints; in legacy mode "" → the Endpoints object itself
    slices: dict[str, tuple[api.Endpoint, ...] | api.Endpoints] = field(default_factory=dict)
    ready_sets: dict[str, frozenset[str]] = field(default_factory=dict)  # kept when diffing
    counts: dict[str, int] = field(default_factory=dict)  # ready addresses per entry

    def apply(self, kind: str, op: str, obj: Any, *, diff: bool = True) -> int:
        """Apply one write; returns how many ready endpoints it added or removed.

        ``diff=False``: a legacy Endpoints write is only counted, not diffed, and returns 0
        (the iptables cost model never reads the difference, and an Endpoints object can
        hold 10k+ addresses per write); deletes still return what they removed."""
        name = "" if kind == "Endpoints" else obj.name
        if op == "delete":
            self.slices.pop(name, None)
            self.ready_sets.pop(name, None)
            return self.counts.pop(name, 0)
        if kind == "Endpoints":
            self.slices[name] = obj
            if not diff:
                self.ready_sets.pop(name, None)
                self.counts[name] = _ready_address_count(obj)
                return 0
            # C-level over the (up to thousands of) addresses: this runs once per write.
            after = frozenset(map(_ip, chain.from_iterable(map(_addresses, obj.subsets))))
        else:
            self.slices[name] = obj.endpoints
            after = frozenset(ep.addresses[0] for ep in obj.endpoints if ep.ready is not False and ep.addresses)
        before = self.ready_sets.get(name, frozenset())
        self.ready_sets[name] = after
        self.counts[name] = len(after)
        return len(before ^ after)

    def ready_count(self) -> int:
        # Simplification: an endpoint transiently in two slices is counted twice (cost model only).
        return sum(self.counts.values())

    def copy(self) -> MergedEndpoints:
        return MergedEndpoints(dict(self.slices), dict(self.ready_sets), dict(self.counts))


def _ready_address_count(ep: api.Endpoints) -> int:
    """Distinct ready IPs: several subsets may share IPs. Simplification: one subset is taken
    to list each IP once — repack keys addresses by (IP, UID), so only user-written Endpoints
    repeating an IP under two targetRefs would be counted twice (the diff path counts once)."""
    if len(ep.subsets) == 1:
        return len(ep.subsets[0].addresses)
    return len(frozenset(map(_ip, chain.from_iterable(map(_addresses, ep.subsets)))))


def legacy_endpoint(a: api.EndpointAddress, ready: bool) -> api.Endpoint:
    """Legacy mode: kube-proxy reads Endpoints; `addresses` are ready, `notReadyAddresses` not
    (Endpoints has no serving/terminating states)."""
    return api.Endpoint(
        addresses=(a.ip,), ready=ready, serving=ready, terminating=False, target_ref=a.target_ref, node_name=a.node_name
    )


def service_key_of(kind: str, obj: Any) -> tuple[str, str]:
    return (obj.namespace, obj.name if kind == "Endpoints" else obj.service_name)


def initial_merged(initial_objects: list[Any], kind: str) -> dict[tuple[str, str], MergedEndpoints]:
    merged: dict[tuple[str, str], MergedEndpoints] = {}
    for obj in initial_objects:
        merged.setdefault(service_key_of(kind, obj), MergedEndpoints()).apply(kind, "create", obj)
    return merged
