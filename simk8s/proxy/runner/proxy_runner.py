"""kube-proxy's sync runner since v1.34: `BoundedFrequencyRunner` of
`pkg/proxy/runner/bounded_frequency_runner.go` (kubernetes/kubernetes#131615).

Modelled event by event, as its `Loop` behaves:

* `Run()` leaves one token in a channel of capacity 1; further calls are dropped.
* `Loop` waits for that token or the maxInterval timer, runs fn, then resets both the
  minInterval and the maxInterval timers, so both count from the END of the run, and
  waits for the minInterval timer before it looks at the channel again.

So there is no burst: the next start is at least minInterval after the previous end, and
one Run() made meanwhile is remembered.

Simplifications: when the token and the maxInterval timer are both ready at one instant,
the token is taken (Go's select picks either). The retry timer (fn returned an error) is
not modelled: syncs never fail.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from simk8s.proxy.runner.channel import RunChannel, SyncFn
from simk8s.proxy.runner.clock import LATE, AbsoluteTimeEnvironment


class ProxyRunner(RunChannel):
    """The v1.34+ runner driving `fn(forced)`, a SimPy generator that performs one sync.

    `forced` is true for a run the maxInterval timer started (no token was waiting).
    """

    kind = "completion-gap"

    def __init__(
        self, env: AbsoluteTimeEnvironment, fn: SyncFn, min_interval: float, max_interval: float
    ) -> None:
        super().__init__(env, fn, min_interval, max_interval)
        self.max_deadline = 0.0
        env.process(self._loop())

    def _loop(self) -> Generator[simpy.Event, None, None]:
        env = self.env
        self.max_deadline = env.now + self.max_interval
        while True:
            yield from self._token_or_timer(self.max_deadline)
            forced = not self.pending  # the token wins a tie with the timer
            self.pending = False
            yield from self.fn(forced)
            self.max_deadline = env.now + self.max_interval
            yield env.at(env.now + self.min_interval, LATE)
