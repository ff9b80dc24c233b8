"""The 1000-address cap of an Endpoints object (Kubernetes v1.22+).

Upstream: ``pkg/controller/endpoint/endpoints_controller.go`` ``maxCapacity``,
``truncateEndpoints`` and ``capacityAnnotationSetCorrectly``; KEP-752 roll-out
(kubernetes/kubernetes#99975 "warning" in v1.21, truncation in v1.22).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from simk8s.api.objects import ANNOTATION_OVER_CAPACITY, Endpoints, EndpointSubset
from simk8s.api.sizes.entries import head

MAX_CAPACITY = 1000  # maxCapacity
OVER_CAPACITY_TRUNCATED = "truncated"


def truncate_subsets(
    subsets: Sequence[EndpointSubset], max_capacity: int = MAX_CAPACITY
) -> tuple[tuple[EndpointSubset, ...], bool]:
    """``truncateEndpoints``: keep ready first; share the budget proportionally (ceil),
    walking subsets in order, keeping the first entries of each list. Returns
    (subsets, truncated)."""
    total_ready = sum(len(s.addresses) for s in subsets)
    total_not_ready = sum(len(s.not_ready_addresses) for s in subsets)
    if total_ready + total_not_ready <= max_capacity:
        return tuple(subsets), False
    truncate_ready = total_ready > max_capacity
    budget = max_capacity if truncate_ready else max_capacity - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_be_added = budget
    out = []
    for s in subsets:
        n = len(s.addresses) if truncate_ready else len(s.not_ready_addresses)
        # Same float arithmetic as Go: ceil((n / total) * budget).
        to_add = min(math.ceil((n / num_total) * budget), can_be_added)
        if truncate_ready:
            kept = head(s.addresses, to_add)
            out.append(EndpointSubset(addresses=kept, not_ready_addresses=(), ports=s.ports))
        else:
            kept = head(s.not_ready_addresses, to_add)
            out.append(
                EndpointSubset(addresses=s.addresses, not_ready_addresses=kept, ports=s.ports)
            )
        can_be_added -= len(kept)
    return tuple(out), True


def capacity_annotation_ok(existing: Endpoints, max_capacity: int | None = MAX_CAPACITY) -> bool:
    """``capacityAnnotationSetCorrectly``, evaluated on the *stored* object."""
    if max_capacity is None:  # before v1.22 (v1.21's "warning" value is not modelled)
        return True
    if existing.address_count > max_capacity:
        return False
    return all(k != ANNOTATION_OVER_CAPACITY for k, _ in existing.annotations)

