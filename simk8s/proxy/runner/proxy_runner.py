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

from simk8s.proxy.runner.async_runner import SyncFn
from simk8s.proxy.runner.clock import LATE, AbsoluteTimeEnvironment


class ProxyRunner:
    """The v1.34+ runner driving `fn(forced)`, a SimPy generator that performs one sync.

    `forced` is true for a run the maxInterval timer started (no token was waiting).
    """

    kind = "completion-gap"

    def __init__(
        self, env: AbsoluteTimeEnvironment, fn: SyncFn, min_interval: float, max_interval: float
    ) -> None:
        if max_interval < min_interval:  # construct() panics
            raise ValueError(f"maxInterval ({max_interval}) must be >= minInterval ({min_interval})")
        self.env, self.fn = env, fn
        self.min_interval, self.max_interval = min_interval, max_interval
        self.pending = False  # the run channel holds a token
        self.max_deadline = 0.0
        self._wake: simpy.Event | None = None
        env.process(self._loop())

    def run(self) -> None:
        """Run(): put a token in the channel unless one is already there."""
        if self.pending:
            return
        self.pending = True
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def _loop(self) -> Generator[simpy.Event, None, None]:
        env = self.env
        self.max_deadline = env.now + self.max_interval
        while True:
            if not self.pending:
                self._wake = env.event()
                yield self._wake | env.at(self.max_deadline, LATE)
                self._wake = None
            yield env.at(env.now, LATE)  # every delivery at this instant first
            forced = not self.pending  # the token wins a tie with the timer
            self.pending = False
            yield from self.fn(forced)
            self.max_deadline = env.now + self.max_interval
            yield env.at(env.now + self.min_interval, LATE)
