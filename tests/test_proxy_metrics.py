"""kube-proxy histogram buckets (pkg/proxy/metrics/metrics.go) and the percentile helpers."""

import numpy as np
import pytest

from simk8s.proxy.metrics import (
    NPL_BUCKETS,
    SYNC_DURATION_BUCKETS,
    MsHistogram,
    bucket_counts,
    exact_quantile,
    histogram_quantile,
    ms_bins,
    quantile_from_ms_counts,
)


def test_network_programming_duration_buckets_are_kube_proxys():
    expected = [0.25, 0.5, *range(1, 60), *range(60, 120, 5), *range(120, 301, 30)]
    assert NPL_BUCKETS.tolist() == expected
    assert len(NPL_BUCKETS) == 80
    assert NPL_BUCKETS[-8:].tolist() == [115, 120, 150, 180, 210, 240, 270, 300]


def test_sync_duration_buckets_are_exponential_1ms_to_16s():
    assert len(SYNC_DURATION_BUCKETS) == 15
    assert SYNC_DURATION_BUCKETS[0] == 0.001
    assert SYNC_DURATION_BUCKETS[-1] == pytest.approx(16.384)
    assert np.allclose(SYNC_DURATION_BUCKETS[1:] / SYNC_DURATION_BUCKETS[:-1], 2.0)


def test_ms_bins_are_ceil_clamped():
    values = np.array([-0.5, 0.0, 0.0004, 0.001, 0.25, 0.2501, 5.0, 99.0])
    assert ms_bins(values, max_ms=10_000).tolist() == [0, 0, 1, 1, 250, 251, 5000, 10_000]


def test_exact_quantile_is_nearest_rank():
    values = np.arange(1, 101, dtype=float)  # 1..100
    assert exact_quantile(values, 0.5) == 50.0
    assert exact_quantile(values, 0.99) == 99.0
    assert exact_quantile(values, 0.991) == 100.0
    assert np.isnan(exact_quantile(np.array([]), 0.5))


def test_ms_histogram_percentiles_are_within_one_ms_above_exact():
    rng = np.random.default_rng(5)
    values = rng.gamma(2.0, 3.0, 50_000)
    hist = MsHistogram(max_ms=600_000)
    for part in np.array_split(values, 7):
        hist.add(part)
    assert hist.count == values.size
    assert hist.max == values.max()
    assert hist.total == pytest.approx(values.sum(), rel=1e-12)
    for q in (0.5, 0.9, 0.99, 1.0):
        error = hist.quantile(q) - exact_quantile(values, q)
        assert 0.0 <= error < 0.001
    summary = hist.summary()
    assert summary["p99"] == hist.quantile(0.99)
    assert summary["mean"] == pytest.approx(values.mean())


def test_quantile_from_counts_small_example():
    counts = np.zeros(10, dtype=np.int64)
    counts[[2, 5, 7]] = [1, 2, 1]  # samples in (1,2] ms, 2 in (4,5] ms, (6,7] ms
    assert quantile_from_ms_counts(counts, 0.25) == 0.002
    assert quantile_from_ms_counts(counts, 0.5) == 0.005
    assert quantile_from_ms_counts(counts, 0.76) == 0.007
    assert np.isnan(quantile_from_ms_counts(np.zeros(3), 0.5))


def test_prometheus_buckets_from_ms_bins_equal_exact_counts():
    rng = np.random.default_rng(9)
    values = np.concatenate([rng.exponential(8.0, 20_000), [0.25, 0.5, 1.0, 300.0, 301.0, 4000.0]])
    hist = MsHistogram(max_ms=3_600_000)
    hist.add(values)
    from_bins = hist.prometheus_buckets(NPL_BUCKETS)
    exact = bucket_counts(values, NPL_BUCKETS)
    assert from_bins.tolist() == exact.tolist()
    assert from_bins[-1] == values.size  # +Inf
    assert hist.max == 4000.0  # above the clamp of the bins, still exact


def test_prometheus_buckets_need_range_to_300s():
    with pytest.raises(ValueError, match="largest finite bucket"):
        MsHistogram(max_ms=1000).prometheus_buckets(NPL_BUCKETS)


def test_bucket_counts_are_cumulative_le():
    values = np.array([0.001, 0.0015, 0.002, 20.0])
    counts = bucket_counts(values, SYNC_DURATION_BUCKETS)
    assert counts[:3].tolist() == [1, 3, 3]  # le 0.001, le 0.002, le 0.004
    assert counts[-2] == 3 and counts[-1] == 4  # 20 s only in +Inf


def test_histogram_quantile_interpolates_like_prometheus():
    bounds = np.array([1.0, 2.0, 4.0])
    cumulative = np.array([10, 30, 40, 40])  # 10 in [0,1], 20 in (1,2], 10 in (2,4]
    assert histogram_quantile(bounds, cumulative, 0.5) == pytest.approx(1.5)
    assert histogram_quantile(bounds, cumulative, 0.1) == pytest.approx(0.4)
    assert histogram_quantile(bounds, cumulative, 0.875) == pytest.approx(3.0)
    assert histogram_quantile(bounds, np.array([1, 1, 1, 5]), 0.9) == 4.0  # +Inf bucket
