"""EndpointSliceMirroring controller: user-managed Endpoints → EndpointSlices.

Upstream: ``pkg/controller/endpointslicemirroring/`` (``reconciler.go``, ``utils.go``,
``endpointslicemirroring_controller.go``); KEP-752 "EndpointSliceMirroring Controller".

Pure function ``mirror``; the SimPy worker around it lives elsewhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from simk8s.api.naming import slice_name_prefix
from simk8s.api.objects import (
    ANNOTATION_TRIGGER_TIME,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_MIRRORING_CONTROLLER,
    Endpoint,
    EndpointAddress,
    Endpoints,
    EndpointSlice,
    Service,
)
from simk8s.controller.endpoints import repack_subsets
from simk8s.controller.endpointslice.desired import (
    EndpointKey,
    PortKey,
    endpoint_key,
    endpoints_equal_beyond_hash,
)
from simk8s.controller.endpointslice.slices import SlicePlan
from simk8s.controller.podutil import IPV4, IPV6, canonical_ip, ip_family, port_map_key

DEFAULT_MAX_ENDPOINTS_PER_SUBSET = 1000  # --mirroring-max-endpoints-per-subset (1..1000)
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
ANNOTATION_LEADER = "control-plane.alpha.kubernetes.io/leader"
ANNOTATION_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_NOT_COPIED_ANNOTATIONS = (ANNOTATION_TRIGGER_TIME, ANNOTATION_LAST_APPLIED)
_RESERVED = (LABEL_MANAGED_BY, LABEL_SERVICE_NAME)


def should_mirror(endpoints: Endpoints, service: Service | None) -> bool:
    """``skipMirror``, ``hasLeaderElection`` (``utils.go``) and the Service check of the
    controller's ``syncEndpoints``: a Service of that name exists with a nil selector."""
    if dict(endpoints.labels).get(LABEL_SKIP_MIRROR) == "true":
        return False
    if any(k == ANNOTATION_LEADER for k, _ in endpoints.annotations):
        return False
    return service is not None and service.selector is None


def address_to_endpoint(address: EndpointAddress, ready: bool, ip: str) -> Endpoint:
    """``addressToEndpoint``: ready from the list it came from; serving/terminating left
    unset (not-ready addresses mirrored as not ready since kubernetes/kubernetes#102683)."""
    return Endpoint(
        addresses=(ip,),
        ready=ready,
        serving=None,
        terminating=None,
        hostname=address.hostname,
        target_ref=address.target_ref,
        node_name=address.node_name,
    )


def _owned_by(s: EndpointSlice, endpoints: Endpoints) -> bool:
    return s.owner_kind == "Endpoints" and s.owner_uid == endpoints.uid


