"""The EndpointSlice controller's reconciler, as pure functions (reference §2).

Use without SimPy::

    from simk8s.api.naming import SequentialNames
    plan = reconcile(service, pods, existing_slices, nodes={"node-1": "zone-a"},
                     trigger_time=12.5, name_for=SequentialNames())
    slices = apply_plan(existing_slices, plan)   # what the informer will hold afterwards

``plan.creates``, ``plan.updates`` and ``plan.deletes`` are the API calls in write order
(create → update → delete); ``plan.error`` says the sync would return an error (a pod's
node is missing, §2.3) and be retried, although the writes still happen.

HOT PATH: runs on every sync of Services with thousands of pods. Pod → Endpoint conversion
is memoised by the identity of the (Pod, Service) records (plus address type and zone), so
unchanged pods hand out the *same* Endpoint object; matching existing against desired is
one dict lookup per endpoint.

Incremental path (what the SimPy worker uses): ``EndpointSliceState`` keeps one Service's
desired endpoints between syncs, updated from the pods that changed only, and remembers
which existing slices are already up to date, so a sync costs O(changed pods + slices)
Python work. ``reconcile`` stays the reference; tests check both give identical plans.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import operator
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from simk8s.api.naming import rfc3339nano, slice_name_prefix
from simk8s.api.objects import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_SLICE_CONTROLLER,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    ObjectReference,
    Pod,
    Service,
)
from simk8s.controller.podutil import (
    PodChange,
    canonical_ip,
    endpoint_ports,
    ip_family,
    port_map_key,
    should_pod_be_in_endpoints,
    should_set_hostname,
    slice_address_types,
)

DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100  # §2.1 --max-endpoints-per-slice (1..1000)
ANNOTATION_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
ANNOTATION_TOPOLOGY_AWARE_HINTS = "service.kubernetes.io/topology-aware-hints"  # deprecated
CLOSE_TRAFFIC_DISTRIBUTIONS = frozenset({"PreferClose", "PreferSameZone", "PreferSameNode"})
OVERLOAD_THRESHOLD = 0.2  # topologycache overloadThreshold
RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})

PortKey = tuple[EndpointPort, ...]
EndpointKey = tuple[tuple[str, ...], str, str, str]


def endpoint_key(ep: Endpoint) -> EndpointKey:
    """§2.3 endpoint identity: (sorted addresses, hostname, targetRef namespace, name)."""
    ref = ep.target_ref
    addrs = ep.addresses if len(ep.addresses) < 2 else tuple(sorted(ep.addresses))
    if ref is None:
        return (addrs, ep.hostname, "", "")
    return (addrs, ep.hostname, ref.namespace, ref.name)


def endpoints_equal_beyond_hash(a: Endpoint, b: Endpoint) -> bool:
    """§2.3 "needs update" test: nodeName, zone, ready, serving, terminating, targetRef."""
    return (
        a.node_name == b.node_name
        and a.zone == b.zone
        and a.ready == b.ready
        and a.serving == b.serving
        and a.terminating == b.terminating
        and a.target_ref == b.target_ref
    )


# ---------------------------------------------------------------------------------------
# Desired endpoints (§2.3, §2.4)

_MEMO_LIMIT = 1 << 18
_ports_memo: dict[tuple[int, int], tuple[Pod, Service, PortKey]] = {}
_endpoint_memo: dict[
    tuple[int, int, str, str | None], tuple[Pod, Service, Endpoint | None, EndpointKey | None]
] = {}
# id(Endpoint) → (Endpoint, key) for endpoints this module built: existing slices mostly
# hold these very objects, so their identity key is one int-keyed lookup.
_key_memo: dict[int, tuple[Endpoint, EndpointKey]] = {}


def _cached_key(ep: Endpoint) -> EndpointKey:
    hit = _key_memo.get(id(ep))
    if hit is not None and hit[0] is ep:
        return hit[1]
    return endpoint_key(ep)


def pod_to_endpoint(
    pod: Pod, service: Service, address_type: str, zone: str | None
) -> Endpoint | None:
    """§2.4 podToEndpoint; None when the pod has no IP of ``address_type``."""
    addrs = []
    for ip in pod.pod_ips:
        canon = canonical_ip(ip)
        if canon is not None and ip_family(canon) == address_type:
            addrs.append(canon)
    if not addrs:
        return None
    serving = pod.ready
    terminating = pod.terminating
    return Endpoint(
        addresses=tuple(addrs),
        ready=service.publish_not_ready_addresses or (serving and not terminating),
        serving=serving,
        terminating=terminating,
        hostname=pod.hostname if should_set_hostname(pod, service) else "",
        target_ref=ObjectReference(kind="Pod", namespace=pod.namespace, name=pod.name, uid=pod.uid),
        node_name=pod.node_name or None,
        zone=zone or None,
    )


def _pod_ports(pod: Pod, service: Service) -> PortKey:
    key = (id(pod), id(service))
    hit = _ports_memo.get(key)
    if hit is not None:  # memo holds both records: ids cannot be reused meanwhile
        return hit[2]
    if not service.ports and service.cluster_ip == "None":
        ports: PortKey = ()
    else:  # unlike EP, a pod whose ports all fail still gets an endpoint (empty group)
        ports = port_map_key(endpoint_ports(service, pod))
    if len(_ports_memo) >= _MEMO_LIMIT:
        _ports_memo.clear()
    _ports_memo[key] = (pod, service, ports)
    return ports


def _pod_endpoint(
    pod: Pod, service: Service, address_type: str, zone: str | None
) -> tuple[Endpoint | None, EndpointKey | None]:
    key = (id(pod), id(service), address_type, zone)
    hit = _endpoint_memo.get(key)
    if hit is not None:
        return hit[2], hit[3]
    ep = pod_to_endpoint(pod, service, address_type, zone)
    ekey = endpoint_key(ep) if ep is not None else None
    if len(_endpoint_memo) >= _MEMO_LIMIT:
        _endpoint_memo.clear()
        _key_memo.clear()
    _endpoint_memo[key] = (pod, service, ep, ekey)
    if ep is not None and ekey is not None:
        _key_memo[id(ep)] = (ep, ekey)
    return ep, ekey


@dataclass(slots=True)
class DesiredEndpoints:
    """Desired endpoints per address type and port group (§2.3).

    ``groups[address_type][port_key]`` maps endpoint identity → Endpoint, in pod order.
    A port group exists as soon as one included pod resolves to it, even if that pod has
    no address of this type or was skipped for a missing node (upstream does the same).
    ``missing_node``: some pod was skipped because its node is unknown (sync error).
    """

    groups: dict[str, dict[PortKey, dict[EndpointKey, Endpoint]]]
    missing_node: bool = False


def desired_endpoints(
    service: Service, pods: Iterable[Pod], nodes: Mapping[str, str | None]
) -> DesiredEndpoints:
    """§2.3/§2.4: the endpoints the Service's slices should hold.

    ``nodes`` maps every known node name to its ``topology.kubernetes.io/zone`` label
    (None or "" when unlabelled).
    """
    types = slice_address_types(service)
    groups: dict[str, dict[PortKey, dict[EndpointKey, Endpoint]]] = {t: {} for t in types}
    publish = service.publish_not_ready_addresses
    missing = False
    # Port tuples come interned from port_map_key's cache, so groups are found by id()
    # (hashing a tuple of dataclasses runs Python code per port).
    by_id: dict[tuple[str, int], dict[EndpointKey, Endpoint]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        ports = _pod_ports(pod, service)
        node_known = pod.node_name in nodes
        zone = nodes.get(pod.node_name) or None
        for t in types:
            group = by_id.get((t, id(ports)))
            if group is None:
                group = groups[t].setdefault(ports, {})
                by_id[(t, id(ports))] = group
            if not node_known and not publish:  # §2.3 missing node: skip + error
                missing = True
                continue
            ep, ekey = _pod_endpoint(pod, service, t, zone)
            if ep is not None and ekey is not None:
                group[ekey] = ep
    return DesiredEndpoints(groups, missing)


# ---------------------------------------------------------------------------------------
# Plan


@dataclass(slots=True)
class SlicePlan:
    """API calls of one sync, in write order (creates, then updates, then deletes).

    ``unchanged``: existing slices left as they are. ``error``: the sync returns an error
    (missing node) and is retried with backoff. Counters follow the controller metrics
    (§2.9): endpoints_added = desired endpoints not found in existing slices,
    endpoints_removed = endpoints dropped from existing slices. ``addresses_skipped`` is
    used by mirroring only (§3).
    """

    creates: list[EndpointSlice] = field(default_factory=list)
    updates: list[EndpointSlice] = field(default_factory=list)
    deletes: list[EndpointSlice] = field(default_factory=list)
    unchanged: list[EndpointSlice] = field(default_factory=list)
    error: bool = False
    endpoints_added: int = 0
    endpoints_removed: int = 0
    addresses_skipped: int = 0

    @property
    def writes(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def apply_plan(existing: Iterable[EndpointSlice], plan: SlicePlan) -> list[EndpointSlice]:
    """The slices after the plan's writes succeed (updates replace by name)."""
    deleted = {s.name for s in plan.deletes}
    updated = {s.name: s for s in plan.updates}
    out = [updated.pop(s.name, s) for s in existing if s.name not in deleted]
    out.extend(updated.values())
    out.extend(plan.creates)
    return out


