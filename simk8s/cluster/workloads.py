"""Deployments and their ReplicaSets in the SimPy world (pkg/controller/deployment, replicaset).

The rules themselves are pure functions in simk8s.controller.deployment; this module keeps
the counts, reacts to pod changes and issues pod creates/deletes through the controller
manager's client rate limit.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy

from simk8s.cluster.pods import PodState
from simk8s.cluster.timers import Timers
from simk8s.controller import deployment as rules

BURST_REPLICAS = 500  # replicaset controller: at most this many creates/deletes per sync


@dataclass
class ReplicaSet:
    revision: int
    replicas: int = 0  # spec.replicas
    pods: set[int] = field(default_factory=set)  # pods not yet gone
    active: int = 0  # not terminating (controller.IsPodActive); kept up to date by the World
    available: int = 0  # active and Ready for minReadySeconds
    active_ids: set[int] = field(default_factory=set)  # the active pods themselves
    # Deletion order of the active pods, ascending rank, built when needed and kept until an
    # active pod changes or joins (`ranks_dirty`); `ranked_pos`: entries before it are gone.
    ranked: list[tuple] = field(default_factory=list)
    ranked_pos: int = 0
    ranks_dirty: bool = True


_cached_rank = operator.attrgetter("rank")


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

    def deletion_rank(self, pod: PodState) -> tuple: ...


class Deployment:
    def __init__(self, world: PodControl, spec: Any, zones: int):
        self.world = world
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
        strategy = self.spec.strategy
        if strategy.type == "Recreate":
            for rs in old:
                rs.replicas = 0
            old_left = any(self._has_pods(rs) for rs in old)
            new.replicas = 0 if old_left else self.desired
        else:
            surge, unavailable = rules.resolve_fenceposts(strategy.max_surge, strategy.max_unavailable, self.desired)
            new_counts = self.counts(new)
            if new.replicas > self.desired:
                new.replicas = self.desired
            else:
                all_counts = [self.counts(rs) for rs in self.sets.values()]
                new.replicas = rules.new_rs_replicas(self.desired, all_counts, new_counts, surge)
            new_counts = self.counts(new)
            scaled = rules.scale_down_old(self.desired, [self.counts(rs) for rs in old], new_counts, unavailable)
            for rs in old:
                rs.replicas = scaled[rs.revision]
        for rs in self.sets.values():
            self._manage_replicas(rs)
        self._observe()

    @staticmethod
    def _has_pods(rs: ReplicaSet) -> bool:
        return bool(rs.pods)

    def _manage_replicas(self, rs: ReplicaSet) -> None:
        """replica_set.go manageReplicas: create or delete the difference, ≤ burstReplicas per sync."""
        pods = self.world.pods
        diff = rs.active - rs.replicas
        if diff < 0:
            # Simplification: no slow-start batches (1, 2, 4, …); creates only wait for the client QPS.
            for _ in range(min(-diff, BURST_REPLICAS)):
                rs.pods.add(self.world.create_pod(self, rs.revision))
        elif diff > 0:
            for pod_id in self._lowest_ranked(rs, min(diff, BURST_REPLICAS)):
                self.world.delete_pod(pods[pod_id], reason="scale-down", via_client=True)

    def _lowest_ranked(self, rs: ReplicaSet, k: int) -> list[int]:
        """The k active pods deleted first (getPodsToDelete: sorted by deletion rank).

        deletion_rank ends in −pod id: a total order, and the id comes back out. The sorted
        ranks are reused while no active pod changed or joined (HOT PATH: a one-at-a-time
        rollout of 2000 pods asks the old RS ~1500 times); pods that left since are skipped,
        and they never come back, so the scan resumes where the last one stopped."""
        if rs.ranks_dirty:
            members = list(map(self.world.pods.__getitem__, rs.active_ids))
            ranks = list(map(_cached_rank, members))
            if None in ranks:
                ranks = list(map(self.world.deletion_rank, members))
            ranks.sort()
            rs.ranked, rs.ranked_pos, rs.ranks_dirty = ranks, 0, False
        chosen: list[int] = []
        active, ranked, i = rs.active_ids, rs.ranked, rs.ranked_pos
        while len(chosen) < k and i < len(ranked):
            pod_id = -ranked[i][-1]
            if pod_id in active:
                chosen.append(pod_id)  # about to be deleted: leaves the active pods
            i += 1
        rs.ranked_pos = i
        return chosen

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
