"""The kube-proxy fleet: every node's sync schedule as numpy state advanced by vector steps.

Semantics (kube-proxy.md §2.1–§2.7; the per-node reference in reference.py is the spec in
plain code):

* every kube-proxy does its startup sync at t = 0 (FULL, takes a token);
* a write reaching a node at time a is a Run() request at a (§2.2); runs are serialized
  and rate-limited by the runner (runner.py), requests during a wait or a sync coalesce;
* the maxInterval timer restarts at each start and forces a (rate-limited) run: IPVS's
  30 s reconcile, iptables' hourly full sync (§2.2, §2.4);
* a sync starting at s applies every write that reached the node at or before s;
* full vs partial (§2.3, §2.5): iptables/nftables sync FULL at startup and when
  s − last full start ≥ fullSyncPeriod; IPVS reconciles every time (FULL only at startup),
  and its timer-forced syncs are flagged `periodic`;
* stale-chain cleanup (iptables, §1.9, §2.3; only when config.cleanup_period is set): see
  FleetConfig.cleanup_period; the flag goes to the cost function as ``cleanup=``;
* NPL (§2.6): one sample per (write with a trigger time, node) = end of the sync that
  applied it on that node − trigger time;
* syncs starting at or after end_time are not simulated (one that starts before it is
  kept whole); a write not applied by then on a node gives no sample for that node.

Algorithm. One Python step per write in commit order. Per node the state is the *open*
sync: its start ``s_open`` and the first write it will apply ``first_pending``. Write w
reaching node n at a closes the open sync when s_open < a (w is too late for it), and
timer-forced syncs that fit before a are closed in a ``while`` loop; the rest of the fleet
is untouched. Every sync closed at step w applied exactly writes [first_pending, w), so
the cluster state "as of the last applied write" is one global value per w, shared by
all nodes closing at that step. Hot path: ``np.less(s_open, a)`` + ``any()`` per write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd

from simk8s.proxy.metrics import (
    DEFAULT_NPL_MAX_SECONDS,
    NPL_BUCKETS,
    QUANTILES,
    SYNC_DURATION_BUCKETS,
    MsHistogram,
    bucket_counts,
    exact_quantile,
)
from simk8s.proxy.runner import BURST_SYNCS, RUNNERS

MODES = ("iptables", "ipvs", "nftables")
# Modes with partial syncs between hourly full syncs (§2.3, §2.5).
PARTIAL_SYNC_MODES = ("iptables", "nftables")


@dataclass(frozen=True)
class ChangeStream:
    """Writes of the object kind kube-proxy watches, in apiserver commit order (index w)."""

    commit_time: np.ndarray  # float64[W], apiserver commit time
    trigger_time: np.ndarray  # float64[W], last-change-trigger-time; NaN = no NPL sample
    service: np.ndarray  # int32[W], index of the (dynamic) service the write belongs to, 0..S-1
    service_endpoints: np.ndarray  # int32[W], that service's endpoint count AFTER write w
    arrival: Callable[[int], np.ndarray]  # arrival(w) -> float64[N], non-decreasing in w per node
    # Optional: endpoints added + removed by write w. When given, cost_fn is also called with
    # endpoint_changes= (the sum over the applied writes) — IPVS and nftables cost by the diff.
    endpoint_delta: np.ndarray | None = None


@dataclass(frozen=True)
class FleetConfig:
    n_nodes: int
    mode: str  # iptables | ipvs | nftables
    runner: str  # "token-bucket" (≤ v1.33) | "completion-gap" (new runner)
    min_sync_period: float
    max_interval: float  # forced run if none for this long: iptables 3600, ipvs/nftables syncPeriod
    full_sync_period: float  # iptables/nftables: FULL if first or now − last_full ≥ this
    end_time: float  # syncs starting at or after this are not simulated
    static_services: int  # background services (never change)
    static_endpoints: int  # their endpoints in total
    initial_service_endpoints: np.ndarray  # int32[S] endpoint count of each dynamic service at t=0
    node_speed: np.ndarray  # float64[N] per-node cost multiplier (drawn by the caller)
    # CPU-seconds per second of sync: syncProxyRules runs on one goroutine, so 1.0 (§2.2).
    cpu_per_sync_second: float = 1.0
    # NPL samples above this go into the last 1 ms bin (the exact max is kept).
    npl_max_seconds: float = DEFAULT_NPL_MAX_SECONDS
    # Warm start: kube-proxies have been running for a while, so their t = 0 "startup" sync
    # only initializes the runner (zero cost, not full), and each node's last full sync was
    # initial_last_full[n] (≤ 0; e.g. a uniform phase within the last fullSyncPeriod).
    warm_start: bool = False
    initial_last_full: np.ndarray | None = None
    # iptables stale-chain cleanup (§1.9, §2.3), modeled only when cleanup_period is set (to
    # syncPeriod). Upstream syncProxyRules ends with an iptables-save of the nat table to
    # find stale KUBE-SVC/SEP chains, except that in large-cluster mode (this sync's total
    # endpoints > large_cluster_endpoints) it skips that unless strictly more than syncPeriod
    # has passed since the last cleanup; any cleanup, large mode or not, resets that clock,
    # full syncs included (the condition ignores full vs partial). A fresh kube-proxy has
    # never cleaned up, so its first sync does. cost_fn then gets ``cleanup=`` (bool[k]).
    # Simplification: "now" and the cleanup time are both the sync's start. Upstream reads
    # the clock after computing the rules and stamps the cleanup after the save, so real
    # cleanups come about one save duration (≈ 0.5 s at 3000 services) further apart.
    cleanup_period: float | None = None
    large_cluster_endpoints: int = 1000  # largeClusterEndpointsThreshold
    # Warm start: each node's last cleanup (≤ 0); None = never (its first sync cleans up).
    initial_last_cleanup: np.ndarray | None = None


class SyncCostFn(Protocol):
    """Seconds per sync, elementwise; called positionally in this order. Must be elementwise
    deterministic (same inputs → same bits whatever the batch size). Keyword extras, passed
    only when configured: ``endpoint_changes=`` (int64[k], when stream.endpoint_delta is
    given) and ``cleanup=`` (bool[k]: stale-chain iptables-save runs, when
    config.cleanup_period is set)."""

    def __call__(
        self,
        full: np.ndarray,
        periodic: np.ndarray,
        changed_services: np.ndarray,
        changed_endpoints: np.ndarray,
        total_services: np.ndarray,
        total_endpoints: np.ndarray,
        node_speed: np.ndarray,
    ) -> np.ndarray: ...


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


def validate(stream: ChangeStream, config: FleetConfig) -> None:
    """Reject inputs the fleet cannot simulate faithfully (cheap checks only)."""
    if config.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {config.mode!r}")
    if config.runner not in RUNNERS:
        raise ValueError(f"runner must be one of {sorted(RUNNERS)}, got {config.runner!r}")
    n_writes = len(stream.commit_time)
    for name in ("trigger_time", "service", "service_endpoints"):
        if len(getattr(stream, name)) != n_writes:
            raise ValueError(f"stream.{name} must have one entry per write ({n_writes})")
    if len(config.node_speed) != config.n_nodes:
        raise ValueError("config.node_speed must have one entry per node")
    n_services = len(config.initial_service_endpoints)
    if n_writes and (stream.service.min() < 0 or stream.service.max() >= n_services):
        raise ValueError("stream.service must index config.initial_service_endpoints")
    if config.min_sync_period < 0 or config.max_interval <= 0:
        raise ValueError("need min_sync_period ≥ 0 and max_interval > 0")
    if config.npl_max_seconds < NPL_BUCKETS[-1]:
        raise ValueError("npl_max_seconds must cover the largest NPL bucket (300 s)")
    if config.cleanup_period is not None and config.cleanup_period < 0:
        raise ValueError("cleanup_period must be ≥ 0")


class _ClusterState:
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


@dataclass
class _FleetState:
    """Per-node runner state as arrays (one row per kube-proxy)."""

    n: int
    s_open: np.ndarray = field(init=False)  # next (open) sync's start; inf: none before end
    forced: np.ndarray = field(init=False)  # open sync was forced by the maxInterval timer
    first_pending: np.ndarray = field(init=False)  # first write the open sync applies
    allowed: np.ndarray = field(init=False)  # earliest start the runner allows
    deadline: np.ndarray = field(init=False)  # maxInterval timer (last start + max_interval)
    tat: np.ndarray = field(init=False)  # token bucket GCRA state (runner.TokenBucketRunner)
    last_full: np.ndarray = field(init=False)
    last_cleanup: np.ndarray = field(init=False)  # start of the last stale-chain cleanup
    first: np.ndarray = field(init=False)  # startup sync still open

    def __post_init__(self) -> None:
        n = self.n
        self.s_open = np.zeros(n)  # startup sync at t = 0, a request, not timer-forced
        self.forced = np.zeros(n, dtype=bool)
        self.first_pending = np.zeros(n, dtype=np.int64)
        self.allowed = np.zeros(n)
        self.deadline = np.zeros(n)
        self.tat = np.zeros(n)  # bucket full at t = 0
        self.last_full = np.full(n, -np.inf)
        self.last_cleanup = np.full(n, -np.inf)
        self.first = np.ones(n, dtype=bool)


class _Fleet:
    def __init__(self, stream: ChangeStream, config: FleetConfig, cost_fn: SyncCostFn) -> None:
        self.stream = stream
        self.config = config
        self.cost_fn = cost_fn
        self.state = _FleetState(config.n_nodes)
        self.cluster = _ClusterState(stream, config)
        self.speed = np.asarray(config.node_speed, dtype=np.float64)
        self.delta_cum = (
            None
            if stream.endpoint_delta is None
            else np.concatenate([[0], np.cumsum(stream.endpoint_delta, dtype=np.int64)])
        )
        if config.warm_start and config.initial_last_full is not None:
            self.state.last_full = np.asarray(config.initial_last_full, dtype=np.float64).copy()
        if config.warm_start and config.initial_last_cleanup is not None:
            self.state.last_cleanup = np.asarray(config.initial_last_cleanup, dtype=np.float64).copy()
        self.track_cleanup = config.cleanup_period is not None
        self.token_bucket = config.runner == "token-bucket"
        self.partial_mode = config.mode in PARTIAL_SYNC_MODES
        self.total_services = config.static_services + self.cluster.n_services
        self.records: list[tuple[np.ndarray, ...]] = []

    def run(self) -> SyncTable:
        st = self.state
        n_writes = len(self.stream.commit_time)
        late = np.empty(st.n, dtype=bool)
        previous = np.full(st.n, -np.inf)
        for w in range(n_writes):
            a = np.asarray(self.stream.arrival(w), dtype=np.float64)
            np.less(a, previous, out=late)  # the algorithm relies on FIFO watch delivery
            if late.any():
                raise ValueError(f"arrival({w}) is earlier than arrival({w - 1}) on some node")
            np.copyto(previous, a)  # (the caller may reuse its output buffer)
            np.less(st.s_open, a, out=late)  # hot path: which open syncs are too early for w
            if late.any():
                idle = self._close_due(np.flatnonzero(late), a, w)
                if idle.size:  # write w is the first request of their next sync
                    a_idle, deadline = a[idle], st.deadline[idle]
                    st.s_open[idle] = np.maximum(np.minimum(a_idle, deadline), st.allowed[idle])
                    st.forced[idle] = deadline < a_idle
            self.cluster.observe(w)
        # After the last write only timer-forced syncs remain, up to end_time.
        until = np.full(st.n, self.config.end_time)
        self._close_due(np.flatnonzero(st.s_open < until), until, n_writes)
        return self._table()

    def _close_due(self, idx: np.ndarray, a: np.ndarray, w: int) -> np.ndarray:
        """Close open syncs of nodes `idx` that start before a[node]; returns nodes now idle."""
        st = self.state
        end_time = self.config.end_time
        closed: np.ndarray | None = None
        while idx.size:
            start = st.s_open[idx]
            live = start < end_time
            if not live.all():  # no further sync starts before end_time on these nodes
                st.s_open[idx[~live]] = np.inf
                idx, start = idx[live], start[live]
            if closed is None:
                closed = idx
            if not idx.size:
                break
            self._close(idx, start, w)
            idx = idx[st.s_open[idx] < a[idx]]  # timer-forced syncs that also fit before a
        if closed is None or not closed.size:
            return np.empty(0, dtype=np.int64)
        return closed[np.isfinite(st.s_open[closed])]

    def _close(self, idx: np.ndarray, start: np.ndarray, w: int) -> None:
        """Finalize the open syncs of nodes idx (they apply writes [first_pending, w))."""
        st, cfg = self.state, self.config
        k = idx.size
        first_pending = st.first_pending[idx]
        startup = st.first[idx]
        full = startup.copy() if not cfg.warm_start else np.zeros(k, dtype=bool)
        # §2.3 / §2.5: full at startup and every fullSyncPeriod (an infinite period: never,
        # as in v1.26–v1.32 iptables, even from a warm start's last_full = −inf).
        if self.partial_mode and np.isfinite(cfg.full_sync_period):
            periodic_full = (start - st.last_full[idx]) >= cfg.full_sync_period
            full |= periodic_full & ~startup if cfg.warm_start else periodic_full
        periodic = st.forced[idx]
        if first_pending.min() < w:
            changed_services, changed_endpoints = self.cluster.changed(first_pending, w)
        else:
            changed_services = changed_endpoints = np.zeros(k, dtype=np.int64)
        total_endpoints = cfg.static_endpoints + int(self.cluster.dynamic_total[w])
        extra = {}
        if self.delta_cum is not None:
            extra["endpoint_changes"] = self.delta_cum[w] - self.delta_cum[first_pending]
        cleanup = None
        if self.track_cleanup:  # FleetConfig.cleanup_period; all k nodes share one total
            if total_endpoints > cfg.large_cluster_endpoints:  # large-cluster mode
                cleanup = (start - st.last_cleanup[idx]) > cfg.cleanup_period
            else:
                cleanup = np.ones(k, dtype=bool)
            if cfg.warm_start:
                cleanup &= ~startup  # the warm t = 0 "sync" does no work
            st.last_cleanup[idx[cleanup]] = start[cleanup]
            extra["cleanup"] = cleanup
        cost = np.asarray(
            self.cost_fn(
                full,
                periodic,
                changed_services,
                changed_endpoints,
                np.full(k, self.total_services, dtype=np.int64),
                np.full(k, total_endpoints, dtype=np.int64),
                self.speed[idx],
                **extra,
            ),
            dtype=np.float64,
        )
        if cfg.warm_start:
            cost[startup] = 0.0  # already programmed before t = 0
        end = start + cost
        # Runner update: same formulas, same float order as runner.py.
        if self.token_bucket:
            tat = np.maximum(st.tat[idx], start) + cfg.min_sync_period
            st.tat[idx] = tat
            allowed = np.maximum(end, tat - (BURST_SYNCS - 1) * cfg.min_sync_period)
        else:
            allowed = end + cfg.min_sync_period
        deadline = start + cfg.max_interval
        st.last_full[idx[full]] = start[full]
        st.first[idx] = False
        st.first_pending[idx] = w
        st.allowed[idx] = allowed
        st.deadline[idx] = deadline
        st.s_open[idx] = np.maximum(deadline, allowed)  # no request yet: the timer's run
        st.forced[idx] = True
        self.records.append((idx, start, end, full, periodic, first_pending, cleanup))

    def _table(self) -> SyncTable:
        """Records → (node, start)-sorted table. last_write is not stored: a node's applied
        ranges tile its writes, so it is the next sync's first_write, or for the node's last
        sync the node's final first_pending."""
        n = self.state.n
        if self.records:
            columns = list(zip(*self.records, strict=True))
            cleanups = columns.pop()  # all None when the cleanup is not modeled
            cleanup = np.concatenate(cleanups) if self.track_cleanup else None
            node, start, end, full, periodic, first_write = (np.concatenate(c) for c in columns)
        else:
            node = first_write = np.empty(0, dtype=np.int64)
            start = end = np.empty(0)
            full = periodic = np.empty(0, dtype=bool)
            cleanup = np.empty(0, dtype=bool) if self.track_cleanup else None
        # A node's syncs are recorded in start order, so a stable sort by node gives
        # (node, start); int16 keys get numpy's radix sort (5× faster than int32).
        key = node.astype(np.int16 if n <= np.iinfo(np.int16).max else np.int32)
        order = np.argsort(key, kind="stable")
        per_node = np.bincount(node, minlength=n)
        first_write = first_write[order]
        last_write = np.empty_like(first_write)
        last_write[:-1] = first_write[1:]
        has_syncs = per_node > 0
        last_write[np.cumsum(per_node)[has_syncs] - 1] = self.state.first_pending[has_syncs]
        return SyncTable(
            node=np.repeat(np.arange(n, dtype=np.int32), per_node),
            start=start[order],
            end=end[order],
            full=full[order],
            periodic=periodic[order],
            first_write=first_write,
            last_write=last_write,
            n_writes=last_write - first_write,
            cleanup=None if cleanup is None else cleanup[order],
        )