@dataclass(slots=True)
class _Draft:
    """A slice being built: new (base None), rewrite of ``base``, or recycled into it."""

    address_type: str
    ports: PortKey
    endpoints: list[Endpoint]
    labels: dict[str, str]
    base: EndpointSlice | None = None
    fresh: bool = True  # built from scratch (no annotations/owner of ``base`` carried over)
    keys: list[EndpointKey] | None = None  # identities of ``endpoints`` (incremental path)


class _SliceMemory:
    """What the incremental path remembers per slice object (keyed by id; the owner keeps
    the slices it tracks alive): facts that depend only on the immutable slice and the
    Service. None of it is used by the reference path."""

    __slots__ = ("born", "keys", "labels_ok", "ok", "zone_counts")

    def __init__(self) -> None:
        self.keys: dict[int, tuple[EndpointKey, ...]] = {}  # endpoint identities, in order
        self.zone_counts: dict[int, dict[str, int]] = {}  # hints_for_zones counted per zone
        self.ok: set[int] = set()  # trafficDistribution hints already right
        self.labels_ok: set[int] = set()  # labels already as the Service wants (§2.6)
        # Slices written by the last plan, with their identities: each holds, for every
        # identity, the then-desired endpoint (up to hints) and right hints.
        self.born: dict[int, tuple[EndpointSlice, tuple[EndpointKey, ...]]] = {}

    def forget(self, slice_id: int) -> None:
        self.keys.pop(slice_id, None)
        self.zone_counts.pop(slice_id, None)
        self.ok.discard(slice_id)
        self.labels_ok.discard(slice_id)

    def keys_of(self, s: EndpointSlice) -> list[EndpointKey] | None:
        keys = self.keys.get(id(s))
        return None if keys is None else list(keys)