def mirror(
    endpoints: Endpoints | None,
    service: Service | None,
    existing_slices: Sequence[EndpointSlice],
    *,
    max_per_subset: int = DEFAULT_MAX_ENDPOINTS_PER_SUBSET,
    name_for: Callable[[str], str],
) -> SlicePlan:
    """One mirroring sync. ``existing_slices``: slices labelled managed-by the mirroring
    controller with service-name = the Endpoints name. ``endpoints`` None (deleted) or not
    to be mirrored → delete them all. Returns a SlicePlan in write order;
    ``addresses_skipped`` counts addresses over the per-subset cap or with invalid IPs.

    Per repacked subset: ready addresses first, then not-ready, up to ``max_per_subset``;
    one slice per (port set, address type); the first existing slice of a group is
    rewritten only if it differs, extra ones are deleted; deletes are recycled into creates.
    No placeholder slices. An Endpoints with a deletionTimestamp gets no creates
    (``reconciler.go`` ``finalize``), only the updates and deletes.
    """
    if endpoints is None or not should_mirror(endpoints, service):
        return SlicePlan(deletes=list(existing_slices))
    desired: dict[tuple[str, PortKey], dict[EndpointKey, Endpoint]] = {}
    skipped = 0
    for subset in repack_subsets(endpoints.subsets):
        ports = port_map_key(subset.ports)
        for t in (IPV4, IPV6):  # initPorts: both families get a (maybe empty) group
            desired.setdefault((t, ports), {})
        added = 0
        total = len(subset.addresses) + len(subset.not_ready_addresses)
        for ready, addrs in ((True, subset.addresses), (False, subset.not_ready_addresses)):
            for a in addrs:
                if added >= max_per_subset:
                    break
                ip = canonical_ip(a.ip)
                if ip is None:  # InvalidIPAddress event
                    continue
                ep = address_to_endpoint(a, ready, ip)
                desired[(ip_family(ip), ports)][endpoint_key(ep)] = ep
                added += 1
        skipped += total - added  # TooManyAddressesToMirror when over the cap

    existing_by_key: dict[tuple[str, PortKey], list[EndpointSlice]] = {}
    for s in existing_slices:
        existing_by_key.setdefault((s.address_type, port_map_key(s.ports)), []).append(s)

    labels = dict(endpoints.labels)
    labels[LABEL_SERVICE_NAME] = endpoints.name
    labels[LABEL_MANAGED_BY] = MANAGED_BY_MIRRORING_CONTROLLER
    annotations = {k: v for k, v in endpoints.annotations if k not in _NOT_COPIED_ANNOTATIONS}
    ep_labels = dict(endpoints.labels)

    plan = SlicePlan(addresses_skipped=skipped)
    to_create: list[EndpointSlice] = []
    to_update: list[EndpointSlice] = []
    to_delete: list[EndpointSlice] = []
    for (addr_type, ports), want in desired.items():
        existing = existing_by_key.get((addr_type, ports), [])
        if not want:
            to_delete += existing
            plan.endpoints_removed += sum(len(s.endpoints) for s in existing)
            continue
        base = existing[0] if existing else None
        to_delete += existing[1:]
        if base is None:
            plan.endpoints_added += len(want)
        else:
            added_n, updated_n, removed_n = _total_changes(base, want)
            plan.endpoints_added += added_n
            plan.endpoints_removed += removed_n
            same_labels = {k: v for k, v in base.labels if k not in _RESERVED} == ep_labels
            if (
                not (added_n or updated_n or removed_n)
                and same_labels
                and dict(base.annotations) == annotations
            ):
                plan.unchanged.append(base)
                continue
        new = EndpointSlice(
            name=base.name if base is not None else "",
            namespace=endpoints.namespace,
            uid=base.uid if base is not None else "",
            generate_name=slice_name_prefix(endpoints.name),
            generation=base.generation + 1 if base is not None else 1,
            labels=tuple(sorted(labels.items())),
            annotations=tuple(sorted(annotations.items())),
            owner_name=endpoints.name,
            owner_uid=endpoints.uid,
            owner_kind="Endpoints",
            address_type=addr_type,
            endpoints=tuple(list(want.values())[:max_per_subset]),
            ports=ports,
        )
        (to_update if base is not None else to_create).append(new)
    for key, slices in existing_by_key.items():  # port sets no longer present
        if key not in desired:
            to_delete += slices
    # Recycle deletes into the last pending creates (same address type, owned).
    i = 0
    while i < len(to_delete) and to_create:
        gone = to_delete[i]
        if gone.address_type == to_create[-1].address_type and _owned_by(gone, endpoints):
            c = to_create.pop()
            to_update.append(_renamed(c, gone))
            del to_delete[i]
        else:
            i += 1
    # finalize: no new slices for an Endpoints being deleted; updates and deletes still go.
    if endpoints.deletion_timestamp is None:
        plan.creates = [_renamed_new(c, name_for) for c in to_create]
    plan.updates = to_update
    plan.deletes = to_delete
    return plan


def _renamed(new: EndpointSlice, gone: EndpointSlice) -> EndpointSlice:
    return dataclasses.replace(new, name=gone.name, uid=gone.uid, generation=gone.generation + 1)


def _renamed_new(new: EndpointSlice, name_for: Callable[[str], str]) -> EndpointSlice:
    return dataclasses.replace(new, name=name_for(new.generate_name))


def _total_changes(base: EndpointSlice, want: dict[EndpointKey, Endpoint]) -> tuple[int, int, int]:
    """totalChanges: (added, updated, removed) of ``want`` against the slice's endpoints."""
    matched = updated = removed = 0
    for ep in base.endpoints:
        got = want.get(endpoint_key(ep))
        if got is None:
            removed += 1
        else:
            matched += 1
            if got is not ep and not endpoints_equal_beyond_hash(got, ep):
                updated += 1
    return len(want) - matched, updated, removed
