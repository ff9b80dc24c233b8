"""Benchmark: one phase of the KEP-3453 5000-node experiment (simk8s/proxy/kep3453.py).

    .venv/bin/pytest benchmarks/bench_kep3453.py -m benchmark

Also asserts exact counters, so a timing run doubles as a regression check.
"""

from __future__ import annotations

import pytest

from simk8s.proxy.kep3453 import run_kep3453


@pytest.mark.benchmark
def test_kep3453_phase_a_5000_nodes(benchmark):
    out = benchmark.pedantic(
        run_kep3453, args=("A",), kwargs={"nodes": 5000, "machine": "gce-n1-standard-1"},
        rounds=1, iterations=1,
    )
    assert out["writes"] == 8596
    assert out["full_syncs"] == out["syncs"]
    assert abs(out["npl_s"]["p50"] / 28.1 - 1.0) <= 0.03


@pytest.mark.benchmark
def test_kep3453_phase_b_5000_nodes(benchmark):
    out = benchmark.pedantic(
        run_kep3453, args=("B",), kwargs={"nodes": 5000}, rounds=1, iterations=1
    )
    assert out["writes"] == 8596
    assert out["full_syncs"] < out["syncs"] / 5
