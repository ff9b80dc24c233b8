"""The watch stage's vectorized pieces give the very floats and draws of the one-at-a-time
formulas they replaced: a backoff per client in turn, the egress series binned span by span,
alike rows grouped into their first row."""

import numpy as np
import pandas as pd

from simk8s.watch.bandwidth import drain
from simk8s.watch.cacher import _surely_late
from simk8s.watch.cohorts import Cohorts
from simk8s.watch.fanout import _egress_series
from simk8s.watch.reflector import (
    BACKOFF_FACTOR,
    BACKOFF_INITIAL,
    BACKOFF_MAX,
    BACKOFF_RESET,
    Backoff,
)


def test_backoffs_drawn_together_equal_draws_one_client_at_a_time():
    together = Backoff(6, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    base, last = np.zeros(6), np.full(6, -np.inf)
    for now, clients in [(0.0, [4, 1, 2]), (5.0, [1, 0]), (200.0, [1, 4, 5]), (201.0, [1])]:
        got = together.wait(np.array(clients), now)
        want = []
        for i in clients:
            reset = now - last[i] > BACKOFF_RESET or base[i] == 0.0
            base[i] = BACKOFF_INITIAL if reset else min(base[i] * BACKOFF_FACTOR, BACKOFF_MAX)
            last[i] = now
            want.append(base[i] * (1.0 + rng.random()))
        assert got.tolist() == want


def _series_span_by_span(spans, replicas, total):
    end = int(np.ceil(max(s[1] for s in spans))) + 1
    bins = np.zeros((replicas, end))
    for a, b, r, nbytes in spans:
        if b - a < 1e-12:
            bins[r, int(a)] += nbytes
            continue
        lo, hi = int(np.floor(a)), int(np.floor(b))
        edges = np.clip(np.arange(lo, hi + 2, dtype=np.float64), a, b)
        bins[r, lo : hi + 1] += np.diff(edges) / (b - a) * nbytes
    bins *= total / bins.sum()
    t, replica = np.nonzero(bins.T)
    return pd.DataFrame({"t_s": t.astype(np.int64), "replica": replica.astype(np.int64), "bytes": bins[replica, t]})


def test_egress_series_equals_binning_span_by_span():
    rng = np.random.default_rng(11)
    starts = np.sort(rng.random(400) * 50)
    spans = [(float(a), float(a + (0.0 if rng.random() < 0.2 else rng.random() * 4)), int(rng.integers(3)),
              float(rng.random() * 1e6)) for a in starts]
    got = _egress_series(spans, 3, 123_456_789)
    pd.testing.assert_frame_equal(got, _series_span_by_span(spans, 3, 123_456_789), check_exact=True)


def test_alike_rows_merge_into_their_first_row():
    h = Cohorts(np.zeros(6, dtype=np.int64), np.zeros(6), np.full(6, 21))
    h.split(np.array([0]))  # six rows of one client each, clients 0..5
    h.lo[:] = [3, 5, 3, 7, 5, 3]
    ok = np.array([True, True, True, True, True, False])
    assert h.merge(ok, np.stack([h.cls, h.lo], axis=1))
    # rows 0 and 2 (lo 3) and rows 1 and 4 (lo 5) became one each; rows 3 and 5 stay
    assert h.weight.tolist() == [2, 2, 1, 1] and h.lo.tolist() == [3, 5, 7, 3]
    assert [sorted(h.members(c).tolist()) for c in range(4)] == [[0, 2], [1, 4], [3], [5]]
    assert h.row_of.tolist() == [0, 1, 0, 2, 1, 3]


def test_surely_late_only_when_the_drain_finds_every_blocked_watcher_late():
    rng = np.random.default_rng(7)
    bw, t = 1e6, 100.0
    decided = 0
    for _ in range(2000):
        n = int(rng.integers(1, 12))
        rem = np.where(rng.random(n) < 0.3, 0.0, rng.random(n) * 4e5)
        weight = rng.integers(1, 50, n)
        busy = np.flatnonzero(rem > 0)
        if busy.size == 0:
            continue
        blocked = rng.choice(busy, size=int(rng.integers(1, busy.size + 1)), replace=False)
        head = rem[blocked] * rng.random(len(blocked))
        timeout = float(rng.choice([0.0, 0.01, 0.05, 0.1]))
        if _surely_late(head, rem, weight, bw, timeout):
            decided += 1
            unblock = drain(t, rem, weight, bw).time_of(np.maximum(head, 0.0))
            assert (unblock > t + timeout).all()
    assert decided > 100

