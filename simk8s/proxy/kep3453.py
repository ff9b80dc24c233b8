"""KEP-3453 at 5000 nodes: the gce-5000Nodes load test's NPL before and after partial restores.

A fleet-level experiment (kube-proxy.md §3.4, §6 rows 10–11). It synthesizes the EndpointSlice
writes of the clusterloader2 load test (§2.6 "Load-test composition"), runs every node's
kube-proxy through the vectorized fleet (fleet.py) with the calibrated cost model
(cost.py, through phase_cost_fn below), and reads NPL the way clusterloader2 does.

Phases (all iptables, token-bucket runner — the kube-proxy of late 2022, §2.2):

* ``A`` — before MinimizeIPTablesRestore: every sync is a full restore, minSyncPeriod 10 s
  (§2.1 GCE/CI row).
* ``B`` — MinimizeIPTablesRestore on (code of Nov 2022, v1.26), minSyncPeriod 10 s: every
  sync after startup is partial. The KEP text promises a full resync "at least once every
  iptablesSyncPeriod", but the v1.26 proxier does not do one: its syncs are partial unless
  needFullSync is set (startup, a failed restore, a node-label change, the canary monitor),
  and the runner's maxInterval (1 h) calls the same partial sync (§2.2, §2.3; periodic full
  syncs came with PR GH#129329 in 2024). What does recur, at the first sync more than
  iptablesSyncPeriod (1 min on GCE, §2.1) after the last one, is the large-cluster
  stale-chain cleanup: an iptables-save of the nat table inside that sync (§1.9, PR
  GH#110334, in every phase). The ~24 `iptables` jump-rule checks still ran on every sync
  then (skipped on partial syncs from PR GH#114181, opened 29 Nov 2022).
* ``C`` — as B with minSyncPeriod 1 s (PR GH#114229; KEP text: p50 "about 5 seconds");
  assumed to run after PR GH#114181, so partial syncs skip the jump-rule checks.

Workload (derivation, approximate): N/100 namespaces × (149 small × 5, 12 medium × 30,
1 big × 250 endpoints) → 8,100 Services, 67,750 endpoints at 5000 nodes. The load test
creates, scales and deletes pods at CL2_LOAD_TEST_THROUGHPUT pods/s (default 10, [CL2]
config.yaml) in every phase; 67,750 of its 150,000 pods back a Service, so endpoints change
at throughput × 67,750/150,000 per second. Simplifications (one line each, where they act):
steady state at the full size (the test's ramp-up and drain are not modelled); one
EndpointSlice write per endpoint change (no controller coalescing); one port per Service.

Delivery model (from pod readiness to each node's kube-proxy):

* trigger time = the pod's Ready transition; the annotation carries it at 1 s resolution
  (the Ready condition's lastTransitionTime is a metav1.Time, serialized in whole seconds),
  so NPL includes the truncated fraction, U(0, 1) s;
* commit = trigger + Exp(``controller_delay`` mean) (kubelet status write, EndpointSlice
  controller, apiserver commit — an assumption, 1 s by default);
* arrival = commit fanned out over one apiserver egress link (the GCE scale cluster has one
  control-plane VM) node after node: link busy N × bytes / bandwidth per write.

NPL is read like clusterloader2's NetworkProgrammingLatency (§2.6): histogram_quantile of
each 5-minute rate window of network_programming_duration_seconds, then the 0.99
quantile_over_time of those; the whole-run quantiles are returned too.

NPL is (nearly) independent of the node count here: every kube-proxy is an independent copy
of the same runner fed the same writes; N only enters through the fan-out delay
(N × ~5 KB / 10 Gbps ≈ 20 ms per write at 5000 nodes). So tests may use fewer nodes.

Machines: ``calibrated`` uses cost_params.yaml unchanged. ``gce-n1-standard-1`` scales the
per-line iptables-restore/-save costs by one factor fitted to phase A's published p50 (the
test nodes were 1-vCPU n1-standard-1 VMs running legacy iptables; the calibration rows are
bigger hosts). Everything else — A p90/p99, phase B, phase C — is then a prediction.

The kube-proxies have been running since the cluster came up, long before the load test
(warm start): the t = 0 sync only starts the runner, and each node's last stale-chain
cleanup lies uniformly in the minute before t = 0. The fleet runs that cleanup schedule
(FleetConfig.cleanup_period = iptablesSyncPeriod, large-cluster mode above 1000 endpoints)
and has no time-based full sync (v1.26); whether a sync restores fully is the phase's.

Results (5000 nodes, seed 1; CL2 statistic vs published A 28.1/36.3/42.2, B 13.5/19.5/24.3;
`python benchmarks/bench_kep3453.py`): calibrated A 13.6/17.7/20.6 s (−52/−51/−51%),
B 9.5/13.6/16.4 s (−30/−30/−33%), C p50 4.4 s (−12%); gce-n1-standard-1 (factor 3.295)
A 28.1/36.8/43.4 s (p50 fitted; +1/+3%), B 10.3/14.8/19.2 s (−24/−24/−21%), C p50 5.0 s
(+1%). Seeds 2–4 (1000 nodes): B −21/−21/−18% to −23/−22/−19%. What dominates NPL: in A,
the full sync itself (~5.5 s calibrated, ~16 s fitted, ~20 s in a cleanup sync; longer
than minSyncPeriod when fitted, so syncs run back to back and a change waits about one
sync, then rides the next); in B, the 10 s token-bucket wait (uniform 0–10 s) plus a
~1.7 s partial sync, the tail coming from the cleanup sync (~6.5 s fitted). Syncs shorter
than minSyncPeriod start on the token bucket's 10 s grid, so "more than 60 s since the
last cleanup" first holds 70 s after it: calibrated A and both B clean up every 70 s (as the
proxier does on such a grid, its cleanup stamp coming one iptables-save after the check's
clock); fitted A and C sync back to back and clean up at the first sync past 60 s
(mean gaps 68 s and 61 s).
B is under-predicted by ~3–5 s on every quantile, i.e. a per-change delay the model lacks
rather than a tail: candidates (not modelled, no figure to fit them to) are the ~24
legacy-iptables jump-rule checks on a ~300k-rule host costing far more than the 5 ms each
assumed (PR GH#114181: "even trivial iptables invocations are slow on hosts with lots of
iptables rules"), and the load test's bursty create/scale/delete steps (steady churn here).
Earlier models: with the cleanup read as "≥ 60 s" (every 60 s on the grid) fitted B was
10.4/15.0/19.4. Before the v1.26 correction (a full restore every 60 s as the KEP text says,
an iptables-save on every full sync, nodes started in phase, factor 2.686): A 28.1/36.0/41.7,
B 11.5/24.4/30.5 (−15/+25/+26%), C p50 5.6 s; that 60 s full resync with the present
warm start and factor gives B 11.9/27.7/34.4 (p99 +42%).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simk8s.proxy import cost as cost_model
from simk8s.proxy.fleet import ChangeStream, FleetConfig, FleetResult, SyncTable, run_fleet
from simk8s.proxy.metrics import NPL_BUCKETS, exact_quantile, histogram_quantile
from simk8s.rng import component_rng

# --- the load test (§2.6) ------------------------------------------------------------------
NODES_PER_NAMESPACE = 100
PODS_PER_NODE = 30
# (services per namespace, endpoints each): small, medium, big Services with a Deployment.
SERVICE_GROUPS = ((149, 5), (12, 30), (1, 250))
MAX_ENDPOINTS_PER_SLICE = 100  # EndpointSlice controller default
LOAD_TEST_THROUGHPUT = 10.0  # pods/s, CL2_LOAD_TEST_THROUGHPUT default ([CL2] config.yaml)

# --- kube-proxy of late 2022 (§2.1–§2.3) ---------------------------------------------------
IPTABLES_SYNC_PERIOD = 60.0  # GCE jobs: --iptables-sync-period=1m (§2.1); stale-chain cleanup period
IPTABLES_MAX_INTERVAL = 3600.0  # BFR maxInterval for iptables since PR #81517 (§2.2)
LARGE_CLUSTER_ENDPOINTS = 1000  # large-cluster mode threshold (§1.9)
NODE_SPEED_SPREAD = 0.1  # lognormal sigma of per-node cost, as the scenario default

# --- delivery (module docstring) -------------------------------------------------------------
CONTROLLER_DELAY = 1.0  # s, mean of Exp(): kubelet status → EndpointSlice write committed
APISERVER_BANDWIDTH = 10e9 / 8  # bytes/s of the single control-plane VM's egress (assumption)
SLICE_BASE_BYTES, SLICE_BYTES_PER_ENDPOINT = 300, 120  # protobuf EndpointSlice, approximate
WARMUP = 120.0  # s of churn before NPL is sampled: startup syncs are all at t = 0

# --- clusterloader2 NetworkProgrammingLatency (§2.6) -----------------------------------------
CL2_WINDOW = 300.0  # rate(...[5m])
CL2_STEP = 30.0  # evaluation step of quantile_over_time (Prometheus scrape-like)
CL2_OVER_TIME_QUANTILE = 0.99


@dataclass(frozen=True)
class Phase:
    name: str
    description: str
    min_sync_period: float
    full_restores: bool  # every sync rewrites all rules (A); else partial after startup (§2.3)
    jump_checks_every_sync: bool  # the `iptables` jump-rule checks run on partial syncs too
    published: dict[str, float]  # NPL seconds from KEP-3453 (§3.4; C from the KEP text)


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


@dataclass(frozen=True)
class LoadTestChurn:
    """The synthesized writes (commit order) and the cluster they act on."""

    initial_endpoints: np.ndarray  # int32[S], endpoints per Service at t = 0
    stream: ChangeStream
    bytes_per_write: np.ndarray  # float64[W], EndpointSlice size sent to each watcher


def service_sizes(cluster_nodes: int) -> np.ndarray:
    """Endpoints of every load-test Service at full size (§2.6), int32[S]."""
    namespaces = max(cluster_nodes // NODES_PER_NAMESPACE, 1)
    per_namespace = np.concatenate([np.full(n, e, dtype=np.int32) for n, e in SERVICE_GROUPS])
    return np.tile(per_namespace, namespaces)


def endpoint_change_rate(cluster_nodes: int, throughput: float = LOAD_TEST_THROUGHPUT) -> float:
    """Endpoint changes per second: the pod churn × the share of pods that back a Service."""
    total_pods = max(cluster_nodes // NODES_PER_NAMESPACE, 1) * NODES_PER_NAMESPACE * PODS_PER_NODE
    return throughput * float(service_sizes(cluster_nodes).sum()) / total_pods


def synthesize_churn(
    n_nodes: int,
    duration: float,
    rng: np.random.Generator,
    *,
    cluster_nodes: int | None = None,
    throughput: float = LOAD_TEST_THROUGHPUT,
    controller_delay: float = CONTROLLER_DELAY,
    bandwidth: float = APISERVER_BANDWIDTH,
    warmup: float = WARMUP,
) -> LoadTestChurn:
    """Poisson stream of one-endpoint EndpointSlice writes over [0, warmup + duration).

    `n_nodes` kube-proxies receive it; the cluster (Services, churn) is sized for
    `cluster_nodes` (default n_nodes). Writes in the warm-up carry no trigger time.
    """
    cluster_nodes = n_nodes if cluster_nodes is None else cluster_nodes
    sizes = service_sizes(cluster_nodes)
    horizon = warmup + duration
    n_writes = int(rng.poisson(endpoint_change_rate(cluster_nodes, throughput) * horizon))
    # Simplification: steady churn at full size (the test's ramp-up and drain are not
    # modelled), and one EndpointSlice write per endpoint change (no controller coalescing).
    ready = np.sort(rng.uniform(0.0, horizon, n_writes))
    # A pod event hits a Service in proportion to its pods; it adds or removes one endpoint
    # with equal odds (scale up/down, create/delete), so sizes random-walk around full size.
    service = rng.choice(sizes.size, n_writes, p=sizes / sizes.sum()).astype(np.int32)
    step = np.where(rng.random(n_writes) < 0.5, 1, -1)
    after = _random_walk(sizes, service, step)
    # Simplification: every Service's pods are spread over ceil(E/100) full slices; a write
    # re-sends one of them.
    slice_endpoints = np.minimum(after, MAX_ENDPOINTS_PER_SLICE)
    nbytes = SLICE_BASE_BYTES + SLICE_BYTES_PER_ENDPOINT * slice_endpoints.astype(np.float64)
    # The controller writes in readiness order (one queue): commits keep that order.
    commit = np.maximum.accumulate(ready + rng.exponential(controller_delay, n_writes))
    arrival = _fan_out(commit, nbytes, n_nodes, bandwidth, rng)
    trigger = np.floor(ready)  # lastTransitionTime has 1 s resolution
    trigger[ready < warmup] = np.nan
    stream = ChangeStream(
        commit_time=commit,
        trigger_time=trigger,
        service=service,
        service_endpoints=after,
        arrival=arrival,
        endpoint_delta=np.ones(n_writes, dtype=np.int32),
    )
    return LoadTestChurn(initial_endpoints=sizes, stream=stream, bytes_per_write=nbytes)


def _random_walk(sizes: np.ndarray, service: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Endpoint count of each write's Service after it; never below 1 (a removal at 1 adds)."""
    counts = sizes.astype(np.int64).copy()
    after = np.empty(service.size, dtype=np.int32)
    for i, (s, d) in enumerate(zip(service.tolist(), step.tolist(), strict=True)):
        c = counts[s] + (d if counts[s] + d >= 1 else 1)
        counts[s] = c
        after[i] = c
    return after


