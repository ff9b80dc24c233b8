"""kube-proxy's sync runner up to v1.33: `BoundedFrequencyRunner` of
`pkg/util/async/bounded_frequency_runner.go`, as every proxier builds it (burstSyncs = 2).

Modelled event by event, as its `Loop` and `tryRun` behave:

* `Run()` leaves one token in a channel of capacity 1; further calls are dropped.
* `Loop` waits for that token or its one timer (armed to maxInterval when the loop
  starts), then calls `tryRun`:
  - the token bucket (qps = 1/minInterval, burst 2, tokens spent at the start; no limit
    when minInterval is 0) accepts: fn runs; afterwards lastRun = now, i.e. the END of the
    run, and the timer is reset to maxInterval from there;
  - it refuses: the timer is moved to min(lastRun + minInterval, its current deadline).

Consequences: after idle time two runs start back to back (burst); under steady demand
starts are ≥ minInterval apart start to start, and a sync longer than minInterval is
followed at once; a refused request runs when the timer fires (minInterval after the last
run ENDED) unless a later Run() finds a token first.

Simplifications: when the token and the timer are both ready at one instant, the token is
taken (Go's select picks either; the timer's tick is then dropped by the reset). A timer
tick that fires during fn is dropped by the reset after fn (Go ≥ 1.23 timer semantics;
older builds could deliver it late and start one more run). RetryAfter (failed syncs) is
not modelled: syncs never fail.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import simpy

from simk8s.proxy.runner.channel import RunChannel, SyncFn
from simk8s.proxy.runner.clock import AbsoluteTimeEnvironment

# kube-proxy builds its runners with burstSyncs = 2 in the iptables, IPVS and nftables
# proxiers (NewProxier).
BURST_SYNCS = 2



class TokenBucket:
    """`flowcontrol.NewTokenBucketRateLimiter(1/minInterval, 2).TryAccept()`.

    Kept as `free`, the time the next token is there: a burst-2 bucket refilled with one
    token per minInterval accepts at t iff t ≥ free, and then free = max(free + minInterval, t).
    It starts full (two tokens at t = 0: free = −minInterval). minInterval 0 is the runner's
    nullLimiter: every attempt is accepted.
    """

    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self.free = -min_interval

    def try_accept(self, now: float) -> bool:
        if now < self.free:
            return False
        self.free = max(self.free + self.min_interval, now)
        return True


class AsyncRunner(RunChannel):
    """The ≤ v1.33 runner driving `fn(forced)`, a SimPy generator that performs one sync.

    `forced` is true for a run the maxInterval timer started with no Run() since the last
    run started.
    """

    kind = "token-bucket"

    def __init__(
        self, env: AbsoluteTimeEnvironment, fn: SyncFn, min_interval: float, max_interval: float
    ) -> None:
        super().__init__(env, fn, min_interval, max_interval)
        self.limiter = TokenBucket(min_interval)
        self.requested = False  # a Run() since the last run started
        self.last_run = -math.inf  # end of the last run
        self.deadline = math.inf  # the timer
        env.process(self._loop())

    def run(self) -> None:
        self.requested = True
        super().run()

    def _loop(self) -> Generator[simpy.Event, None, None]:
        env = self.env
        self.deadline = env.now + self.max_interval
        while True:
            yield from self._token_or_timer(self.deadline)
            if self.pending:
                self.pending = False  # the token wins a tie with the timer
            elif env.now < self.deadline:
                raise AssertionError("runner woke without a token or its timer")
            yield from self._try_run()

    def _try_run(self) -> Generator[simpy.Event, None, None]:
        env = self.env
        if self.limiter.try_accept(env.now):
            forced = not self.requested
            self.requested = False
            yield from self.fn(forced)
            self.last_run = env.now
            self.deadline = env.now + self.max_interval
            return
        retry = self.last_run + self.min_interval
        # The bucket always holds a token by lastRun + minInterval (burst 2, and every
        # timer deadline is at or after it): a refusal never comes from the timer.
        assert retry > env.now, "token refused when the timer fired"
        self.deadline = min(retry, self.deadline)
