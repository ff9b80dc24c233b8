"""KEP-3453 5000-node job (the NPL figure of KEP-3453; rows 10–11): phases A/B against the figure.

NPL is node-count-independent in this model (only the ~20 ms fan-out delay depends on N; see
simk8s/calibration/kep3453.py and test_npl_does_not_depend_on_node_count), so the accuracy tests
simulate 100 kube-proxies of the full-size (5000-node) cluster to stay fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from simk8s.calibration.cl2 import cl2_npl_quantiles
from simk8s.calibration.kep3453 import (
    IPTABLES_SYNC_PERIOD,
    N1_STANDARD_1_LINE_COST_FACTOR,
    PHASES,
    build_config,
    kep3453_table,
    machine_params,
    phase_cost_fn,
    run_kep3453,
)
from simk8s.calibration.loadtest import (
    WARMUP,
    endpoint_change_rate,
    service_sizes,
    synthesize_churn,
)
from simk8s.proxy import cost as cost_model
from simk8s.proxy.fleet import SyncTable, run_fleet

NODES = 100  # kube-proxies simulated in the 5000-node cluster


def rel(out: dict, metric: str) -> float:
    return out["npl_s"][metric] / out["published_s"][metric] - 1.0


@pytest.fixture(scope="module")
def fitted():
    return {p: run_kep3453(p, nodes=NODES, machine="gce-n1-standard-1") for p in "AB"}


@pytest.fixture(scope="module")
def calibrated():
    return {p: run_kep3453(p, nodes=NODES) for p in "AB"}


def test_load_test_composition_at_5000_nodes():
    sizes = service_sizes(5000)  # clusterloader2 load config: ≈ 8,100 Services, ≈ 68k endpoints
    assert sizes.size == 8100
    assert int(sizes.sum()) == 67_750
    # 10 pods/s of churn × 67,750 / 150,000 service-backed pods.
    assert endpoint_change_rate(5000) == pytest.approx(10 * 67_750 / 150_000)


def test_small_configuration_exact_counters():
    a = run_kep3453("A", nodes=20, duration=300.0, seed=1)
    b = run_kep3453("B", nodes=20, duration=300.0, seed=1)
    assert (a["writes"], a["syncs"], a["full_syncs"], a["npl_samples"]) == (1861, 880, 880, 26660)
    # Same writes and samples; v1.26 B never restores fully after startup (kubernetes/kubernetes#129128).
    assert (b["writes"], b["syncs"], b["full_syncs"], b["npl_samples"]) == (1861, 880, 0, 26660)
    # Both run the large-cluster stale-chain cleanup (kubernetes/kubernetes#110334) on the
    # fleet's schedule, at the first sync more than 60 s after the last one. (121 while a
    # refused Run() started exactly when the next token came, putting starts on a 10 s grid
    # and cleanups 70 s apart; the runner defers it to 10 s after the last sync's END unless
    # a later Run() finds the token first, so starts drift off that grid.)
    assert a["cleanup_syncs"] == b["cleanup_syncs"] == 138
    assert a["periodic_syncs"] == b["periodic_syncs"] == 0  # churn never lets the 1 h timer fire


def test_phase_cost_follows_the_v126_proxier():
    params = machine_params(1.0)
    q = params["iptables"]
    args = (np.array([3]), np.array([40]), np.array([8100]), np.array([67_750]), np.array([1.0]))
    no, yes = np.array([False]), np.array([True])
    save = q["t_save_per_line"] * cost_model.iptables_save_lines(8100, 67_750)
    b, c = phase_cost_fn(PHASES["B"], params), phase_cost_fn(PHASES["C"], params)
    partial = cost_model.iptables_sync_seconds("partial", 8100, 67_750, 0, 3, 40, cleanup=False,
                                               params=params)
    full = cost_model.iptables_sync_seconds("full", 8100, 67_750, 0, 3, 40, cleanup=False, params=params)
    # B: partial restore + the jump-rule checks (before kubernetes/kubernetes#114181); C: without them.
    assert b(no, no, *args, cleanup=no) == pytest.approx(partial + q["t_full_extra"])
    assert c(no, no, *args, cleanup=no) == pytest.approx(partial)
    # The fleet's cleanup flag only adds the nat-table iptables-save, never a full restore.
    assert b(no, no, *args, cleanup=yes) - b(no, no, *args, cleanup=no) == pytest.approx(save)
    # A restores fully on every sync, and saves only when the fleet says the cleanup is due.
    a = phase_cost_fn(PHASES["A"], params)
    assert a(no, no, *args, cleanup=no) == pytest.approx(full)
    assert a(no, no, *args, cleanup=yes) == pytest.approx(full + save)
    # needFullSync (the fleet's `full`, a cold startup) restores fully in every phase.
    assert c(yes, no, *args, cleanup=yes) == pytest.approx(full + save)
    with pytest.raises(ValueError, match="cleanup"):
        b(no, no, *args)  # the cleanup schedule is the fleet's (FleetConfig.cleanup_period)


def test_cleanup_schedule_and_warm_start():
    # Phase B, 20 nodes: the fleet's stale-chain cleanup, no full sync at all (v1.26).
    nodes, duration, params = 20, 300.0, machine_params(1.0)
    churn = synthesize_churn(nodes, duration, np.random.default_rng(5), cluster_nodes=5000)
    config = build_config(PHASES["B"], churn, nodes, WARMUP + duration + 60.0,
                          np.random.default_rng(6), params, np.random.default_rng(7))
    syncs = run_fleet(churn.stream, config, phase_cost_fn(PHASES["B"], params)).syncs
    assert not syncs.full.any()
    startup = syncs.start == 0.0  # warm start: the t = 0 runner start does no cleanup
    assert startup.sum() == nodes and not syncs.cleanup[startup].any()
    first, later = [], []
    for n in range(nodes):
        cleanups = syncs.start[(syncs.node == n) & syncs.cleanup]
        gaps = np.diff(np.concatenate(([config.initial_last_cleanup[n]], cleanups)))
        first.append(gaps[0])
        later.extend(gaps[1:])
    gaps = np.concatenate((first, later))
    # The first sync more than syncPeriod after the last cleanup. Under this churn a sync
    # starts at most minSyncPeriod after the previous one ENDED (a refused Run() waits for
    # the runner's timer at lastRun + 10 s), so starts are ≤ 10 s + a sync apart.
    longest = float((syncs.end - syncs.start).max())
    assert np.all((gaps > IPTABLES_SYNC_PERIOD) & (gaps <= IPTABLES_SYNC_PERIOD + 10.0 + longest))
    same_node = np.diff(syncs.node) == 0
    spacing = np.diff(syncs.start)[same_node]
    assert spacing.max() > 10.0  # start to start: more than minSyncPeriod after a deferral
    assert len(later) == 119


def test_churn_stream_is_fifo_and_drops_warmup_samples():
    churn = synthesize_churn(50, 120.0, np.random.default_rng(3), cluster_nodes=5000, warmup=60.0)
    s = churn.stream
    assert np.all(np.diff(s.commit_time) >= 0)
    arrivals = np.array([s.arrival(w) for w in range(len(s.commit_time))])
    assert np.all(np.diff(arrivals, axis=0) >= 0)  # the fleet requires FIFO delivery per node
    assert np.all(arrivals >= s.commit_time[:, None])
    sampled = np.isfinite(s.trigger_time)
    assert 0 < sampled.sum() < sampled.size  # warm-up writes carry no trigger time
    assert np.all(s.trigger_time[sampled] == np.floor(s.trigger_time[sampled]))  # whole seconds
    assert s.service_endpoints.min() >= 1


def test_phase_a_syncs_are_all_full_and_b_never(fitted):
    a, b = fitted["A"], fitted["B"]
    assert a["full_syncs"] == a["syncs"]
    assert b["full_syncs"] == 0
    # The stale-chain cleanup comes at the first sync more than iptablesSyncPeriod after the
    # last one: 60–70 s apart (syncs ≤ 10 s apart), while the churn (until WARMUP + 1800 s)
    # keeps the nodes syncing; none after end_time (60 s later).
    churn_end = WARMUP + 1800.0
    low = NODES * (churn_end // (IPTABLES_SYNC_PERIOD + 10.0))
    assert low <= b["cleanup_syncs"] <= NODES * np.ceil((churn_end + 60.0) / IPTABLES_SYNC_PERIOD)
    assert b["partial_sync_seconds_median"] < a["full_sync_seconds_median"] / 5
    # A cleanup sync = partial restore + iptables-save of the nat table, far below a full one.
    assert b["cleanup_sync_seconds_median"] < a["full_sync_seconds_median"] / 2


def test_fitted_machine_reproduces_phases_a_and_b(fitted):
    a, b = fitted["A"], fitted["B"]
    assert abs(rel(a, "p50")) <= 0.03  # the one fitted figure
    assert abs(rel(a, "p90")) <= 0.25  # predictions from here on
    assert abs(rel(a, "p99")) <= 0.25
    # B within the issue's ±25%, under-predicted by ≈ 12–17% on every quantile (100 nodes).
    for q in ("p50", "p90", "p99"):
        assert -0.20 <= rel(b, q) <= -0.10


def test_partial_restores_halve_p50(fitted):
    # KEP text: "a 2x improvement" of p50 (~27 s → ~13 s).
    assert 1.8 <= fitted["A"]["npl_s"]["p50"] / fitted["B"]["npl_s"]["p50"] <= 3.0


def test_calibrated_costs_miss_phase_a(calibrated):
    # The honest gap: calibrated full syncs (~5.5 s, ~6.8 s with the minute's iptables-save)
    # make phase A's NPL about half of the published one; phase B, dominated by waiting for
    # the 10 s rate limit, is closer.
    a, b = calibrated["A"], calibrated["B"]
    assert a["full_sync_seconds_median"] == pytest.approx(5.5, abs=0.2)
    assert a["cleanup_sync_seconds_median"] == pytest.approx(6.8, abs=0.2)
    assert -0.60 <= rel(a, "p50") <= -0.40
    assert -0.60 <= rel(a, "p99") <= -0.40
    assert -0.40 <= rel(b, "p50") <= -0.20
    assert -0.40 <= rel(b, "p99") <= -0.20


def test_npl_does_not_depend_on_node_count():
    small = run_kep3453("A", nodes=20, duration=600.0)
    large = run_kep3453("A", nodes=300, duration=600.0)
    for q in ("p50", "p99"):
        assert small["npl_whole_run_s"][q] == pytest.approx(large["npl_whole_run_s"][q], abs=0.5)


def test_stored_factor_is_the_fit():
    assert N1_STANDARD_1_LINE_COST_FACTOR == 3.295  # fit_line_cost_factor() at 200 nodes


def test_cl2_statistic_on_a_constant_latency():
    # One node, a sync every 10 s applying one write triggered 4.5 s before its end.
    n = 100
    end = 10.0 * np.arange(1, n + 1)
    syncs = SyncTable(
        node=np.zeros(n, np.int32), start=end - 1.0, end=end, full=np.zeros(n, bool),
        periodic=np.zeros(n, bool), first_write=np.arange(n), last_write=np.arange(1, n + 1),
        n_writes=np.ones(n, np.int64),
    )
    out = cl2_npl_quantiles(syncs, end - 4.5, start=0.0, stop=1000.0)
    # histogram_quantile interpolates inside the (4, 5] bucket.
    assert out["p50"] == pytest.approx(4.5)
    assert out["p99"] == pytest.approx(4.99)


def test_table_columns_and_validation():
    df = kep3453_table(machines=("calibrated",), phases=("C",), nodes=10, duration=300.0)
    assert list(df.columns[:5]) == ["phase", "metric", "published", "simulated", "rel_error"]
    assert df["published"].tolist() == [PHASES["C"].published["p50"]]
    with pytest.raises(ValueError):
        run_kep3453("D", nodes=10)
    with pytest.raises(ValueError):
        run_kep3453("A", nodes=10, machine="laptop")