@dataclass(frozen=True)
class FanOutArrival:
    """arrival(w) = link start of write w + (node's rank in the send order) × send time."""

    base: np.ndarray  # float64[W]
    send: np.ndarray  # float64[W], seconds to send write w to one node
    rank: np.ndarray  # float64[N], 1-based

    def __call__(self, w: int) -> np.ndarray:
        return self.base[w] + self.rank * self.send[w]  # hot path: one call per write


def _fan_out(
    commit: np.ndarray, nbytes: np.ndarray, n_nodes: int, bandwidth: float, rng: np.random.Generator
) -> FanOutArrival:
    """One egress link sends each write to every node in turn, in a fixed random node order.

    Link start b[w] = max(commit[w], b[w-1] + N × send[w-1]): a max-plus recurrence solved
    with a running maximum. FIFO per node holds because b[w] ≥ b[w-1] + N × send[w-1].
    Simplification: no watch-cache or per-watcher buffering delay (as watch/fanout.py).
    """
    send = nbytes / bandwidth
    busy_before = np.concatenate(([0.0], np.cumsum(n_nodes * send)[:-1]))
    base = np.maximum.accumulate(commit - busy_before) + busy_before
    rank = rng.permutation(n_nodes).astype(np.float64) + 1.0
    return FanOutArrival(base=base, send=send, rank=rank)


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


