"""Topology hints on the slices a sync writes (step 6 of the reconcile).

Upstream: ``staging/src/k8s.io/endpointslice/topologycache/`` (``topology-mode: Auto``:
``AddHints``, ``RemoveHintsFromSlices``), ``trafficdist/trafficdist.go``
(``ReconcileHints``) and ``utils.go`` ``hintsEnabled``; how ``reconcileByAddressType``
in ``reconciler.go`` chooses between them.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Mapping, Sequence

from simk8s.api.objects import Endpoint, EndpointSlice, Service
from simk8s.controller.endpointslice.desired import MEMO_LIMIT
from simk8s.controller.endpointslice.slices import Draft, SliceMemory, keys_of, known_size

ANNOTATION_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
ANNOTATION_TOPOLOGY_AWARE_HINTS = "service.kubernetes.io/topology-aware-hints"  # deprecated
CLOSE_TRAFFIC_DISTRIBUTIONS = frozenset({"PreferClose", "PreferSameZone", "PreferSameNode"})
OVERLOAD_THRESHOLD = 0.2  # topologycache overloadThreshold

_hint_memo: dict[tuple[int, tuple[str, ...], tuple[str, ...]], tuple[Endpoint, Endpoint]] = {}


def _with_hints(ep: Endpoint, zones: tuple[str, ...], node_hints: tuple[str, ...]) -> Endpoint:
    if ep.hints_for_zones == zones and ep.hints_for_nodes == node_hints:
        return ep
    key = (id(ep), zones, node_hints)
    hit = _hint_memo.get(key)
    if hit is not None and hit[0] is ep:
        return hit[1]
    new = dataclasses.replace(ep, hints_for_zones=zones, hints_for_nodes=node_hints)
    if len(_hint_memo) >= MEMO_LIMIT:
        _hint_memo.clear()
    _hint_memo[key] = (ep, new)
    return new


def hints_enabled(service: Service) -> bool:
    """``hintsEnabled``: the topology-mode or deprecated topology-aware-hints annotation
    is Auto (the deprecated key wins when both are set)."""
    ann = dict(service.annotations)
    val = ann.get(ANNOTATION_TOPOLOGY_AWARE_HINTS, ann.get(ANNOTATION_TOPOLOGY_MODE))
    return val in ("Auto", "auto")


HintFn = Callable[[Endpoint], tuple[tuple[str, ...], tuple[str, ...]] | None]


def _traffic_distribution_hints(service: Service) -> HintFn:
    """``trafficdist.ReconcileHints``: own zone (and own node for PreferSameNode) for ready
    endpoints when the distribution is a "close" one; otherwise strip every hint."""
    td = service.traffic_distribution
    if td not in CLOSE_TRAFFIC_DISTRIBUTIONS:
        return lambda ep: ((), ())
    same_node = td == "PreferSameNode"

    def fn(ep: Endpoint) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        if not ep.ready:
            return None  # non-ready endpoints keep whatever they have
        zones = (ep.zone,) if ep.zone is not None else ()
        nodes_ = (ep.node_name,) if same_node and ep.node_name is not None else ()
        return zones, nodes_

    return fn


def _auto_hints(
    ready: list[Endpoint], nodes: Mapping[str, str | None], fixed: Mapping[str, int]
) -> dict[int, str] | None:
    """topology-mode Auto (``topologycache.go`` ``AddHints``), simplified: zone weights =
    node count per zone (every node assumed to have the same allocatable CPU and to be
    Ready). Each ready endpoint starts with its own zone; zones below their minimum
    ceil(desired/1.2) receive just enough endpoints to reach it from zones above
    desired·1.2 (which give down to desired). Returns id(endpoint) → hinted zone, or None
    when hints must be removed. ``fixed`` counts hints already held by unchanged slices
    per zone.
    """
    zone_nodes: dict[str, int] = {}
    for z in nodes.values():
        if not z:
            return None  # a node without zone label
        zone_nodes[z] = zone_nodes.get(z, 0) + 1
    total_ready = len(ready) + sum(fixed.values())
    if len(zone_nodes) < 2 or total_ready < len(zone_nodes):
        return None
    if any(not ep.zone for ep in ready):
        return None
    total_nodes = sum(zone_nodes.values())
    desired = {z: total_ready * n / total_nodes for z, n in zone_nodes.items()}
    hint = {id(ep): ep.zone for ep in ready if ep.zone}
    count = dict.fromkeys(zone_nodes, 0)
    for z, n in fixed.items():
        count[z] = count.get(z, 0) + n
    for z in hint.values():
        count[z] = count.get(z, 0) + 1
    minimum = {z: math.ceil(d / (1 + OVERLOAD_THRESHOLD)) for z, d in desired.items()}
    receiving = {z: minimum[z] - count[z] for z in desired if count[z] < minimum[z]}
    giving = {
        z: math.floor(count.get(z, 0) - d)
        for z, d in desired.items()
        if count.get(z, 0) > d * (1 + OVERLOAD_THRESHOLD)
    }
    for ep in ready:
        if not receiving:
            break
        src = hint[id(ep)]
        if giving.get(src, 0) <= 0:
            continue
        dst = next(iter(receiving))
        hint[id(ep)] = dst
        giving[src] -= 1
        count[src] -= 1
        count[dst] += 1
        receiving[dst] -= 1
        if receiving[dst] <= 0:
            del receiving[dst]
    if any(count.get(z, 0) < m for z, m in minimum.items()):
        return None
    return hint


def _zone_hint_counts(s: EndpointSlice) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ep in s.endpoints:
        for z in ep.hints_for_zones:
            counts[z] = counts.get(z, 0) + 1
    return counts


def apply_hints(
    service: Service,
    nodes: Mapping[str, str | None],
    creates: list[Draft],
    updates: list[Draft],
    unchanged: list[EndpointSlice],
    cache: SliceMemory | None = None,
    topology_cache: bool = True,
) -> list[EndpointSlice]:
    """Step 6 of ``reconcileByAddressType``: the annotation's hints (``AddHints``, or
    ``RemoveHintsFromSlices`` when they cannot be given), else ``trafficdist``
    ``ReconcileHints``. Sets hints on creates/updates; moves unchanged slices whose hints
    are wrong into ``updates`` (trafficDistribution path). Returns the still-unchanged
    slices. ``cache``: per-slice verdicts of unchanged slices (HOT PATH), None to
    recompute. ``topology_cache`` False: the TopologyAwareHints gate is off, the controller
    has no topology cache and the annotation is not read (``r.topologyCache != nil &&
    hintsEnabled``)."""
    drafts = creates + updates
    if topology_cache and hints_enabled(service):
        fixed: dict[str, int] = {}
        for s in unchanged:
            if cache is None:
                counts = _zone_hint_counts(s)
            else:
                cached = cache.zone_counts.get(id(s))
                if cached is None:
                    cached = cache.zone_counts[id(s)] = _zone_hint_counts(s)
                counts = cached
            for z, n in counts.items():
                fixed[z] = fixed.get(z, 0) + n
        ready = [ep for d in drafts for ep in d.endpoints if ep.ready]
        alloc = _auto_hints(ready, nodes, fixed)
        for d in drafts:
            d.size = None  # (hints change the endpoints' sizes)
            if alloc is None:  # RemoveHintsFromSlices: creates/updates only
                d.endpoints = [_with_hints(ep, (), ()) for ep in d.endpoints]
            else:
                d.endpoints = [
                    _with_hints(ep, (alloc[id(ep)],), ())
                    if id(ep) in alloc
                    else _with_hints(ep, (), ())
                    for ep in d.endpoints
                ]
        return unchanged
    fn = _traffic_distribution_hints(service)
    # No close distribution: trafficdist's defaultHeuristic strips every hint, from
    # unchanged slices too. Simplification: newer reconciler.go skips ReconcileHints then
    # and strips only the slices it writes (RemoveHintsFromSlices).
    strip_all = service.traffic_distribution not in CLOSE_TRAFFIC_DISTRIBUTIONS

    def needs_update(s: EndpointSlice) -> bool:
        if strip_all:  # every hint must go: is there any? (C-level scan, same answer)
            return _any_hints(s.endpoints)
        for ep in s.endpoints:
            want = fn(ep)
            if want is not None and want != (ep.hints_for_zones, ep.hints_for_nodes):
                return True
        return False

    still = []
    for s in unchanged:
        if cache is not None and id(s) in cache.ok:
            still.append(s)
        elif needs_update(s):
            keys = keys_of(cache, s)
            d = Draft(s.address_type, s.ports, list(s.endpoints), dict(s.labels), s, False, keys,
                      known_size(s.endpoints))
            updates.append(d)
            drafts.append(d)
        else:
            if cache is not None:
                cache.ok.add(id(s))
            still.append(s)
    for d in drafts:
        if strip_all and not _any_hints(d.endpoints):
            continue  # _with_hints(ep, (), ()) would hand back every ep as it is
        new = []
        for ep in d.endpoints:
            want = fn(ep)
            new.append(ep if want is None else _with_hints(ep, *want))
        d.endpoints = new
        d.size = None
    return still


_zone_hints = operator.attrgetter("hints_for_zones")
_node_hints = operator.attrgetter("hints_for_nodes")


def _any_hints(endpoints: Sequence[Endpoint]) -> bool:
    return any(map(_zone_hints, endpoints)) or any(map(_node_hints, endpoints))

