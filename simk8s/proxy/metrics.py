"""kube-proxy Prometheus histograms and percentile helpers (`pkg/proxy/metrics/metrics.go`).

Two kinds of latency record are kept:

* sync durations: one per sync, so they are kept exactly and summarised with
  :func:`exact_quantile` and :func:`bucket_counts`;
* network programming latency (NPL): one sample per (write, node), up to billions in a
  large run, so they go into a :class:`MsHistogram` — an exact count per 1 ms bin, plus
  exact count, sum and max. Percentiles read from it are the upper edge of the bin that
  holds the nearest-rank sample, so they over-state the exact value by less than 1 ms.

Bucket boundaries are the real ones kube-proxy exports, so simulated histograms can be
held against a cluster's dashboards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# network_programming_duration_seconds (NetworkProgrammingLatency): 0.25, 0.5, 1..59 by 1,
# 60..115 by 5, 120..300 by 30
NPL_BUCKETS: np.ndarray = np.concatenate(
    [
        [0.25, 0.5],
        np.arange(1, 60, 1, dtype=np.float64),
        np.arange(60, 120, 5, dtype=np.float64),
        np.arange(120, 301, 30, dtype=np.float64),
    ]
)
# sync_proxy_rules_duration_seconds (SyncProxyRulesLatency): exponential 0.001 × 2^k, 15
# buckets (1 ms … 16.384 s)
SYNC_DURATION_BUCKETS: np.ndarray = 0.001 * 2.0 ** np.arange(15)

# NPL samples above this are counted in the last 1 ms bin (their exact max is still kept).
DEFAULT_NPL_MAX_SECONDS = 3600.0
QUANTILES = (0.5, 0.9, 0.99)


def ms_bins(values: np.ndarray, max_ms: int) -> np.ndarray:
    """1 ms bin of each value: ceil(v × 1000), clamped to [0, max_ms] (hot path: NPL samples).

    Bin b holds values in ((b-1) ms, b ms], so "v ≤ bound" for a whole-ms Prometheus bound
    is the same as "bin ≤ bound in ms" (up to one float ulp of v × 1000).
    """
    scaled = np.multiply(values, 1000.0)
    np.ceil(scaled, out=scaled)
    np.clip(scaled, 0.0, float(max_ms), out=scaled)
    return scaled.astype(np.int64)


@dataclass
class MsHistogram:
    """Exact 1 ms-resolution histogram of latencies in seconds, with exact count, sum, max."""

    max_ms: int = int(DEFAULT_NPL_MAX_SECONDS * 1000)
    counts: np.ndarray = field(init=False)  # int64[max_ms + 1]; counts[b]: values in (b-1, b] ms
    count: int = 0
    total: float = 0.0
    max: float = -np.inf
    # cumsum of counts up to the highest non-empty bin (beyond it: `count`), kept between
    # adds: every quantile and bucket reads it; the 3.6M-bin cumsum cost ~0.1 s per read.
    _cumulative: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _top: int = field(default=-1, init=False, repr=False, compare=False)  # highest non-empty bin

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.max_ms + 1, dtype=np.int64)

    def cumulative(self) -> np.ndarray:
        """Cumulative counts of bins 0..top (the last non-empty one); later bins add nothing."""
        if self._cumulative is None:
            self._cumulative = np.cumsum(self.counts[: self._top + 1])
        return self._cumulative

    def add(self, values: np.ndarray) -> None:
        """Add samples (seconds). Hot path for NPL: batches of ~64k keep the temporaries in cache."""
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            return
        per_bin = np.bincount(ms_bins(values, self.max_ms))
        self.counts[: per_bin.size] += per_bin
        self._top = max(self._top, per_bin.size - 1)  # bincount's last bin is never empty
        self._cumulative = None
        self.count += int(values.size)
        self.total += float(values.sum())
        self.max = max(self.max, float(values.max()))

    def quantile(self, q: float) -> float:
        """Nearest-rank q-quantile, reported as the upper edge of its 1 ms bin (error < 1 ms)."""
        return _quantile_from_cumulative(self.cumulative(), q)

    def summary(self) -> dict[str, float]:
        """p50/p90/p99 (1 ms bins), exact max, mean and count."""
        out = {f"p{round(q * 100)}": self.quantile(q) for q in QUANTILES}
        out["max"] = self.max if self.count else float("nan")
        out["mean"] = self.total / self.count if self.count else float("nan")
        out["count"] = float(self.count)
        return out

    def prometheus_buckets(self, bounds: np.ndarray = NPL_BUCKETS) -> np.ndarray:
        """Cumulative counts per `le` bound (+Inf last), like kube-proxy's histogram.

        Read from the 1 ms bins; exact because every NPL bound is a whole number of ms.
        """
        bounds_ms = np.rint(np.asarray(bounds) * 1000.0).astype(np.int64)
        if bounds_ms[-1] > self.max_ms:
            raise ValueError("histogram range must cover the largest finite bucket bound")
        cumulative = self.cumulative()
        # a bound past the last non-empty bin counts everything: index `size` reads `count`
        at_bounds = np.append(cumulative, self.count)[np.minimum(bounds_ms, cumulative.size)]
        return np.append(at_bounds, self.count)


def quantile_from_ms_counts(counts: np.ndarray, q: float) -> float:
    """Nearest-rank q-quantile (seconds) from 1 ms ceil-bins: the bin's upper edge."""
    return _quantile_from_cumulative(np.cumsum(counts), q)


def _quantile_from_cumulative(cumulative: np.ndarray, q: float) -> float:
    total = int(cumulative[-1]) if cumulative.size else 0
    if total == 0:
        return float("nan")
    rank = max(1, int(np.ceil(q * total)))  # 1-based rank of the nearest-rank sample
    return float(np.searchsorted(cumulative, rank, side="left")) / 1000.0


def exact_quantile(values: np.ndarray, q: float) -> float:
    """Nearest-rank q-quantile of exact samples (same rank rule as the 1 ms histogram)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    return float(np.quantile(values, q, method="inverted_cdf"))


def bucket_counts(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Cumulative Prometheus counts: number of values ≤ each bound, then the total (+Inf).

    Each value is placed among the (ascending) bounds instead of sorting the values: a value
    counts for bound j when it is at most bounds[j]; NaN counts for none (only in +Inf).
    """
    values = np.asarray(values, dtype=np.float64)
    bounds = np.asarray(bounds, dtype=np.float64)
    first_bound = np.searchsorted(bounds, values, side="left")  # first j with v <= bounds[j]
    le = np.cumsum(np.bincount(first_bound, minlength=bounds.size + 1))[: bounds.size]
    return np.append(le, values.size)


def histogram_quantile(bounds: np.ndarray, cumulative: np.ndarray, q: float) -> float:
    """Prometheus `histogram_quantile`: linear interpolation inside the bucket holding rank q·n.

    `cumulative` is as returned by :func:`bucket_counts` (+Inf last). Like Prometheus, a rank
    in the +Inf bucket returns the largest finite bound; the first bucket starts at 0.
    """
    total = cumulative[-1]
    if total == 0:
        return float("nan")
    rank = q * total
    i = int(np.searchsorted(cumulative, rank, side="left"))
    if i >= len(bounds):
        return float(bounds[-1])
    lower = 0.0 if i == 0 else float(bounds[i - 1])
    below = 0.0 if i == 0 else float(cumulative[i - 1])
    in_bucket = float(cumulative[i]) - below
    if in_bucket == 0:
        return float(bounds[i])
    return lower + (float(bounds[i]) - lower) * (rank - below) / in_bucket
