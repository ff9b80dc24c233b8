"""The EndpointSlice controller's reconciler, as pure functions.

Upstream: ``staging/src/k8s.io/endpointslice/reconciler.go`` (formerly
``pkg/controller/endpointslice/reconciler.go``): ``Reconcile``,
``reconcileByAddressType``, ``reconcileByPortMapping``, ``finalize``; the sync that calls
it is ``syncService`` in ``pkg/controller/endpointslice/endpointslice_controller.go``.

Use without SimPy::

    from simk8s.api.naming import SequentialNames
    plan = reconcile(service, pods, existing_slices, nodes={"node-1": "zone-a"},
                     trigger_time=12.5, name_for=SequentialNames())
    slices = apply_plan(existing_slices, plan)   # what the informer will hold afterwards

``plan.creates``, ``plan.updates`` and ``plan.deletes`` are the API calls in write order
(create → update → delete); ``plan.error`` says the sync would return an error (a pod's
node is missing) and be retried, although the writes still happen.

``reconcile`` is the reference; ``EndpointSliceState`` (``incremental``) gives the same
plans from per-pod changes, and shares ``plan_sync`` and the step-1 verdicts with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from simk8s.api.objects import Endpoint, EndpointSlice, Pod, Service
from simk8s.controller.endpointslice.desired import (
    EndpointKey,
    PortKey,
    cached_key,
    desired_endpoints,
    endpoints_equal_beyond_hash,
)
from simk8s.controller.endpointslice.gates import ALL_ON, SliceGates
from simk8s.controller.endpointslice.hints import apply_hints
from simk8s.controller.endpointslice.slices import (
    Draft,
    SliceMemory,
    SlicePlan,
    keys_of,
    known_size,
    materialize,
    owned_by,
    placeholder_equal,
    slice_labels,
    slice_to_fill,
    take,
)
from simk8s.controller.podutil import port_map_key

DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100  # --max-endpoints-per-slice (1..1000)


@dataclass(slots=True)
class Step1:
    """Outcome of step 1 of ``reconcileByPortMapping`` for one port group; ``remaining``:
    desired endpoints found in no existing slice of the group, in desired (pod) order."""

    updates: list[Draft]
    unchanged: list[EndpointSlice]
    deletes: list[EndpointSlice]
    removed: int
    remaining: dict[EndpointKey, Endpoint]


def classify(
    service: Service,
    s: EndpointSlice,
    kept: list[Endpoint] | None,
    changed: bool,
    out: Step1,
    kept_keys: list[EndpointKey] | None = None,
    memory: SliceMemory | None = None,
    kept_size: int | None = None,
) -> None:
    """Step 1's verdict on one existing slice; ``kept`` None: every endpoint was kept
    unchanged (the slice's own endpoints stand)."""
    if kept is None and memory is not None and id(s) in memory.labels_ok:
        out.unchanged.append(s)
        return
    labels, labels_changed = slice_labels(s.labels, service)
    if kept is not None and (changed or len(kept) != len(s.endpoints)):
        out.removed += max(len(s.endpoints) - len(kept), 0)
        if not kept:
            out.deletes.append(s)
        else:
            out.updates.append(
                Draft(s.address_type, s.ports, kept, labels, s, fresh=False, keys=kept_keys, size=kept_size)
            )
    elif labels_changed:
        keys = keys_of(memory, s)
        out.updates.append(
            Draft(s.address_type, s.ports, list(s.endpoints), labels, s, fresh=False, keys=keys,
                  size=known_size(s.endpoints))
        )
    else:
        if memory is not None:
            memory.labels_ok.add(id(s))
        out.unchanged.append(s)


def reference_step1(
    service: Service, existing: list[EndpointSlice], desired: dict[EndpointKey, Endpoint]
) -> Step1:
    """Step 1 of ``reconcileByPortMapping`` for one port group (reference form): keep or
    update endpoints in place, drop the undesired ones. Consumes ``desired``."""
    out = Step1([], [], [], 0, desired)
    # Keep still-desired endpoints in place (desired version), drop the others.
    for s in existing:
        kept: list[Endpoint] = []
        changed = False
        for ep in s.endpoints:
            got = desired.pop(cached_key(ep), None)
            if got is not None:
                kept.append(got)
                if got is not ep and not endpoints_equal_beyond_hash(got, ep):
                    changed = True
        classify(service, s, kept, changed, out)
    return out


def _fill(
    service: Service,
    step1: Step1,
    ports: PortKey,
    address_type: str,
    max_eps: int,
    memory: SliceMemory | None,
) -> tuple[list[Draft], list[EndpointSlice]]:
    """Steps 2–3 of ``reconcileByPortMapping`` for one port group. Consumes
    ``step1.remaining``, extends ``step1.updates``; returns (creates, still-unchanged
    slices)."""
    desired = step1.remaining
    updates = step1.updates
    unchanged = step1.unchanged
    # Step 2: fill slices already being updated, fullest first.
    if desired and updates:
        for d in sorted(updates, key=lambda d: -len(d.endpoints)):
            take(desired, max_eps - len(d.endpoints), d)
            if not desired:
                break
    # Step 3: new full slices; a final partial batch goes into the unchanged slice that
    # ends closest to full, only if it fits entirely.
    creates: list[Draft] = []
    while desired:
        fill = None
        if len(desired) < max_eps and unchanged:
            fill = slice_to_fill(unchanged, len(desired), max_eps)
        if fill is None:
            keys: list[EndpointKey] | None = None if memory is None else []
            d = Draft(address_type, ports, [], slice_labels((), service)[0], keys=keys, size=0)
        else:
            unchanged = [s for s in unchanged if s is not fill]
            d = Draft(
                fill.address_type,
                fill.ports,
                list(fill.endpoints),
                dict(fill.labels),
                fill,
                fresh=False,
                keys=keys_of(memory, fill),
                size=known_size(fill.endpoints),
            )
        take(desired, max_eps - len(d.endpoints), d)
        (creates if d.base is None else updates).append(d)
    return creates, unchanged


def reconcile(
    service: Service | None,
    pods: Sequence[Pod],
    existing_slices: Sequence[EndpointSlice],
    *,
    max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    nodes: Mapping[str, str | None],
    trigger_time: float | None,
    name_for: Callable[[str], str],
    gates: SliceGates = ALL_ON,
) -> SlicePlan:
    """One EndpointSlice controller sync (``syncService`` then ``Reconcile``), as a pure
    function.

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
        gates: the controller's feature gates (``SliceGates``).

    Returns a SlicePlan. Per address type (``reconcileByAddressType``), per port group
    (``reconcileByPortMapping``): step 1 in-place keep/update; step 2 fill updated slices
    fullest-first; step 3 new full slices, then the closest-to-full unchanged slice only
    if the remainder fits. Then, per address type: step 4 stale port groups deleted;
    step 5 placeholder; step 6 hints; step 7 (``finalize``) deletes recycled into the last
    creates (taking the deleted slice's name). Updates bump ``generation``. Created slices
    get uid "" (the apiserver assigns one).

    Simplifications: with two address types, all creates of both come before all updates
    (upstream finalizes one address type after the other); endpoints are appended in pod
    order (Go: map order).
    """
    if service is None or service.type == "ExternalName" or service.selector is None:
        return SlicePlan()  # syncService: Service gone (GC deletes), ExternalName, no selector
    if max_endpoints_per_slice < 1:
        raise ValueError("max_endpoints_per_slice must be >= 1")
    desired = desired_endpoints(service, pods, nodes, gates)

    def step1(address_type: str, key: PortKey, slices: list[EndpointSlice]) -> Step1:
        return reference_step1(service, slices, dict(desired.groups[address_type][key]))

    group_keys = list(desired.groups[next(iter(desired.groups))]) if desired.groups else []
    return plan_sync(
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
        gates,
    )


Step1Fn = Callable[[str, PortKey, list[EndpointSlice]], Step1]


def plan_sync(
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
    memory: SliceMemory | None,
    gates: SliceGates = ALL_ON,
) -> SlicePlan:
    """The sync once the desired endpoints are known: ``group_keys`` are the desired port
    groups in desired order (the same for every address type); ``step1`` runs step 1 of
    one group."""
    plan = SlicePlan(error=missing_node)
    stale_type = [s for s in existing_slices if s.address_type not in types]
    for t in types:
        existing_t = [s for s in existing_slices if s.address_type == t]
        creates, updates, deletes, unchanged = _reconcile_address_type(
            service, existing_t, group_keys, step1, t, max_eps, nodes, plan, memory, gates
        )
        plan.creates.extend(
            materialize(d, service, trigger_time, name_for, memory) for d in creates
        )
        plan.updates.extend(materialize(d, service, trigger_time, None, memory) for d in updates)
        plan.deletes.extend(deletes)
        plan.unchanged.extend(unchanged)
    plan.deletes.extend(stale_type)  # address types the Service no longer has (Reconcile)
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
    memory: SliceMemory | None,
    gates: SliceGates,
) -> tuple[list[Draft], list[Draft], list[EndpointSlice], list[EndpointSlice]]:
    creates: list[Draft] = []
    updates: list[Draft] = []
    deletes: list[EndpointSlice] = []
    unchanged: list[EndpointSlice] = []
    by_key: dict[PortKey, list[EndpointSlice]] = {}
    # Slices share their port tuple objects: one port key (and its hashing) per such object.
    by_ports: dict[int, list[EndpointSlice]] = {}
    for s in existing:
        if owned_by(s, service):
            group = by_ports.get(id(s.ports))  # (every s.ports is alive through the loop)
            if group is None:
                group = by_ports[id(s.ports)] = by_key.setdefault(port_map_key(s.ports), [])
            group.append(s)
        else:  # left over from an older Service of the same name
            deletes.append(s)
    for key in group_keys:  # reconcileByPortMapping
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
        placeholder = Draft(address_type, (), [], slice_labels((), service)[0], size=0)
        if memory is not None:
            placeholder.keys = []
        if len(deletes) == 1 and placeholder_equal(deletes[0], placeholder, service.namespace):
            unchanged.append(deletes[0])
            deletes = []
        else:
            creates.append(placeholder)
    unchanged = apply_hints(  # step 6
        service, nodes, creates, updates, unchanged, memory, gates.topology_aware_hints
    )
    i = 0  # step 7: recycle deletes into the last pending creates
    while i < len(deletes) and creates:
        gone = deletes[i]
        if gone.address_type == creates[-1].address_type and owned_by(gone, service):
            draft = creates.pop()
            draft.base = gone  # takes over the name; content stays the new slice's
            updates.append(draft)
            del deletes[i]
        else:
            i += 1
    return creates, updates, deletes, unchanged

