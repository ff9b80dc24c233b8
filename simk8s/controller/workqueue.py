"""client-go workqueue semantics as plain state machines (no SimPy).

Upstream: ``staging/src/k8s.io/client-go/util/workqueue/`` (``queue.go``,
``delaying_queue.go``, ``default_rate_limiters.go``) and ``golang.org/x/time/rate``.

The SimPy workers drive these with the simulation clock:

* ``WorkQueueState`` — rate-limited delaying queue: ``add`` (dedupe, dirty-while-
  processing), ``add_after`` (an already-waiting key only moves *earlier*, as
  ``delaying_queue.go`` inserts), ``pop_ready(now)`` moves due keys into the queue,
  ``get``/``done`` bracket processing.
* ``ItemExponentialBackoff`` — per-item 2^n backoff (Endpoints 5 ms…1000 s; EndpointSlice
  1 s…1000 s), ``MAX_RETRIES = 15``.
* ``TokenBucket`` — golang.org/x/time/rate reservation: ``reserve(now)`` → when the call
  may start (client QPS/burst, the controllers' overall 10 qps / burst 100 bucket).
* ``ControllerRateLimiter`` — max-of(backoff, bucket), client-go's default controller
  rate limiter.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Hashable

MAX_RETRIES = 15  # maxRetries of endpoints_controller.go and endpointslice_controller.go


class ItemExponentialBackoff:
    """ItemExponentialFailureRateLimiter: delay = base·2^failures, capped at ``cap``."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n > 62:  # 2^n overflows in Go; it is capped long before
            return self.cap
        return min(self.base * (2**n), self.cap)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)


class TokenBucket:
    """Token bucket with Reserve semantics: tokens refill at ``qps`` up to ``burst``; a
    reservation takes one token now, or the time the token will exist (tokens may go
    negative, so later reservations queue behind earlier ones)."""

    def __init__(self, qps: float, burst: int, *, start: float = 0.0) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be > 0 and burst >= 1")
        self.qps = qps
        self.burst = burst
        self._tokens = float(burst)
        self._last = start

    def _advance(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now

    def reserve(self, now: float) -> float:
        """Take one token; return the time at which the caller may proceed (>= now)."""
        self._advance(now)
        self._tokens -= 1.0
        if self._tokens >= 0:
            return now
        return now + (-self._tokens) / self.qps

    def tokens(self, now: float) -> float:
        self._advance(now)
        return self._tokens


class ControllerRateLimiter:
    """DefaultControllerRateLimiter shape: max(per-item backoff, overall bucket delay)."""

    def __init__(self, base: float, cap: float, qps: float = 10.0, burst: int = 100) -> None:
        self.backoff = ItemExponentialBackoff(base, cap)
        self.bucket = TokenBucket(qps, burst)

    def when(self, key: Hashable, now: float) -> float:
        """Delay before the key may be retried (``AddRateLimited``)."""
        return max(self.backoff.when(key), self.bucket.reserve(now) - now)

    def num_requeues(self, key: Hashable) -> int:
        return self.backoff.num_requeues(key)

    def forget(self, key: Hashable) -> None:
        self.backoff.forget(key)


def endpoints_rate_limiter() -> ControllerRateLimiter:
    """Endpoints controller: ``DefaultControllerRateLimiter``, 5 ms·2^n (cap 1000 s) +
    10 qps / burst 100 (``pkg/controller/endpoint/endpoints_controller.go``)."""
    return ControllerRateLimiter(0.005, 1000.0)


def endpointslice_rate_limiter() -> ControllerRateLimiter:
    """EndpointSlice controller: 1 s·2^n (cap 1000 s) + 10 qps / burst 100
    (``pkg/controller/endpointslice/endpointslice_controller.go``)."""
    return ControllerRateLimiter(1.0, 1000.0)


class WorkQueueState:
    """A client-go delaying work queue as a data structure.

    Invariants: a key is in the FIFO at most once; a key being processed is never handed
    out again until ``done``; adding it meanwhile marks it dirty and it is re-queued by
    ``done``.
    """

    def __init__(self) -> None:
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._waiting: dict[Hashable, float] = {}
        self._heap: list[tuple[float, int, Hashable]] = []
        self._seq = itertools.count()

    # -- immediate adds -------------------------------------------------------------
    def add(self, key: Hashable) -> bool:
        """Queue ``key``; returns True if it became newly ready for a worker."""
        if key in self._dirty:
            return False
        self._dirty.add(key)
        if key in self._processing:
            return False
        self._queue.append(key)
        return True

    # -- delayed adds ---------------------------------------------------------------
    def add_after(self, key: Hashable, now: float, delay: float) -> float:
        """AddAfter: ready at now+delay, unless the key already waits for an earlier time
        (then nothing changes). Returns the key's effective ready time."""
        if delay <= 0:
            self.add(key)
            return now
        at = now + delay
        current = self._waiting.get(key)
        if current is not None and current <= at:
            return current
        self._waiting[key] = at
        heapq.heappush(self._heap, (at, next(self._seq), key))
        return at

    def next_ready_time(self) -> float | None:
        """Earliest time a waiting key becomes ready (None if nothing waits)."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def waiting_until(self, key: Hashable) -> float | None:
        """When a waiting ``key`` becomes ready (None if it is not waiting)."""
        return self._waiting.get(key)

    def pop_ready(self, now: float) -> list[Hashable]:
        """Move keys whose ready time has come into the queue (in ready-time, then add_after
        order); returns those that became newly ready for a worker (``add`` → True)."""
        ready: list[Hashable] = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return ready
            _, _, key = heapq.heappop(self._heap)
            del self._waiting[key]
            if self.add(key):
                ready.append(key)

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and self._waiting.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)

    # -- workers --------------------------------------------------------------------
    def get(self) -> Hashable | None:
        """Hand the next key to a worker (None if the FIFO is empty)."""
        if not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> bool:
        """Finish processing; returns True if the key was re-queued (dirty meanwhile)."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            return True
        return False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def is_processing(self, key: Hashable) -> bool:
        return key in self._processing
