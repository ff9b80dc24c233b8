"""The watch cache's cyclic event buffer, per resource (kind): which events it still holds.

A watch from resourceVersion RV is served from the buffer when every event after RV is
still in it; otherwise the cacher answers 410 "too old resource version" and the client
must re-list (staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go,
`getAllEventsSinceLocked`). Every replica's cache sees the same etcd events, so one window
per kind serves all replicas.

Capacity: before v1.19 a fixed number of events (`--default-watch-cache-size`, 100); from
v1.19 (kubernetes/kubernetes#90091) it adapts between `defaultLowerBoundCapacity` (100) and
`defaultUpperBoundCapacity` (100 × 1024): doubled when a full buffer's oldest event is
younger than `eventFreshDuration` (75 s), halved when the newest quarter is older than
that (watch_cache.go `resizeCacheLocked`). An apiserver restart starts an empty cache at
the current resourceVersion: every older RV is then too old.

Simplification: the cache holds events at their commit time (no etcd watch delay), and a
client's RV is its last delivered event of the kind (bookmarks, which also advance it over
events its selector filters out, are not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOWER_BOUND_CAPACITY = 100  # watch_cache.go defaultLowerBoundCapacity
UPPER_BOUND_CAPACITY = 100 * 1024  # watch_cache.go defaultUpperBoundCapacity
EVENT_FRESH_DURATION = 75.0  # watch_cache.go eventFreshDuration (seconds)


@dataclass(frozen=True)
class Window:
    """`oldest[n]`: index of the oldest event held once the first n events of the kind were
    added; `capacity[n]` the buffer's capacity then."""

    times: np.ndarray  # commit time of each event of the kind, ascending
    oldest: np.ndarray  # int64[M + 1]
    capacity: np.ndarray  # int64[M + 1]

    def committed_by(self, t: float) -> int:
        return int(self.times.searchsorted(t, side="right"))

    def can_resume(self, last_seen: np.ndarray, t: float) -> np.ndarray:
        """Whether a watch from the RV of event `last_seen` (-1: before all events) can be
        served at time `t`: the next event is still held, or there is none yet."""
        return last_seen + 1 >= self.resumable_from(t)

    def resumable_from(self, t: float) -> int:
        """The first event a watch started at `t` can be served from: the oldest held, or
        the next to come when nothing newer has been committed."""
        n = self.committed_by(t)
        return min(n, int(self.oldest[n]))

    def max_capacity(self) -> int:
        return int(self.capacity.max())


def window(times: np.ndarray, fixed_capacity: int | None, resets: tuple[float, ...] = ()) -> Window:
    """`fixed_capacity`: events held (pre-1.19); None: the adaptive buffer. `resets`: times
    the apiserver came back from a restart with an empty cache."""
    m = len(times)
    oldest = np.zeros(m + 1, dtype=np.int64)
    caps = np.zeros(m + 1, dtype=np.int64)
    cap = fixed_capacity if fixed_capacity is not None else LOWER_BOUND_CAPACITY
    start = 0
    pending = sorted(resets)
    caps[0] = cap
    for n in range(m):
        t = float(times[n])
        while pending and pending[0] <= t:
            pending.pop(0)
            start = n  # nothing committed before the restart is held
            cap = fixed_capacity if fixed_capacity is not None else LOWER_BOUND_CAPACITY
        full = n - start >= cap
        if fixed_capacity is None and full:
            if t - times[start] < EVENT_FRESH_DURATION and cap < UPPER_BOUND_CAPACITY:
                cap = min(2 * cap, UPPER_BOUND_CAPACITY)
            elif t - times[n - cap // 4] > EVENT_FRESH_DURATION and cap > LOWER_BOUND_CAPACITY:
                cap = max(cap // 2, LOWER_BOUND_CAPACITY)
                start = max(start, n - cap)
        if n - start >= cap:
            start = n + 1 - cap
        oldest[n + 1] = start
        caps[n + 1] = cap
    return Window(times=np.asarray(times, dtype=np.float64), oldest=oldest, capacity=caps)
