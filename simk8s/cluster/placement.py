"""Where kube-scheduler may put the next pod: per zone, the feasible nodes (schedulable,
alive, below maxPods) grouped by how many pods they hold.

HOT PATH: the scheduler's choice (least-loaded feasible node of a zone) reads one group
instead of scanning every node per pod. The world reports every change of a node's pod
count or feasibility; ``feasible_by_scan`` is the reference the tests hold it against.
"""

from __future__ import annotations

from bisect import bisect_left, insort

import numpy as np

from simk8s.cluster.nodes import NodeTable


class ZonePlacement:
    def __init__(self, nodes: NodeTable, pod_count: np.ndarray, max_pods: int):
        self._nodes = nodes
        self._pod_count = pod_count  # the world's array, read (not written) here
        self._max_pods = max_pods
        self._zone = nodes.zone.tolist()
        # zone → pod count → feasible nodes with that count, ascending; no empty lists.
        self._groups: list[dict[int, list[int]]] = []
        self.rebuild()

    def rebuild(self) -> None:
        """Regroup every node (after bulk changes of pod counts)."""
        self._groups = [{} for _ in self._nodes.zone_names]
        counts = self._pod_count.tolist()
        for node in np.flatnonzero(feasible_by_scan(self._nodes, self._pod_count, self._max_pods)).tolist():
            self._groups[self._zone[node]].setdefault(counts[node], []).append(node)

    def zones_with_room(self) -> list[int]:
        """Zones with at least one feasible node, ascending."""
        return [z for z, groups in enumerate(self._groups) if groups]

    def least_loaded(self, zone: int) -> list[int]:
        """The zone's feasible nodes holding the fewest pods, ascending (zone has room)."""
        groups = self._groups[zone]
        return groups[min(groups)]

    def count_changed(self, node: int, before: int) -> None:
        """The node's pod count went from ``before`` to its current value."""
        if not (self._nodes.schedulable[node] and self._nodes.alive[node]):
            return  # not feasible either way
        groups = self._groups[self._zone[node]]
        if before < self._max_pods:
            self._discard(groups, before, node)
        now = int(self._pod_count[node])
        if now < self._max_pods:
            insort(groups.setdefault(now, []), node)

    def unschedulable(self, node: int) -> None:
        """Call after cordoning the node or losing it: it takes no more pods."""
        count = int(self._pod_count[node])
        if count < self._max_pods:
            self._discard(self._groups[self._zone[node]], count, node)

    @staticmethod
    def _discard(groups: dict[int, list[int]], count: int, node: int) -> None:
        members = groups.get(count)
        if members is None:
            return
        i = bisect_left(members, node)
        if i < len(members) and members[i] == node:
            del members[i]
            if not members:
                del groups[count]


def feasible_by_scan(nodes: NodeTable, pod_count: np.ndarray, max_pods: int) -> np.ndarray:
    """Which nodes can take a pod: schedulable, alive, below maxPods (bool per node)."""
    return nodes.schedulable & nodes.alive & (pod_count < max_pods)
