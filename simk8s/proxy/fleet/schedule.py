"""The fleet's schedule: every node's runner advanced write by write, as numpy arrays.

Semantics: see the package docstring (simk8s/proxy/fleet/__init__.py).

Algorithm. One Python step per write in commit order. Per node the state is the *open*
sync: its start ``s_open`` and the first write it will apply ``first_pending``. Write w
reaching node n at a closes the open sync when s_open < a (w is too late for it), and
timer-forced syncs that fit before a are closed in a ``while`` loop; the rest of the fleet
is untouched. Every sync closed at step w applied exactly writes [first_pending, w), so
the cluster state "as of the last applied write" is one global value per w, shared by
all nodes closing at that step. Hot path: ``np.less(s_open, a)`` + ``any()`` per write
(and one more compare for the ≤ v1.33 runner's deferred runs).

Runner schedules in closed form (the SimPy runners in simk8s/proxy/runner/ are the spec;
same float operations, so the fleet-vs-reference test compares bits). After a run
[s, e]: no request yet → the maxInterval timer's run at e + maxInterval (both runners).
A first request at a (≤ that deadline):

* v1.34+ (`pkg/proxy/runner`): start at max(a, e + minInterval);
* ≤ v1.33 (`pkg/util/async`): tryRun at t = max(a, e); a token (``free`` ≤ t) starts it at
  t; otherwise the timer moves to e + minInterval, and a later request finding a token
  (arriving at ≥ ``free``) starts the run earlier, at its own arrival (``pull``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simk8s.proxy.changetracker import next_drop
from simk8s.proxy.fleet.cluster_state import ClusterState
from simk8s.proxy.fleet.inputs import (
    PARTIAL_SYNC_MODES,
    ChangeStream,
    FleetConfig,
    SyncCostFn,
    validate,
)
from simk8s.proxy.fleet.order import stable_order
from simk8s.proxy.fleet.result import FleetResult, SyncTable, npl_histogram


@dataclass
class _FleetState:
    """Per-node runner state as arrays (one row per kube-proxy)."""

    n: int
    min_interval: float
    s_open: np.ndarray = field(init=False)  # next (open) sync's start; inf: none before end
    forced: np.ndarray = field(init=False)  # open sync was forced by the maxInterval timer
    first_pending: np.ndarray = field(init=False)  # first write the open sync applies
    end: np.ndarray = field(init=False)  # end of the last sync (lastRun)
    free: np.ndarray = field(init=False)  # ≤ v1.33 token bucket: next token (runner.TokenBucket)
    pull: np.ndarray = field(init=False)  # ≤ v1.33 deferred run: a request at ≥ this starts it
    last_full: np.ndarray = field(init=False)
    last_cleanup: np.ndarray = field(init=False)  # start of the last stale-chain cleanup
    large: np.ndarray = field(init=False)  # the last sync was in large-cluster mode
    first: np.ndarray = field(init=False)  # startup sync still open

    def __post_init__(self) -> None:
        n = self.n
        self.s_open = np.zeros(n)  # startup sync at t = 0, a request, not timer-forced
        self.forced = np.zeros(n, dtype=bool)
        self.first_pending = np.zeros(n, dtype=np.int64)
        self.end = np.full(n, -np.inf)
        self.free = np.full(n, -self.min_interval)  # bucket full at t = 0
        self.pull = np.full(n, np.inf)
        self.last_full = np.full(n, -np.inf)
        self.last_cleanup = np.full(n, -np.inf)
        self.large = np.zeros(n, dtype=bool)
        self.first = np.ones(n, dtype=bool)


class _Fleet:
    def __init__(self, stream: ChangeStream, config: FleetConfig, cost_fn: SyncCostFn) -> None:
        self.stream = stream
        self.config = config
        self.cost_fn = cost_fn
        self.state = _FleetState(config.n_nodes, config.min_sync_period)
        self.cluster = ClusterState(stream, config)
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
        self.track_large = config.large_cluster_skips_full_sync and config.mode == "iptables"
        self.total_services = config.static_services + self.cluster.n_services
        # Per-sync columns handed to cost_fn (every closing node shares these totals).
        self.total_services_row = np.full(config.n_nodes, self.total_services, dtype=np.int64)
        self.total_endpoints_row = np.empty(config.n_nodes, dtype=np.int64)
        self.startup_open = config.n_nodes > 0  # some node's t = 0 sync is still open
        # iptables/nftables full syncs every fullSyncPeriod (see `_full`)
        self.periodic_full_syncs = (self.partial_mode and config.partial_syncs
                                    and bool(np.isfinite(config.full_sync_period)))
        self.records: list[tuple[np.ndarray, ...]] = []  # (node, start, end, full, periodic, first_write)
        self.cleanups: list[np.ndarray] = []  # one per record when the cleanup is modelled

    def run(self) -> SyncTable:
        st = self.state
        n_writes = len(self.stream.commit_time)
        late = np.empty(st.n, dtype=bool)
        pulled = np.empty(st.n, dtype=bool)
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
                    self._first_request(idle, a[idle])
            if self.token_bucket:  # deferred runs that write w's Run() starts now
                np.less_equal(st.pull, a, out=pulled)
                if pulled.any():
                    idx = np.flatnonzero(pulled)
                    st.s_open[idx] = a[idx]
                    st.pull[idx] = np.inf
            self.cluster.observe(w)
        # After the last write only timer-forced syncs remain, up to end_time.
        until = np.full(st.n, self.config.end_time)
        self._close_due(np.flatnonzero(st.s_open < until), until, n_writes)
        return self._table()

    def _first_request(self, idx: np.ndarray, a: np.ndarray) -> None:
        """A Run() at a[i] (≤ the maxInterval deadline) on idle nodes idx: their next start."""
        st = self.state
        end = st.end[idx]
        if self.token_bucket:
            t = np.maximum(a, end)  # tryRun: at once, or when the running sync ends
            token = t >= st.free[idx]
            st.s_open[idx] = np.where(token, t, end + self.config.min_sync_period)
            st.pull[idx] = np.where(token, np.inf, st.free[idx])
        else:
            st.s_open[idx] = np.maximum(a, end + self.config.min_sync_period)
        st.forced[idx] = False

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
        # Once every node has closed its t = 0 sync (all but the first step), the startup
        # terms below are all False and are skipped.
        startup = st.first[idx] if self.startup_open else None
        full = self._full(idx, start, startup)
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
        large_cluster = total_endpoints > cfg.large_cluster_endpoints  # all k nodes share one total
        if self.track_large:
            st.large[idx] = large_cluster
        if self.track_cleanup:  # FleetConfig.cleanup_period
            if large_cluster and cfg.large_cluster_cleanup_pacing:
                cleanup = (start - st.last_cleanup[idx]) > cfg.cleanup_period
            else:
                cleanup = np.ones(k, dtype=bool)
            if cfg.warm_start and startup is not None:
                cleanup &= ~startup  # the warm t = 0 "sync" does no work
            st.last_cleanup[idx[cleanup]] = start[cleanup]
            extra["cleanup"] = cleanup
        self.total_endpoints_row[:k] = total_endpoints
        cost = np.asarray(
            self.cost_fn(
                full,
                periodic,
                changed_services,
                changed_endpoints,
                self.total_services_row[:k],
                self.total_endpoints_row[:k],
                self.speed[idx],
                **extra,
            ),
            dtype=np.float64,
        )
        if cfg.warm_start and startup is not None:
            cost[startup] = 0.0  # already programmed before t = 0
        end = start + cost
        # Runner update: the same float operations as simk8s/proxy/runner/.
        if self.token_bucket:  # TokenBucket.try_accept at the start
            st.free[idx] = np.maximum(st.free[idx] + cfg.min_sync_period, start)
            st.pull[idx] = np.inf  # (read by the token-bucket runner only)
        st.end[idx] = end
        if self.periodic_full_syncs:  # (last_full is read by `_full` only then)
            st.last_full[idx[full]] = start[full]
        if startup is not None:
            st.first[idx] = False
            self.startup_open = bool(st.first.any())
        st.first_pending[idx] = w
        st.s_open[idx] = end + cfg.max_interval  # no request yet: the timer's run
        st.forced[idx] = True
        self.records.append((idx, start, end, full, periodic, first_pending))
        if cleanup is not None:
            self.cleanups.append(cleanup)

    def _full(self, idx: np.ndarray, start: np.ndarray, startup: np.ndarray | None) -> np.ndarray:
        """Which of these syncs are full (`startup`: their t = 0 sync; None: none is)."""
        st, cfg = self.state, self.config
        k = idx.size
        if startup is not None and not cfg.warm_start:
            full = startup.copy()
        else:
            full = np.zeros(k, dtype=bool)
        if self.partial_mode and not cfg.partial_syncs:
            full[:] = True  # every sync writes everything (the warm t = 0 no-op aside)
            if cfg.warm_start and startup is not None:
                full &= ~startup
        elif self.periodic_full_syncs:
            # Full at startup and every fullSyncPeriod (`doFullSync` in syncProxyRules; an
            # infinite period: never, as in v1.26–v1.32 iptables, even from a warm start's
            # last_full = −inf); not in large-cluster mode since #138571 (previous sync's mode).
            periodic_full = (start - st.last_full[idx]) >= cfg.full_sync_period
            if self.track_large:
                periodic_full &= ~st.large[idx]
            if cfg.warm_start and startup is not None:
                full |= periodic_full & ~startup
            else:
                full |= periodic_full
        return full

    def _table(self) -> SyncTable:
        """Records → (node, start)-sorted table. last_write is not stored: a node's applied
        ranges tile its writes, so it is the next sync's first_write, or for the node's last
        sync the node's final first_pending."""
        n = self.state.n
        if self.records:
            columns = list(zip(*self.records, strict=True))
            cleanup = np.concatenate(self.cleanups) if self.track_cleanup else None
            node, start, end, full, periodic, first_write = (np.concatenate(c) for c in columns)
        else:
            node = first_write = np.empty(0, dtype=np.int64)
            start = end = np.empty(0)
            full = periodic = np.empty(0, dtype=bool)
            cleanup = np.empty(0, dtype=bool) if self.track_cleanup else None
        # A node's syncs are recorded in start order, so a stable sort by node gives
        # (node, start); by 16-bit radix passes (5× faster than a merge sort of int32).
        order = stable_order(node)
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


def run_fleet(stream: ChangeStream, config: FleetConfig, cost_fn: SyncCostFn) -> FleetResult:
    """Simulate every node's kube-proxy syncs for `stream` (see the package docstring)."""
    validate(stream, config)
    syncs = _Fleet(stream, config, cost_fn).run()
    drops = None if stream.drops_triggers is None else next_drop(stream.service, stream.drops_triggers)
    npl = npl_histogram(syncs, stream.trigger_time, config.npl_max_seconds, next_drop=drops)
    return FleetResult(
        n_nodes=config.n_nodes,
        syncs=syncs,
        npl=npl,
        cpu_per_sync_second=config.cpu_per_sync_second,
    )
