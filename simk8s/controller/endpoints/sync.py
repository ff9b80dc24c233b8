"""The legacy Endpoints controller's sync, as a pure function.

Upstream: ``pkg/controller/endpoint/endpoints_controller.go`` ``syncService``.
``sync_endpoints`` recomputes the whole core/v1 Endpoints object of one Service from the
Service and its selected pods and says which API call the controller would make. The
SimPy worker around it (queue, batching, QPS, retries) lives in ``simk8s.cluster``; it
also owns one ``TriggerTimeTracker`` per controller to compute ``trigger_time``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simk8s.api.naming import rfc3339nano
from simk8s.api.objects import (
    ANNOTATION_OVER_CAPACITY,
    ANNOTATION_TRIGGER_TIME,
    LABEL_EP_MANAGED_BY,
    LABEL_HEADLESS,
    Endpoints,
    EndpointSubset,
    Pod,
    Service,
)
from simk8s.api.records import fast_init
from simk8s.controller.endpoints.addresses import pod_contribution
from simk8s.controller.endpoints.incremental import EndpointsState
from simk8s.controller.endpoints.repack import repack
from simk8s.controller.endpoints.truncate import (
    MAX_CAPACITY,
    OVER_CAPACITY_TRUNCATED,
    capacity_annotation_ok,
    truncate_subsets,
)

# endpoints.kubernetes.io/managed-by value, since v1.33 (kubernetes/kubernetes#130564).
# Simplification: written whatever release is modelled.
ENDPOINTS_MANAGED_BY = "endpoint-controller"


@fast_init
@dataclass(frozen=True, slots=True)
class EndpointsSyncResult:
    """What one sync decided.

    ``action``: "create" | "update" | "delete" | "none". ``obj``: the Endpoints to write
    (for "delete" the object to delete; None for "none"). ``truncated``: the written object
    was cut to 1000 addresses. ``ready``/``not_ready``: untruncated address counts.
    """

    action: str
    obj: Endpoints | None
    truncated: bool = False
    ready: int = 0
    not_ready: int = 0


_IGNORED_IN_LABEL_COMPARE = (LABEL_HEADLESS, LABEL_EP_MANAGED_BY)


def sync_endpoints(
    service: Service | None,
    pods: Sequence[Pod],
    existing: Endpoints | None,
    *,
    trigger_time: float | None,
    max_capacity: int | None = MAX_CAPACITY,
) -> EndpointsSyncResult:
    """One ``syncService`` of the Endpoints controller.

    ``max_capacity``: addresses kept per object (``truncateEndpoints``, v1.22+); None = no
    truncation and no over-capacity annotation, as before v1.22.

    ``service``: the Service from the informer, None if it no longer exists (→ delete the
    Endpoints). ``pods``: the pods the Service's selector matches in its namespace (the
    caller's lister; this function does not filter by selector). ``existing``: the
    Endpoints object in the informer cache, None if there is none. ``trigger_time``: from
    ``TriggerTimeTracker.compute`` (None = zero time → annotation removed).
    """
    if service is None:  # Service gone → delete the Endpoints
        return EndpointsSyncResult("delete", existing) if existing is not None else _NONE
    if service.type == "ExternalName" or service.selector is None:  # not managed here
        return _NONE
    contribs = [c for c in (pod_contribution(service, p) for p in pods) if c is not None]
    return _sync_with_subsets(service, repack(contribs), existing, trigger_time, max_capacity)


def sync_endpoints_state(
    state: EndpointsState,
    existing: Endpoints | None,
    *,
    trigger_time: float | None,
    max_capacity: int | None = MAX_CAPACITY,
) -> EndpointsSyncResult:
    """``sync_endpoints`` for ``state.service`` and the pods ``state`` was fed, without
    recomputing the pods' addresses (see ``EndpointsState``)."""
    service = state.service
    if service.type == "ExternalName" or service.selector is None:  # not managed here
        return _NONE
    return _sync_with_subsets(service, state.subsets(), existing, trigger_time, max_capacity)


def _sync_with_subsets(
    service: Service,
    subsets: tuple[EndpointSubset, ...],
    existing: Endpoints | None,
    trigger_time: float | None,
    max_capacity: int | None = MAX_CAPACITY,
) -> EndpointsSyncResult:
    ready = sum(len(s.addresses) for s in subsets)
    not_ready = sum(len(s.not_ready_addresses) for s in subsets)
    svc_labels = dict(service.labels)

    # Skip-if-unchanged, against the *untruncated* subsets: an over-capacity Service is
    # therefore rewritten on every sync, as upstream.
    if existing is not None:
        compare_labels = {k: v for k, v in existing.labels if k not in _IGNORED_IN_LABEL_COMPARE}
        # Simplification: the v1.33 managed-by label is also ignored here (the Service
        # never carries it); our records have no targetRef.resourceVersion to ignore
        # (kubernetes/kubernetes#108078).
        if (
            existing.subsets == subsets
            and compare_labels == svc_labels
            and capacity_annotation_ok(existing, max_capacity)
        ):
            return EndpointsSyncResult("none", None, False, ready, not_ready)

    annotations = dict(existing.annotations) if existing is not None else {}
    if trigger_time is not None:  # EndpointsLastChangeTriggerTime, RFC3339Nano
        annotations[ANNOTATION_TRIGGER_TIME] = rfc3339nano(trigger_time)
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    if max_capacity is None:
        written, truncated = subsets, False
    else:
        written, truncated = truncate_subsets(subsets, max_capacity)
    if truncated:
        annotations[ANNOTATION_OVER_CAPACITY] = OVER_CAPACITY_TRUNCATED
    else:
        annotations.pop(ANNOTATION_OVER_CAPACITY, None)

    labels = dict(svc_labels)  # the Service's labels, plus managed-by and headless
    labels[LABEL_EP_MANAGED_BY] = ENDPOINTS_MANAGED_BY
    if service.cluster_ip in (None, "", "None"):
        labels[LABEL_HEADLESS] = ""
    else:
        labels.pop(LABEL_HEADLESS, None)

    obj = Endpoints(
        name=service.name,
        namespace=service.namespace,
        uid=existing.uid if existing is not None else "",
        labels=tuple(sorted(labels.items())),
        annotations=tuple(sorted(annotations.items())),
        subsets=written,
    )
    action = "create" if existing is None else "update"
    return EndpointsSyncResult(action, obj, truncated, ready, not_ready)


_NONE = EndpointsSyncResult("none", None)
