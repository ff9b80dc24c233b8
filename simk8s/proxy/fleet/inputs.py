"""What the fleet is given: the change stream, the fleet's settings and the sync-cost function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simk8s.proxy.metrics import DEFAULT_NPL_MAX_SECONDS, NPL_BUCKETS
from simk8s.proxy.runner import RUNNERS

MODES = ("iptables", "ipvs", "nftables")
# Modes with partial syncs between full ones: iptables (KEP-3453), nftables
# (kubernetes/kubernetes#126013); IPVS reconciles everything on every sync.
PARTIAL_SYNC_MODES = ("iptables", "nftables")


@dataclass(frozen=True)
class ChangeStream:
    """Writes of the object kind kube-proxy watches, in apiserver commit order (index w)."""

    commit_time: np.ndarray  # float64[W], apiserver commit time
    # float64[W], the trigger time write w queues in kube-proxy's change tracker; NaN = none
    # (simk8s/proxy/changetracker.py decides which writes queue one)
    trigger_time: np.ndarray
    service: np.ndarray  # int32[W], index of the (dynamic) service the write belongs to, 0..S-1
    service_endpoints: np.ndarray  # int32[W], that service's endpoint count AFTER write w
    arrival: Callable[[int], np.ndarray]  # arrival(w) -> float64[N], non-decreasing in w per node
    # Optional: endpoints added + removed by write w. When given, cost_fn is also called with
    # endpoint_changes= (the sum over the applied writes) — IPVS and nftables cost by the diff.
    endpoint_delta: np.ndarray | None = None
    # Optional bool[W]: write w removes an EndpointSlice, which erases every trigger time
    # still queued for its Service on a node (kubernetes/kubernetes#95363): a queued time is
    # observed only if the sync applying it does not also apply such a removal after it.
    drops_triggers: np.ndarray | None = None


@dataclass(frozen=True)
class FleetConfig:
    n_nodes: int
    mode: str  # iptables | ipvs | nftables
    runner: str  # "token-bucket" (≤ v1.33) | "completion-gap" (new runner)
    min_sync_period: float
    # the runner's maxInterval, counted from the end of the last run: iptables 3600,
    # ipvs/nftables syncPeriod
    max_interval: float
    full_sync_period: float  # iptables/nftables: FULL if first or now − last_full ≥ this
    end_time: float  # syncs starting at or after this are not simulated
    static_services: int  # background services (never change)
    static_endpoints: int  # their endpoints in total
    initial_service_endpoints: np.ndarray  # int32[S] endpoint count of each dynamic service at t=0
    node_speed: np.ndarray  # float64[N] per-node cost multiplier (drawn by the caller)
    # CPU-seconds per second of sync: syncProxyRules runs on one goroutine, so 1.0.
    cpu_per_sync_second: float = 1.0
    # NPL samples above this go into the last 1 ms bin (the exact max is kept).
    npl_max_seconds: float = DEFAULT_NPL_MAX_SECONDS
    # Warm start: kube-proxies have been running for a while, so their t = 0 "startup" sync
    # only initializes the runner (zero cost, not full), and each node's last full sync was
    # initial_last_full[n] (≤ 0; e.g. a uniform phase within the last fullSyncPeriod).
    warm_start: bool = False
    initial_last_full: np.ndarray | None = None
    # iptables stale-chain cleanup (kubernetes/kubernetes#110334), modeled only when
    # cleanup_period is set (to syncPeriod). Upstream syncProxyRules ends with an iptables-save of the nat table to
    # find stale KUBE-SVC/SEP chains, except that in large-cluster mode (this sync's total
    # endpoints > large_cluster_endpoints) it skips that unless strictly more than syncPeriod
    # has passed since the last cleanup; any cleanup, large mode or not, resets that clock,
    # full syncs included (the condition ignores full vs partial). A fresh kube-proxy has
    # never cleaned up, so its first sync does. cost_fn then gets ``cleanup=`` (bool[k]).
    # Simplification: "now" and the cleanup time are both the sync's start. Upstream reads
    # the clock after computing the rules and stamps the cleanup after the save, so real
    # cleanups come about one save duration (≈ 0.5 s at 3000 services) further apart.
    cleanup_period: float | None = None
    large_cluster_endpoints: int = 1000  # largeClusterEndpointsThreshold (iptables proxier.go)
    # Warm start: each node's last cleanup (≤ 0); None = never (its first sync cleans up).
    initial_last_cleanup: np.ndarray | None = None
    # Before 1.25 (kubernetes/kubernetes#110334) the stale-chain iptables-save runs on every
    # sync, whatever the cluster size: False turns the large-cluster pacing above off.
    large_cluster_cleanup_pacing: bool = True
    # False: every iptables/nftables sync is full (iptables before MinimizeIPTablesRestore,
    # KEP-3453; nftables before kubernetes/kubernetes#126013).
    partial_syncs: bool = True
    # iptables since kubernetes/kubernetes#138571: no fullSyncPeriod full sync while in
    # large-cluster mode. syncProxyRules decides doFullSync before it recomputes
    # largeClusterMode, so the PREVIOUS sync's mode (total endpoints > large_cluster_endpoints)
    # decides; a fresh kube-proxy starts out of it.
    large_cluster_skips_full_sync: bool = False


class SyncCostFn(Protocol):
    """Seconds per sync, elementwise; called positionally in this order. Must be elementwise
    deterministic (same inputs → same bits whatever the batch size). Keyword extras, passed
    only when configured: ``endpoint_changes=`` (int64[k], when stream.endpoint_delta is
    given) and ``cleanup=`` (bool[k]: stale-chain iptables-save runs, when
    config.cleanup_period is set). The arrays are valid during the call only (the fleet
    reuses their buffers): keep copies, not them."""

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
    if config.max_interval < config.min_sync_period:  # NewBoundedFrequencyRunner panics
        raise ValueError("max_interval must be ≥ min_sync_period")
    if stream.drops_triggers is not None and len(stream.drops_triggers) != n_writes:
        raise ValueError(f"stream.drops_triggers must have one entry per write ({n_writes})")
    if config.npl_max_seconds < NPL_BUCKETS[-1]:
        raise ValueError("npl_max_seconds must cover the largest NPL bucket (300 s)")
    if config.cleanup_period is not None and config.cleanup_period < 0:
        raise ValueError("cleanup_period must be ≥ 0")
