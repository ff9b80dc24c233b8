"""kube-proxy's BoundedFrequencyRunner, both generations (simk8s/proxy/runner/): exact event
traces on small schedules, every number worked out by hand from upstream's Loop/tryRun.

Old (`pkg/util/async`, ≤ v1.33): token bucket qps 1/minInterval, burst 2, token spent at
the start; lastRun = END of the run; the maxInterval timer is reset at the end of a run; a
refused Run() moves the timer to lastRun + minInterval. New (`pkg/proxy/runner`, v1.34+):
minInterval and maxInterval both count from the end of a run; one pending Run() remembered.
"""

import itertools

import pytest

from simk8s.proxy.runner import (
    AbsoluteTimeEnvironment,
    AsyncRunner,
    ProxyRunner,
    TokenBucket,
    make_runner,
    simulate_runner,
)

OLD, NEW = "token-bucket", "completion-gap"
# Dyadic times and durations keep every sum exact, so starts can be compared with ==.
BURST_REQUESTS = [100 + 0.0625 * i for i in range(80)]  # continuous demand from 100 to 104.9375


def trace(runs):
    return [(r.start, r.end, r.forced, r.requests) for r in runs]


def starts(runs):
    return [r.start for r in runs]


# --- old runner (pkg/util/async) ------------------------------------------------------


def test_old_runner_bursts_two_after_idle_then_one_per_min_interval_start_to_start():
    runs = simulate_runner(OLD, 1.0, 3600.0, BURST_REQUESTS, 0.125, 200.0)
    # Startup takes one token (free: 0). 100: token → run. 100.0625 arrives during it: the
    # tryRun at its end (100.125) takes the second token (next token at 101). Requests in
    # (100.25, 101) are refused, the timer goes to lastRun + 1 = 101.25, but the request at
    # 101.0 finds the token first; and so on, start to start, while demand lasts. The last
    # requests (after 104.125) are refused: the timer fires at 104.125 + 1. A run serves the
    # requests made up to its start (100.125's run: 100.0625 and 100.125).
    assert starts(runs) == [0.0, 100.0, 100.125, 101.0, 102.0, 103.0, 104.0, 105.125]
    assert [r.requests for r in runs] == [0, 1, 2, 14, 16, 16, 16, 15]  # 80 in all
    assert not any(r.forced for r in runs)


def test_old_runner_refused_request_waits_for_min_interval_after_the_last_end():
    # Startup 0–0.25. 10.0 takes a token (free 10); 10.125 arrives during that run and
    # takes the burst token at its end (10.25; free 11). 10.75 is refused: the timer moves
    # to lastRun + 1 = 11.5, not to 11.0 when the token comes back.
    runs = simulate_runner(OLD, 1.0, 3600.0, [10.0, 10.125, 10.75], 0.25, 20.0)
    assert trace(runs) == [
        (0.0, 0.25, False, 0),
        (10.0, 10.25, False, 1),
        (10.25, 10.5, False, 1),
        (11.5, 11.75, False, 1),
    ]
    # A later Run() that finds the token (11.25 ≥ 11) starts the deferred run earlier.
    runs = simulate_runner(OLD, 1.0, 3600.0, [10.0, 10.125, 10.75, 11.25], 0.25, 20.0)
    assert trace(runs)[3] == (11.25, 11.5, False, 2)


def test_old_runner_sync_longer_than_min_interval_is_followed_at_once():
    # minInterval 2 s, syncs of 1.5 s, demand every 0.25 s from 10 to 19.75.
    requests = [10 + 0.25 * i for i in range(40)]
    runs = simulate_runner(OLD, 2.0, 3600.0, requests, 1.5, 100.0)
    # Tokens: free after the starts 10, 11.5, 13, 14.5, 16 = 10, 12, 14, 16, 18: each tryRun
    # at a sync's end finds one, so runs go back to back. At 17.5 none (free 18): the timer
    # goes to 19.5, but the request at 18.0 takes the token. At 19.5 refused (free 20): the
    # timer goes to 21.5; the last request (19.75) is refused too.
    assert starts(runs) == [0.0, 10.0, 11.5, 13.0, 14.5, 16.0, 18.0, 21.5]


def test_old_runner_min_interval_zero_has_no_limit_and_coalesces():
    runs = simulate_runner(OLD, 0.0, 3600.0, [0.25, 0.5, 0.75], 1.0, 10.0)
    assert trace(runs) == [(0.0, 1.0, False, 0), (1.0, 2.0, False, 3)]


# --- new runner (pkg/proxy/runner) ----------------------------------------------------


def test_new_runner_waits_min_interval_after_each_end():
    runs = simulate_runner(NEW, 1.0, 3600.0, BURST_REQUESTS, 0.125, 200.0)
    assert starts(runs) == [0.0, 100.0, 101.125, 102.25, 103.375, 104.5, 105.625]
    gaps = [b.start - a.end for a, b in itertools.pairwise(runs[1:])]
    assert gaps == [1.0] * len(gaps)


