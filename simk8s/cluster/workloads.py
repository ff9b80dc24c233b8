"""Deployments and their ReplicaSets in the SimPy world (pkg/controller/deployment, replicaset).

The rules themselves are pure functions in simk8s.controller.deployment and
simk8s.controller.replicaset; this module keeps the counts, reacts to pod changes and
issues pod creates/deletes through the controller manager's client rate limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy

from simk8s.cluster.pods import PodState
from simk8s.cluster.timers import Timers
from simk8s.controller import deployment as rules
from simk8s.controller import replicaset
from simk8s.controller.replicaset import RankedPod

BURST_REPLICAS = 500  # replicaset controller: at most this many creates/deletes per sync
SLOW_START_INITIAL_BATCH = 1  # pkg/controller/controller_utils.go SlowStartInitialBatchSize


@dataclass
class ReplicaSet:
    revision: int
    replicas: int = 0  # spec.replicas
    pods: set[int] = field(default_factory=set)  # pods not yet gone
    active: int = 0  # not terminating (controller.IsPodActive); kept up to date by the World
    available: int = 0  # active and Ready for minReadySeconds
    active_ids: set[int] = field(default_factory=set)  # the active pods themselves
    # ControllerExpectations (pkg/controller/controller_utils.go): the ReplicaSet leaves its
    # replicas alone until it has seen the pods it created and deleted: while a slow-start
    # run of creates goes on, and until `expected_until` (its last delete is seen).
    creating: bool = False
    expected_until: float = 0.0


@dataclass
class RolloutRecord:
    """One rollout or scale of a Deployment, for the summary and the rollouts table."""

    workload: str
    kind: str  # rollout | scale
    start: float
    to_revision: int
    replicas: int
    end: float = math.inf
    max_pods: int = 0  # most non-terminating pods at once
    min_available: int = 1 << 30  # fewest available pods at once


class PodControl(Protocol):
    """What the Deployment and ReplicaSet controllers use of the cluster: the pods, and
    pod creates and deletes through the controller manager's client (the World)."""

    env: simpy.Environment
    timers: Timers
    pods: list[PodState]

    def create_pod(self, d: Deployment, revision: int) -> int: ...

    def delete_pod(self, pod: PodState, *, reason: str, via_client: bool) -> None: ...

    def rank_view(self, pod: PodState) -> RankedPod: ...


