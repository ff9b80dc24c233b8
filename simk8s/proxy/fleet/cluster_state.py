"""The cluster as every node sees it after applying a prefix of the change stream."""

from __future__ import annotations

import numpy as np

from simk8s.proxy.fleet.inputs import ChangeStream, FleetConfig


class ClusterState:
    """What a node knows after applying writes [0, w): shared by every node closing at step w.

    Changed services of a sync that applied [fp, w) are the services whose last write
    before w is ≥ fp (this replaces a per-node bitmask: exact for any number of services
    and needs no per-node state). Their endpoint counts are those set by those last writes.
    """

    def __init__(self, stream: ChangeStream, config: FleetConfig) -> None:
        service = np.asarray(stream.service, dtype=np.int64)
        endpoints = np.asarray(stream.service_endpoints, dtype=np.int64)
        initial = np.asarray(config.initial_service_endpoints, dtype=np.int64)
        self.n_services = len(initial)
        self.service = service
        self.endpoints = endpoints
        # Endpoint count of the same service before each write → running dynamic total.
        order = np.argsort(service, kind="stable")
        by_service, counts_sorted = service[order], endpoints[order]
        previous = np.empty_like(counts_sorted)
        previous[1:] = counts_sorted[:-1]
        first_of_service = np.ones(len(order), dtype=bool)
        first_of_service[1:] = by_service[1:] != by_service[:-1]
        previous[first_of_service] = initial[by_service[first_of_service]]
        before = np.empty_like(endpoints)
        before[order] = previous
        self.dynamic_total = int(initial.sum()) + np.concatenate(
            ([0], np.cumsum(endpoints - before))
        )  # [w] = dynamic endpoints after writes [0, w)
        self.last_write = np.full(self.n_services, -1, dtype=np.int64)
        self._cached_w = -1
        self._sorted_last = self.last_write
        self._endpoint_cumsum = np.zeros(1, dtype=np.int64)

    def observe(self, w: int) -> None:
        """Write w has been handed to every node (call after step w)."""
        self.last_write[self.service[w]] = w

    def changed(self, first_pending: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
        """(distinct services, their endpoints) touched by writes [first_pending, w)."""
        if self._cached_w != w:
            self._sorted_last = np.sort(self.last_write)
            counts = np.where(
                self._sorted_last >= 0, self.endpoints[np.maximum(self._sorted_last, 0)], 0
            )
            self._endpoint_cumsum = np.concatenate(([0], np.cumsum(counts)))
            self._cached_w = w
        pos = np.searchsorted(self._sorted_last, first_pending, side="left")
        changed_services = self.n_services - pos
        changed_endpoints = self._endpoint_cumsum[-1] - self._endpoint_cumsum[pos]
        return changed_services, changed_endpoints
