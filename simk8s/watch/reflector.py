"""What a client-go reflector does when its watch ends (staging/src/k8s.io/client-go/tools/cache/reflector.go).

- The server closed the watch after events were received (a watcher cut off for being
  slow): `watch` re-establishes it at once from the last resourceVersion (no relist).
- The new watch answers 410 "too old resource version" (`isExpiredError`), or the closed
  watch had lasted under a second with no event ("very short watch"): `watch` returns,
  `ListAndWatch` returns, and `wait.BackoffUntil` waits one backoff before the relist.
- A watch or list that cannot connect (apiserver down) is retried after a backoff.
- The relist asks for resourceVersion = last synced RV; the reflector then turns
  pagination off (`pager.PageSize = 0`) so the LIST is served whole from the watch cache
  rather than from etcd: one response holding every object the client selects.

Backoff: `wait.NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0)` in `NewReflector`:
800 ms doubling to 30 s, each wait stretched by a uniform [0, 1) jitter, back to 800 ms
after 2 minutes without a backoff.

Simplification: no streaming lists (KEP-3157 `WatchList`), no watch `timeoutSeconds`
expiry (5–10 min, a normal re-watch that changes nothing here), requests take no RTT.
"""

from __future__ import annotations

import numpy as np

BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0
BACKOFF_RESET = 120.0
BACKOFF_FACTOR = 2.0
BACKOFF_JITTER = 1.0
SHORT_WATCH = 1.0  # handleWatch: "very short watch" under a second with no event


class Backoff:
    """One ExponentialBackoffManager per client, `n` clients."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.base = np.zeros(n)
        self.last = np.full(n, -np.inf)
        self.rng = rng

    def wait(self, clients: np.ndarray, now: float) -> np.ndarray:
        """Seconds each of `clients` (distinct) waits before its next attempt; their jitters
        are drawn in the order given."""
        base = self.base[clients]
        base = np.where((now - self.last[clients] > BACKOFF_RESET) | (base == 0.0), BACKOFF_INITIAL,
                        np.minimum(base * BACKOFF_FACTOR, BACKOFF_MAX))
        self.base[clients] = base
        self.last[clients] = now
        return base * (1.0 + BACKOFF_JITTER * self.rng.random(len(clients)))