# --- clusterloader2's NPL statistic ----------------------------------------------------------
def cl2_npl_quantiles(
    syncs: SyncTable,
    trigger_time: np.ndarray,
    *,
    start: float,
    stop: float,
    window: float = CL2_WINDOW,
    step: float = CL2_STEP,
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.99),
    chunk: int = 1 << 16,
) -> dict[str, float]:
    """quantile_over_time(0.99, histogram_quantile(q, rate(npl_bucket[window]))) (§2.6).

    Samples (one per applied write with a trigger time, per node, observed at the end of the
    sync) are binned by Prometheus bucket and by `step` of observation time; each window
    ending at a step in [start + window, stop] gives one histogram_quantile per q.
    """
    n_bounds = NPL_BUCKETS.size + 1  # + Inf
    n_steps = int(np.ceil(stop / step)) + 1
    counts = np.zeros(n_steps * n_bounds, dtype=np.int64)
    trigger_time = np.asarray(trigger_time, dtype=np.float64)
    sampled = np.isfinite(trigger_time)
    triggers = trigger_time[sampled]
    before = np.concatenate(([0], np.cumsum(sampled)))
    lo, hi = before[syncs.first_write], before[syncs.last_write]
    rows = np.flatnonzero((hi > lo) & (syncs.end < n_steps * step))
    lo, lengths, ends = lo[rows], (hi - lo)[rows], syncs.end[rows]
    cumulative = np.cumsum(lengths)
    begin = 0
    while begin < rows.size:  # chunked like fleet.npl_histogram: never W × N at once
        done = cumulative[begin - 1] if begin else 0
        end_row = max(int(np.searchsorted(cumulative, done + chunk, side="right")), begin + 1)
        n = lengths[begin:end_row]
        write = np.arange(int(n.sum())) + np.repeat(lo[begin:end_row] - (np.cumsum(n) - n), n)
        observed = np.repeat(ends[begin:end_row], n)
        bucket = np.searchsorted(NPL_BUCKETS, observed - triggers[write], side="left")
        time_bin = (observed // step).astype(np.int64)
        counts += np.bincount(time_bin * n_bounds + bucket, minlength=counts.size)
        begin = end_row
    per_step = counts.reshape(n_steps, n_bounds)
    through = np.vstack([np.zeros((1, n_bounds), dtype=np.int64), np.cumsum(per_step, axis=0)])
    width = round(window / step)
    evals = [k for k in range(n_steps + 1) if start + window <= k * step <= stop and k >= width]
    series: dict[float, list[float]] = {q: [] for q in quantiles}
    for k in evals:
        in_window = through[k] - through[k - width]
        if in_window.sum() == 0:
            continue
        cumulative_buckets = np.cumsum(in_window)
        for q in quantiles:
            series[q].append(histogram_quantile(NPL_BUCKETS, cumulative_buckets, q))
    return {
        f"p{round(q * 100)}": float(np.quantile(v, CL2_OVER_TIME_QUANTILE)) if v else float("nan")
        for q, v in series.items()
    }


# --- kube-proxy's sync cost per phase ----------------------------------------------------------
def phase_cost_fn(phase: Phase, params: cost_model.CostParams):
    """Seconds per sync for the fleet (fleet.SyncCostFn), following the v1.26-era proxier.

    Needs the fleet's ``cleanup=`` flag (FleetConfig.cleanup_period set): the sync runs the
    stale-chain iptables-save of the nat table (§1.9; the fleet applies the large-cluster
    rule). The restore is full on every sync in phase A and partial in B and C (§2.3), except
    a sync the fleet flags `full` (needFullSync at a cold startup; never in build_config's warm
    start). Simplification: the 2 lines per stale chain deleted by a cleanup sync are not
    charged (≈ 2 per endpoint removed in the last minute, ~300 lines against ~300k saved).
    """
    kind = "full" if phase.full_restores else "partial"
    jump_checks = float(params["iptables"]["t_full_extra"])  # the ~20 `iptables` calls (§2.3)

    def cost(full, periodic, changed_services, changed_endpoints, total_services, total_endpoints,
             speed, endpoint_changes=None, cleanup=None):
        if cleanup is None:
            raise ValueError("phase_cost_fn needs the fleet's cleanup flag: set FleetConfig.cleanup_period")
        args = (total_services, total_endpoints, 0, changed_services, changed_endpoints)
        t = cost_model.iptables_sync_seconds(kind, *args, cleanup=cleanup, speed=speed, params=params)
        if kind == "partial" and phase.jump_checks_every_sync:
            t = t + jump_checks * np.asarray(speed, dtype=np.float64)  # before PR GH#114181
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
        runner="token-bucket",  # the runner of late 2022 (§2.2)
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
        # Stale-chain cleanup (§1.9): in large-cluster mode only when more than syncPeriod has
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
    cleanup = syncs.cleanup[later]  # the sync ran the stale-chain iptables-save (§1.9)
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