def _keys_of(memory: _SliceMemory | None, s: EndpointSlice) -> list[EndpointKey] | None:
    return None if memory is None else memory.keys_of(s)


def _service_labels(service: Service) -> dict[str, str]:
    return {k: v for k, v in service.labels if k not in RESERVED_LABELS}


def _slice_labels(
    current: Iterable[tuple[str, str]], service: Service
) -> tuple[dict[str, str], bool]:
    """§2.6 setEndpointSliceLabels: (new labels, whether non-reserved labels differ)."""
    svc = _service_labels(service)
    changed = {k: v for k, v in current if k not in RESERVED_LABELS} != svc
    if service.cluster_ip in (None, "", "None"):
        svc[LABEL_HEADLESS] = ""
    svc[LABEL_SERVICE_NAME] = service.name
    svc[LABEL_MANAGED_BY] = MANAGED_BY_SLICE_CONTROLLER
    return svc, changed


def _owned_by(s: EndpointSlice, service: Service) -> bool:
    return s.owner_kind == "Service" and s.owner_uid == service.uid


def _take(desired: dict[EndpointKey, Endpoint], n: int, d: _Draft) -> None:
    """PopAny n times into ``d``. Simplification: Go pops in map order; we pop in pod order."""
    if n <= 0 or not desired:
        return
    items = list(itertools.islice(desired.items(), n))
    for k, _ in items:
        del desired[k]
    d.endpoints.extend([ep for _, ep in items])
    if d.keys is not None:
        d.keys.extend([k for k, _ in items])


def _slice_to_fill(unchanged: list[EndpointSlice], n: int, max_eps: int) -> EndpointSlice | None:
    """getSliceToFill: the slice closest to full after adding n; exact fit stops early."""
    closest_diff = max_eps
    closest = None
    for s in unchanged:
        diff = max_eps - (n + len(s.endpoints))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, s
            if diff == 0:
                break
    return closest


@dataclass(slots=True)
class _Step1:
    """Outcome of §2.5 step 1 for one port group; ``remaining``: desired endpoints found in
    no existing slice of the group, in desired (pod) order."""

    updates: list[_Draft]
    unchanged: list[EndpointSlice]
    deletes: list[EndpointSlice]
    removed: int
    remaining: dict[EndpointKey, Endpoint]


def _classify(
    service: Service,
    s: EndpointSlice,
    kept: list[Endpoint] | None,
    changed: bool,
    out: _Step1,
    kept_keys: list[EndpointKey] | None = None,
    memory: _SliceMemory | None = None,
) -> None:
    """Step 1's verdict on one existing slice; ``kept`` None: every endpoint was kept
    unchanged (the slice's own endpoints stand)."""
    if kept is None and memory is not None and id(s) in memory.labels_ok:
        out.unchanged.append(s)
        return
    labels, labels_changed = _slice_labels(s.labels, service)
    if kept is not None and (changed or len(kept) != len(s.endpoints)):
        out.removed += max(len(s.endpoints) - len(kept), 0)
        if not kept:
            out.deletes.append(s)
        else:
            out.updates.append(
                _Draft(s.address_type, s.ports, kept, labels, s, fresh=False, keys=kept_keys)
            )
    elif labels_changed:
        keys = _keys_of(memory, s)
        out.updates.append(
            _Draft(s.address_type, s.ports, list(s.endpoints), labels, s, fresh=False, keys=keys)
        )
    else:
        if memory is not None:
            memory.labels_ok.add(id(s))
        out.unchanged.append(s)


def _step1(
    service: Service, existing: list[EndpointSlice], desired: dict[EndpointKey, Endpoint]
) -> _Step1:
    """§2.5 step 1 for one port group (reference form). Consumes ``desired``."""
    out = _Step1([], [], [], 0, desired)
    # Keep still-desired endpoints in place (desired version), drop the others.
    for s in existing:
        kept: list[Endpoint] = []
        changed = False
        for ep in s.endpoints:
            got = desired.pop(_cached_key(ep), None)
            if got is not None:
                kept.append(got)
                if got is not ep and not endpoints_equal_beyond_hash(got, ep):
                    changed = True
        _classify(service, s, kept, changed, out)
    return out


