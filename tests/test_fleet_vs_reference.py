"""The vectorized kube-proxy fleet must equal the per-node SimPy reference exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simk8s.proxy.fleet import ChangeStream, FleetConfig, FleetResult, run_fleet
from simk8s.proxy.metrics import exact_quantile, ms_bins
from simk8s.proxy.reference import run_reference

MODES = ("iptables", "ipvs", "nftables")
RUNNERS = ("token-bucket", "completion-gap")
MAX_INTERVAL = {"iptables": 40.0, "ipvs": 30.0, "nftables": 30.0}  # short, to exercise timers


def float_cost(
    full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed
):
    """Deterministic stand-in for the calibrated cost model (proxy/cost.py)."""
    partial = 0.003 + 0.0007 * changed_services + 0.0004 * changed_endpoints + 1e-5 * total_services
    whole = 0.02 + 0.0002 * total_endpoints + 1e-4 * total_services
    return (np.where(full, whole, partial) + np.where(periodic, 0.011, 0.0)) * speed


def dyadic_cost(
    full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed
):
    """Costs on a 1/16 s grid: arrivals, starts and ends collide exactly and often."""
    return (np.where(full, 0.5, 0.0625 * (1 + changed_endpoints % 4)) + 0.125 * periodic) * speed


def bandwidth_arrivals(commit: np.ndarray, n_nodes: int, send_time: float, rng) -> callable:
    """Apiserver sends each write to the nodes one after another over one link: later
    nodes in the send order get it later, and a write waits for the previous one."""
    base = np.empty(len(commit))
    link_free = -np.inf
    for w, t in enumerate(commit):
        base[w] = max(t, link_free)
        link_free = base[w] + n_nodes * send_time
    offsets = (rng.permutation(n_nodes) + 1) * send_time
    return lambda w: base[w] + offsets


def make_case(
    seed: int, *, dyadic: bool, n_nodes: int = 16, n_writes: int = 240, n_services: int = 6
):
    rng = np.random.default_rng(seed)
    # Half-way through, an idle gap longer than every maxInterval: timer-forced syncs.
    gap = np.where(np.arange(n_writes) >= n_writes // 2, 70.0, 0.0)
    if dyadic:
        # Repeated commit instants, grid latencies (some 0): many exact ties, writes at t = 0.
        commit = np.cumsum(rng.integers(0, 3, n_writes) * 0.25) + gap
        latency = rng.integers(0, 4, n_nodes) * 0.125
        arrival = lambda w: commit[w] + latency  # noqa: E731
        speed = rng.choice([1.0, 2.0], n_nodes)
        trigger = commit - rng.integers(0, 3, n_writes) * 0.25
    else:
        commit = np.cumsum(rng.exponential(0.25, n_writes)) + gap
        arrival = bandwidth_arrivals(commit, n_nodes, 0.004, rng)
        speed = rng.uniform(0.5, 2.0, n_nodes)
        trigger = commit - rng.uniform(0.0, 0.3, n_writes)
    trigger[rng.random(n_writes) < 0.2] = np.nan  # writes without a trigger-time annotation
    stream = ChangeStream(
        commit_time=commit,
        trigger_time=trigger,
        service=rng.integers(0, n_services, n_writes).astype(np.int32),
        service_endpoints=rng.integers(0, 60, n_writes).astype(np.int32),
        arrival=arrival,
    )
    initial = rng.integers(0, 60, n_services).astype(np.int32)
    return stream, initial, speed


def make_config(mode, runner, min_sync, initial, speed, end_time=150.0) -> FleetConfig:
    return FleetConfig(
        n_nodes=len(speed),
        mode=mode,
        runner=runner,
        min_sync_period=min_sync,
        max_interval=MAX_INTERVAL[mode],
        full_sync_period=50.0,
        end_time=end_time,
        static_services=300,
        static_endpoints=2400,
        initial_service_endpoints=initial,
        node_speed=speed,
    )


def assert_same(fleet: FleetResult, ref: FleetResult) -> None:
    pd.testing.assert_frame_equal(fleet.syncs_frame(), ref.syncs_frame(), check_exact=True)
    assert np.array_equal(fleet.npl.counts, ref.npl.counts)
    assert fleet.npl.count == ref.npl.count == ref.npl_samples.size
    assert fleet.npl.max == ref.npl.max
    assert fleet.npl.total == pytest.approx(ref.npl.total, rel=1e-12)
    assert np.array_equal(fleet.npl_prometheus(), ref.npl_prometheus())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("min_sync", [0.0, 1.0, 2.5])
@pytest.mark.parametrize("dyadic", [False, True], ids=["bandwidth", "ties"])
def test_fleet_equals_reference(mode, runner, min_sync, dyadic):
    seed = 1000 * MODES.index(mode) + 100 * RUNNERS.index(runner) + int(4 * min_sync) + dyadic
    stream, initial, speed = make_case(seed, dyadic=dyadic)
    config = make_config(mode, runner, min_sync, initial, speed)
    cost = dyadic_cost if dyadic else float_cost
    fleet = run_fleet(stream, config, cost)
    ref = run_reference(stream, config, cost)
    assert len(fleet.syncs) > 2 * config.n_nodes  # more than startup + one sync per node
    assert fleet.npl.count > 0
    assert_same(fleet, ref)


def test_fleet_equals_reference_when_writes_outlive_end_time_and_many_services():
    # 100 dynamic services (more than a 64-bit mask holds); the stream runs past end_time,
    # so some writes are never programmed and nodes stop mid-stream.
    stream, initial, speed = make_case(7, dyadic=False, n_services=100, n_writes=400)
    config = make_config("iptables", "token-bucket", 1.0, initial, speed, end_time=60.0)
    assert stream.arrival(len(stream.commit_time) - 1).min() > config.end_time
    fleet = run_fleet(stream, config, float_cost)
    ref = run_reference(stream, config, float_cost)
    assert_same(fleet, ref)
    assert fleet.syncs.last_write.max() < len(stream.commit_time)
    assert fleet.syncs.start.max() < config.end_time


# 16 nodes; full: startup + at 50 s + at 100 s; periodic: two 30 s timer runs in the gap.
# (1040 syncs while a refused Run() started when the next token came; the ≤ v1.33 runner
# defers it to minInterval after the last sync ENDED unless a later Run() finds the token.)
FIXED_CASE_COUNTERS = {"syncs": 1024, "full_syncs": 48, "periodic_syncs": 32}


def test_fixed_case_counters():
    """Exact counters for one fixed case: the noise-free regression signal."""
    stream, initial, speed = make_case(42, dyadic=False)
    config = make_config("nftables", "token-bucket", 1.0, initial, speed)
    fleet = run_fleet(stream, config, float_cost)
    ref = run_reference(stream, config, float_cost)
    for result in (fleet, ref):
        c = result.counters
        got = {"syncs": c.syncs, "full_syncs": c.full_syncs, "periodic_syncs": c.periodic_syncs}
        assert got == FIXED_CASE_COUNTERS
        assert c.syncs_per_node.sum() == c.syncs
        assert c.cpu_seconds == pytest.approx(float((result.syncs.end - result.syncs.start).sum()))
    assert fleet.counters.cpu_seconds == ref.counters.cpu_seconds


def tiny_stream(arrivals: np.ndarray, services, endpoints, triggers) -> ChangeStream:
    return ChangeStream(
        commit_time=arrivals.min(axis=1),
        trigger_time=np.asarray(triggers, dtype=float),
        service=np.asarray(services, dtype=np.int32),
        service_endpoints=np.asarray(endpoints, dtype=np.int32),
        arrival=lambda w: arrivals[w],
    )


def unit_cost(
    full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed
):
    """1 s full, 0.5 s partial (+0.001 per changed endpoint), times node speed."""
    return np.where(full, 1.0, 0.5 + 0.001 * changed_endpoints) * speed


def test_hand_worked_example():
    """Two nodes, three writes; every number below is worked out by hand from the semantics
    in simk8s/proxy/fleet/__init__.py."""
    arrivals = np.array([[0.0, 3.0], [0.25, 3.0], [5.0, 3.5]])  # write × node
    stream = tiny_stream(arrivals, [0, 1, 0], [10, 20, 30], [0.0, 0.0, np.nan])
    config = FleetConfig(
        n_nodes=2, mode="iptables", runner="token-bucket", min_sync_period=2.0,
        max_interval=3600.0, full_sync_period=3600.0, end_time=10.0,
        static_services=5, static_endpoints=50,
        initial_service_endpoints=np.array([1, 2], dtype=np.int32),
        node_speed=np.array([1.0, 2.0]),
    )  # fmt: skip
    fleet = run_fleet(stream, config, unit_cost)
    rows = fleet.syncs_frame()[["node", "start", "end", "full", "first_write", "last_write"]]
    node1_run = 3.0 + 2 * (0.5 + 0.001 * 30)  # end of node 1's first run after startup
    expected = [
        # node 0: the startup sync at 0 takes write 0 (it arrived at 0); write 1 (0.25) waits
        # for that sync to end at 1.0 (the burst token allows it); write 2 (5.0) runs at once.
        (0, 0.0, 1.0, True, 0, 1),
        (0, 1.0, 1.0 + (0.5 + 0.001 * 20), False, 1, 2),
        (0, 5.0, 5.0 + (0.5 + 0.001 * 30), False, 2, 3),
        # node 1 (speed 2): startup 0–2 with no writes; writes 0 and 1 both arrive at 3.0 and
        # go together (services 0 and 1: 10 + 20 endpoints); write 2 (3.5) waits for that
        # sync to end (a token is available: 1 + 0.53 refilled).
        (1, 0.0, 2.0, True, 0, 0),
        (1, 3.0, node1_run, False, 0, 2),
        (1, node1_run, node1_run + 2 * (0.5 + 0.001 * 30), False, 2, 3),
    ]
    assert [tuple(r) for r in rows.itertuples(index=False)] == expected
    assert_same(fleet, run_reference(stream, config, unit_cost))
    # NPL: write 0 → 1.0 (node 0) and node1_run; write 1 → 1.52 and node1_run; write 2: none.
    assert fleet.npl.count == 4
    assert fleet.npl.max == node1_run
    bins = ms_bins(np.array([1.0, 1.0 + (0.5 + 0.001 * 20), node1_run]), fleet.npl.max_ms)
    assert fleet.npl.counts[bins].tolist() == [1, 1, 2]
    got = fleet.applied_at(np.array([0, 0, 1, 1]), np.array([0.99, 1.0, 4.0, node1_run]))
    assert got.tolist() == [0, 1, 0, 2]


def test_applied_at_matches_brute_force():
    stream, initial, speed = make_case(3, dyadic=True)
    config = make_config("ipvs", "completion-gap", 1.0, initial, speed)
    fleet = run_fleet(stream, config, dyadic_cost)
    rng = np.random.default_rng(0)
    nodes = rng.integers(0, config.n_nodes, 2000)
    ends = fleet.syncs.end
    # Random instants plus exact sync ends (end ≤ t must count the sync as applied).
    times = np.concatenate([rng.uniform(-1, 160, 1000), rng.choice(ends, 1000)])
    got = fleet.applied_at(nodes, times)
    frame = fleet.syncs_frame()
    for n, t, g in zip(nodes, times, got, strict=True):
        done = frame[(frame.node == n) & (frame.end <= t)]
        assert g == (done.last_write.iloc[-1] if len(done) else 0)


def test_npl_percentiles_within_one_ms_of_exact():
    stream, initial, speed = make_case(11, dyadic=False)
    config = make_config("iptables", "completion-gap", 1.0, initial, speed)
    ref = run_reference(stream, config, float_cost)
    summary = ref.npl_summary()
    for q in (0.5, 0.9, 0.99):
        exact = exact_quantile(ref.npl_samples, q)
        assert 0.0 <= summary[f"p{round(q * 100)}"] - exact < 0.001
    assert summary["max"] == ref.npl_samples.max()


def test_write_at_the_timer_instant_is_a_request_not_a_periodic_sync():
    # IPVS, maxInterval 30 s from the end of the 1 s startup sync: node 0's write lands
    # exactly when its timer fires (31); node 1's just after (the timer's empty run goes
    # first); node 2's just before.
    arrivals = np.array([[31.0, 31.5, 30.5]])
    stream = tiny_stream(arrivals, [0], [5], [29.0])
    config = FleetConfig(
        n_nodes=3, mode="ipvs", runner="completion-gap", min_sync_period=0.0,
        max_interval=30.0, full_sync_period=3600.0, end_time=45.0,
        static_services=5, static_endpoints=50,
        initial_service_endpoints=np.array([1], dtype=np.int32),
        node_speed=np.ones(3),
    )  # fmt: skip
    fleet = run_fleet(stream, config, unit_cost)
    assert_same(fleet, run_reference(stream, config, unit_cost))
    rows = fleet.syncs_frame()
    after_startup = rows[rows.start > 0][["node", "start", "periodic", "n_writes"]]
    assert [tuple(r) for r in after_startup.itertuples(index=False)] == [
        (0, 31.0, False, 1),
        (1, 31.0, True, 0),
        (1, 31.5, False, 1),
        (2, 30.5, False, 1),
    ]


def test_out_of_order_delivery_and_bad_config_are_rejected():
    arrivals = np.array([[1.0, 1.0], [0.5, 2.0]])  # node 0 gets write 1 before write 0
    stream = tiny_stream(arrivals, [0, 0], [1, 2], [0.0, 0.0])
    config = FleetConfig(
        n_nodes=2, mode="iptables", runner="token-bucket", min_sync_period=1.0,
        max_interval=3600.0, full_sync_period=3600.0, end_time=10.0,
        static_services=0, static_endpoints=0,
        initial_service_endpoints=np.array([0], dtype=np.int32), node_speed=np.ones(2),
    )  # fmt: skip
    for run in (run_fleet, run_reference):
        with pytest.raises(ValueError, match=r"non-decreasing|earlier than"):
            run(stream, config, unit_cost)
    bad = dataclasses.replace(config, mode="userspace")
    with pytest.raises(ValueError, match="mode must be one of"):
        run_fleet(stream, bad, unit_cost)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("runner", RUNNERS)
def test_fleet_equals_reference_with_warm_start(mode, runner):
    """Warm start: no costly startup sync; each node's hourly full sync comes at its own phase."""
    import dataclasses

    stream, initial, speed = make_case(77 + MODES.index(mode) + 10 * RUNNERS.index(runner), dyadic=False)
    phase = -np.random.default_rng(5).uniform(0.0, 50.0, len(speed))
    config = dataclasses.replace(
        make_config(mode, runner, 1.0, initial, speed), warm_start=True, initial_last_full=phase
    )
    fleet = run_fleet(stream, config, float_cost)
    ref = run_reference(stream, config, float_cost)
    assert_same(fleet, ref)
    syncs = fleet.syncs_frame()
    startup = syncs[syncs.start == 0.0]
    assert len(startup) == config.n_nodes
    assert (startup.end == 0.0).all() and not startup.full.any()
    if mode != "ipvs":
        # each node's first full sync comes when its own fullSyncPeriod phase runs out
        later_full = syncs[syncs.full].groupby("node").start.min()
        assert (later_full.to_numpy() >= (phase + 50.0)[later_full.index.to_numpy()] - 1e-9).all()
        assert later_full.nunique() > 1


