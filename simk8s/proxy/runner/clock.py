"""SimPy time for the runners: events at exact absolute times, and a "late" priority.

Every watch delivery at an instant is handled before any runner decision at that instant
(timers, sync starts and ends are LATE): so "a sync starting at s applies every write that
reached the node at or before s" holds exactly. Events are scheduled at absolute times
(not now + (t − now), which can round), so the vectorized fleet can reproduce them bit for bit.
"""

from __future__ import annotations

import heapq

import simpy
from simpy.core import NORMAL

LATE = NORMAL + 1  # after every NORMAL event at the same instant


class AbsoluteTimeEnvironment(simpy.Environment):
    def __init__(self, initial_time: float = 0.0) -> None:
        super().__init__(initial_time)

    def at(self, time: float, priority: int = NORMAL) -> simpy.Event:
        """An event that fires at exactly `time` (built like simpy.Timeout, absolute time)."""
        if time < self.now:
            raise ValueError(f"event at {time!r} is in the past (now {self.now!r})")
        event = simpy.Event(self)
        event._ok = True
        event._value = None
        heapq.heappush(self._queue, (time, priority, next(self._eid), event))  # type: ignore[misc]
        return event