def _fill(
    service: Service,
    step1: _Step1,
    ports: PortKey,
    address_type: str,
    max_eps: int,
    memory: _SliceMemory | None,
) -> tuple[list[_Draft], list[EndpointSlice]]:
    """§2.5 steps 2–3 for one port group. Consumes ``step1.remaining``, extends
    ``step1.updates``; returns (creates, still-unchanged slices)."""
    desired = step1.remaining
    updates = step1.updates
    unchanged = step1.unchanged
    # Step 2: fill slices already being updated, fullest first.
    if desired and updates:
        for d in sorted(updates, key=lambda d: -len(d.endpoints)):
            _take(desired, max_eps - len(d.endpoints), d)
            if not desired:
                break
    # Step 3: new full slices; a final partial batch goes into the unchanged slice that
    # ends closest to full, only if it fits entirely.
    creates: list[_Draft] = []
    while desired:
        fill = None
        if len(desired) < max_eps and unchanged:
            fill = _slice_to_fill(unchanged, len(desired), max_eps)
        if fill is None:
            keys: list[EndpointKey] | None = None if memory is None else []
            d = _Draft(address_type, ports, [], _slice_labels((), service)[0], keys=keys)
        else:
            unchanged = [s for s in unchanged if s is not fill]
            d = _Draft(
                fill.address_type,
                fill.ports,
                list(fill.endpoints),
                dict(fill.labels),
                fill,
                fresh=False,
                keys=_keys_of(memory, fill),
            )
        _take(desired, max_eps - len(d.endpoints), d)
        (creates if d.base is None else updates).append(d)
    return creates, unchanged


def _placeholder_equal(s: EndpointSlice, placeholder: _Draft, namespace: str) -> bool:
    """TestPlaceHolderSliceCompare: namespace, labels, addressType, endpoints, ports."""
    return (
        s.namespace == namespace
        and dict(s.labels) == placeholder.labels
        and s.address_type == placeholder.address_type
        and not s.endpoints
        and not s.ports
    )


# ---------------------------------------------------------------------------------------
# Topology hints (§2.7)

_hint_memo: dict[tuple[int, tuple[str, ...], tuple[str, ...]], tuple[Endpoint, Endpoint]] = {}


def _with_hints(ep: Endpoint, zones: tuple[str, ...], node_hints: tuple[str, ...]) -> Endpoint:
    if ep.hints_for_zones == zones and ep.hints_for_nodes == node_hints:
        return ep
    key = (id(ep), zones, node_hints)
    hit = _hint_memo.get(key)
    if hit is not None and hit[0] is ep:
        return hit[1]
    new = dataclasses.replace(ep, hints_for_zones=zones, hints_for_nodes=node_hints)
    if len(_hint_memo) >= _MEMO_LIMIT:
        _hint_memo.clear()
    _hint_memo[key] = (ep, new)
    return new


def hints_enabled(service: Service) -> bool:
    """topology-mode / topology-aware-hints annotation is Auto (deprecated key wins)."""
    ann = dict(service.annotations)
    val = ann.get(ANNOTATION_TOPOLOGY_AWARE_HINTS, ann.get(ANNOTATION_TOPOLOGY_MODE))
    return val in ("Auto", "auto")


HintFn = Callable[[Endpoint], tuple[tuple[str, ...], tuple[str, ...]] | None]


def _traffic_distribution_hints(service: Service) -> HintFn:
    """trafficdist.ReconcileHints: own zone (and own node for PreferSameNode) for ready
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
    """Simplified topology-mode Auto (§2.7): zone weights = node count per zone (every node
    assumed to have the same allocatable CPU and to be Ready). Each ready endpoint starts
    with its own zone; zones below their minimum ceil(desired/1.2) receive just enough
    endpoints to reach it from zones above desired·1.2 (which give down to desired). Returns id(endpoint) → hinted zone, or None when hints must be removed.
    ``fixed`` counts hints already held by unchanged slices per zone.
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


def _apply_hints(
    service: Service,
    nodes: Mapping[str, str | None],
    creates: list[_Draft],
    updates: list[_Draft],
    unchanged: list[EndpointSlice],
    cache: _SliceMemory | None = None,
) -> list[EndpointSlice]:
    """§2.5 step 6. Sets hints on creates/updates; moves unchanged slices whose hints are
    wrong into ``updates`` (trafficDistribution path). Returns the still-unchanged slices.
    ``cache``: per-slice verdicts of unchanged slices (HOT PATH), None to recompute."""
    drafts = creates + updates
    if hints_enabled(service):
        fixed: dict[str, int] = {}
        for s in unchanged:
            if cache is None:
                counts = _zone_hint_counts(s)
            else:
                counts = cache.zone_counts.get(id(s))  # type: ignore[assignment]
                if counts is None:
                    counts = cache.zone_counts[id(s)] = _zone_hint_counts(s)
            for z, n in counts.items():
                fixed[z] = fixed.get(z, 0) + n
        ready = [ep for d in drafts for ep in d.endpoints if ep.ready]
        alloc = _auto_hints(ready, nodes, fixed)
        for d in drafts:
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
            keys = _keys_of(cache, s)
            d = _Draft(s.address_type, s.ports, list(s.endpoints), dict(s.labels), s, False, keys)
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
    return still


_zone_hints = operator.attrgetter("hints_for_zones")
_node_hints = operator.attrgetter("hints_for_nodes")


def _any_hints(endpoints: Sequence[Endpoint]) -> bool:
    return any(map(_zone_hints, endpoints)) or any(map(_node_hints, endpoints))


# ---------------------------------------------------------------------------------------
# Reconcile