def npl_histogram(
    syncs: SyncTable, trigger_time: np.ndarray, max_seconds: float, chunk: int = 1 << 16
) -> MsHistogram:
    """NPL (§2.6) of every (write with a trigger time, node): sync end − trigger time.

    Built from the syncs table in chunks of ~`chunk` samples, never W × N at once (small
    chunks are faster: their temporaries stay in cache and need no fresh pages).
    """
    hist = MsHistogram(max_ms=round(max_seconds * 1000))
    trigger_time = np.asarray(trigger_time, dtype=np.float64)
    sampled = np.isfinite(trigger_time)
    triggers = trigger_time[sampled]
    sampled_before = np.concatenate(([0], np.cumsum(sampled)))  # [w] = samples among [0, w)
    lo = sampled_before[syncs.first_write]
    hi = sampled_before[syncs.last_write]
    rows = np.flatnonzero(hi > lo)
    lo, lengths, ends = lo[rows], (hi - lo)[rows], syncs.end[rows]
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
        hist.add(np.repeat(ends[part], n) - triggers[write])
        begin = stop
    return hist


def run_fleet(stream: ChangeStream, config: FleetConfig, cost_fn: SyncCostFn) -> FleetResult:
    """Simulate every node's kube-proxy syncs for `stream` (see the module docstring)."""
    validate(stream, config)
    syncs = _Fleet(stream, config, cost_fn).run()
    npl = npl_histogram(syncs, stream.trigger_time, config.npl_max_seconds)
    return FleetResult(
        n_nodes=config.n_nodes,
        syncs=syncs,
        npl=npl,
        cpu_per_sync_second=config.cpu_per_sync_second,
    )
