"""Which watched writes queue a network-programming-latency trigger time, and which erase
the queue, as kube-proxy's endpoints change tracker decides.

EndpointSlices (`pkg/proxy/endpointschangetracker.go` `EndpointSliceUpdate`): a write
counts only if `EndpointSliceCache.updatePending` (`pkg/proxy/endpointslicecache.go`)
finds it changes what kube-proxy keeps of the slice (ports; per endpoint addresses, node,
zone, conditions, hints). Then a removal deletes every trigger time queued for the slice's
Service, including other slices' ones (kubernetes/kubernetes#95363), and is never a sample
itself; an add or update queues its `endpoints.kubernetes.io/last-change-trigger-time`
if it is after the tracker started (kubernetes/kubernetes#100861). Slices of an address
family the proxier does not serve are ignored. The next sync checks the queue out and
observes each time once the rules are written (fleet and reference).

Legacy Endpoints (kube-proxy reading core/v1 Endpoints, `EndpointChangeTracker.Update` of
`pkg/proxy/endpoints.go` in those releases): deletions are never samples either.
Simplification: there an update that brings the Service back to what the node last
synced erases its queue, and a no-op update made while other changes are queued adds a
sample; both depend on the node's sync times and are not modelled: an update is a sample
iff its subsets changed (targetRef and hostname included).

"Changed" compares with the previous version delivered (pending or applied: the same
thing, since every node receives every write in order), so it is one property per write.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simk8s.api import objects as api

PROXIED_ADDRESS_TYPE = "IPv4"  # the simulated proxiers are IPv4 (ProxyState.from_slices)


@dataclass(frozen=True)
class TrackedTriggers:
    """Per write of the change stream."""

    trigger_time: np.ndarray  # float64[W]: trigger time the write queues; NaN = none
    drops: np.ndarray  # bool[W]: the write erases every trigger time queued for its Service


def _endpoint_view(ep: api.Endpoint) -> tuple:
    # endpointSliceInfo keeps addresses, node, zone, the three conditions and the hints.
    ready = ep.ready is None or ep.ready
    serving = ready if ep.serving is None else ep.serving
    return (ep.addresses, ep.node_name, ep.zone, ready, serving, bool(ep.terminating),
            ep.hints_for_zones, ep.hints_for_nodes)


def _first_address(view: tuple) -> str:
    return view[0][0] if view[0] else ""


def slice_view(sl: api.EndpointSlice) -> tuple:
    """What kube-proxy's EndpointSliceCache compares (newEndpointSliceInfo): ports by
    (name, port, protocol), endpoints by address."""
    ports = tuple(sorted(sl.ports, key=lambda p: (p.name or "", p.port or 0, p.protocol)))
    endpoints = tuple(sorted(map(_endpoint_view, sl.endpoints), key=_first_address))
    return ports, endpoints


def _slice_unchanged(before: api.EndpointSlice, after: api.EndpointSlice) -> bool:
    if before.ports == after.ports and before.endpoints == after.endpoints:
        return True  # equal as a whole, so equal in every field kube-proxy keeps
    if len(before.endpoints) != len(after.endpoints):
        return False
    # Views of the endpoints the two share position by position are common to both; unless
    # the others' views are the same multiset, the sorted views differ: changed (the usual
    # answer, found without viewing and sorting every endpoint).
    was, now = [], []
    for old, new in zip(before.endpoints, after.endpoints, strict=True):
        if old is not new and old != new:
            was.append(old)
            now.append(new)
    if Counter(map(_endpoint_view, was)) != Counter(map(_endpoint_view, now)):
        return False
    return slice_view(before) == slice_view(after)


def track_trigger_times(
    kind: str,
    ops: Sequence[str],
    objects: Sequence[Any],
    annotation_times: np.ndarray,
    initial_objects: Iterable[Any] = (),
    tracker_start: float = -math.inf,
) -> TrackedTriggers:
    """`annotation_times[w]`: the last-change-trigger-time annotation of write w, as the
    controller wrote it (NaN: none). `tracker_start`: when the kube-proxies' trackers were
    created (t = 0 for a restart at t = 0; −inf for kube-proxies already running)."""
    n = len(objects)
    trigger = np.full(n, np.nan)
    drops = np.zeros(n, dtype=bool)
    last: dict[tuple[str, str], Any] = {(o.namespace, o.name): o for o in initial_objects}
    times = np.asarray(annotation_times, dtype=np.float64)
    slices = kind != "Endpoints"  # "EndpointSlice" (the watched kind)
    for w, (op, obj) in enumerate(zip(ops, objects, strict=True)):
        key = (obj.namespace, obj.name)
        if slices and obj.address_type != PROXIED_ADDRESS_TYPE:
            continue  # EndpointSliceUpdate ignores another address family
        before = last.pop(key, None) if op == "delete" else last.get(key)
        if op == "delete":
            drops[w] = slices  # a removal always counts as a change
            continue
        last[key] = obj
        if before is not None:
            if slices and _slice_unchanged(before, obj):
                continue
            if not slices and before.subsets == obj.subsets:
                continue
        t = float(times[w])
        if math.isfinite(t) and t > tracker_start:
            trigger[w] = t
    return TrackedTriggers(trigger_time=trigger, drops=drops)


def next_drop(service: np.ndarray, drops: np.ndarray) -> np.ndarray:
    """[w] = first write after w that erases the queue of w's Service (len(service) if none):
    write w's trigger time is observed on a node only if that sync applies w but not it."""
    service = np.asarray(service, dtype=np.int64)
    n = len(service)
    out = np.full(n, n, dtype=np.int64)
    where = np.flatnonzero(drops)
    if not len(where) or not n:
        return out
    stride = n + 1
    keys = np.sort(service[where] * stride + where)
    mine = service * stride + np.arange(n)
    pos = np.searchsorted(keys, mine, side="right")
    found = pos < len(keys)
    hit = keys[np.minimum(pos, len(keys) - 1)]
    same = found & (hit // stride == service)
    out[same] = hit[same] % stride
    return out