@pytest.mark.parametrize("warm", [False, True])
def test_infinite_full_sync_period_means_no_periodic_full_sync(warm):
    """v1.26–v1.32 iptables: no time-based full sync at all; a warm start (last_full = −inf)
    must not read inf − (−inf) ≥ inf as "due"."""
    import dataclasses

    stream, initial, speed = make_case(91, dyadic=False)
    config = dataclasses.replace(make_config("iptables", "token-bucket", 1.0, initial, speed),
                                 full_sync_period=np.inf, warm_start=warm)  # fmt: skip
    fleet = run_fleet(stream, config, float_cost)
    assert_same(fleet, run_reference(stream, config, float_cost))
    syncs = fleet.syncs_frame()
    expected_full = 0 if warm else config.n_nodes  # a cold start's first sync only
    assert int(syncs.full.sum()) == expected_full
    assert len(syncs) > 3 * config.n_nodes


# --- iptables stale-chain cleanup (kubernetes/kubernetes#110334): FleetConfig.cleanup_period


def cleanup_cost(
    full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed,
    *, cleanup,
):  # fmt: skip
    """float_cost plus an iptables-save charge when the sync runs the stale-chain cleanup."""
    base = float_cost(full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed)
    return base + np.where(cleanup, 0.05 + 1e-5 * total_endpoints, 0.0) * speed


