"""Deployment controller rules, as pure functions over replica counts. The SimPy glue is
in simk8s/cluster/workloads.py; which pods a ReplicaSet deletes is in
simk8s/controller/replicaset.py.

Upstream: ``pkg/controller/deployment/util/deployment_util.go`` (``ResolveFenceposts``,
``NewRSNewReplicas``), ``pkg/controller/deployment/rolling.go``
(``reconcileOldReplicaSets``) and ``staging/src/k8s.io/apimachinery/pkg/util/intstr``
(``GetScaledValueFromIntOrPercent``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: "25%" of total, rounded up or down."""
    if value is None:
        return 0
    if hasattr(value, "scaled"):  # the scenario's IntOrPercent
        return int(value.scaled(total, round_up))
    if isinstance(value, str) and value.endswith("%"):
        exact = float(value[:-1]) * total / 100.0
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, replicas: int) -> tuple[int, int]:
    """``ResolveFenceposts``: surge rounds up, unavailable rounds down; both 0 →
    unavailable 1."""
    surge = resolve_int_or_percent(max_surge, replicas, round_up=True)
    unavailable = resolve_int_or_percent(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass
class ReplicaSetCounts:
    """What the Deployment controller reads of one ReplicaSet."""

    revision: int
    replicas: int  # spec.replicas
    available: int  # status.availableReplicas


def new_rs_replicas(
    desired: int, rs_all: Sequence[ReplicaSetCounts], new: ReplicaSetCounts, max_surge: int
) -> int:
    """deploymentutil.NewRSNewReplicas for RollingUpdate."""
    current = sum(rs.replicas for rs in rs_all)
    max_total = desired + max_surge
    if current >= max_total:
        return new.replicas
    scale_up = min(max_total - current, desired - new.replicas)
    return new.replicas + max(scale_up, 0)


def scale_down_old(
    desired: int,
    old: Sequence[ReplicaSetCounts],
    new: ReplicaSetCounts,
    max_unavailable: int,
) -> dict[int, int]:
    """rolling.go reconcileOldReplicaSets: returns {revision: new spec.replicas} for old sets.

    First scales down unhealthy (unavailable) old replicas, then available ones while the
    total available stays >= desired - maxUnavailable. Old sets are processed oldest first.

    An old set that still counts more available pods than its spec.replicas (it has not yet
    deleted the pods of an earlier scale-down) stops the whole step: upstream
    cleanupUnhealthyReplicas computes a negative count for it, returns an error ("invalid
    request to scale down") and reconcileOldReplicaSets scales nothing more in that sync.
    That is what keeps availability >= desired - maxUnavailable: the scale-down budget
    below counts those pods as available although they are about to go.
    """
    result = {rs.revision: rs.replicas for rs in old}
    if sum(rs.replicas for rs in old) == 0:
        return result
    all_pods = sum(rs.replicas for rs in old) + new.replicas
    min_available = desired - max_unavailable
    new_unavailable = new.replicas - new.available
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return result
    # cleanupUnhealthyReplicas
    cleaned = 0
    for rs in sorted(old, key=lambda r: r.revision):
        if cleaned >= max_scaled_down:
            break
        if result[rs.revision] == 0:
            continue
        unhealthy = result[rs.revision] - rs.available
        if unhealthy < 0:
            return result  # the error path; earlier sets' cleanup is already written
        if unhealthy == 0:
            continue
        down = min(max_scaled_down - cleaned, unhealthy)
        result[rs.revision] -= down
        cleaned += down
    # scaleDownOldReplicaSetsForRollingUpdate
    available = sum(rs.available for rs in old) + new.available
    if available <= min_available:
        return result
    budget = available - min_available
    for rs in sorted(old, key=lambda r: r.revision):
        if budget <= 0:
            break
        down = min(result[rs.revision], budget)
        result[rs.revision] -= down
        budget -= down
    return result
