"""clusterloader2's NetworkProgrammingLatency statistic, read from a fleet's syncs table.

As kubernetes/perf-tests `clusterloader2/pkg/measurement/common/slos/network_programming.go`
queries it: histogram_quantile of each 5-minute rate window of
network_programming_duration_seconds, then the 0.99 quantile_over_time of those.
"""

from __future__ import annotations

import numpy as np

from simk8s.proxy.fleet import SyncTable
from simk8s.proxy.metrics import NPL_BUCKETS, histogram_quantile

CL2_WINDOW = 300.0  # rate(...[5m])
CL2_STEP = 30.0  # evaluation step of quantile_over_time (Prometheus scrape-like)
CL2_OVER_TIME_QUANTILE = 0.99


def cl2_npl_quantiles(
    syncs: SyncTable,
    trigger_time: np.ndarray,
    *,
    start: float,
    stop: float,
    window: float = CL2_WINDOW,
    step: float = CL2_STEP,
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.99),
    chunk: int = 1 << 16,
) -> dict[str, float]:
    """quantile_over_time(0.99, histogram_quantile(q, rate(npl_bucket[window]))).

    Samples (one per applied write with a trigger time, per node, observed at the end of the
    sync) are binned by Prometheus bucket and by `step` of observation time; each window
    ending at a step in [start + window, stop] gives one histogram_quantile per q.
    """
    n_bounds = NPL_BUCKETS.size + 1  # + Inf
    n_steps = int(np.ceil(stop / step)) + 1
    counts = np.zeros(n_steps * n_bounds, dtype=np.int64)
    trigger_time = np.asarray(trigger_time, dtype=np.float64)
    sampled = np.isfinite(trigger_time)
    triggers = trigger_time[sampled]
    before = np.concatenate(([0], np.cumsum(sampled)))
    lo, hi = before[syncs.first_write], before[syncs.last_write]
    rows = np.flatnonzero((hi > lo) & (syncs.end < n_steps * step))
    lo, lengths, ends = lo[rows], (hi - lo)[rows], syncs.end[rows]
    cumulative = np.cumsum(lengths)
    begin = 0
    while begin < rows.size:  # chunked like simk8s.proxy.fleet.npl_histogram: never W × N at once
        done = cumulative[begin - 1] if begin else 0
        end_row = max(int(np.searchsorted(cumulative, done + chunk, side="right")), begin + 1)
        n = lengths[begin:end_row]
        write = np.arange(int(n.sum())) + np.repeat(lo[begin:end_row] - (np.cumsum(n) - n), n)
        observed = np.repeat(ends[begin:end_row], n)
        bucket = np.searchsorted(NPL_BUCKETS, observed - triggers[write], side="left")
        time_bin = (observed // step).astype(np.int64)
        counts += np.bincount(time_bin * n_bounds + bucket, minlength=counts.size)
        begin = end_row
    per_step = counts.reshape(n_steps, n_bounds)
    through = np.vstack([np.zeros((1, n_bounds), dtype=np.int64), np.cumsum(per_step, axis=0)])
    width = round(window / step)
    evals = [k for k in range(n_steps + 1) if start + window <= k * step <= stop and k >= width]
    series: dict[float, list[float]] = {q: [] for q in quantiles}
    for k in evals:
        in_window = through[k] - through[k - width]
        if in_window.sum() == 0:
            continue
        cumulative_buckets = np.cumsum(in_window)
        for q in quantiles:
            series[q].append(histogram_quantile(NPL_BUCKETS, cumulative_buckets, q))
    return {
        f"p{round(q * 100)}": float(np.quantile(v, CL2_OVER_TIME_QUANTILE)) if v else float("nan")
        for q, v in series.items()
    }
