"""Benchmark: the KEP-3453 5000-node experiment (simk8s/calibration/kep3453.py).

    .venv/bin/pytest benchmarks/bench_kep3453.py -m benchmark   # pytest-benchmark timings
    .venv/bin/python benchmarks/bench_kep3453.py [nodes] [seed]  # NPL table, phases A/B/C

The pytest benchmarks also assert exact counters, so a timing run doubles as a regression check.
"""

from __future__ import annotations

import sys
import time

import pytest

from simk8s.calibration.kep3453 import MACHINES, PHASES, run_kep3453


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
    assert out["full_syncs"] == 0  # v1.26: no periodic full restore (module docstring)
    # Stale-chain cleanups: "more than" syncPeriod since the last, stamped at sync start, on the
    # old runner's schedule (lastRun and maxInterval from the end of each sync).
    assert (out["syncs"], out["cleanup_syncs"]) == (970000, 147514)


def main(argv: list[str]) -> None:
    nodes = int(argv[1]) if len(argv) > 1 else 5000
    seed = int(argv[2]) if len(argv) > 2 else 1
    print(f"KEP-3453 NPL, CL2 statistic, {nodes} nodes, seed {seed} (published in brackets)")
    for machine in MACHINES:
        for phase, spec in PHASES.items():
            t0 = time.perf_counter()
            out = run_kep3453(phase, nodes=nodes, seed=seed, machine=machine)
            elapsed = time.perf_counter() - t0
            cells = []
            for q, v in out["npl_s"].items():
                pub = spec.published.get(q)
                cells.append(f"{q} {v:5.1f}" + (f" [{pub:4.1f}, {v / pub - 1:+.0%}]" if pub else ""))
            print(f"{machine:>18} {phase}: " + "  ".join(cells)
                  + f"  | syncs {out['syncs']}, full {out['full_syncs']}, cleanup {out['cleanup_syncs']}"
                  + f"  ({elapsed:.1f} s)")


if __name__ == "__main__":
    main(sys.argv)
