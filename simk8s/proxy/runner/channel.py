"""What both kube-proxy runners share: the `run` channel of capacity 1 and the wait for a
token or a timer (pkg/util/async and pkg/proxy/runner both select on these)."""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy

from simk8s.proxy.runner.clock import LATE, AbsoluteTimeEnvironment

SyncFn = Callable[[bool], Generator[simpy.Event, None, None]]


class RunChannel:
    """A runner's construction checks, its Run() and its wait; subclasses hold the loop."""

    def __init__(
        self, env: AbsoluteTimeEnvironment, fn: SyncFn, min_interval: float, max_interval: float
    ) -> None:
        if max_interval < min_interval:  # construct() panics
            raise ValueError(f"maxInterval ({max_interval}) must be >= minInterval ({min_interval})")
        self.env, self.fn = env, fn
        self.min_interval, self.max_interval = min_interval, max_interval
        self.pending = False  # the run channel holds a token
        self._wake: simpy.Event | None = None

    def run(self) -> None:
        """Run(): put a token in the channel unless one is already there."""
        if self.pending:
            return
        self.pending = True
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def _token_or_timer(self, deadline: float) -> Generator[simpy.Event, None, None]:
        """Wait for a token (unless one is there) or the timer at `deadline`, then let every
        delivery of this instant land first."""
        env = self.env
        if not self.pending:
            self._wake = env.event()
            yield self._wake | env.at(deadline, LATE)
            self._wake = None
        yield env.at(env.now, LATE)
