"""Per-node reference of the kube-proxy fleet: one SimPy kube-proxy per node, no vectors.

It implements the semantics documented in simk8s/proxy/fleet/__init__.py in the most
direct way, so tests can check the vectorized fleet against it at small scale (every fast
path has a plain reference). Per node:

* a watch process delivers each write at its arrival time: the change tracker queues or
  erases its trigger time (simk8s/proxy/changetracker.py), then Run() is called;
* the node's BoundedFrequencyRunner (simk8s/proxy/runner/, the release's generation) runs
  the sync as upstream's Loop would;
* a sync applies everything delivered by its start from the node's own cache, decides
  full vs partial and whether it runs the iptables stale-chain cleanup, pays the cost,
  and records the sync and the NPL samples of the trigger times it checked out.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import numpy as np
import simpy

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
from simk8s.proxy.runner import LATE, AbsoluteTimeEnvironment, make_runner


class _KubeProxy:
    """One node's kube-proxy: its cache of the watched objects, its runner, its syncs."""

    def __init__(
        self,
        env: AbsoluteTimeEnvironment,
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
        self.cache = {s: int(e) for s, e in enumerate(config.initial_service_endpoints)}
        self.delivered: list[int] = []  # writes received, not applied yet (FIFO)
        self.applied = 0  # writes [0, applied) are programmed
        self.queued_triggers: dict[int, list[float]] = {}  # lastChangeTriggerTimes by Service
        self.last_full = -math.inf
        self.last_cleanup = -math.inf  # lastIPTablesCleanup (FleetConfig.cleanup_period)
        self.large_cluster = False  # largeClusterMode after the last sync
        self.warm_pending = config.warm_start  # the t = 0 sync only initializes the runner
        if config.warm_start and config.initial_last_full is not None:
            self.last_full = float(config.initial_last_full[node])
        if config.warm_start and config.initial_last_cleanup is not None:
            self.last_cleanup = float(config.initial_last_cleanup[node])
        self.runner = make_runner(config.runner, env, self._sync, config.min_sync_period, config.max_interval)
        env.process(self._watch())

    def _watch(self) -> Generator[simpy.Event, None, None]:
        self.runner.run()  # the startup sync at t = 0
        stream = self.stream
        for w, arrival in enumerate(self.arrivals):
            yield self.env.at(float(arrival))
            self.delivered.append(w)
            service = int(stream.service[w])
            if stream.drops_triggers is not None and stream.drops_triggers[w]:
                self.queued_triggers.pop(service, None)
            elif math.isfinite(stream.trigger_time[w]):
                self.queued_triggers.setdefault(service, []).append(float(stream.trigger_time[w]))
            self.runner.run()

    def _sync(self, forced: bool) -> Generator[simpy.Event, None, None]:
        cfg, stream = self.config, self.stream
        start = self.env.now
        writes, self.delivered = self.delivered, []
        triggers, self.queued_triggers = self.queued_triggers, {}  # checkoutTriggerTimes
        warm_startup, self.warm_pending = self.warm_pending, False
        first = not cfg.warm_start and self.last_full == -math.inf
        if cfg.mode in PARTIAL_SYNC_MODES and not cfg.partial_syncs:
            full = not warm_startup
        else:
            full = not warm_startup and (
                first
                or (
                    cfg.mode in PARTIAL_SYNC_MODES
                    and math.isfinite(cfg.full_sync_period)  # infinite: never (v1.26–v1.32 iptables)
                    and start - self.last_full >= cfg.full_sync_period
                    and not (cfg.large_cluster_skips_full_sync and cfg.mode == "iptables" and self.large_cluster)
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
        self.large_cluster = total_endpoints > cfg.large_cluster_endpoints
        extra = {}
        if stream.endpoint_delta is not None:
            extra["endpoint_changes"] = np.array([sum(int(stream.endpoint_delta[w]) for w in writes)], dtype=np.int64)
        cleanup = None
        if cfg.cleanup_period is not None:
            # Stale-chain cleanup: every sync, except that in large-cluster mode (with the
            # pacing, since 1.25) only once strictly more than syncPeriod has passed since the
            # last one (FleetConfig).
            paced = self.large_cluster and cfg.large_cluster_cleanup_pacing
            cleanup = not warm_startup and (not paced or start - self.last_cleanup > cfg.cleanup_period)
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
        for times in triggers.values():  # observed once the rules are written
            self.npl.extend(end - t for t in times)
        first_write = self.applied - len(writes)
        self.rows.append((self.node, start, end, full, forced, first_write, self.applied, cleanup))
        yield self.env.at(end, LATE)


def run_reference(stream: ChangeStream, config: FleetConfig, cost_fn: SyncCostFn) -> FleetResult:
    """Same result as fleet.run_fleet, computed node by node; keeps exact NPL samples too."""
    validate(stream, config)
    n_writes = len(stream.commit_time)
    arrivals = np.array([stream.arrival(w) for w in range(n_writes)], dtype=np.float64)
    arrivals = arrivals.reshape(n_writes, config.n_nodes)
    if (np.diff(arrivals, axis=0) < 0).any():
        raise ValueError("arrival(w) must be non-decreasing in w on every node (FIFO watch)")
    env = AbsoluteTimeEnvironment()
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
