"""The scheduler's incremental node groups (simk8s/cluster/placement.py) against a scan of
every node, over random pod additions, removals, cordons and node losses."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simk8s.cluster.nodes import NodeTable
from simk8s.cluster.placement import ZonePlacement, feasible_by_scan


def _by_scan(nodes: NodeTable, counts: np.ndarray, max_pods: int) -> tuple[list[int], dict[int, list[int]]]:
    ok = feasible_by_scan(nodes, counts, max_pods)
    zones = [int(z) for z in np.flatnonzero(np.bincount(nodes.zone[ok], minlength=len(nodes.zone_names)))]
    best = {}
    for z in zones:
        cand = ok & (nodes.zone == z)
        c = np.where(cand, counts, np.iinfo(np.int32).max)
        best[z] = np.flatnonzero(c == c.min()).tolist()
    return zones, best


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 40), zones=st.integers(1, 4), max_pods=st.integers(1, 4))
def test_placement_matches_a_scan_of_every_node(seed, n, zones, max_pods):
    rng = random.Random(seed)
    nodes = NodeTable.build(n, [f"z{i}" for i in range(zones)], "node-", "10.0.0.0/8", 24)
    counts = np.zeros(n, dtype=np.int32)
    counts[:] = [rng.randrange(max_pods + 1) for _ in range(n)]
    placement = ZonePlacement(nodes, counts, max_pods)
    for _ in range(200):
        zones_ok, best = _by_scan(nodes, counts, max_pods)
        assert placement.zones_with_room() == zones_ok
        for z in zones_ok:
            assert placement.least_loaded(z) == best[z]
        node = rng.randrange(n)
        op = rng.randrange(10)
        if op < 5 and counts[node] < max_pods:
            counts[node] += 1
            placement.count_changed(node, before=int(counts[node]) - 1)
        elif op < 9 and counts[node] > 0:
            counts[node] -= 1
            placement.count_changed(node, before=int(counts[node]) + 1)
        elif op == 9:
            if rng.random() < 0.5:
                nodes.schedulable[node] = False
            else:
                nodes.alive[node] = False
                nodes.schedulable[node] = False
            placement.unschedulable(node)
