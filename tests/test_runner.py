"""BoundedFrequencyRunner models (pkg/util/async, pkg/proxy/runner): scalar semantics, hand-checked."""

import itertools
import math

import pytest

from simk8s.proxy.runner import (
    CompletionGapRunner,
    TokenBucketRunner,
    make_runner,
    simulate_runner,
)

# Dyadic times and durations keep every sum exact, so starts can be compared with ==.
BURST_REQUESTS = [100 + 0.0625 * i for i in range(80)]  # continuous demand from 100 to 104.9375


def starts(runs):
    return [r.start for r in runs]


def test_token_bucket_bursts_two_after_idle_then_one_per_min_sync_period():
    runner = TokenBucketRunner(min_interval=1.0, max_interval=3600.0)
    runs = simulate_runner(runner, BURST_REQUESTS, duration=0.125, until=200.0)
    # startup; then a burst of two (the second right after the first ends); then
    # start-to-start spacing of exactly minSyncPeriod while demand lasts.
    assert starts(runs) == [0.0, 100.0, 100.125, 101.0, 102.0, 103.0, 104.0, 105.0]
    assert sum(r.requests for r in runs) == len(BURST_REQUESTS)
    assert not any(r.forced for r in runs)


def test_completion_gap_waits_min_sync_period_after_each_end():
    runner = CompletionGapRunner(min_interval=1.0, max_interval=3600.0)
    runs = simulate_runner(runner, BURST_REQUESTS, duration=0.125, until=200.0)
    assert starts(runs) == [0.0, 100.0, 101.125, 102.25, 103.375, 104.5, 105.625]
    gaps = [b.start - a.end for a, b in itertools.pairwise(runs[1:])]
    assert gaps == [1.0] * len(gaps)


def test_token_bucket_spacing_is_start_to_start_even_for_long_syncs():
    runner = TokenBucketRunner(min_interval=2.0, max_interval=3600.0)
    requests = [10 + 0.25 * i for i in range(40)]  # demand from 10 to 19.75
    runs = simulate_runner(runner, requests, duration=1.5, until=100.0)
    # Serialized runs back to back while the burst token lasts (it refills during the
    # 1.5 s syncs), then the rate limit takes over: exactly 2 s start to start.
    assert starts(runs) == [0.0, 10.0, 11.5, 13.0, 14.5, 16.0, 18.0, 20.0]


@pytest.mark.parametrize("cls", [TokenBucketRunner, CompletionGapRunner])
def test_max_interval_forces_periodic_runs(cls):
    runner = cls(min_interval=1.0, max_interval=30.0)
    runs = simulate_runner(runner, [], duration=0.5, until=100.0)
    assert starts(runs) == [0.0, 30.0, 60.0, 90.0]
    assert [r.forced for r in runs] == [False, True, True, True]


def test_max_interval_timer_restarts_at_each_run_start():
    runner = TokenBucketRunner(min_interval=1.0, max_interval=30.0)
    runs = simulate_runner(runner, [10.0], duration=0.5, until=80.0)
    assert starts(runs) == [0.0, 10.0, 40.0, 70.0]
    assert [r.forced for r in runs] == [False, False, True, True]


def test_forced_run_waits_for_the_previous_sync_to_end():
    # Syncs longer than maxInterval: runs are serialized, the timer's run starts at the end.
    runner = TokenBucketRunner(min_interval=1.0, max_interval=30.0)
    runs = simulate_runner(runner, [], duration=40.0, until=130.0)
    assert starts(runs) == [0.0, 40.0, 80.0, 120.0]


def test_requests_during_a_sync_are_coalesced_into_one_run():
    runner = TokenBucketRunner(min_interval=0.0, max_interval=3600.0)
    runs = simulate_runner(runner, [0.25, 0.5, 0.75], duration=1.0, until=10.0)
    assert starts(runs) == [0.0, 1.0]
    assert [r.requests for r in runs] == [0, 3]


def test_requests_at_the_start_instant_are_served_by_that_run():
    runner = CompletionGapRunner(min_interval=1.0, max_interval=3600.0)
    runs = simulate_runner(runner, [0.0, 5.0, 5.0], duration=0.5, until=10.0)
    assert [(r.start, r.requests) for r in runs] == [(0.0, 1), (5.0, 2)]


@pytest.mark.parametrize(
    ("min_sync", "expected_syncs"),
    [(0.0, 100), (1.0, 9), (2.0, 6), (5.0, 4)],
)
def test_vips_example_deleting_100_pods(min_sync, expected_syncs):
    """The virtual-ips docs' example: 100 endpoint changes with minSyncPeriod 0 → ~100 syncs;
    larger → few."""
    changes = [10 + 0.0625 * i for i in range(100)]  # 100 changes within 6.25 s
    runner = TokenBucketRunner(min_interval=min_sync, max_interval=3600.0)
    runs = simulate_runner(runner, changes, duration=0.03125, until=60.0)[1:]  # skip startup
    assert len(runs) == expected_syncs
    assert sum(r.requests for r in runs) == 100
    # Each change waits at most about one minSyncPeriod (plus a sync) for its run.
    served = [r.start for r in runs for _ in range(r.requests)]
    assert max(s - c for s, c in zip(served, changes, strict=True)) <= min_sync + 0.03125


def test_make_runner_names_and_unknown():
    assert isinstance(make_runner("token-bucket", 1.0, 30.0), TokenBucketRunner)
    assert isinstance(make_runner("completion-gap", 1.0, 30.0), CompletionGapRunner)
    with pytest.raises(ValueError, match="unknown runner 'bfr'"):
        make_runner("bfr", 1.0, 30.0)


def test_next_start_reports_timer_before_request():
    runner = CompletionGapRunner(min_interval=1.0, max_interval=30.0)
    runner.started(0.0)
    runner.finished(2.0)
    assert runner.next_start(math.inf) == (30.0, True)
    assert runner.next_start(30.0) == (30.0, False)  # a request at the timer instant wins
    assert runner.next_start(2.5) == (3.0, False)  # rate limit: end + minSyncPeriod
