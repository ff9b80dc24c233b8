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
"""

from __future__ import annotations

import dataclasses
import itertools
import math
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


def _take(desired: dict[EndpointKey, Endpoint], n: int) -> list[Endpoint]:
    """PopAny n times. Simplification: Go pops in map order; we pop in pod order."""
    if n <= 0 or not desired:
        return []
    items = list(itertools.islice(desired.items(), n))
    for k, _ in items:
        del desired[k]
    return [ep for _, ep in items]


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


def _reconcile_port_group(
    service: Service,
    existing: list[EndpointSlice],
    desired: dict[EndpointKey, Endpoint],
    ports: PortKey,
    address_type: str,
    max_eps: int,
) -> tuple[list[_Draft], list[_Draft], list[EndpointSlice], list[EndpointSlice], int, int]:
    """§2.5 steps 1–3 for one port group (reconcileByPortMapping). Consumes ``desired``."""
    updates: list[_Draft] = []
    unchanged: list[EndpointSlice] = []
    deletes: list[EndpointSlice] = []
    removed = 0
    # Step 1: keep still-desired endpoints in place (desired version), drop the others.
    for s in existing:
        kept: list[Endpoint] = []
        changed = False
        for ep in s.endpoints:
            got = desired.pop(_cached_key(ep), None)
            if got is not None:
                kept.append(got)
                if got is not ep and not endpoints_equal_beyond_hash(got, ep):
                    changed = True
        labels, labels_changed = _slice_labels(s.labels, service)
        if changed or len(kept) != len(s.endpoints):
            removed += max(len(s.endpoints) - len(kept), 0)
            if not kept:
                deletes.append(s)
            else:
                updates.append(_Draft(s.address_type, s.ports, kept, labels, s, fresh=False))
        elif labels_changed:
            updates.append(
                _Draft(s.address_type, s.ports, list(s.endpoints), labels, s, fresh=False)
            )
        else:
            unchanged.append(s)
    added = len(desired)
    # Step 2: fill slices already being updated, fullest first.
    if desired and updates:
        for d in sorted(updates, key=lambda d: -len(d.endpoints)):
            d.endpoints.extend(_take(desired, max_eps - len(d.endpoints)))
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
            d = _Draft(address_type, ports, [], _slice_labels((), service)[0])
        else:
            unchanged = [s for s in unchanged if s is not fill]
            d = _Draft(
                fill.address_type,
                fill.ports,
                list(fill.endpoints),
                dict(fill.labels),
                fill,
                fresh=False,
            )
        d.endpoints.extend(_take(desired, max_eps - len(d.endpoints)))
        (creates if d.base is None else updates).append(d)
    return creates, updates, deletes, unchanged, added, removed


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


def _apply_hints(
    service: Service,
    nodes: Mapping[str, str | None],
    creates: list[_Draft],
    updates: list[_Draft],
    unchanged: list[EndpointSlice],
) -> list[EndpointSlice]:
    """§2.5 step 6. Sets hints on creates/updates; moves unchanged slices whose hints are
    wrong into ``updates`` (trafficDistribution path). Returns the still-unchanged slices."""
    drafts = creates + updates
    if hints_enabled(service):
        fixed: dict[str, int] = {}
        for s in unchanged:
            for ep in s.endpoints:
                for z in ep.hints_for_zones:
                    fixed[z] = fixed.get(z, 0) + 1
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

    def needs_update(s: EndpointSlice) -> bool:
        for ep in s.endpoints:
            want = fn(ep)
            if want is not None and want != (ep.hints_for_zones, ep.hints_for_nodes):
                return True
        return False

    still = []
    for s in unchanged:
        if needs_update(s):
            d = _Draft(s.address_type, s.ports, list(s.endpoints), dict(s.labels), s, fresh=False)
            updates.append(d)
            drafts.append(d)
        else:
            still.append(s)
    for d in drafts:
        new = []
        for ep in d.endpoints:
            want = fn(ep)
            new.append(ep if want is None else _with_hints(ep, *want))
        d.endpoints = new
    return still


# ---------------------------------------------------------------------------------------
# Reconcile


def _materialize(
    d: _Draft, service: Service, trigger_time: float | None, name_for: Callable[[str], str] | None
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
    return EndpointSlice(
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
    types = list(desired.groups)
    plan = SlicePlan(error=desired.missing_node)
    stale_type = [s for s in existing_slices if s.address_type not in desired.groups]
    for t in types:
        existing_t = [s for s in existing_slices if s.address_type == t]
        creates, updates, deletes, unchanged = _reconcile_address_type(
            service, existing_t, desired.groups[t], t, max_endpoints_per_slice, nodes, plan
        )
        plan.creates.extend(_materialize(d, service, trigger_time, name_for) for d in creates)
        plan.updates.extend(_materialize(d, service, trigger_time, None) for d in updates)
        plan.deletes.extend(deletes)
        plan.unchanged.extend(unchanged)
    plan.deletes.extend(stale_type)  # address types the Service no longer has (§2.5)
    return plan


def _reconcile_address_type(
    service: Service,
    existing: list[EndpointSlice],
    groups: dict[PortKey, dict[EndpointKey, Endpoint]],
    address_type: str,
    max_eps: int,
    nodes: Mapping[str, str | None],
    plan: SlicePlan,
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
    for key, want in groups.items():
        c, u, d, un, added, removed = _reconcile_port_group(
            service, by_key.get(key, []), dict(want), key, address_type, max_eps
        )
        creates += c
        updates += u
        deletes += d
        unchanged += un
        plan.endpoints_added += added
        plan.endpoints_removed += removed
    for key, slices in by_key.items():  # step 4: port groups no longer desired
        if key not in groups:
            deletes += slices
    if len(existing) == len(deletes) and not creates:  # step 5: placeholder
        placeholder = _Draft(address_type, (), [], _slice_labels((), service)[0])
        if len(deletes) == 1 and _placeholder_equal(deletes[0], placeholder, service.namespace):
            unchanged.append(deletes[0])
            deletes = []
        else:
            creates.append(placeholder)
    unchanged = _apply_hints(service, nodes, creates, updates, unchanged)  # step 6
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
