"""Pod state as the cluster simulation tracks it, and its lifecycle record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import attrgetter

import pandas as pd

from simk8s.api import objects as api
from simk8s.controller.replicaset import RankedPod

INF = math.inf


@dataclass(slots=True)
class PodState:
    """One pod's mutable state. `snapshot()` gives the frozen API view controllers read."""

    id: int
    name: str
    namespace: str
    uid: str
    workload: str
    revision: int  # Deployment template revision (1 = initial, +1 per rollout)
    labels: tuple[tuple[str, str], ...]
    container_ports: tuple[api.ContainerPort, ...]
    created: float
    node: int = -1
    node_name: str = ""
    ip: str = ""
    phase: str = api.PENDING
    scheduled: float = INF
    started: float = INF
    ready: bool = False
    ready_since: float = INF  # Ready condition lastTransitionTime when True
    ready_transition: float | None = None  # last Ready transition (either way)
    first_ready: float = INF
    available_since: float = INF
    deletion: float = INF  # deletionTimestamp
    serving_from: float = INF  # the app accepts connections
    serving_until: float = INF  # the app stops accepting (SIGTERM + shutdownDelay, node loss)
    gone: float = INF  # removed from the apiserver
    deleted_reason: str = ""
    counted_available: bool = False  # counted in its ReplicaSet's available replicas
    _snapshot: api.Pod | None = field(default=None, repr=False)
    rank: RankedPod | None = field(default=None, repr=False)  # cached ReplicaSet ranking view

    @property
    def terminating(self) -> bool:
        return self.deletion != INF

    @property
    def active(self) -> bool:
        """Counted by its ReplicaSet: not terminating and not gone (controller.IsPodActive)."""
        return self.deletion == INF and self.gone == INF

    def touch(self) -> None:
        self._snapshot = None
        self.rank = None

    def snapshot(self) -> api.Pod:
        if self._snapshot is None:
            self._snapshot = api.Pod(
                name=self.name,
                namespace=self.namespace,
                uid=self.uid,
                labels=self.labels,
                node_name=self.node_name,
                pod_ips=(self.ip,) if self.ip else (),
                phase=self.phase,
                ready=self.ready,
                terminating=self.terminating,
                ready_transition_time=self.ready_transition,
                container_ports=self.container_ports,
            )
        return self._snapshot

    def lifecycle_row(self) -> dict:  # one row of lifecycle_frame
        return {
            "pod": self.name,
            "workload": self.workload,
            "revision": self.revision,
            "node": self.node_name,
            "ip": self.ip,
            "created_s": self.created,
            "scheduled_s": self.scheduled,
            "started_s": self.started,
            "first_ready_s": self.first_ready,
            "deletion_s": self.deletion,
            "serving_until_s": self.serving_until,
            "gone_s": self.gone,
            "deleted_reason": self.deleted_reason,
        }


# lifecycle_row's columns (table column → PodState attribute), in its order.
LIFECYCLE_COLUMNS = (
    ("pod", "name"), ("workload", "workload"), ("revision", "revision"), ("node", "node_name"),
    ("ip", "ip"), ("created_s", "created"), ("scheduled_s", "scheduled"), ("started_s", "started"),
    ("first_ready_s", "first_ready"), ("deletion_s", "deletion"), ("serving_until_s", "serving_until"),
    ("gone_s", "gone"), ("deleted_reason", "deleted_reason"),
)


def lifecycle_frame(pods: list[PodState]) -> pd.DataFrame:
    """Every pod's lifecycle_row as a table, built column by column (HOT PATH at 150,000
    pods: a list of row dicts costs several times more to turn into a frame)."""
    if not pods:
        return pd.DataFrame([])
    return pd.DataFrame({column: list(map(attrgetter(attr), pods)) for column, attr in LIFECYCLE_COLUMNS})