def dyadic_cleanup_cost(
    full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed,
    *, cleanup,
):  # fmt: skip
    base = dyadic_cost(full, periodic, changed_services, changed_endpoints, total_services, total_endpoints, speed)
    return base + 0.25 * np.asarray(cleanup) * speed


def expected_cleanup(stream: ChangeStream, config: FleetConfig, syncs) -> np.ndarray:
    """Brute force, sync by sync: cleanup unless large-cluster mode and ≤ period since the last."""
    totals = [config.static_endpoints + int(config.initial_service_endpoints.sum())]
    cache = dict(enumerate(config.initial_service_endpoints.tolist()))
    for s, e in zip(stream.service.tolist(), stream.service_endpoints.tolist(), strict=True):
        cache[s] = e
        totals.append(config.static_endpoints + sum(cache.values()))
    out = np.zeros(len(syncs), dtype=bool)
    last: dict[int, float] = {}
    for i in range(len(syncs)):
        node, start = int(syncs.node[i]), float(syncs.start[i])
        if config.warm_start and start == 0.0:
            continue  # the warm t = 0 sync does no work
        default = -np.inf if config.initial_last_cleanup is None else config.initial_last_cleanup[node]
        since = start - last.get(node, default)
        out[i] = totals[syncs.last_write[i]] <= config.large_cluster_endpoints or since > config.cleanup_period
        if out[i]:
            last[node] = start
    return out


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("min_sync", [0.0, 1.0])
@pytest.mark.parametrize("dyadic", [False, True], ids=["bandwidth", "ties"])
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_fleet_equals_reference_with_stale_chain_cleanup(runner, min_sync, dyadic, warm):
    seed = 500 + 100 * RUNNERS.index(runner) + int(4 * min_sync) + 2 * dyadic + warm
    stream, initial, speed = make_case(seed, dyadic=dyadic)
    # Total endpoints ≈ 2400 static + 6 services × U[0, 60): the threshold sits inside that
    # range, so the large-cluster mode switches on and off during the run. A 7 s period
    # (multiple of 1/16: exact ties with the dyadic grid) gives many cleanups per node.
    phase = -np.random.default_rng(seed).uniform(0.0, 7.0, len(speed))
    config = dataclasses.replace(
        make_config("iptables", runner, min_sync, initial, speed),
        cleanup_period=7.0, large_cluster_endpoints=2580,
        warm_start=warm, initial_last_cleanup=phase if warm else None,
    )  # fmt: skip
    cost = dyadic_cleanup_cost if dyadic else cleanup_cost
    fleet = run_fleet(stream, config, cost)
    ref = run_reference(stream, config, cost)
    assert_same(fleet, ref)
    assert np.array_equal(fleet.syncs.cleanup, ref.syncs.cleanup)
    assert np.array_equal(fleet.syncs.cleanup, expected_cleanup(stream, config, fleet.syncs))
    later = fleet.syncs.start > 0.0
    assert 0 < fleet.syncs.cleanup[later].sum() < later.sum()  # both kinds of sync occur
    assert fleet.counters.cleanup_syncs == ref.counters.cleanup_syncs == int(fleet.syncs.cleanup.sum())


