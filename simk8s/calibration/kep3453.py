"""KEP-3453 at 5000 nodes: the gce-5000Nodes load test's NPL before and after partial restores.

Replays the NPL figure of KEP-3453 (kubernetes/enhancements
`keps/sig-network/3453-minimize-iptables-restore/README.md`, `5000Node-perf.png`; values
digitized, see docs/references.md [KEP-3453]). The EndpointSlice writes of the
clusterloader2 load test come from loadtest.py; every node's kube-proxy runs through the
vectorized fleet (simk8s.proxy.fleet) with the calibrated cost model (simk8s.proxy.cost,
through phase_cost_fn below); NPL is read the way clusterloader2 does (cl2.py).

Phases (all iptables, token-bucket runner `pkg/util/async/bounded_frequency_runner.go` —
the kube-proxy of late 2022):

* ``A`` — before MinimizeIPTablesRestore: every sync is a full restore, minSyncPeriod 10 s
  (the GCE scale jobs' `--iptables-min-sync-period=10s`, kubernetes/kubernetes#46266).
* ``B`` — MinimizeIPTablesRestore on (code of Nov 2022, v1.26), minSyncPeriod 10 s: every
  sync after startup is partial. The KEP text promises a full resync "at least once every
  iptablesSyncPeriod", but the v1.26 `syncProxyRules` does not do one: its syncs are
  partial unless needFullSync is set (startup, a failed restore, a node-label change, the
  canary monitor), and the runner's maxInterval (1 h) calls the same partial sync
  (kubernetes/kubernetes#129128, #133767; periodic full syncs came with
  kubernetes/kubernetes#129329 in v1.33). What does recur, at the first sync more than
  iptablesSyncPeriod (1 min on GCE) after the last one, is the large-cluster stale-chain
  cleanup: an iptables-save of the nat table inside that sync (kubernetes/kubernetes#110334,
  in every phase). The ~24 `iptables` jump-rule checks still ran on every sync then
  (skipped on partial syncs from kubernetes/kubernetes#114181, opened 29 Nov 2022).
* ``C`` — as B with minSyncPeriod 1 s (kubernetes/kubernetes#114229; KEP text: p50 "about
  5 seconds"); assumed to run after #114181, so partial syncs skip the jump-rule checks.

NPL is (nearly) independent of the node count here: every kube-proxy is an independent copy
of the same runner fed the same writes; N only enters through the fan-out delay
(N × ~5 KB / 10 Gbps ≈ 20 ms per write at 5000 nodes). So tests may use fewer nodes.

Machines: ``calibrated`` uses cost_params.yaml unchanged. ``gce-n1-standard-1`` scales the
per-line iptables-restore/-save costs by one factor fitted to phase A's published p50 (the
test nodes were 1-vCPU n1-standard-1 VMs running legacy iptables; the calibration figures
come from bigger hosts). Everything else — A p90/p99, phase B, phase C — is a prediction.

The kube-proxies have been running since the cluster came up, long before the load test
(warm start): the t = 0 sync only starts the runner, and each node's last stale-chain
cleanup lies uniformly in the minute before t = 0. The fleet runs that cleanup schedule
(FleetConfig.cleanup_period = iptablesSyncPeriod, large-cluster mode above 1000 endpoints)
and has no time-based full sync (v1.26); whether a sync restores fully is the phase's.

Results (5000 nodes, seed 1, `python benchmarks/bench_kep3453.py`) and what dominates NPL
in each phase: docs/model.md, "Calibration studies".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simk8s.calibration.cl2 import cl2_npl_quantiles
from simk8s.calibration.loadtest import (
    CONTROLLER_DELAY,
    LOAD_TEST_THROUGHPUT,
    WARMUP,
    LoadTestChurn,
    synthesize_churn,
)
from simk8s.proxy import cost as cost_model
from simk8s.proxy.fleet import FleetConfig, FleetResult, run_fleet
from simk8s.proxy.metrics import exact_quantile
from simk8s.rng import component_rng

# --- kube-proxy of late 2022 -----------------------------------------------------------------
IPTABLES_SYNC_PERIOD = 60.0  # GCE jobs: --iptables-sync-period=1m (kubernetes/kubernetes#46266); cleanup period
IPTABLES_MAX_INTERVAL = 3600.0  # runner maxInterval for iptables since kubernetes/kubernetes#81517
LARGE_CLUSTER_ENDPOINTS = 1000  # largeClusterEndpointsThreshold, pkg/proxy/iptables/proxier.go
NODE_SPEED_SPREAD = 0.1  # lognormal sigma of per-node cost, as the scenario default


@dataclass(frozen=True)
class Phase:
    name: str
    description: str
    min_sync_period: float
    full_restores: bool  # every sync rewrites all rules (A); else partial after startup
    jump_checks_every_sync: bool  # the `iptables` jump-rule checks run on partial syncs too
    published: dict[str, float]  # NPL seconds from KEP-3453's figure (C: its text)


PHASES: dict[str, Phase] = {
    "A": Phase("A", "full restores, min-sync 10s", 10.0, True, True,
               {"p50": 28.1, "p90": 36.3, "p99": 42.2}),
    # v1.26 code: no periodic full resync (needFullSync only), see the module docstring.
    "B": Phase("B", "partial restores, min-sync 10s", 10.0, False, True,
               {"p50": 13.5, "p90": 19.5, "p99": 24.3}),
    "C": Phase("C", "partial restores, min-sync 1s", 1.0, False, False, {"p50": 5.0}),
}

# Restore/save per-line cost multiplier of the gce-5000Nodes nodes, fitted by
# fit_line_cost_factor() to phase A's published CL2 p50 (28.1 s); see the module docstring.
N1_STANDARD_1_LINE_COST_FACTOR = 3.295
MACHINES: dict[str, float] = {"calibrated": 1.0, "gce-n1-standard-1": N1_STANDARD_1_LINE_COST_FACTOR}


# --- cost model per machine ----------------------------------------------------------------
def machine_params(line_cost_factor: float) -> cost_model.CostParams:
    """cost_params.yaml with iptables-restore/-save per-line costs × factor (1.0: unchanged)."""
    raw = copy.deepcopy(cost_model.load_params().raw)
    raw["iptables"]["t_restore_per_line"] *= line_cost_factor
    raw["iptables"]["t_save_per_line"] *= line_cost_factor
    return cost_model.CostParams(raw)


def _line_cost_factor(machine: str | float) -> float:
    if isinstance(machine, str):
        try:
            return MACHINES[machine]
        except KeyError:
            raise ValueError(f"machine must be one of {sorted(MACHINES)} or a factor") from None
    return float(machine)


# --- kube-proxy's sync cost per phase ----------------------------------------------------------
def phase_cost_fn(phase: Phase, params: cost_model.CostParams):
    """Seconds per sync for the fleet (SyncCostFn), following the v1.26-era iptables proxier.

    Needs the fleet's ``cleanup=`` flag (FleetConfig.cleanup_period set): the sync runs the
    stale-chain iptables-save of the nat table (kubernetes/kubernetes#110334; the fleet
    applies the large-cluster rule). The restore is full on every sync in phase A and
    partial in B and C (KEP-3453), except a sync the fleet flags `full` (needFullSync at a
    cold startup; never in build_config's warm start). Simplification: the 2 lines per stale chain deleted by a cleanup sync are not
    charged (≈ 2 per endpoint removed in the last minute, ~300 lines against ~300k saved).
    """
    kind = "full" if phase.full_restores else "partial"
    jump_checks = float(params["iptables"]["t_full_extra"])  # the ~20 `iptables` calls of a full sync

    def cost(full, periodic, changed_services, changed_endpoints, total_services, total_endpoints,
             speed, endpoint_changes=None, cleanup=None):
        if cleanup is None:
            raise ValueError("phase_cost_fn needs the fleet's cleanup flag: set FleetConfig.cleanup_period")
        args = (total_services, total_endpoints, 0, changed_services, changed_endpoints)
        t = cost_model.iptables_sync_seconds(kind, *args, cleanup=cleanup, speed=speed, params=params)
        if kind == "partial" and phase.jump_checks_every_sync:
            t = t + jump_checks * np.asarray(speed, dtype=np.float64)  # before kubernetes/kubernetes#114181
        full = np.asarray(full, dtype=bool)
        if kind == "partial" and full.any():  # needFullSync: a full restore (with the checks)
            t = np.where(full, cost_model.iptables_sync_seconds(
                "full", *args, cleanup=cleanup, speed=speed, params=params), t)
        return t

    return cost


# --- the experiment ----------------------------------------------------------------------------
DEFAULT_DURATION = 1800.0  # s of steady load-test churn after the warm-up


def build_config(
    phase: Phase, churn: LoadTestChurn, n_nodes: int, end_time: float, rng: np.random.Generator,
    params: cost_model.CostParams, cleanup_rng: np.random.Generator,
) -> FleetConfig:
    speed = rng.lognormal(0.0, NODE_SPEED_SPREAD, n_nodes)
    return FleetConfig(
        n_nodes=n_nodes,
        mode="iptables",
        runner="token-bucket",  # the runner of late 2022 (pkg/util/async)
        min_sync_period=phase.min_sync_period,
        max_interval=IPTABLES_MAX_INTERVAL,
        # v1.26: no time-based full sync (needFullSync only; module docstring), so never.
        full_sync_period=np.inf,
        end_time=end_time,
        static_services=0,  # every load-test Service is in the stream's service table
        static_endpoints=0,
        initial_service_endpoints=churn.initial_endpoints,
        node_speed=speed,
        cpu_per_sync_second=float(params["iptables"]["cpu_fraction"]),
        # Running since cluster bring-up (module docstring): no startup full sync in the run
        # (the one at bring-up is before t = 0; any finite time: with full_sync_period = inf
        # only last_full = −inf would make a sync full), and the nodes' cleanup minutes are
        # out of phase with one another.
        warm_start=True,
        initial_last_full=np.zeros(n_nodes),
        # Stale-chain cleanup (syncProxyRules): in large-cluster mode only when more than syncPeriod has
        # passed since the last one. Simplification: the fleet measures it between sync starts
        # (the proxier stamps it after its iptables-save).
        cleanup_period=IPTABLES_SYNC_PERIOD,
        large_cluster_endpoints=LARGE_CLUSTER_ENDPOINTS,
        initial_last_cleanup=-cleanup_rng.uniform(0.0, IPTABLES_SYNC_PERIOD, n_nodes),
    )


def run_kep3453(
    phase: str,
    *,
    nodes: int = 5000,
    seed: int = 1,
    duration: float = DEFAULT_DURATION,
    machine: str | float = "calibrated",
    cluster_nodes: int = 5000,
    throughput: float = LOAD_TEST_THROUGHPUT,
    controller_delay: float = CONTROLLER_DELAY,
) -> dict:
    """Run one phase ("A", "B" or "C") of the KEP-3453 5000-node job.

    `nodes` kube-proxies are simulated in a cluster sized for `cluster_nodes` (Services,
    churn); `machine` is a MACHINES name or a restore/save per-line cost factor. Returns NPL
    (clusterloader2 statistic and whole-run quantiles, seconds) and sync statistics.
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {sorted(PHASES)}, got {phase!r}")
    spec = PHASES[phase]
    factor = _line_cost_factor(machine)
    params = machine_params(factor)
    churn = synthesize_churn(
        nodes, duration, component_rng(seed, "kep3453/churn"), cluster_nodes=cluster_nodes,
        throughput=throughput, controller_delay=controller_delay,
    )
    stop = WARMUP + duration
    end_time = stop + 60.0  # writes of the last seconds still get applied
    config = build_config(
        spec, churn, nodes, end_time, component_rng(seed, "kep3453/node-speed"), params,
        component_rng(seed, "kep3453/cleanup-phase"),
    )
    result = run_fleet(churn.stream, config, phase_cost_fn(spec, params))
    return _report(spec, result, churn, machine, factor, nodes, cluster_nodes, seed, duration, stop)


def _report(spec: Phase, result: FleetResult, churn: LoadTestChurn, machine, factor: float,
            nodes: int, cluster_nodes: int, seed: int, duration: float, stop: float) -> dict:
    syncs = result.syncs
    whole = result.npl_summary()
    cl2 = cl2_npl_quantiles(syncs, churn.stream.trigger_time, start=WARMUP, stop=stop)
    later = syncs.start > 0.0  # the t = 0 runner start of a warm start is not a sync
    d = syncs.duration[later]
    if syncs.cleanup is None:
        raise ValueError("the KEP-3453 fleet models the stale-chain cleanup (FleetConfig.cleanup_period)")
    cleanup = syncs.cleanup[later]  # the sync ran the stale-chain iptables-save
    full = spec.full_restores | syncs.full[later]  # full restores (phase_cost_fn)
    n_syncs = int(later.sum())
    c = result.counters
    return {
        "phase": spec.name,
        "description": spec.description,
        "machine": machine if isinstance(machine, str) else f"factor {factor:g}",
        "line_cost_factor": factor,
        "nodes": nodes,
        "cluster_nodes": cluster_nodes,
        "seed": seed,
        "duration_s": duration,
        "services": int(churn.initial_endpoints.size),
        "endpoints": int(churn.initial_endpoints.sum()),
        "writes": int(churn.stream.commit_time.size),
        "npl_s": cl2,  # clusterloader2 NetworkProgrammingLatency: compare with `published`
        "npl_whole_run_s": {k: whole[k] for k in ("p50", "p90", "p99", "max")},
        "npl_samples": int(result.npl.count),
        "published_s": dict(spec.published),
        "syncs": n_syncs,
        "full_syncs": int(full.sum()),  # full restores
        "cleanup_syncs": c.cleanup_syncs,  # with the nat-table iptables-save (none at warm t = 0)
        "periodic_syncs": c.periodic_syncs,
        "syncs_per_node": n_syncs / nodes,
        "sync_seconds": {f"p{round(q * 100)}": exact_quantile(d, q) for q in (0.5, 0.99)}
        | {"max": float(d.max()) if d.size else float("nan")},
        "full_sync_seconds_median": _median(d[full]),
        "partial_sync_seconds_median": _median(d[~full & ~cleanup]),
        "cleanup_sync_seconds_median": _median(d[cleanup]),
        "cpu_seconds_total": c.cpu_seconds,
    }


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else float("nan")


def kep3453_table(
    *,
    machines: tuple[str | float, ...] = ("calibrated", "gce-n1-standard-1"),
    phases: tuple[str, ...] = ("A", "B", "C"),
    nodes: int = 5000,
    seed: int = 1,
    duration: float = DEFAULT_DURATION,
) -> pd.DataFrame:
    """Published vs simulated NPL per (machine, phase, metric). `fitted` marks the one figure
    a machine's factor was fitted to (phase A p50 for gce-n1-standard-1)."""
    rows = []
    for machine in machines:
        for phase in phases:
            out = run_kep3453(phase, nodes=nodes, seed=seed, duration=duration, machine=machine)
            for metric, published in PHASES[phase].published.items():
                simulated = out["npl_s"][metric]
                rows.append({
                    "phase": phase,
                    "metric": metric,
                    "published": published,
                    "simulated": simulated,
                    "rel_error": simulated / published - 1.0,
                    "machine": out["machine"],
                    "fitted": machine == "gce-n1-standard-1" and phase == "A" and metric == "p50",
                })
    return pd.DataFrame(rows)


def fit_line_cost_factor(
    target_p50: float = PHASES["A"].published["p50"],
    *,
    nodes: int = 200,
    seed: int = 1,
    duration: float = DEFAULT_DURATION,
    low: float = 1.0,
    high: float = 5.0,
    tolerance: float = 0.005,
) -> float:
    """Bisect the restore/save per-line factor so phase A's CL2 p50 meets `target_p50`.

    How N1_STANDARD_1_LINE_COST_FACTOR was obtained (NPL is ~node-count-independent, so
    a few hundred nodes suffice). Assumes p50 grows with the factor (full syncs get longer).
    """
    def p50(factor: float) -> float:
        return run_kep3453("A", nodes=nodes, seed=seed, duration=duration, machine=factor)["npl_s"]["p50"]

    if not p50(low) <= target_p50 <= p50(high):
        raise ValueError(f"target p50 {target_p50} s is outside the factor range [{low}, {high}]")
    while high - low > tolerance:
        mid = 0.5 * (low + high)
        low, high = (mid, high) if p50(mid) < target_p50 else (low, mid)
    return round(0.5 * (low + high), 3)
