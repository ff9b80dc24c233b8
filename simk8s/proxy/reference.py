"""Per-node reference of the kube-proxy fleet: one SimPy process pair per node, no vectors.

It implements the semantics documented in simk8s/proxy/fleet/__init__.py in the most
direct way, so tests can check the vectorized fleet against it at small scale (every fast
path has a plain reference). Per node:

* a watch process delivers each write at its arrival time and calls Run();
* a sync loop asks its scalar runner (runner.py) when to start, applies everything
  delivered by then from the node's own cache, decides whether this sync runs the iptables
  stale-chain cleanup (when FleetConfig.cleanup_period is set), pays the cost, and
  records the sync and its NPL samples.

Events are scheduled at exact absolute times (not now + (t − now), which can round), and a
sync start is processed after every delivery at the same instant, so "a sync starting at
s applies the writes that arrived at or before s" holds exactly.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator

import numpy as np
import simpy
from simpy.core import NORMAL

from simk8s.proxy.fleet import (
    PARTIAL_SYNC_MODES,
    ChangeStream,
    FleetConfig,
    FleetResult,
    SyncCostFn,
    SyncTable,
    validate,
)
from simk8s.proxy.metrics import MsHistogram
from simk8s.proxy.runner import make_runner

LATE = NORMAL + 1  # after every NORMAL event at the same instant


class _AbsoluteTimeEnvironment(simpy.Environment):
    def at(self, time: float, priority: int = NORMAL) -> simpy.Event:
        """An event that fires at exactly `time` (built like simpy.Timeout, absolute time)."""
        event = simpy.Event(self)
        event._ok = True
        event._value = None
        heapq.heappush(self._queue, (time, priority, next(self._eid), event))  # type: ignore[misc]
        return event


class _KubeProxy:
    """One node's kube-proxy: its cache of the watched objects, its runner, its syncs."""

    def __init__(
        self,
        env: _AbsoluteTimeEnvironment,
        node: int,
        arrivals: np.ndarray,
        stream: ChangeStream,
        config: FleetConfig,
        cost_fn: SyncCostFn,
        rows: list[tuple],
        npl: list[float],
    ) -> None:
        self.env, self.node, self.arrivals = env, node, arrivals
        self.stream, self.config, self.cost_fn = stream, config, cost_fn
        self.rows, self.npl = rows, npl
        self.runner = make_runner(config.runner, config.min_sync_period, config.max_interval)
        self.cache = {s: int(e) for s, e in enumerate(config.initial_service_endpoints)}
        self.delivered: list[int] = []  # writes received, not applied yet (FIFO)
        self.applied = 0  # writes [0, applied) are programmed
        self.first_request = math.inf  # first Run() since the last sync start
        self.wake: simpy.Event | None = None
        self.last_full = -math.inf
        self.last_cleanup = -math.inf  # lastIPTablesCleanup (FleetConfig.cleanup_period)
        self.warm_pending = config.warm_start  # the t = 0 sync only initializes the runner
        if config.warm_start and config.initial_last_full is not None:
            self.last_full = float(config.initial_last_full[node])
        if config.warm_start and config.initial_last_cleanup is not None:
            self.last_cleanup = float(config.initial_last_cleanup[node])
        env.process(self._watch())
        env.process(self._sync_loop())

    def _watch(self) -> Generator[simpy.Event, None, None]:
        for w, arrival in enumerate(self.arrivals):
            yield self.env.at(float(arrival))
            self.delivered.append(w)
            self._run(float(arrival))

    def _run(self, now: float) -> None:
        """Run(): a request; coalesced with one already waiting."""
        if self.first_request == math.inf:
            self.first_request = now
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def _sync_loop(self) -> Generator[simpy.Event, None, None]:
        start, forced = 0.0, False  # startup sync at t = 0
        while start < self.config.end_time:
            yield self.env.at(start, LATE)
            writes, self.delivered = self.delivered, []
            self.first_request = math.inf
            self.runner.started(start)
            end = self._sync(start, forced, writes)
            yield self.env.at(end, LATE)
            self.runner.finished(end)
            start, forced = yield from self._next_start()

    def _next_start(self) -> Generator[simpy.Event, None, tuple[float, bool]]:
        """Wait for a Run() or the maxInterval timer, whichever decides the next start."""
        while self.first_request == math.inf:
            timer_start, _ = self.runner.next_start(math.inf)
            self.wake = self.env.event()
            yield self.wake | self.env.at(timer_start, LATE)
            self.wake = None
            if self.first_request == math.inf:
                return timer_start, True
        return self.runner.next_start(self.first_request)

    def _sync(self, start: float, forced: bool, writes: list[int]) -> float:
        cfg, stream = self.config, self.stream
        warm_startup, self.warm_pending = self.warm_pending, False
        first = not cfg.warm_start and self.last_full == -math.inf
        full = not warm_startup and (
            first
            or (
                cfg.mode in PARTIAL_SYNC_MODES
                and math.isfinite(cfg.full_sync_period)  # infinite: never (v1.26–v1.32 iptables)
                and start - self.last_full >= cfg.full_sync_period
            )
        )
        if full:
            self.last_full = start
        changed: set[int] = set()
        for w in writes:
            assert w == self.applied, "watch delivery must be FIFO"
            service = int(stream.service[w])
            self.cache[service] = int(stream.service_endpoints[w])
            changed.add(service)
            self.applied += 1
        total_endpoints = cfg.static_endpoints + sum(self.cache.values())
        extra = {}
        if stream.endpoint_delta is not None:
            extra["endpoint_changes"] = np.array([sum(int(stream.endpoint_delta[w]) for w in writes)], dtype=np.int64)
        cleanup = None
        if cfg.cleanup_period is not None:
            # Stale-chain cleanup: every sync, except that in large-cluster mode only once
            # strictly more than syncPeriod has passed since the last one (FleetConfig).
            large_cluster = total_endpoints > cfg.large_cluster_endpoints
            cleanup = not warm_startup and (
                not large_cluster or start - self.last_cleanup > cfg.cleanup_period
            )
            if cleanup:
                self.last_cleanup = start
            extra["cleanup"] = np.array([cleanup])
        cost = self.cost_fn(
            np.array([full]),
            np.array([forced]),
            np.array([len(changed)], dtype=np.int64),
            np.array([sum(self.cache[s] for s in changed)], dtype=np.int64),
            np.array([cfg.static_services + len(self.cache)], dtype=np.int64),
            np.array([total_endpoints], dtype=np.int64),
            np.array([cfg.node_speed[self.node]], dtype=np.float64),
            **extra,
        )
        end = start + (0.0 if warm_startup else float(np.asarray(cost)[0]))
        for w in writes:
            if math.isfinite(stream.trigger_time[w]):
                self.npl.append(end - float(stream.trigger_time[w]))
        first_write = self.applied - len(writes)
        self.rows.append((self.node, start, end, full, forced, first_write, self.applied, cleanup))
        return end


