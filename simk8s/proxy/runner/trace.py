"""Drive one runner alone with Run() requests and fixed sync durations: its event trace.

Used by tests (hand-worked schedules) and by anyone exploring a runner alone; the
kube-proxy reference (simk8s/proxy/reference.py) drives the same runners with real syncs.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import simpy

from simk8s.proxy.runner.clock import LATE, AbsoluteTimeEnvironment
from simk8s.proxy.runner.registry import make_runner


@dataclass(frozen=True)
class RunRecord:
    start: float
    end: float
    forced: bool  # started by the maxInterval timer, no Run() since the last start
    requests: int  # Run() requests served (coalesced) by this run


def simulate_runner(
    kind: str,
    min_interval: float,
    max_interval: float,
    requests: Sequence[float],
    duration: float | Sequence[float],
    until: float,
) -> list[RunRecord]:
    """Runs of a `kind` runner for sorted Run() request times; run i takes `duration`
    (or `duration[i]`) seconds.

    The first run is the startup sync, requested at t = 0 (not counted as a request). A
    run starting at s serves every request made at or before s. Runs starting at or after
    `until` are not made; one starting before it is recorded whole.
    """
    env = AbsoluteTimeEnvironment()
    runs: list[RunRecord] = []
    made = served = 0

    def fn(forced: bool) -> Generator[simpy.Event, None, None]:
        nonlocal served
        start = env.now
        cost = duration[len(runs)] if isinstance(duration, Sequence) else duration
        runs.append(RunRecord(start, start + cost, forced, made - served))
        served = made
        yield env.at(start + cost, LATE)

    runner = make_runner(kind, env, fn, min_interval, max_interval)

    def requester() -> Generator[simpy.Event, None, None]:
        nonlocal made
        runner.run()  # the startup sync
        for t in requests:
            yield env.at(t)
            made += 1
            runner.run()

    env.process(requester())
    env.run(until=until)
    return runs
