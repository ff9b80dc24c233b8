"""Scalar models of kube-proxy's BoundedFrequencyRunner: when does the next sync start?

Upstream: `pkg/util/async/bounded_frequency_runner.go` (token bucket, ≤ v1.33) and
`pkg/proxy/runner/bounded_frequency_runner.go` (completion gap, v1.34+,
kubernetes/kubernetes#131615).

One runner object belongs to one kube-proxy. Its owner tells it when syncs start and end;
the runner answers one question: given the time of the first Run() request since the last
sync started (``math.inf`` if none), when does the next sync start, and is it forced by
the maxInterval timer rather than by that request?

Both variants share the rules:

* runs are serialized: no start before the previous sync ended;
* a request waits for the rate limit, requests made meanwhile are coalesced (the run
  channel holds one pending run);
* the maxInterval timer restarts at every sync start and forces a run when it fires
  (the forced run obeys the same rate limit).

The vectorized fleet (fleet/schedule.py) applies exactly these formulas to arrays; keep the float
operations in the same order here and there, the fleet-vs-reference test compares bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# kube-proxy builds its runners with burstSyncs = 2 in all three proxiers (NewProxier).
BURST_SYNCS = 2


@dataclass
class _RunnerBase:
    min_interval: float
    max_interval: float
    last_start: float = field(default=-math.inf, init=False)
    last_end: float = field(default=-math.inf, init=False)

    def allowed(self) -> float:
        """Earliest start the rate limit (and serialization) allows for the next sync."""
        raise NotImplementedError

    def timer_deadline(self) -> float:
        """When the maxInterval timer fires (it restarts at every start)."""
        return self.last_start + self.max_interval

    def next_start(self, request: float) -> tuple[float, bool]:
        """(start, forced) of the next sync for the first pending Run() at `request`."""
        deadline = self.timer_deadline()
        forced = deadline < request
        wanted = deadline if forced else request
        return max(wanted, self.allowed()), forced

    def started(self, start: float) -> None:
        self.last_start = start

    def finished(self, end: float) -> None:
        self.last_end = end


@dataclass
class TokenBucketRunner(_RunnerBase):
    """Old runner, ≤ v1.33 (`pkg/util/async`): token bucket, qps = 1/minInterval, burst 2.

    Kept as GCRA state: ``tat`` ("theoretical arrival time"); a start at s is allowed when
    s ≥ tat − (burst − 1)·minInterval and moves tat to max(tat, s) + minInterval. With
    tat = 0 the bucket is full at t = 0, so the startup sync and one more may run at once.
    Simplification: the real runner re-tries at lastRun + minInterval after a refused
    token; here a refused run starts exactly when the next token is available.
    """

    burst: int = BURST_SYNCS
    tat: float = field(default=0.0, init=False)

    def allowed(self) -> float:
        return max(self.last_end, self.tat - (self.burst - 1) * self.min_interval)

    def started(self, start: float) -> None:
        super().started(start)
        self.tat = max(self.tat, start) + self.min_interval


@dataclass
class CompletionGapRunner(_RunnerBase):
    """New runner, v1.34+ (`pkg/proxy/runner`): next start ≥ previous end + minInterval, no burst.

    Simplification: the retry-on-error interval is not modelled (syncs never fail).
    """

    def allowed(self) -> float:
        return self.last_end + self.min_interval


RUNNERS: dict[str, type[_RunnerBase]] = {
    "token-bucket": TokenBucketRunner,
    "completion-gap": CompletionGapRunner,
}


def make_runner(kind: str, min_interval: float, max_interval: float) -> _RunnerBase:
    """Runner for FleetConfig.runner ('token-bucket' | 'completion-gap')."""
    try:
        cls = RUNNERS[kind]
    except KeyError:
        raise ValueError(f"unknown runner {kind!r}; expected one of {sorted(RUNNERS)}") from None
    return cls(min_interval=min_interval, max_interval=max_interval)


@dataclass(frozen=True)
class RunRecord:
    start: float
    end: float
    forced: bool
    requests: int  # Run() requests served (coalesced) by this run


def simulate_runner(
    runner: _RunnerBase,
    requests: list[float],
    duration: float | list[float],
    until: float,
) -> list[RunRecord]:
    """Drive one runner with sorted Run() request times; syncs take `duration` seconds.

    The first run is the startup sync at t = 0 (it serves requests made at t ≤ 0). A run
    starting at s serves every request made at or before s. Runs starting at ≥ `until`
    are not made. Plain loop: used by tests and by anyone exploring the runner alone.
    """
    durations = duration if isinstance(duration, list) else None
    fixed = 0.0 if isinstance(duration, list) else float(duration)
    runs: list[RunRecord] = []
    i = 0  # first request not served yet
    start, forced = 0.0, False
    while start < until:
        served = i
        while i < len(requests) and requests[i] <= start:
            i += 1
        runner.started(start)
        cost = durations[len(runs)] if durations is not None else fixed
        end = start + cost
        runner.finished(end)
        runs.append(RunRecord(start, end, forced, i - served))
        request = requests[i] if i < len(requests) else math.inf
        start, forced = runner.next_start(request)
    return runs
