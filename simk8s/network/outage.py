"""After a zone outage: when does every surviving node route only to live pods?

For each surviving zone, the endpoint versions written since the outage are put through
the data path's own pool rules (`dataplane.selection.assign_pools`, upstream
pkg/proxy/topology.go `CategorizeEndpoints`); the first version after the last one whose
pool still holds a pod of a lost node is the clean one, and each surviving node is clean
once its kube-proxy finished the sync that applied it (the fleet's syncs table).

Simplification: one node stands for its zone; with per-node pools (Local policy,
PreferSameNode) other nodes of the zone may differ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simk8s.dataplane.selection import assign_pools


def convergence(history: Any, syncs: Any, commit_time: np.ndarray, pods: Any, node_zone: np.ndarray,
                alive: np.ndarray, at: float, *, use_local: bool) -> dict[str, Any]:
    """Seconds after `at` until each surviving node stopped routing to lost pods:
    p50/max over those nodes (max null when some node never did within the run)."""
    versions = history.all_versions
    write_time = commit_time[history.write_index] if len(history.write_index) else np.zeros(0)
    first = int(np.searchsorted(write_time, at, side="left"))  # version id in effect at `at`
    ids = np.arange(first, len(versions), dtype=np.int64)
    lost_pod = (pods.node >= 0) & ~alive[np.maximum(pods.node, 0)]
    zones = np.unique(node_zone[alive])
    rep = np.array([np.flatnonzero(alive & (node_zone == z))[0] for z in zones], dtype=np.int64)
    vid = np.repeat(ids, len(zones))
    node = np.tile(rep, len(ids))
    route, pools = assign_pools(
        versions, vid, node, node_zone[node].astype(np.int64), len(node_zone), use_local=use_local,
        traffic_distribution=history.traffic_distribution, terminating_fallback=history.terminating_fallback,
    )
    lost_in_pool = np.array([bool(lost_pod[pools.members(p)].any()) for p in range(len(pools.length))], dtype=bool)
    bad = np.zeros(len(route), dtype=bool)
    has_pool = route >= 0
    bad[has_pool] = lost_in_pool[route[has_pool]]
    per_zone = bad.reshape(len(ids), len(zones))
    done = np.full(len(node_zone), np.nan)
    for j, z in enumerate(zones.tolist()):
        members = np.flatnonzero(alive & (node_zone == z))
        rows = np.flatnonzero(per_zone[:, j])
        if len(rows) == 0:
            done[members] = 0.0  # its nodes never routed to the lost zone after the outage
            continue
        clean = int(ids[rows[-1]]) + 1
        if clean >= len(versions):
            done[members] = math.inf
            continue
        write = int(history.write_index[clean - 1])
        done[members] = _applied_after(syncs, members, write, len(node_zone)) - at
    done = np.maximum(done[alive], 0.0)
    finite = done[np.isfinite(done)]
    return {
        "nodes": len(done),
        "p50_s": round(float(np.percentile(finite, 50)), 6) if len(finite) else None,
        "max_s": round(float(done.max()), 6) if len(done) and np.isfinite(done.max()) else None,
        "never": int((~np.isfinite(done)).sum()),
    }


def _applied_after(syncs: Any, members: np.ndarray, write: int, n_nodes: int) -> np.ndarray:
    """End of each member node's first sync that applied stream write `write` (inf: none)."""
    first = np.full(n_nodes, np.inf)
    sel = np.asarray(syncs.last_write) > write
    np.minimum.at(first, np.asarray(syncs.node)[sel], np.asarray(syncs.end)[sel])
    return first[members]
