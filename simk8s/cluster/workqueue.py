"""client-go's rate-limited delaying work queue, on SimPy.

The queue's rules live in ``simk8s.controller.workqueue`` as plain state
(``WorkQueueState``: a key is processed by one worker at a time; adding a queued key is a
no-op; a key added while being processed is processed again after; AddAfter of a waiting
key only ever moves it earlier — client-go util/workqueue/delaying_queue.go) and rate limiters (``ControllerRateLimiter``:
max of the per-item backoff and the overall 10 qps / burst 100 bucket). This module only
gives them time: one SimPy timer per AddAfter, and idle workers woken as keys get ready.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

import simpy

from simk8s.controller.workqueue import MAX_RETRIES, ControllerRateLimiter, WorkQueueState


class WorkQueue:
    def __init__(self, env: simpy.Environment, rate_limiter: ControllerRateLimiter, max_retries: int = MAX_RETRIES):
        self.env = env
        self.state = WorkQueueState()
        self._idle: deque[simpy.Event] = deque()
        self._limiter = rate_limiter
        self.max_retries = max_retries

    def add(self, key: Hashable) -> None:
        if self.state.add(key):
            self._wake()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        current = self.state.waiting_until(key)
        if current is not None and current <= self.env.now + delay:
            return  # already waiting with an earlier (or equal) ready time: no new timer
        self.state.add_after(key, self.env.now, delay)
        self.env.timeout(delay).callbacks.append(self._ripe)

    def _ripe(self, _event: simpy.Event) -> None:
        for _ in self.state.pop_ready(self.env.now):
            self._wake()

    def add_rate_limited(self, key: Hashable) -> bool:
        """Requeue after the rate limiter's delay; False once maxRetries is exhausted (key dropped)."""
        if self._limiter.num_requeues(key) >= self.max_retries:
            self.forget(key)
            return False
        self.add_after(key, self._limiter.when(key, self.env.now))
        return True

    def forget(self, key: Hashable) -> None:
        self._limiter.forget(key)

    def get(self):
        """SimPy process body: returns the next key (waits while the queue is empty)."""
        while True:
            key = self.state.get()
            if key is not None:
                return key
            ev = self.env.event()
            self._idle.append(ev)
            yield ev

    def done(self, key: Hashable) -> None:
        if self.state.done(key):
            self._wake()

    def _wake(self) -> None:
        while self._idle:
            ev = self._idle.popleft()
            if not ev.triggered:
                ev.succeed()
                return
