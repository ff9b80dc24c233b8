"""Grouped timers on a SimPy environment.

Many pods share transition times (a batch deleted at once, probes aligned to the same
period); one SimPy event per distinct instant serves all of them instead of one per pod.
Callbacks run in the order they were registered for that instant (deterministic).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import simpy


class Timers:
    def __init__(self, env: simpy.Environment):
        self.env = env
        self._pending: dict[float, list[tuple[Callable[..., Any], tuple]]] = {}

    def at(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        when = max(float(when), self.env.now)
        bucket = self._pending.get(when)
        if bucket is None:
            bucket = self._pending[when] = []
            event = self.env.timeout(when - self.env.now)
            event.callbacks.append(functools.partial(self._fire_event, when))
        bucket.append((fn, args))

    def after(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        self.at(self.env.now + delay, fn, *args)

    def _fire_event(self, when: float, _event: simpy.Event) -> None:
        self._fire(when)

    def _fire(self, when: float) -> None:
        for fn, args in self._pending.pop(when):
            fn(*args)