def _materialize(
    d: _Draft,
    service: Service,
    trigger_time: float | None,
    name_for: Callable[[str], str] | None,
    memory: _SliceMemory | None = None,
) -> EndpointSlice:
    base = d.base
    annotations = {} if base is None or d.fresh else dict(base.annotations)
    if trigger_time is not None:  # addTriggerTimeAnnotation
        annotations[ANNOTATION_TRIGGER_TIME] = rfc3339nano(trigger_time)
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    if base is None:
        assert name_for is not None
        prefix = slice_name_prefix(service.name)
        name, uid, generation, gen_name = name_for(prefix), "", 1, prefix
    else:
        name, uid, generation = base.name, base.uid, base.generation + 1
        gen_name = base.generate_name if not d.fresh else slice_name_prefix(service.name)
    owner = (service.name, service.uid, "Service")
    if base is not None and not d.fresh:  # DeepCopy keeps the stored owner reference
        owner = (base.owner_name, base.owner_uid, base.owner_kind)
    obj = EndpointSlice(
        name=name,
        namespace=service.namespace,
        uid=uid,
        generate_name=gen_name,
        generation=generation,
        labels=tuple(sorted(d.labels.items())),
        annotations=tuple(sorted(annotations.items())),
        owner_name=owner[0],
        owner_uid=owner[1],
        owner_kind=owner[2],
        address_type=d.address_type,
        endpoints=tuple(d.endpoints),
        ports=d.ports,
    )
    if memory is not None and d.keys is not None:
        memory.born[id(obj)] = (obj, tuple(d.keys))
    return obj


def reconcile(
    service: Service | None,
    pods: Sequence[Pod],
    existing_slices: Sequence[EndpointSlice],
    *,
    max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    nodes: Mapping[str, str | None],
    trigger_time: float | None,
    name_for: Callable[[str], str],
) -> SlicePlan:
    """One EndpointSlice controller sync (§2.2–§2.7), as a pure function.

    Arguments:
        service: the Service from the informer; None if deleted (slices are removed by
            garbage collection through their ownerReference → empty plan).
        pods: pods matching the Service's selector in its namespace (not re-filtered).
        existing_slices: the Service's slices from the informer (label
            kubernetes.io/service-name=<svc> and managed-by this controller, not being
            deleted) — possibly including slices of a previous Service of the same name.
        max_endpoints_per_slice: --max-endpoints-per-slice (1..1000, default 100).
        nodes: node name → zone label (None/"" if unlabelled) for every existing node.
        trigger_time: from ``TriggerTimeTracker.compute`` (None → annotation removed).
        name_for: generateName: prefix → full name, called once per slice created.

    Returns a SlicePlan. Per address type (§2.5): step 1 in-place keep/update; step 2 fill
    updated slices fullest-first; step 3 new full slices, then the closest-to-full
    unchanged slice only if the remainder fits; step 4 stale port groups deleted; step 5
    placeholder; step 6 hints; step 7 deletes recycled into the last creates (taking the
    deleted slice's name). Updates bump ``generation``. Created slices get uid "" (the
    apiserver assigns one).

    Simplifications: with two address types, all creates of both come before all updates
    (upstream finalizes one address type after the other); endpoints are appended in pod
    order (Go: map order).
    """
    if service is None or service.type == "ExternalName" or service.selector is None:
        return SlicePlan()  # §2.2 steps 1–2
    if max_endpoints_per_slice < 1:
        raise ValueError("max_endpoints_per_slice must be >= 1")
    desired = desired_endpoints(service, pods, nodes)

    def step1(address_type: str, key: PortKey, slices: list[EndpointSlice]) -> _Step1:
        return _step1(service, slices, dict(desired.groups[address_type][key]))

    group_keys = list(desired.groups[next(iter(desired.groups))]) if desired.groups else []
    return _plan(
        service,
        list(desired.groups),
        group_keys,
        step1,
        existing_slices,
        max_endpoints_per_slice,
        nodes,
        trigger_time,
        name_for,
        desired.missing_node,
        None,
    )


Step1Fn = Callable[[str, PortKey, list[EndpointSlice]], _Step1]


def _plan(
    service: Service,
    types: list[str],
    group_keys: list[PortKey],
    step1: Step1Fn,
    existing_slices: Sequence[EndpointSlice],
    max_eps: int,
    nodes: Mapping[str, str | None],
    trigger_time: float | None,
    name_for: Callable[[str], str],
    missing_node: bool,
    memory: _SliceMemory | None,
) -> SlicePlan:
    """The sync once the desired endpoints are known: ``group_keys`` are the desired port
    groups in desired order (the same for every address type); ``step1`` runs step 1 of
    one group."""
    plan = SlicePlan(error=missing_node)
    stale_type = [s for s in existing_slices if s.address_type not in types]
    for t in types:
        existing_t = [s for s in existing_slices if s.address_type == t]
        creates, updates, deletes, unchanged = _reconcile_address_type(
            service, existing_t, group_keys, step1, t, max_eps, nodes, plan, memory
        )
        plan.creates.extend(
            _materialize(d, service, trigger_time, name_for, memory) for d in creates
        )
        plan.updates.extend(_materialize(d, service, trigger_time, None, memory) for d in updates)
        plan.deletes.extend(deletes)
        plan.unchanged.extend(unchanged)
    plan.deletes.extend(stale_type)  # address types the Service no longer has (§2.5)
    return plan