class Deployment:
    def __init__(self, world: PodControl, spec: Any, zones: int, logarithmic_scale_down: bool = True):
        self.world = world
        self.logarithmic_scale_down = logarithmic_scale_down  # the LogarithmicScaleDown gate
        self.spec = spec
        self.name = spec.name
        self.namespace = spec.namespace
        self.desired = spec.replicas
        self.revision = 1
        self.sets: dict[int, ReplicaSet] = {1: ReplicaSet(1, spec.replicas)}
        self._sync_pending = False
        self.rollouts: list[RolloutRecord] = []
        self.history: list[tuple[float, int, int, int]] = []  # (t, active pods, available, terminating)
        self.service_keys: tuple[tuple[str, str], ...] = ()  # Services selecting this Deployment's pods
        self.terminating = 0  # pods with a deletionTimestamp, not yet gone
        self.zone_load = np.zeros(zones, dtype=np.int64)  # scheduled active pods per zone
        self.templates: dict[int, Any] = {}  # revision → the World's pod template (names, labels, ports)

    # -- events ----------------------------------------------------------------------------
    def rollout(self) -> None:
        self.revision += 1
        self.sets[self.revision] = ReplicaSet(self.revision, 0)
        self.rollouts.append(RolloutRecord(self.name, "rollout", self.world.env.now, self.revision, self.desired))
        self.request_sync()

    def scale(self, replicas: int) -> None:
        self.desired = replicas
        self.rollouts.append(RolloutRecord(self.name, "scale", self.world.env.now, self.revision, replicas))
        self.request_sync()

    def request_sync(self) -> None:
        if not self._sync_pending:
            self._sync_pending = True
            self.world.timers.at(self.world.env.now, self._sync)

    # -- the controller --------------------------------------------------------------------
    def counts(self, rs: ReplicaSet) -> rules.ReplicaSetCounts:
        return rules.ReplicaSetCounts(rs.revision, rs.replicas, rs.available)

    def _sync(self) -> None:
        self._sync_pending = False
        new = self.sets[self.revision]
        old = [rs for rev, rs in sorted(self.sets.items()) if rev != self.revision]
        if self.spec.strategy.type == "Recreate":
            for rs in old:
                rs.replicas = 0
            old_left = any(self._has_pods(rs) for rs in old)
            new.replicas = 0 if old_left else self.desired
        else:
            self._rollout_rolling(new, old)
        for rs in self.sets.values():
            self._manage_replicas(rs)
        self._observe()

    def _rollout_rolling(self, new: ReplicaSet, old: list[ReplicaSet]) -> None:
        """rolling.go rolloutRolling: a sync that scales the new ReplicaSet
        (reconcileNewReplicaSet) ends there; only a sync that leaves it alone scales the old
        ones down (reconcileOldReplicaSets)."""
        strategy = self.spec.strategy
        surge, unavailable = rules.resolve_fenceposts(strategy.max_surge, strategy.max_unavailable, self.desired)
        if new.replicas >= self.desired:
            target = self.desired
        else:
            target = rules.new_rs_replicas(self.desired, [self.counts(rs) for rs in self.sets.values()], self.counts(new), surge)
        if target != new.replicas:
            new.replicas = target
            # The ReplicaSet update comes back through the informer (updateReplicaSet →
            # enqueueDeployment) and queues the next sync. Simplification: at once.
            self.request_sync()
            return
        scaled = rules.scale_down_old(self.desired, [self.counts(rs) for rs in old], self.counts(new), unavailable)
        for rs in old:
            rs.replicas = scaled[rs.revision]

    @staticmethod
    def _has_pods(rs: ReplicaSet) -> bool:
        return bool(rs.pods)

    def _manage_replicas(self, rs: ReplicaSet) -> None:
        """replica_set.go manageReplicas: create or delete the difference, ≤ burstReplicas per
        sync, once the ReplicaSet's expectations are met (syncReplicaSet)."""
        if rs.creating or self.world.env.now < rs.expected_until:
            return
        diff = rs.active - rs.replicas
        if diff < 0:
            rs.creating = True
            count = min(-diff, BURST_REPLICAS)
            self._create_batch(rs, count, min(count, SLOW_START_INITIAL_BATCH))
        elif diff > 0:
            pods = self.world.pods
            for pod_id in self._pods_to_delete(rs, min(diff, BURST_REPLICAS)):
                pod = pods[pod_id]
                self.world.delete_pod(pod, reason="scale-down", via_client=True)
                rs.expected_until = max(rs.expected_until, pod.deletion)

    def _create_batch(self, rs: ReplicaSet, remaining: int, size: int) -> None:
        """replica_set.go slowStartBatch: batches of 1, 2, 4, … creates, each started once
        the previous one's calls have all returned (client QPS permitting); the ReplicaSet
        syncs again once it has seen the last pod."""
        world = self.world
        last = world.env.now
        for _ in range(size):
            pod_id = world.create_pod(self, rs.revision)
            rs.pods.add(pod_id)
            last = max(last, world.pods[pod_id].created)
        remaining -= size
        if remaining > 0:
            world.timers.at(last, self._create_batch, rs, remaining, min(2 * size, remaining))
        else:
            world.timers.at(last, self._creates_seen, rs)

    def _creates_seen(self, rs: ReplicaSet) -> None:
        rs.creating = False
        self.request_sync()

    def _pods_to_delete(self, rs: ReplicaSet, count: int) -> list[int]:
        """getPodsToDelete: the ReplicaSet's active pods ranked against every active pod of
        the Deployment (its related pods) at this instant."""
        world = self.world
        pods = world.pods
        views = [world.rank_view(pods[i]) for i in rs.active_ids]
        related = [pods[i].node for s in self.sets.values() for i in s.active_ids]
        return replicaset.pods_to_delete(views, related, count, world.env.now, self.logarithmic_scale_down)

    def _observe(self) -> None:
        now = self.world.env.now
        active = sum(rs.active for rs in self.sets.values())
        available = sum(rs.available for rs in self.sets.values())
        self.history.append((now, active, available, self.terminating))
        for r in self.rollouts:
            if r.end != math.inf:
                continue
            r.max_pods = max(r.max_pods, active)
            r.min_available = min(r.min_available, available)
            new = self.sets[r.to_revision]
            old_active = active - new.active
            # DeploymentComplete: updated == available == total == desired.
            if new.replicas == self.desired and new.available == self.desired and old_active == 0 and active == self.desired:
                r.end = now
