"""client-go's rate-limited delaying work queue, on SimPy.

Semantics (reference §1.1): a key is processed by one worker at a time; adding a key that
is already queued is a no-op; a key added while being processed is processed again after;
AddAfter of an already-waiting key only ever moves it earlier.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

import simpy

from simk8s.controller.workqueue import MAX_RETRIES, ItemExponentialBackoff


class WorkQueue:
    def __init__(self, env: simpy.Environment, backoff: ItemExponentialBackoff, max_retries: int = MAX_RETRIES):
        self.env = env
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._waiting: dict[Hashable, float] = {}
        self._idle: deque[simpy.Event] = deque()
        # Simplification: only the per-item backoff of client-go's default controller rate
        # limiter; its overall 10 qps / burst 100 bucket is not applied to requeues.
        self._backoff = backoff
        self.max_retries = max_retries
        self.adds = 0
        self.dropped = 0

    def add(self, key: Hashable) -> None:
        self.adds += 1
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        ready = self.env.now + delay
        current = self._waiting.get(key)
        if current is not None and current <= ready:
            return  # already waiting with an earlier (or equal) ready time
        self._waiting[key] = ready
        timer = self.env.timeout(delay)
        timer.callbacks.append(lambda _e, k=key, r=ready: self._ripe(k, r))

    def _ripe(self, key: Hashable, ready: float) -> None:
        if self._waiting.get(key) == ready:
            del self._waiting[key]
            self.add(key)

    def add_rate_limited(self, key: Hashable) -> bool:
        """Requeue after the per-item backoff; False once maxRetries is exhausted (key dropped)."""
        if self._backoff.num_requeues(key) >= self.max_retries:
            self.forget(key)
            self.dropped += 1
            return False
        self.add_after(key, self._backoff.when(key))
        return True

    def forget(self, key: Hashable) -> None:
        self._backoff.forget(key)

    def get(self):
        """SimPy process body: returns the next key (waits while the queue is empty)."""
        while not self._queue:
            ev = self.env.event()
            self._idle.append(ev)
            yield ev
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake()

    def _wake(self) -> None:
        while self._idle:
            ev = self._idle.popleft()
            if not ev.triggered:
                ev.succeed()
                return
