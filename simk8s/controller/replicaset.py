"""Which pods a ReplicaSet deletes first when it scales down, as pure functions.

Upstream: ``pkg/controller/replicaset/replica_set.go`` (``getPodsToDelete``,
``getPodsRankedByRelatedPodsOnSameNode``) and ``pkg/controller/controller_utils.go``
(``ActivePodsWithRanks.Less``, ``logarithmicRankDiff``, ``afterOrZero``); KEP-2185
(LogarithmicScaleDown).

The ReplicaSet sorts its active pods with ``ActivePodsWithRanks.Less`` and deletes the
first ones. Here each pod gets a sort key instead of a comparison, so a sort costs one key
per pod (HOT PATH: the scale-down of a large ReplicaSet ranks thousands of pods).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simk8s.api import objects as api
from simk8s.api.naming import metav1_time
from simk8s.api.records import fast_init

_PHASE_ORDINAL = {api.PENDING: 0, api.UNKNOWN: 1, api.RUNNING: 2}  # podPhaseToOrdinal
UNASSIGNED = -1  # spec.nodeName "": one bucket of its own when counting pods per node


@fast_init
@dataclass(frozen=True, slots=True)
class RankedPod:
    """What ``ActivePodsWithRanks.Less`` reads of one pod, as the controller's informer
    holds it: API times in whole seconds (``metav1_time``)."""

    pod_id: int  # the simulator's pod index: the tie-break where upstream has none
    node: int  # UNASSIGNED or the node index
    phase: str
    ready: bool
    ready_time: float  # Ready condition lastTransitionTime (used when ready)
    created: float  # creationTimestamp
    uid: str

    @classmethod
    def of(
        cls, pod_id: int, node: int, phase: str, ready: bool, ready_since: float, created: float, uid: str
    ) -> RankedPod:
        """From simulation times (truncated here to what the API carries)."""
        ready_time = metav1_time(ready_since) if ready else 0.0
        return cls(pod_id, node, phase, ready, ready_time, metav1_time(created), uid)


def pods_per_node(related_nodes: Iterable[int]) -> Counter[int]:
    """``getPodsRankedByRelatedPodsOnSameNode``: active related pods (those of every
    ReplicaSet of the same Deployment, ``getIndirectlyRelatedPods``) per node."""
    return Counter(related_nodes)


def log2_rank(t: float, now: float) -> int:
    """One side of ``logarithmicRankDiff``: floor(log2(now - t)) with the duration in
    nanoseconds, -1 when not positive."""
    d = round((now - t) * 1e9)
    return int(math.log2(d)) if d > 0 else -1


def deletion_key(pod: RankedPod, colocated: int, now: float, logarithmic: bool) -> tuple:
    """Sort key of ``ActivePodsWithRanks.Less``: pods with smaller keys are deleted first.

    1. unassigned before assigned; 2. Pending < Unknown < Running; 3. not ready before
    ready; 5. more related active pods on the same node first ("doubled up"); 6. of two
    ready pods the one ready more recently first; 8. newer pods first. With
    LogarithmicScaleDown, 6 and 8 compare floor(log2(age in ns)) buckets, and pods in one
    bucket go by UID (pseudo-random). Last, the pod index (newest first): upstream's
    ``sort.Sort`` leaves equal pods in no defined order.

    Simplifications: 4 (``controller.kubernetes.io/pod-deletion-cost``) and 7 (container
    restart counts) are equal for every pod here (no annotation, no restarts). With the gate
    on, ``Less`` compares UIDs only when the two times differ and falls through to the
    creation times when they are equal; a key cannot express that (it is not transitive),
    so pods in one bucket always go by UID.
    """
    head = (pod.node != UNASSIGNED, _PHASE_ORDINAL.get(pod.phase, 0), pod.ready, -colocated)
    if not logarithmic:
        ready = -pod.ready_time if pod.ready else 0.0
        return (*head, ready, -pod.created, -pod.pod_id)
    if pod.ready:
        return (*head, log2_rank(pod.ready_time, now), pod.uid, -pod.pod_id)
    return (*head, 0, "", log2_rank(pod.created, now), pod.uid, -pod.pod_id)


def pods_to_delete(
    pods: Sequence[RankedPod], related_nodes: Iterable[int], count: int, now: float, logarithmic: bool
) -> list[int]:
    """``getPodsToDelete``: the ``count`` active pods ranked first (their pod ids).
    ``related_nodes``: the node of every active pod of the Deployment's ReplicaSets."""
    if count <= 0:
        return []
    if count >= len(pods):  # upstream skips the sort when all of them go
        return [p.pod_id for p in pods]
    per_node = pods_per_node(related_nodes)
    keyed = sorted(deletion_key(p, per_node[p.node], now, logarithmic) for p in pods)
    return [-key[-1] for key in keyed[:count]]
