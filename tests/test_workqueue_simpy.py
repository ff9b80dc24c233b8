"""The SimPy work queue (simk8s.cluster.workqueue) drives WorkQueueState and the
controllers' rate limiter in simulated time: exact processing times."""

import simpy

from simk8s.cluster.workqueue import WorkQueue
from simk8s.controller.workqueue import ControllerRateLimiter, endpoints_rate_limiter


def _worker(env, queue, seen, hold=0.0):
    while True:
        key = yield from queue.get()
        seen.append((env.now, key))
        if hold:
            yield env.timeout(hold)
        queue.done(key)


def test_key_added_while_processing_runs_again_after_and_queued_key_is_not_duplicated():
    env = simpy.Environment()
    q = WorkQueue(env, endpoints_rate_limiter())
    seen = []
    env.process(_worker(env, q, seen, hold=1.0))
    q.add("a")
    q.add("b")
    q.add("b")  # already queued: no-op
    env.run(until=0.5)
    q.add("a")  # "a" is being processed: dirty, queued again when done
    env.run(until=10)
    assert seen == [(0.0, "a"), (1.0, "b"), (2.0, "a")]


def test_add_after_only_moves_a_waiting_key_earlier():
    env = simpy.Environment()
    q = WorkQueue(env, endpoints_rate_limiter())
    seen = []
    env.process(_worker(env, q, seen))
    q.add_after("k", 5.0)
    q.add_after("k", 8.0)  # later: ignored
    q.add_after("k", 2.0)  # earlier: wins
    env.run(until=20)
    assert seen == [(2.0, "k")]  # once: the stale 5 s and 8 s timers find nothing due


def test_requeues_beyond_the_burst_wait_for_the_overall_10_qps_bucket():
    """DefaultControllerRateLimiter: max(per-item 5 ms·2^n, 10 qps / burst 100 bucket)."""
    env = simpy.Environment()
    q = WorkQueue(env, ControllerRateLimiter(0.005, 1000.0, qps=10, burst=100))
    seen = []
    env.process(_worker(env, q, seen))
    for i in range(120):
        q.add_rate_limited(i)
    env.run(until=100)
    times = {k: t for t, k in seen}
    assert all(abs(times[i] - 0.005) < 1e-12 for i in range(100))  # the burst: per-item delay
    assert [round(times[i], 9) for i in range(100, 103)] == [0.1, 0.2, 0.3]  # then 10 per second
    assert round(times[119], 9) == 2.0