def test_new_runner_remembers_one_pending_run():
    # Startup 0–0.5; 0.5 and 0.75 wait for the minInterval timer (0.5 + 1) and run together;
    # 5.0 runs at once (the gap is over); 31.0 is before the maxInterval timer (5.5 + 30).
    runs = simulate_runner(NEW, 1.0, 30.0, [0.5, 0.75, 5.0, 31.0], 0.5, 40.0)
    assert trace(runs) == [
        (0.0, 0.5, False, 0),
        (1.5, 2.0, False, 2),
        (5.0, 5.5, False, 1),
        (31.0, 31.5, False, 1),
    ]


# --- both ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [OLD, NEW])
def test_max_interval_counts_from_the_end_of_the_last_run(kind):
    runs = simulate_runner(kind, 1.0, 30.0, [], 0.5, 100.0)
    assert trace(runs) == [
        (0.0, 0.5, False, 0),
        (30.5, 31.0, True, 0),
        (61.0, 61.5, True, 0),
        (91.5, 92.0, True, 0),
    ]
    runs = simulate_runner(kind, 1.0, 30.0, [35.5], 0.5, 80.0)
    assert trace(runs) == [
        (0.0, 0.5, False, 0),
        (30.5, 31.0, True, 0),
        (35.5, 36.0, False, 1),
        (66.0, 66.5, True, 0),
    ]


@pytest.mark.parametrize("kind", [OLD, NEW])
def test_forced_run_waits_for_the_previous_sync_to_end(kind):
    # Syncs longer than maxInterval: the timer counts from each end.
    runs = simulate_runner(kind, 1.0, 30.0, [], 40.0, 150.0)
    assert starts(runs) == [0.0, 70.0, 140.0]


@pytest.mark.parametrize("kind", [OLD, NEW])
def test_request_at_the_timer_instant_is_a_request(kind):
    runs = simulate_runner(kind, 1.0, 30.0, [30.5], 0.5, 40.0)
    assert trace(runs) == [(0.0, 0.5, False, 0), (30.5, 31.0, False, 1)]


@pytest.mark.parametrize("kind", [OLD, NEW])
def test_requests_at_the_start_instant_are_served_by_that_run(kind):
    runs = simulate_runner(kind, 1.0, 3600.0, [0.0, 5.0, 5.0], 0.5, 10.0)
    assert [(r.start, r.requests) for r in runs] == [(0.0, 1), (5.0, 2)]


@pytest.mark.parametrize(
    ("min_sync", "kind", "expected_syncs", "worst_wait"),
    [
        (0.0, OLD, 100, 0.0), (0.0, NEW, 100, 0.0),
        (1.0, OLD, 9, 0.96875), (1.0, NEW, 7, 1.0),
        (2.0, OLD, 6, 1.96875), (2.0, NEW, 5, 2.0),
        (5.0, OLD, 4, 4.96875), (5.0, NEW, 3, 5.0),
    ],
)  # fmt: skip
def test_vips_example_deleting_100_pods(min_sync, kind, expected_syncs, worst_wait):
    """The virtual-ips docs' example: 100 endpoint changes with minSyncPeriod 0 → 100
    syncs; larger → few. The old runner's two burst syncs make it do more than the new one."""
    changes = [10 + 0.0625 * i for i in range(100)]  # 100 changes within 6.25 s
    runs = simulate_runner(kind, min_sync, 3600.0, changes, 0.03125, 60.0)[1:]  # skip startup
    assert len(runs) == expected_syncs
    assert sum(r.requests for r in runs) == 100
    served = [r.start for r in runs for _ in range(r.requests)]
    assert max(s - c for s, c in zip(served, changes, strict=True)) == worst_wait


def test_token_bucket_is_burst_two_refilled_one_per_min_interval():
    bucket = TokenBucket(2.0)
    assert [bucket.try_accept(t) for t in (0.0, 0.0, 0.0)] == [True, True, False]
    assert bucket.free == 2.0
    assert [bucket.try_accept(t) for t in (1.5, 2.0, 3.0)] == [False, True, False]
    assert bucket.try_accept(10.0) and bucket.try_accept(10.0) and not bucket.try_accept(11.0)


def test_make_runner_names_and_bad_intervals():
    env = AbsoluteTimeEnvironment()

    def fn(forced):
        yield env.at(env.now)

    assert isinstance(make_runner(OLD, env, fn, 1.0, 30.0), AsyncRunner)
    assert isinstance(make_runner(NEW, env, fn, 1.0, 30.0), ProxyRunner)
    with pytest.raises(ValueError, match="unknown runner 'bfr'"):
        make_runner("bfr", env, fn, 1.0, 30.0)
    with pytest.raises(ValueError, match="maxInterval"):  # upstream construct() panics
        make_runner(NEW, env, fn, 60.0, 30.0)