def _reconcile_address_type(
    service: Service,
    existing: list[EndpointSlice],
    group_keys: list[PortKey],
    step1: Step1Fn,
    address_type: str,
    max_eps: int,
    nodes: Mapping[str, str | None],
    plan: SlicePlan,
    memory: _SliceMemory | None,
) -> tuple[list[_Draft], list[_Draft], list[EndpointSlice], list[EndpointSlice]]:
    creates: list[_Draft] = []
    updates: list[_Draft] = []
    deletes: list[EndpointSlice] = []
    unchanged: list[EndpointSlice] = []
    by_key: dict[PortKey, list[EndpointSlice]] = {}
    for s in existing:
        if _owned_by(s, service):
            by_key.setdefault(port_map_key(s.ports), []).append(s)
        else:  # left over from an older Service of the same name
            deletes.append(s)
    for key in group_keys:  # §2.5 reconcileByPortMapping
        kept = step1(address_type, key, by_key.get(key, []))
        plan.endpoints_added += len(kept.remaining)
        plan.endpoints_removed += kept.removed
        c, un = _fill(service, kept, key, address_type, max_eps, memory)
        creates += c
        updates += kept.updates
        deletes += kept.deletes
        unchanged += un
    desired_keys = set(group_keys)
    for key, slices in by_key.items():  # step 4: port groups no longer desired
        if key not in desired_keys:
            deletes += slices
    if len(existing) == len(deletes) and not creates:  # step 5: placeholder
        placeholder = _Draft(address_type, (), [], _slice_labels((), service)[0])
        if memory is not None:
            placeholder.keys = []
        if len(deletes) == 1 and _placeholder_equal(deletes[0], placeholder, service.namespace):
            unchanged.append(deletes[0])
            deletes = []
        else:
            creates.append(placeholder)
    unchanged = _apply_hints(service, nodes, creates, updates, unchanged, memory)  # step 6
    i = 0  # step 7: recycle deletes into the last pending creates
    while i < len(deletes) and creates:
        gone = deletes[i]
        if gone.address_type == creates[-1].address_type and _owned_by(gone, service):
            draft = creates.pop()
            draft.base = gone  # takes over the name; content stays the new slice's
            updates.append(draft)
            del deletes[i]
        else:
            i += 1
    return creates, updates, deletes, unchanged


# ---------------------------------------------------------------------------------------
# Incremental state (HOT PATH)


@dataclass(slots=True)
class _PodEntry:
    """What ``desired_endpoints`` takes from one pod."""

    pod: Pod
    ports: PortKey | None  # its port group; None: not included (§2.3)
    missing_node: bool = False  # skipped for an unknown node (§2.3)
    endpoints: tuple[tuple[Endpoint | None, EndpointKey | None], ...] = ()  # per address type


class _Group:
    """One (address type, port group): its desired endpoints, and how many times the
    existing slices of the group hold each endpoint identity."""

    __slots__ = ("held", "members", "total", "unplaced", "want")

    def __init__(self) -> None:
        self.want: dict[EndpointKey, Endpoint] = {}  # identity → desired (last pod's) Endpoint
        self.members: dict[EndpointKey, list[int]] = {}  # identity → pod orders, sorted
        self.unplaced: set[EndpointKey] = set()  # wanted but in no existing slice
        self.held: dict[EndpointKey, int] = {}  # identity → copies in existing slices
        self.total = 0  # endpoints in existing slices (> len(held): some identity twice)

    def hold(self, keys: Iterable[EndpointKey]) -> None:
        held = self.held
        for key in keys:
            n = held.get(key)
            if n is None:
                held[key] = 1
                self.unplaced.discard(key)
            else:
                held[key] = n + 1
            self.total += 1

    def release(self, keys: Iterable[EndpointKey]) -> None:
        held = self.held
        for key in keys:
            n = held[key]
            if n == 1:
                del held[key]
                if key in self.want:
                    self.unplaced.add(key)
            else:
                held[key] = n - 1
            self.total -= 1


@dataclass(slots=True)
class _Tracked:
    slice: EndpointSlice
    group: _Group | None  # None: not owned, or an address type the Service lacks
    keys: tuple[EndpointKey, ...]  # identity of each endpoint, in slice order
    key_set: frozenset[EndpointKey]


