"""A self-contained rolling update for exercising the data path (tests, benchmarks, notebooks).

Not a substitute for the cluster simulation: it builds the three inputs the data path needs
(PodTable, ServiceHistory, NodeProgramming) from a few knobs, with kube-proxy on each node
syncing periodically at its own phase, so stale rules appear the way they do in a real rollout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simk8s.dataplane.inputs import EndpointVersion, NodeProgramming, PodTable, ServiceHistory


@dataclass(frozen=True)
class SyntheticRollout:
    pods: PodTable
    history: ServiceHistory
    programming: NodeProgramming
    write_times: np.ndarray  # when each change-stream write happened (apiserver time)


def periodic_programming(
    zone: np.ndarray, write_times: np.ndarray, *, sync_period: float, delivery: float, phase: np.ndarray
) -> NodeProgramming:
    """Node n syncs at phase[n] + k·sync_period and programs every write delivered by then.

    applied_at is O(k log W): the last sync before t, then a searchsorted over write times.
    """
    ready_at = np.asarray(write_times, dtype=np.float64) + delivery
    phase = np.asarray(phase, dtype=np.float64)

    def applied_at(nodes: np.ndarray, times: np.ndarray) -> np.ndarray:
        ph = phase[np.asarray(nodes, dtype=np.int64)]
        times = np.asarray(times, dtype=np.float64)
        last_sync = ph + np.floor((times - ph) / sync_period) * sync_period
        last_sync = np.where(times < ph, -np.inf, last_sync)
        return np.searchsorted(ready_at, last_sync, side="right").astype(np.int64)

    return NodeProgramming(n_nodes=len(zone), zone=np.asarray(zone, np.int16), applied_at=applied_at)


def rolling_update(
    *,
    n_nodes: int,
    replicas: int,
    rng: np.random.Generator,
    n_zones: int = 3,
    rollout_start: float = 10.0,
    step_interval: float = 2.0,
    surge: int = 1,
    startup: float = 3.0,
    shutdown_delay: float = 0.0,
    removal_after: float = 5.0,
    sync_period: float = 1.0,
    delivery: float = 0.2,
    hints: bool = False,
    service_ports_total: int = 1000,
    **service_fields: Any,  # further ServiceHistory fields
) -> SyntheticRollout:
    """Replace ``replicas`` pods, ``surge`` at a time, every ``step_interval`` seconds.

    Per replaced pod: the new pod serves ``startup`` s after creation and is added Ready at
    that moment; the old pod is marked terminating (not ready, serving) at the same write,
    stops accepting ``shutdown_delay`` s later, and leaves the endpoint set
    ``removal_after`` s later.
    """
    node_zone = (np.arange(n_nodes) % n_zones).astype(np.int16)
    total = 2 * replicas
    pod_node = rng.integers(0, n_nodes, size=total).astype(np.int32)
    serving_from = np.zeros(total)
    serving_until = np.full(total, np.inf)
    events: list[tuple[float, int, str]] = []  # (time, pod, what)
    for s in range(replicas):
        created = rollout_start + (s // surge) * step_interval
        new, old = replicas + s, s
        ready = created + startup
        serving_from[new] = ready
        serving_until[old] = ready + shutdown_delay
        events += [(ready, new, "ready"), (ready, old, "terminating"), (ready + removal_after, old, "removed")]
    events.sort(key=lambda e: (e[0], e[2] != "ready"))

    state = dict.fromkeys(range(replicas), "ready")

    def version() -> EndpointVersion:
        ids = np.asarray(sorted(state), dtype=np.int32)
        term = np.asarray([state[p] == "terminating" for p in ids.tolist()], dtype=bool)
        return EndpointVersion(
            pod=ids,
            ready=~term,
            serving=np.ones(len(ids), bool),
            terminating=term,
            node=pod_node[ids],
            zone=node_zone[pod_node[ids]],
            hint_zone=node_zone[pod_node[ids]].copy() if hints else None,
        )

    initial = version()
    versions, times = [], []
    for t, p, what in events:
        if what == "removed":
            del state[p]
        else:
            state[p] = what
        versions.append(version())
        times.append(t)
    write_times = np.asarray(times)
    history = ServiceHistory(
        name="backend",
        write_index=np.arange(len(versions), dtype=np.int64),
        versions=versions,
        initial=initial,
        service_ports_total=service_ports_total,
        **service_fields,
    )
    phase = rng.random(n_nodes) * sync_period
    programming = periodic_programming(node_zone, write_times, sync_period=sync_period, delivery=delivery, phase=phase)
    pods = PodTable(node=pod_node, zone=node_zone[pod_node], serving_from=serving_from, serving_until=serving_until)
    return SyntheticRollout(pods=pods, history=history, programming=programming, write_times=write_times)
