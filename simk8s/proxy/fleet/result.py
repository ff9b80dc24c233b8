"""What the fleet returns: the syncs table, NPL histogram and counters, and queries on them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from simk8s.proxy.metrics import (
    NPL_BUCKETS,
    QUANTILES,
    SYNC_DURATION_BUCKETS,
    MsHistogram,
    bucket_counts,
    exact_quantile,
)


@dataclass(frozen=True)
class SyncTable:
    """One row per sync, sorted by (node, start). Applied writes are [first_write, last_write)."""

    node: np.ndarray  # int32
    start: np.ndarray  # float64
    end: np.ndarray  # float64
    full: np.ndarray  # bool
    periodic: np.ndarray  # bool: forced by the maxInterval timer, not by a write
    first_write: np.ndarray  # int64
    last_write: np.ndarray  # int64: writes applied on this node once this sync ended
    n_writes: np.ndarray  # int64
    # bool: the sync ran the stale-chain cleanup; None when not modeled. Not in COLUMNS
    # (the syncs table keeps its columns).
    cleanup: np.ndarray | None = None

    COLUMNS = ("node", "start", "end", "full", "periodic", "first_write", "last_write", "n_writes")

    def __len__(self) -> int:
        return int(self.node.size)

    def frame(self) -> pd.DataFrame:
        # copy=False: columns stay the arrays themselves (no block consolidation: 2.4M rows
        # take ~0.4 s to copy); pandas' copy-on-write keeps the table safe to modify.
        return pd.DataFrame({name: getattr(self, name) for name in self.COLUMNS}, copy=False)

    @property
    def duration(self) -> np.ndarray:
        return self.end - self.start


@dataclass(frozen=True)
class FleetCounters:
    syncs: int
    full_syncs: int
    periodic_syncs: int
    cpu_seconds: float  # Σ sync durations × cpu_per_sync_second
    syncs_per_node: np.ndarray  # int64[N]
    cleanup_syncs: int | None = None  # syncs with the stale-chain cleanup; None: not modeled


@dataclass(frozen=True)
class FleetResult:
    n_nodes: int
    syncs: SyncTable
    npl: MsHistogram
    cpu_per_sync_second: float = 1.0
    npl_samples: np.ndarray | None = None  # exact samples (reference only)

    def syncs_frame(self) -> pd.DataFrame:
        return self.syncs.frame()

    @cached_property
    def _node_offsets(self) -> np.ndarray:
        return np.searchsorted(self.syncs.node, np.arange(self.n_nodes + 1), side="left")

    @cached_property
    def counters(self) -> FleetCounters:
        s = self.syncs
        return FleetCounters(
            syncs=len(s),
            full_syncs=int(s.full.sum()),
            periodic_syncs=int(s.periodic.sum()),
            cpu_seconds=float(s.duration.sum()) * self.cpu_per_sync_second,
            syncs_per_node=np.bincount(s.node, minlength=self.n_nodes).astype(np.int64),
            cleanup_syncs=None if s.cleanup is None else int(s.cleanup.sum()),
        )

    def npl_summary(self) -> dict[str, float]:
        """p50/p90/p99 from 1 ms bins (each < 1 ms above the exact value), exact max."""
        return self.npl.summary()

    def npl_prometheus(self) -> np.ndarray:
        """Cumulative counts per network_programming_duration_seconds bound, +Inf last."""
        return self.npl.prometheus_buckets(NPL_BUCKETS)

    def sync_duration_summary(self) -> dict[str, float]:
        """Exact nearest-rank percentiles of sync durations."""
        d = self.syncs.duration
        out = {f"p{round(q * 100)}": exact_quantile(d, q) for q in QUANTILES}
        out["max"] = float(d.max()) if d.size else float("nan")
        return out

    def sync_duration_prometheus(self) -> np.ndarray:
        """Cumulative counts per sync_proxy_rules_duration_seconds bound, +Inf last."""
        return bucket_counts(self.syncs.duration, SYNC_DURATION_BUCKETS)

    def applied_at(self, nodes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Writes programmed on node n by time t (last_write of its latest sync with end ≤ t).

        Vectorized binary search inside each node's segment of the (node, start)-sorted
        table; a node's ends increase because its syncs are serialized. Before the startup
        sync ends a node is serving its initial rules: 0 writes.
        """
        nodes = np.asarray(nodes, dtype=np.int64)
        times = np.asarray(times, dtype=np.float64)
        nodes, times = np.broadcast_arrays(nodes, times)
        ends = self.syncs.end
        seg_lo = self._node_offsets[nodes]
        lo = seg_lo.copy()
        hi = self._node_offsets[nodes + 1].copy()
        last = max(len(ends) - 1, 0)
        active = lo < hi  # all False when there are no syncs
        while active.any():
            mid = (lo + hi) // 2
            right = active & (ends[np.minimum(mid, last)] <= times)
            lo = np.where(right, mid + 1, lo)
            hi = np.where(active & ~right, mid, hi)
            active = lo < hi
        found = lo > seg_lo
        out = np.zeros(nodes.shape, dtype=np.int64)
        out[found] = self.syncs.last_write[lo[found] - 1]
        return out


def npl_histogram(
    syncs: SyncTable,
    trigger_time: np.ndarray,
    max_seconds: float,
    chunk: int = 1 << 16,
    next_drop: np.ndarray | None = None,
) -> MsHistogram:
    """NPL of every (write with a trigger time, node): sync end − trigger time, as upstream
    observes NetworkProgrammingLatency (`pkg/proxy/metrics/metrics.go`) after the sync that
    checked the time out. ``next_drop[w]`` (changetracker.next_drop): the first later write
    erasing w's queued time; a sync applying it too observes no sample for w.

    Built from the syncs table in chunks of ~`chunk` samples, never W × N at once (small
    chunks are faster: their temporaries stay in cache and need no fresh pages).
    """
    hist = MsHistogram(max_ms=round(max_seconds * 1000))
    trigger_time = np.asarray(trigger_time, dtype=np.float64)
    sampled = np.isfinite(trigger_time)
    triggers = trigger_time[sampled]
    dropped_at = None if next_drop is None else np.asarray(next_drop, dtype=np.int64)[sampled]
    sampled_before = np.concatenate(([0], np.cumsum(sampled)))  # [w] = samples among [0, w)
    lo = sampled_before[syncs.first_write]
    hi = sampled_before[syncs.last_write]
    rows = np.flatnonzero(hi > lo)
    lo, lengths, ends = lo[rows], (hi - lo)[rows], syncs.end[rows]
    applied_until = syncs.last_write[rows]
    cumulative = np.cumsum(lengths)
    begin = 0
    while begin < rows.size:
        done_before = cumulative[begin - 1] if begin else 0
        stop = int(np.searchsorted(cumulative, done_before + chunk, side="right"))
        stop = max(stop, begin + 1)
        part = slice(begin, stop)
        n = lengths[part]
        offsets = np.cumsum(n) - n
        write = np.arange(int(n.sum())) + np.repeat(lo[part] - offsets, n)
        latency = np.repeat(ends[part], n) - triggers[write]
        if dropped_at is not None:
            latency = latency[dropped_at[write] >= np.repeat(applied_until[part], n)]
        hist.add(latency)
        begin = stop
    return hist