class EndpointSliceState:
    """One Service's desired endpoints (§2.3), maintained from pod changes, plus what step 1
    of §2.5 learnt about the existing slices.

    ``apply(changes)`` costs O(changed pods). ``reconcile(existing)`` gives the same plan as
    ``reconcile(service, pods, existing, nodes=nodes, ...)`` for the pods fed so far (in
    order-key order), while its Python work is per changed pod, per slice and per
    endpoint written, not per pod:

    * existing slices are followed by object identity; a slice replacing one of the same
      name (an update) is diffed against it with set operations;
    * step 1 skips slices known to be *clean* (every endpoint still desired as it is):
      slices this state wrote, and slices it walked and found so; a clean slice stops
      being clean when the desired version of one of its identities changes;
    * the desired endpoints that no slice holds are kept as a set.

    ``nodes`` must not change while the state is used.
    """

    def __init__(self, service: Service, nodes: Mapping[str, str | None]) -> None:
        self.service = service
        self.nodes = nodes
        self.types = slice_address_types(service)
        self._pods: dict[int, _PodEntry] = {}
        self._group_pods: dict[PortKey, set[int]] = {}  # port group → its included pods
        self._missing = 0  # pods skipped for an unknown node
        self._groups: dict[tuple[str, PortKey], _Group] = {}
        self._tracked: dict[int, _Tracked] = {}  # id(slice) → what is known of it
        self._clean: set[int] = set()
        self._suspect: dict[int, set[EndpointKey]] = {}  # id(slice) → identities to look at
        self._recent: set[EndpointKey] = set()  # identities whose desired version changed
        self._memory = _SliceMemory()

    # -- pods ------------------------------------------------------------------------
    def apply(self, changes: Iterable[PodChange]) -> None:
        """Take in the current record (or absence) of each pod that changed."""
        for order, pod in changes:
            old = self._pods.get(order)
            if pod is None:
                if old is not None:
                    del self._pods[order]
                    self._remove(order, old)
                continue
            if old is not None and old.pod is pod:
                continue
            new = self._entry(pod)
            self._pods[order] = new
            if old is not None:
                self._remove(order, old)
            self._add(order, new)

    def pods(self) -> list[Pod]:
        """The pods fed so far, in order."""
        return [self._pods[o].pod for o in sorted(self._pods)]

    def _entry(self, pod: Pod) -> _PodEntry:
        service = self.service
        if not should_pod_be_in_endpoints(pod, include_terminating=True):
            return _PodEntry(pod, None)
        ports = _pod_ports(pod, service)
        if pod.node_name not in self.nodes and not service.publish_not_ready_addresses:
            return _PodEntry(pod, ports, True)  # §2.3 missing node: skip + error
        zone = self.nodes.get(pod.node_name) or None
        eps = tuple(_pod_endpoint(pod, service, t, zone) for t in self.types)
        return _PodEntry(pod, ports, False, eps)

    def _group(self, address_type: str, ports: PortKey) -> _Group:
        g = self._groups.get((address_type, ports))
        if g is None:
            g = self._groups[(address_type, ports)] = _Group()
        return g

    def _add(self, order: int, e: _PodEntry) -> None:
        if e.ports is None:
            return
        members = self._group_pods.get(e.ports)
        if members is None:
            members = self._group_pods[e.ports] = set()
        members.add(order)
        if e.missing_node:
            self._missing += 1
            return
        for t, (ep, key) in zip(self.types, e.endpoints, strict=True):
            if ep is None or key is None:
                continue
            g = self._group(t, e.ports)
            orders = g.members.get(key)
            if orders is None:
                g.members[key] = [order]
            else:
                insort(orders, order)
                if orders[-1] != order:
                    continue  # a later pod with the same identity supplies the endpoint
            g.want[key] = ep
            self._recent.add(key)
            if key not in g.held:
                g.unplaced.add(key)

    def _remove(self, order: int, e: _PodEntry) -> None:
        if e.ports is None:
            return
        members = self._group_pods[e.ports]
        members.discard(order)
        if not members:
            del self._group_pods[e.ports]
        if e.missing_node:
            self._missing -= 1
            return
        for i, (t, (ep, key)) in enumerate(zip(self.types, e.endpoints, strict=True)):
            if ep is None or key is None:
                continue
            g = self._groups[(t, e.ports)]
            orders = g.members[key]
            was_last = orders[-1] == order
            del orders[bisect_left(orders, order)]
            if not orders:
                del g.members[key]
                del g.want[key]
                g.unplaced.discard(key)
            elif was_last:
                g.want[key] = self._pods[orders[-1]].endpoints[i][0]  # type: ignore[assignment]
            else:
                continue
            self._recent.add(key)

    def _group_keys(self) -> list[PortKey]:
        """Desired port groups in desired order: by their first pod."""
        keys = list(self._group_pods)
        if len(keys) > 1:
            keys.sort(key=lambda k: min(self._group_pods[k]))
        return keys

    def _ordered(self, g: _Group, keys: Iterable[EndpointKey]) -> dict[EndpointKey, Endpoint]:
        """Desired endpoints of ``keys`` in desired order (by their first pod)."""
        first = g.members
        return {k: g.want[k] for k in sorted(keys, key=lambda k: first[k][0])}

    def desired(self) -> DesiredEndpoints:
        """What ``desired_endpoints(service, self.pods(), nodes)`` returns (O(P); tests)."""
        groups: dict[str, dict[PortKey, dict[EndpointKey, Endpoint]]] = {t: {} for t in self.types}
        for key in self._group_keys():
            for t in self.types:
                g = self._groups.get((t, key))
                groups[t][key] = self._ordered(g, g.want) if g is not None else {}
        return DesiredEndpoints(groups, self._missing > 0)

    # -- existing slices ---------------------------------------------------------------
    def _track(self, existing: Sequence[EndpointSlice]) -> bool:
        """Follow the informer's slices (by object identity). False if a slice object is
        listed twice (then the reference path is used)."""
        current = {id(s): s for s in existing}
        memory = self._memory
        born, memory.born = memory.born, {}
        if len(current) != len(existing):
            return False
        tracked = self._tracked
        if current.keys() == tracked.keys():
            return True  # nothing written since the last sync
        gone: dict[str, list[_Tracked]] = {}
        for sid in tracked.keys() - current.keys():
            t = tracked.pop(sid)
            self._clean.discard(sid)
            self._suspect.pop(sid, None)
            memory.forget(sid)
            gone.setdefault(t.slice.name, []).append(t)
        for sid in current.keys() - tracked.keys():
            s = current[sid]
            g = None
            if _owned_by(s, self.service) and s.address_type in self.types:
                g = self._group(s.address_type, port_map_key(s.ports))
            was = born.get(sid)
            is_born = was is not None and was[0] is s
            if is_born:
                keys = was[1]  # type: ignore[index]
                if g is not None:
                    self._clean.add(sid)  # written from the desired endpoints just now
                memory.ok.add(sid)
            else:
                keys = tuple(map(_cached_key, s.endpoints)) if g is not None else ()
            key_set = frozenset(keys)
            olds = gone.get(s.name)
            old = olds.pop() if olds else None
            if old is not None and old.group is g and g is not None:
                if len(old.key_set) == len(old.keys) and len(key_set) == len(keys):
                    # An update of the same slice: only the difference moves.
                    g.release(old.key_set - key_set)
                    g.hold(key_set - old.key_set)
                else:
                    g.release(old.keys)
                    g.hold(keys)
            else:
                if old is not None and old.group is not None:
                    old.group.release(old.keys)
                if g is not None:
                    g.hold(keys)
            tracked[sid] = _Tracked(s, g, keys, key_set)
            if g is not None or is_born:  # (others' keys are never needed)
                memory.keys[sid] = keys
        for olds in gone.values():
            for old in olds:
                if old.group is not None:
                    old.group.release(old.keys)
        return True

    def _settle(self) -> None:
        """Slices holding an identity whose desired version changed since they were found
        clean become *suspect*: only those identities need a look."""
        recent = self._recent
        if not recent:
            return
        tracked = self._tracked
        suspect = self._suspect
        for sid, keys in suspect.items():
            keys |= tracked[sid].key_set.intersection(recent)
        for sid in [sid for sid in self._clean if not recent.isdisjoint(tracked[sid].key_set)]:
            self._clean.discard(sid)
            suspect[sid] = set(tracked[sid].key_set.intersection(recent))
        recent.clear()

    def _walk(
        self, s: EndpointSlice, want: dict[EndpointKey, Endpoint]
    ) -> tuple[list[Endpoint], list[EndpointKey] | None, bool]:
        """Step 1's look at one slice that is not clean: (kept endpoints in the desired
        version, their identities or None if all were kept, changed)."""
        tracked = self._tracked[id(s)]
        keys = tracked.keys
        endpoints = s.endpoints
        kept: list[Endpoint | None] = list(map(want.get, keys))  # type: ignore[arg-type]
        suspects = self._suspect.get(id(s))
        # Identities outside the suspects are still desired exactly as found clean, so
        # only suspects can be gone or changed; a slice never found clean is all suspect.
        look = range(len(keys)) if suspects is None else map(keys.index, suspects)
        changed = dropped = False
        for i in look:
            got = kept[i]
            if got is None:
                dropped = True
            elif got is not endpoints[i] and not endpoints_equal_beyond_hash(got, endpoints[i]):
                changed = True
        if not dropped:
            return kept, None, changed  # type: ignore[return-value]
        kept_keys = [k for k, got in zip(keys, kept, strict=True) if got is not None]
        return [got for got in kept if got is not None], kept_keys, changed

    def _step1(self, address_type: str, key: PortKey, slices: list[EndpointSlice]) -> _Step1:
        """§2.5 step 1 for one port group, walking only slices not known to be clean."""
        service = self.service
        g = self._groups.get((address_type, key))
        if g is None:  # no desired endpoint and no slice for this type
            return _step1(service, slices, {})
        if g.total != len(g.held):  # an identity held twice: the reference walk decides
            return _step1(service, slices, self._ordered(g, g.want))
        out = _Step1([], [], [], 0, {})
        want = g.want
        clean = self._clean
        memory = self._memory
        for s in slices:
            sid = id(s)
            if sid in clean:
                _classify(service, s, None, False, out, None, memory)
                continue
            kept, kept_keys, changed = self._walk(s, want)
            if changed or kept_keys is not None:
                if kept_keys is None:
                    kept_keys = list(self._tracked[sid].keys)
                _classify(service, s, kept, changed, out, kept_keys, memory)
            else:
                clean.add(sid)
                self._suspect.pop(sid, None)
                _classify(service, s, None, False, out, None, memory)
        out.remaining = self._ordered(g, g.unplaced)
        return out

    # -- the sync ------------------------------------------------------------------------
    def reconcile(
        self,
        existing_slices: Sequence[EndpointSlice],
        *,
        max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
        trigger_time: float | None,
        name_for: Callable[[str], str],
    ) -> SlicePlan:
        """``reconcile(self.service, self.pods(), existing_slices, nodes=self.nodes, ...)``."""
        service = self.service
        if service.type == "ExternalName" or service.selector is None:
            return SlicePlan()  # §2.2 steps 1–2
        if max_endpoints_per_slice < 1:
            raise ValueError("max_endpoints_per_slice must be >= 1")
        if not self._track(existing_slices):
            return reconcile(
                service,
                self.pods(),
                existing_slices,
                max_endpoints_per_slice=max_endpoints_per_slice,
                nodes=self.nodes,
                trigger_time=trigger_time,
                name_for=name_for,
            )
        self._settle()
        return _plan(
            service,
            list(self.types),
            self._group_keys(),
            self._step1,
            existing_slices,
            max_endpoints_per_slice,
            self.nodes,
            trigger_time,
            name_for,
            self._missing > 0,
            self._memory,
        )