def run_reference(stream: ChangeStream, config: FleetConfig, cost_fn: SyncCostFn) -> FleetResult:
    """Same result as fleet.run_fleet, computed node by node; keeps exact NPL samples too."""
    validate(stream, config)
    n_writes = len(stream.commit_time)
    arrivals = np.array([stream.arrival(w) for w in range(n_writes)], dtype=np.float64)
    arrivals = arrivals.reshape(n_writes, config.n_nodes)
    if (np.diff(arrivals, axis=0) < 0).any():
        raise ValueError("arrival(w) must be non-decreasing in w on every node (FIFO watch)")
    env = _AbsoluteTimeEnvironment()
    rows: list[tuple] = []
    npl: list[float] = []
    for n in range(config.n_nodes):
        _KubeProxy(env, n, arrivals[:, n], stream, config, cost_fn, rows, npl)
    env.run(until=config.end_time)
    rows.sort(key=lambda r: (r[0], r[1]))
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    node, start, end, full, periodic, first_write, last_write, cleanup = columns
    first_write_arr = np.array(first_write, dtype=np.int64)
    last_write_arr = np.array(last_write, dtype=np.int64)
    syncs = SyncTable(
        node=np.array(node, dtype=np.int32),
        start=np.array(start, dtype=np.float64),
        end=np.array(end, dtype=np.float64),
        full=np.array(full, dtype=bool),
        periodic=np.array(periodic, dtype=bool),
        first_write=first_write_arr,
        last_write=last_write_arr,
        n_writes=last_write_arr - first_write_arr,
        cleanup=None if config.cleanup_period is None else np.array(cleanup, dtype=bool),
    )
    samples = np.array(npl, dtype=np.float64)
    hist = MsHistogram(max_ms=round(config.npl_max_seconds * 1000))
    hist.add(samples)
    return FleetResult(
        n_nodes=config.n_nodes,
        syncs=syncs,
        npl=hist,
        cpu_per_sync_second=config.cpu_per_sync_second,
        npl_samples=samples,
    )