def test_stale_chain_cleanup_hand_worked():
    """One node, always in large-cluster mode, syncPeriod 30 s: cleanup at the first sync
    and then at the first sync *more* than 30 s after the last cleanup (lastIPTablesCleanup)."""
    arrivals = np.array([[10.0], [30.0], [31.0], [61.0], [62.0]])
    stream = tiny_stream(arrivals, [0] * 5, [10, 20, 30, 40, 50], [np.nan] * 5)
    config = FleetConfig(
        n_nodes=1, mode="iptables", runner="completion-gap", min_sync_period=0.0,
        max_interval=3600.0, full_sync_period=3600.0, end_time=100.0,
        static_services=5, static_endpoints=50,
        initial_service_endpoints=np.array([1], dtype=np.int32), node_speed=np.ones(1),
        cleanup_period=30.0, large_cluster_endpoints=0,
    )  # fmt: skip

    def cost(full, periodic, cs, ce, ts, te, speed, *, cleanup):
        return unit_cost(full, periodic, cs, ce, ts, te, speed) + 0.25 * cleanup

    fleet = run_fleet(stream, config, cost)
    ref = run_reference(stream, config, cost)
    assert_same(fleet, ref)
    assert fleet.syncs.start.tolist() == [0.0, 10.0, 30.0, 31.0, 61.0, 62.0]
    # 30 − 0 and 61 − 31 are exactly the period: not more, so no cleanup.
    assert fleet.syncs.cleanup.tolist() == [True, False, False, True, False, True]
    assert fleet.syncs.end.tolist() == [1.25, 10.51, 30.52, 31.78, 61.54, 62.8]
    assert fleet.counters.cleanup_syncs == 3
    # Below the threshold (not large-cluster mode) every sync cleans up.
    small = dataclasses.replace(config, large_cluster_endpoints=1000)
    assert run_fleet(stream, small, cost).syncs.cleanup.all()
    # Warm start: the last cleanup was 25 s before t = 0, so the sync at 10 (35 s later)
    # cleans up; the t = 0 sync does no work.
    warm = dataclasses.replace(config, warm_start=True, initial_last_cleanup=np.array([-25.0]))
    fleet = run_fleet(stream, warm, cost)
    assert_same(fleet, run_reference(stream, warm, cost))
    assert fleet.syncs.cleanup.tolist() == [False, True, False, False, True, False]
    # Without cleanup_period the cost function gets no cleanup= and nothing is recorded.
    plain = dataclasses.replace(config, cleanup_period=None)
    assert run_fleet(stream, plain, unit_cost).syncs.cleanup is None
